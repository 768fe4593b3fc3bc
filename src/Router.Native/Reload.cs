using Microsoft.Extensions.Logging;
using Router.Core;

namespace Router.Native;

/// <summary>
/// SIGHUP: read and validate the config file again. Invalid: log every error with its
/// line, keep serving the config in use. Valid: swap it in between two requests, keeping
/// the WRR positions and counters the core's <see cref="Reload.carry"/> keeps. Either way,
/// reopen the routing log (logrotate renames it, then sends SIGHUP) and tell systemd.
/// Reloads run one at a time off the signal thread; signals that arrive during one make
/// exactly one more.
/// </summary>
public sealed class Reloader
{
    private readonly Options _options;
    private readonly RouterService _router;
    private readonly RoutingLog? _routingLog;
    private readonly ILogger _log;
    /// <summary>Where the routing log is written now.</summary>
    private string? _logFile;

    // 0 idle, 1 reloading, 2 reloading and asked again.
    private int _state;

    public Reloader(Options options, EffectiveSettings settings, RouterService router, RoutingLog? routingLog, ILogger log)
    {
        _options = options;
        _logFile = settings.LogFile;
        _router = router;
        _routingLog = routingLog;
        _log = log;
    }

    /// <summary>Called with the new config once it serves (the health checks follow its relays).</summary>
    public Action<Model.Config>? Reloaded { get; set; }

    /// <summary>Asks for a reload; returns at once (safe on the signal thread).</summary>
    public void Request()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if (state == 0)
            {
                if (Interlocked.CompareExchange(ref _state, 1, 0) != 0) continue;
                _ = Task.Run(RunLoop);
                return;
            }
            if (state == 2 || Interlocked.CompareExchange(ref _state, 2, 1) == 1) return;
        }
    }

    private void RunLoop()
    {
        while (true)
        {
            try
            {
                ReloadOnce();
            }
            catch (Exception e)
            {
                // Never let a reload take the router down: say so and keep serving.
                _log.LogError("reload failed: {Type}: {Message}", e.GetType().Name, e.Message);
                Metrics.Reloaded(succeeded: false, e.GetType().Name + ": " + e.Message);
                SdNotify.Send("READY=1");
            }
            if (Interlocked.CompareExchange(ref _state, 0, 1) == 1) return;
            Volatile.Write(ref _state, 1); // asked again meanwhile: once more
        }
    }

    /// <summary>One reload, synchronously.</summary>
    public void ReloadOnce()
    {
        SdNotify.Reloading();
        string path = _options.ConfigPath;
        var current = _router.State.Config;
        ReopenRoutingLog(_logFile);

        var loaded = ConfigLoader.Load(path);
        if (!_options.Quiet)
            foreach (var line in loaded.Warnings) _log.LogWarning("{Diagnostic}", line);
        var errors = new List<string>(loaded.Errors);
        EffectiveSettings? settings = null;
        if (loaded.Config is { } config)
            settings = EffectiveSettings.Resolve(_options, config, errors);

        if (errors.Count > 0 || loaded.Config is null || settings is null)
        {
            foreach (var line in errors) _log.LogError("{Diagnostic}", line);
            // Counted before the log line, so whoever reads the log sees the counters already moved.
            Metrics.Reloaded(succeeded: false, path + " has " + errors.Count + " error(s); still serving the config loaded before"
                + (errors.Count > 0 ? ": " + errors[0] : ""));
            _log.LogError("reload: {Path} has {Count} error(s); still serving the config loaded before", path, errors.Count);
            SdNotify.Send("READY=1\nSTATUS=reload failed: " + errors.Count + " error(s) in " + path + "; serving the previous config");
            return;
        }

        var next = settings.Apply(loaded.Config);
        var successor = _router.State.Retire(next, _router.UpFor(next), out var carried);
        _router.Replace(successor);
        Reloaded?.Invoke(next);

        var restart = Reload.needsRestart(current.Settings, next.Settings);
        if (!restart.IsEmpty)
            _log.LogWarning("reload: changed config keys that take effect only at restart: {Keys}", string.Join(", ", restart));
        if (settings.LogFile != null && settings.LogFile != _logFile && ReopenRoutingLog(settings.LogFile))
            _logFile = settings.LogFile;

        var kept = Reload.kept(next, carried);
        var restarted = Reload.restarted(next, carried);
        Metrics.Reloaded(succeeded: true,
            path + ": " + next.Groups.Length + " groups, " + next.Rules.Length + " rules");
        _log.LogInformation(
            "reloaded {Path}: {Groups} groups, {Rules} rules; WRR position kept: {Kept}; restarted: {Restarted}",
            path, next.Groups.Length, next.Rules.Length,
            kept.IsEmpty ? "none" : string.Join(", ", kept),
            restarted.IsEmpty ? "none" : string.Join(", ", restarted));
        SdNotify.Send("READY=1\nSTATUS=serving " + path);
    }

    /// <summary>Reopens the routing log at <paramref name="path"/>; false (and an error line) when it cannot.</summary>
    private bool ReopenRoutingLog(string? path)
    {
        if (_routingLog == null || path == null) return false;
        try
        {
            _routingLog.Reopen(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            _log.LogError("reload: cannot open log file {Path}: {Reason}; still writing to {Old}", path, Cli.Describe(e), _routingLog.Path);
            return false;
        }
    }
}
