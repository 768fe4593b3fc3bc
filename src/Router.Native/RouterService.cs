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

    public RouterService(RoutingState state, MxResolver resolver, RoutingLog? routingLog, ILogger log)
    {
        _state = state;
        _resolver = resolver;
        _routingLog = routingLog;
        _log = log;
    }

    public RoutingState State => _state;

    /// <summary>Reload (a later issue) calls this with the new config's state.</summary>
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
        return new ValueTask<byte[]>(TcpTable.encode(TcpTable.Reply.NewTempFail(malformed.reason)));
    }

    private async ValueTask<byte[]> AnswerLater(Address.Key key, ValueTask<Routing.MxAnswer> mx) =>
        Answer(key, await mx.ConfigureAwait(false));

    private byte[] Answer(Address.Key key, Routing.MxAnswer mx)
    {
        var state = _state;
        var decision = Routing.decide(state.Config, key, mx);
        Config.Relay? relay = null;
        string target;
        switch (decision)
        {
            case Routing.Decision.PickFrom pick:
                relay = state.Pick(pick.Item1);
                target = pick.Item1.Name;
                break;
            case Routing.Decision.Direct direct:
                relay = direct.Item1;
                state.CountDirect(relay);
                target = relay.Name;
                break;
            case Routing.Decision.Refuse refuse:
                target = refuse.text;
                break;
            default:
                target = "DEFER";
                break;
        }
        var reply = Routing.reply(decision, relay == null ? FSharpOption<Config.Relay>.None : FSharpOption<Config.Relay>.Some(relay));
        var bytes = TcpTable.encode(reply);
        _routingLog?.Write(key.Text, target, relay?.Address);
        if (_log.IsEnabled(LogLevel.Debug))
            _log.LogDebug("{Key} -> {Target} -> {Reply}", key.Text, target, Explain.replyLine(reply));
        return bytes;
    }
}
