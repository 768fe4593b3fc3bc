using Microsoft.FSharp.Collections;
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
    /// <summary>Answers the repeat window gave again, without a pick.</summary>
    private readonly long[][] _repeated;
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
        _repeated = new long[_groups.Length][];
        for (int i = 0; i < _groups.Length; i++)
        {
            _sent[i] = new long[_groups[i].Members.Length];
            _repeated[i] = new long[_groups[i].Members.Length];
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

    /// <summary>
    /// The repeat window answered a key again: counted apart from the picks, in the
    /// group's block (null: a rule's direct relay, in the All Servers block).
    /// </summary>
    public void CountRepeat(Config.Group? group, Config.Relay relay)
    {
        int g = group == null ? 0 : IndexOf(group);
        if (g >= 0) Count(_repeated, g, relay);
    }

    private void Count(int g, Config.Relay relay) => Count(_sent, g, relay);

    private void Count(long[][] counters, int g, Config.Relay relay)
    {
        var members = _groups[g].Members;
        for (int m = 0; m < members.Length; m++)
        {
            if (members[m].Index == relay.Index)
            {
                Interlocked.Increment(ref counters[g][m]);
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
            blocks.Add(new Stats.GroupCounts(_groups[g], Snapshot(_sent[g]), Snapshot(_repeated[g])));
        }
        return Stats.render(ListModule.OfSeq(blocks));
    }

    private static long[] Snapshot(long[] counters)
    {
        var snapshot = new long[counters.Length];
        for (int m = 0; m < snapshot.Length; m++) snapshot[m] = Volatile.Read(ref counters[m]);
        return snapshot;
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
