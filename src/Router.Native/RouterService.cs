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

    /// <summary>
    /// Answers one request line (LF removed). Completes synchronously on a cache hit, and then
    /// allocates nothing but the key's text (decoded and lower-cased in one go): the bytes of
    /// a 200 or of NO RESULT's 500 are the routing state's, shared by every lookup, so
    /// callers must only read them.
    /// </summary>
    public ValueTask<byte[]> HandleAsync(ReadOnlySpan<byte> line)
    {
        var request = TcpTable.parse(line);
        if (request.IsGet)
        {
            var key = Address.ofLowered(request.key);
            var mx = _resolver.LookupAsync(key);
            if (mx.IsCompletedSuccessfully) return new ValueTask<byte[]>(Route(key, mx.Result).Bytes);
            return AnswerLater(key, mx);
        }
        if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("malformed request: {Reason}", request.reason);
        Metrics.Lookup(400);
        return new ValueTask<byte[]>(TcpTable.encode(TcpTable.Reply.NewTempFail(request.reason!)));
    }

    private async ValueTask<byte[]> AnswerLater(Address.Key key, ValueTask<Routing.MxAnswer> mx) =>
        Route(key, await mx.ConfigureAwait(false)).Bytes;

    /// <summary>
    /// Routes one key already taken out of a request (socketmap: raw, not yet lower-cased).
    /// Same rules, WRR state, stats and routing log as the tcp_table path; the caller encodes.
    /// </summary>
    public ValueTask<TcpTable.Reply> LookupAsync(string keyText)
    {
        var key = Address.ofText(keyText);
        var mx = _resolver.LookupAsync(key);
        if (mx.IsCompletedSuccessfully) return new ValueTask<TcpTable.Reply>(Route(key, mx.Result).Reply);
        return RouteLater(key, mx);
    }

    private async ValueTask<TcpTable.Reply> RouteLater(Address.Key key, ValueTask<Routing.MxAnswer> mx) =>
        Route(key, await mx.ConfigureAwait(false)).Reply;

    private Routing.Answer Route(Address.Key key, Routing.MxAnswer mx, RoutingState? retired = null)
    {
        var state = retired ?? _state;
        var decision = Routing.decideWith(_resolver.FailurePolicy, state.Plan, key, mx);
        Config.Relay? relay = null;
        bool repeated = false;
        if (decision.IsPickFrom)
        {
            relay = Decide(state, key.Text, decision, decision.group, null, out repeated);
            // A reload retired the state during this lookup: decide again on the new config.
            if (relay == null) return Route(key, mx, state.Successor);
        }
        else if (decision.IsDirect)
        {
            relay = Decide(state, key.Text, decision, null, decision.relay, out repeated);
        }
        var answer = Routing.answer(state.Plan, decision,
            relay == null ? FSharpValueOption<Config.Relay>.None : FSharpValueOption<Config.Relay>.NewValueSome(relay));
        Metrics.Lookup(answer.Reply);
        if (_routingLog != null || _log.IsEnabled(LogLevel.Debug))
        {
            string target = decision.IsPickFrom ? decision.group.Name
                : decision.IsDirect ? relay!.Name
                : decision.IsRefuse ? decision.text
                : "DEFER";
            if (repeated) target += RepeatMarker;
            _routingLog?.Write(key.Text, target, relay?.Address);
            if (_log.IsEnabled(LogLevel.Debug))
                _log.LogDebug("{Key} -> {Target} -> {Reply}", key.Text, target, Explain.replyLine(answer.Reply));
        }
        return answer;
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
