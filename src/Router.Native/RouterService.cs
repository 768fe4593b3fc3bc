using Microsoft.Extensions.Logging;
using Microsoft.FSharp.Core;
using Router.Core;

namespace Router.Native;

/// <summary>One lookup, from the request line to the reply bytes.</summary>
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

    /// <summary>Answers one request line (LF removed). Completes synchronously on a cache hit.</summary>
    public ValueTask<byte[]> HandleAsync(ReadOnlySpan<byte> line)
    {
        var request = TcpTable.parse(line);
        if (request is TcpTable.Request.Get get)
        {
            var key = Address.ofText(get.key);
            var mx = _resolver.LookupAsync(key);
            if (mx.IsCompletedSuccessfully) return new ValueTask<byte[]>(Answer(key, mx.Result));
            return AnswerLater(key, mx);
        }
        var malformed = (TcpTable.Request.Malformed)request;
        if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("malformed request: {Reason}", malformed.reason);
        Metrics.Lookup(400);
        return new ValueTask<byte[]>(TcpTable.encode(TcpTable.Reply.NewTempFail(malformed.reason)));
    }

    private async ValueTask<byte[]> AnswerLater(Address.Key key, ValueTask<Routing.MxAnswer> mx) =>
        Answer(key, await mx.ConfigureAwait(false));

    /// <summary>
    /// Routes one key already taken out of a request (socketmap: raw, not yet lower-cased).
    /// Same rules, WRR state, stats and routing log as the tcp_table path; the caller encodes.
    /// </summary>
    public ValueTask<TcpTable.Reply> LookupAsync(string keyText)
    {
        var key = Address.ofText(keyText);
        var mx = _resolver.LookupAsync(key);
        if (mx.IsCompletedSuccessfully) return new ValueTask<TcpTable.Reply>(Route(key, mx.Result));
        return RouteLater(key, mx);
    }

    private async ValueTask<TcpTable.Reply> RouteLater(Address.Key key, ValueTask<Routing.MxAnswer> mx) =>
        Route(key, await mx.ConfigureAwait(false));

    private byte[] Answer(Address.Key key, Routing.MxAnswer mx) => TcpTable.encode(Route(key, mx));

    private TcpTable.Reply Route(Address.Key key, Routing.MxAnswer mx, RoutingState? retired = null)
    {
        var state = retired ?? _state;
        var decision = Routing.decideWith(_resolver.FailurePolicy, state.Config, key, mx);
        Config.Relay? relay = null;
        string target;
        switch (decision)
        {
            case Routing.Decision.PickFrom pick:
                relay = Decide(state, key.Text, decision, pick.Item1, null, out bool repeatedPick);
                // A reload retired the state during this lookup: decide again on the new config.
                if (relay == null) return Route(key, mx, state.Successor);
                target = repeatedPick ? pick.Item1.Name + RepeatMarker : pick.Item1.Name;
                break;
            case Routing.Decision.Direct direct:
                relay = Decide(state, key.Text, decision, null, direct.Item1, out bool repeatedDirect);
                target = repeatedDirect ? relay!.Name + RepeatMarker : relay!.Name;
                break;
            case Routing.Decision.Refuse refuse:
                target = refuse.text;
                break;
            default:
                target = "DEFER";
                break;
        }
        var reply = Routing.reply(decision, relay == null ? FSharpOption<Config.Relay>.None : FSharpOption<Config.Relay>.Some(relay));
        Metrics.Lookup(reply);
        _routingLog?.Write(key.Text, target, relay?.Address);
        if (_log.IsEnabled(LogLevel.Debug))
            _log.LogDebug("{Key} -> {Target} -> {Reply}", key.Text, target, Explain.replyLine(reply));
        return reply;
    }

    /// <summary>The routing log's target suffix for an answer the repeat window gave again.</summary>
    public const string RepeatMarker = " (repeat)";

    /// <summary>
    /// The relay for a decision that has one: the window's repeat when it holds the key
    /// (counted as a repeat, no pick), else a pick from the group (or the direct relay),
    /// counted as a decision. Null when a reload retired <paramref name="state"/> before the pick.
    /// </summary>
    private Config.Relay? Decide(RoutingState state, string key, Routing.Decision decision, Config.Group? group,
        Config.Relay? direct, out bool repeated)
    {
        if (_window?.Recall(key, decision) is { } again)
        {
            state.CountRepeat(group, again);
            Metrics.Repeat();
            repeated = true;
            return again;
        }
        Config.Relay relay;
        if (group != null)
        {
            repeated = false;
            if (state.Pick(group) is not { } picked) return null;
            relay = picked;
        }
        else
        {
            relay = direct!;
            state.CountDirect(relay);
        }
        _window?.Remember(key, decision, relay);
        _doubling?.Observe(key);
        repeated = false;
        return relay;
    }
}
