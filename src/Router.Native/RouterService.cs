using Microsoft.Extensions.Logging;
using Router.Core;

namespace Router.Native;

/// <summary>A lookup's reply and the routing state whose plan prepared its bytes.</summary>
public readonly record struct Answered(Reply.Reply Reply, RoutingState State);

/// <summary>
/// One lookup: the MX answer (the only step that may wait), then the core's
/// <see cref="Lookup.decide"/>, the atomic position increment of the picked group (the one
/// mutable step), the core's <see cref="Lookup.finish"/>, and the effects the outcome names:
/// counters, the repeat window, metrics, the routing log. It decides nothing itself.
/// </summary>
public sealed class RouterService
{
    private volatile RoutingState _state;
    private readonly MxResolver _resolver;
    private readonly RoutingLog? _routingLog;
    private readonly ILogger _log;
    /// <summary>--repeat-window on: answers a key's next lookup within the window again.</summary>
    private readonly RepeatWindow? _window;
    /// <summary>--repeat-window off: warns when Postfix asks twice per message.</summary>
    private readonly DoublingWatch? _doubling;

    public RouterService(RoutingState state, MxResolver resolver, RoutingLog? routingLog, ILogger log, int repeatWindow = 0)
    {
        _state = state;
        _resolver = resolver;
        _routingLog = routingLog;
        _log = log;
        if (repeatWindow > 0) _window = new RepeatWindow(repeatWindow);
        else _doubling = new DoublingWatch(log);
    }

    public RepeatWindow? Window => _window;

    public RoutingState State => _state;

    /// <summary>Reload calls this with the new config's state (see RoutingState.Retire).</summary>
    public void Replace(RoutingState state) => _state = state;

    public MxResolver Resolver => _resolver;

    /// <summary>Which relays of a config are up: the health checks' answer, all up while they are off.</summary>
    public Func<Model.Config, Selection.UpSet> UpFor { get; set; } = config => Selection.allUp(config.Relays.Length);

    /// <summary>
    /// Routes one key. Completes synchronously on a cache hit, and then allocates nothing:
    /// the reply of a relay or of NO RESULT has its bytes prepared in the routing state.
    /// </summary>
    public ValueTask<Answered> LookupAsync(Address.Key key)
    {
        var mx = _resolver.LookupAsync(key);
        if (mx.IsCompletedSuccessfully) return new ValueTask<Answered>(Route(key, mx.Result));
        return RouteLater(key, mx);
    }

    private async ValueTask<Answered> RouteLater(Address.Key key, ValueTask<Lookup.MxAnswer> mx) =>
        Route(key, await mx.ConfigureAwait(false));

    /// <summary>A request no lookup could be made of: counted as a 400.</summary>
    public void Malformed(string reason)
    {
        if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("malformed request: {Reason}", reason);
        Metrics.Lookup(400);
    }

    private Answered Route(Address.Key key, Lookup.MxAnswer mx)
    {
        var state = _state;
        while (true)
        {
            var decision = _window is { } window
                ? window.Decide(state.Plan, key, mx)
                : Lookup.decide(state.Plan, Repeat.off, 0, key, mx).Item1;
            decision = Lookup.upOnly(state.Up, decision);
            long position = 0;
            var view = Lookup.allUp(state.Plan, state.Config.AllServers);
            if (decision.IsPick)
            {
                (view, position) = state.Advance(decision.group);
                // A reload retired the state during this lookup: decide again on the new config.
                if (position < 0)
                {
                    state = state.Successor;
                    continue;
                }
            }
            var outcome = Lookup.finish(state.Plan, decision, view, position);
            state.Count(outcome.Count);
            _window?.Remember(key.Text, decision, outcome);
            if (outcome.Count.IsDecided) _doubling?.Observe(key.Text);
            else if (outcome.Count.IsRepeated) Metrics.Repeat();
            Metrics.Lookup(Reply.code(outcome.Reply));
            if (_routingLog != null) _routingLog.Write(key.Text, outcome.Target, outcome.Relay.IsSome ? outcome.Relay.Value.Address : null);
            if (_log.IsEnabled(LogLevel.Debug))
                _log.LogDebug("{Key} -> {Target} -> {Reply}", key.Text, outcome.Target, Explain.replyLine(outcome.Reply));
            return new Answered(outcome.Reply, state);
        }
    }
}
