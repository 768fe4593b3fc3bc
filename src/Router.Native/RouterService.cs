using Microsoft.Extensions.Logging;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using Router.Core;

namespace Router.Native;

/// <summary>
/// The WRR positions and sent counters of one validated config. Positions only move
/// forward, by Interlocked.Increment: concurrent lookups never lose or double a pick.
/// A config reload (SIGHUP, a later issue) swaps in a new instance of this class.
/// </summary>
public sealed class RoutingState
{
    public Config.Config Config { get; }
    /// <summary>Index 0 is All Servers, then config.Groups in file order.</summary>
    private readonly Config.Group[] _groups;
    private readonly long[] _positions;
    private readonly long[][] _sent;
    private readonly Dictionary<Config.Group, int> _index = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, int> _byName = new(StringComparer.Ordinal);

    public RoutingState(Config.Config config)
    {
        Config = config;
        var groups = new List<Config.Group> { config.AllServers };
        foreach (var g in config.Groups) groups.Add(g);
        _groups = groups.ToArray();
        _positions = new long[_groups.Length];
        _sent = new long[_groups.Length][];
        for (int i = 0; i < _groups.Length; i++)
        {
            _sent[i] = new long[_groups[i].Members.Length];
            _index[_groups[i]] = i;
            _byName.TryAdd(_groups[i].Name, i);
        }
    }

    private int IndexOf(Config.Group group)
    {
        if (_index.TryGetValue(group, out int i)) return i;
        if (_byName.TryGetValue(group.Name, out i)) return i;
        return -1;
    }

    /// <summary>The next relay of the group, atomically.</summary>
    public Config.Relay Pick(Config.Group group)
    {
        int g = IndexOf(group);
        if (g < 0)
        {
            // Not one of ours (cannot happen with the core's decide): pick statelessly.
            return Wrr.at(group, 0);
        }
        long position = Interlocked.Increment(ref _positions[g]) - 1;
        var relay = Wrr.at(_groups[g], position);
        Count(g, relay);
        return relay;
    }

    /// <summary>A rule targets a relay directly: it counts in the All Servers block.</summary>
    public void CountDirect(Config.Relay relay) => Count(0, relay);

    private void Count(int g, Config.Relay relay)
    {
        var members = _groups[g].Members;
        for (int m = 0; m < members.Length; m++)
        {
            if (members[m].Index == relay.Index)
            {
                Interlocked.Increment(ref _sent[g][m]);
                return;
            }
        }
    }

    /// <summary>The stats table, as it stands now.</summary>
    public string RenderStats()
    {
        var blocks = new List<Stats.GroupCounts>(_groups.Length);
        for (int g = 0; g < _groups.Length; g++)
        {
            var snapshot = new long[_sent[g].Length];
            for (int m = 0; m < snapshot.Length; m++) snapshot[m] = Volatile.Read(ref _sent[g][m]);
            blocks.Add(new Stats.GroupCounts(_groups[g], snapshot));
        }
        return Stats.render(ListModule.OfSeq(blocks));
    }

    /// <summary>--simulate: N picks in every group, from fresh positions.</summary>
    public static string Simulate(Config.Config config, int picks)
    {
        var state = new RoutingState(config);
        foreach (var group in state._groups)
            for (int i = 0; i < picks; i++) state.Pick(group);
        return state.RenderStats();
    }
}

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

    private TcpTable.Reply Route(Address.Key key, Routing.MxAnswer mx)
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
        _routingLog?.Write(key.Text, target, relay?.Address);
        if (_log.IsEnabled(LogLevel.Debug))
            _log.LogDebug("{Key} -> {Target} -> {Reply}", key.Text, target, Explain.replyLine(reply));
        return reply;
    }
}
