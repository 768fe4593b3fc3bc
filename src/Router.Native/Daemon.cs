using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.FSharp.Core;
using Router.Core;

namespace Router.Native;

/// <summary>The server mode: wires resolver, routing state, routing log, listener and signals.</summary>
public static class Daemon
{
    private static readonly TimeSpan MemoryReportEvery = TimeSpan.FromSeconds(300);

    public static int Run(Model.Config config, EffectiveSettings settings, Options options, ILoggerFactory logging)
    {
        Metrics.Start();
        var log = logging.CreateLogger("router");
        using var signals = new Signals();

        RoutingLog? routingLog = null;
        if (settings.LogFile is { } path)
        {
            try
            {
                routingLog = RoutingLog.Open(path, logging.CreateLogger("routing-log"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                Console.Error.WriteLine(Cli.Prefix + "cannot open log file " + path + ": " + Cli.Describe(e));
                return 1;
            }
        }

        var resolver = new MxResolver(settings.Dns, logging.CreateLogger("dns"));
        var router = new RouterService(new RoutingState(config, resolver.FailurePolicy), resolver, routingLog, logging.CreateLogger("lookup"),
            settings.RepeatWindow);
        string where = EffectiveSettings.Show(settings.Host, settings.Port);
        Server server;
        try
        {
            server = Server.Listen(settings.Host, settings.Port, new TcpTableProtocol(router), settings.Timeout,
                logging.CreateLogger("server"));
        }
        catch (System.Net.Sockets.SocketException e)
        {
            Console.Error.WriteLine(Cli.Prefix + "cannot listen on " + where + ": " + Cli.Describe(e));
            routingLog?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return 1;
        }
        // Limits: one gate for both listeners, so --max-connections counts them together.
        var gate = new ConnectionGate(settings.Allow, settings.MaxConnections, logging.CreateLogger("server"));
        server.Gate = gate;
        // socketmap: same host, same router, so rules, WRR state and stats are shared.
        Server? socketmap = null;
        string socketmapWhere = "";
        if (settings.SocketmapPort is { } socketmapPort)
        {
            socketmapWhere = EffectiveSettings.Show(settings.Host, socketmapPort);
            try
            {
                var socketmapLog = logging.CreateLogger("socketmap");
                socketmap = Server.Listen(settings.Host, socketmapPort,
                    new SocketmapProtocol(router, settings.SocketmapName, socketmapLog), settings.Timeout, socketmapLog);
                socketmap.Gate = gate;
            }
            catch (System.Net.Sockets.SocketException e)
            {
                Console.Error.WriteLine(Cli.Prefix + "cannot listen on " + socketmapWhere + " (socketmap): " + Cli.Describe(e));
                server.Dispose();
                routingLog?.DisposeAsync().AsTask().GetAwaiter().GetResult();
                return 1;
            }
        }

        MetricsServer? metrics = null;
        if (settings.Metrics is { } metricsAt)
        {
            try
            {
                long Open() => server.OpenConnections + (socketmap?.OpenConnections ?? 0);
                var pages = new Http.Pages(
                    FuncConvert.FromFunc(() => Exposition.render(Exposition.families(Metrics.Snapshot(router.State, resolver, Open())))),
                    FuncConvert.FromFunc(() => StatusPage.render(Metrics.StatusSnapshot(router.State, resolver, Open()))),
                    FuncConvert.FromFunc(() => Status.json(Metrics.StatusSnapshot(router.State, resolver, Open()))));
                metrics = MetricsServer.Start(metricsAt, pages, logging.CreateLogger("metrics"));
            }
            catch (System.Net.Sockets.SocketException e)
            {
                Console.Error.WriteLine(Cli.Prefix + "cannot listen for metrics on " + EffectiveSettings.Show(metricsAt.Address, metricsAt.Port) + ": " + Cli.Describe(e));
                server.Dispose();
                socketmap?.Dispose();
                routingLog?.DisposeAsync().AsTask().GetAwaiter().GetResult();
                return 1;
            }
        }
        var reloader = new Reloader(options, settings, router, routingLog, logging.CreateLogger("reload"));
        using var probes = StartHealthChecks(config, settings, router, resolver, reloader, logging);

        void ReportMemory()
        {
            var gc = GC.GetGCMemoryInfo();
            log.LogDebug(
                "resident memory {Rss} KiB (GC heap {Heap} KiB, committed {Committed} KiB), {Cache}, {Connections} open connections",
                ResidentKiB(), gc.HeapSizeBytes / 1024, gc.TotalCommittedBytes / 1024, resolver.DescribeCache(), server.OpenConnections + (socketmap?.OpenConnections ?? 0));
        }

        signals.OnStats = () =>
        {
            PrintStats(router, probes != null);
            if (options.Verbose) ReportMemory();
        };
        signals.OnReload = reloader.Request;

        Timer? memory = null;
        if (options.Verbose)
        {
            memory = new Timer(_ => ReportMemory(), null, MemoryReportEvery, MemoryReportEvery);
        }

        if (log.IsEnabled(LogLevel.Debug))
        {
            var servers = new List<string>();
            foreach (var ns in resolver.NameServers) servers.Add(ns.ToString());
            log.LogDebug("DNS servers: {Servers}; cache ttl {Ttl} s; idle timeout {Timeout} s",
                string.Join(", ", servers), settings.CacheTtl, settings.Timeout);
        }
        long files = FileLimit.RaiseToHardLimit();
        if (files > 0 && files < settings.MaxConnections + 64L)
            log.LogWarning("--max-connections {Max} is close to or above the open-file limit {Files}: raise LimitNOFILE, or connections will fail before the limit",
                settings.MaxConnections, files);
        log.LogInformation("listening on {Where}", where);
        if (metrics != null) log.LogInformation("metrics on http://{Where}/metrics, status page on /", EffectiveSettings.Show(settings.Metrics!.Address, settings.Metrics.Port));
        if (router.Window is { } window)
            log.LogInformation("repeat window {Seconds} s, up to {Capacity} keys", window.Seconds, window.Capacity);
        if (socketmap != null)
            log.LogInformation("socketmap listening on {Where}, map name {Name}", socketmapWhere, settings.SocketmapName);
        SdNotify.Send("READY=1");

        if (socketmap != null)
            Task.WhenAll(server.RunAsync(signals.Stop), socketmap.RunAsync(signals.Stop)).GetAwaiter().GetResult();
        else
            server.RunAsync(signals.Stop).GetAwaiter().GetResult();

        SdNotify.Send("STOPPING=1");
        memory?.Dispose();
        metrics?.Dispose();
        probes?.Dispose();
        PrintStats(router, probes != null);
        routingLog?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        log.LogInformation("stopped");
        return 0;
    }

    /// <summary>
    /// --health-interval: probes every relay's next hop, off the lookup path; the health book
    /// turns their reports into up-sets for the routing state, the metrics and the status
    /// page. A reload keeps the state of every address still served and probes the new ones.
    /// </summary>
    private static HealthProbes? StartHealthChecks(Model.Config config, EffectiveSettings settings, RouterService router,
        MxResolver resolver, Reloader reloader, ILoggerFactory logging)
    {
        if (settings.HealthInterval <= 0) return null;
        var log = logging.CreateLogger("health");
        var health = new HealthBook(settings.HealthThresholds, router, log);
        router.UpFor = health.UpFor;
        var probes = new HealthProbes(TimeSpan.FromSeconds(settings.HealthInterval), TimeSpan.FromSeconds(settings.HealthTimeout),
            resolver.Query, log, health.Observe);
        void Follow(Model.Config served)
        {
            health.Keep(served);
            probes.Watch(served.Relays);
            foreach (var (relay, reason) in probes.Unprobeable)
            {
                health.Unprobeable(relay);
                log.LogWarning("relay {Name} ({Address}) cannot be probed: {Reason}; it stays up", relay.Name, relay.Address, reason);
            }
        }
        Follow(config);
        reloader.Reloaded = Follow;
        Metrics.Health = () => health.Snapshot(router.State.Config);
        Metrics.RelayHealth = health.Relays;
        log.LogInformation("health checks every {Interval} s (timeout {Timeout} s): down after {Fall} failed, up after {Rise} good",
            settings.HealthInterval, settings.HealthTimeout, settings.HealthThresholds.Fall, settings.HealthThresholds.Rise);
        return probes;
    }

    private static readonly object StatsLock = new();

    private static void PrintStats(RouterService router, bool withStates)
    {
        string table = router.State.RenderStats(withStates);
        lock (StatsLock)
        {
            Console.Out.Write(table);
            Console.Out.Flush();
        }
    }

    /// <summary>Resident set size from /proc/self/statm, else the working set.</summary>
    private static long ResidentKiB()
    {
        try
        {
            var fields = File.ReadAllText("/proc/self/statm").Split(' ');
            if (fields.Length > 1 && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out long pages))
                return pages * Environment.SystemPageSize / 1024;
        }
        catch (IOException)
        {
        }
        return Environment.WorkingSet / 1024;
    }
}
