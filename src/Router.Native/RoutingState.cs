using Microsoft.FSharp.Collections;
using Router.Core;

namespace Router.Native;

/// <summary>
/// The WRR positions and sent counters of one validated config, by <see cref="Model.Group.Index"/>
/// (All Servers first, then the groups in file order), and the config's plan with each
/// protocol's prepared reply bytes. Positions only move forward, by Interlocked.Increment:
/// concurrent lookups never lose or double a pick. A config reload (SIGHUP) retires the
/// instance: <see cref="Retire"/> seals every position and counter with an atomic exchange,
/// hands the values the core's <see cref="Reload.carry"/> keeps to a successor, and from then
/// on <see cref="Advance"/> on the retired state is negative (the lookup decides again on the
/// successor) and a count on it goes to the successor. So no pick is lost or doubled across a
/// reload either.
/// </summary>
public sealed class RoutingState
{
    public Model.Config Config { get; }
    /// <summary>The config made ready for lookups.</summary>
    public Lookup.Plan Plan { get; }
    /// <summary>The plan's answers as tcp_table lines.</summary>
    public TcpTable.Prepared TcpTable { get; }
    /// <summary>The plan's answers as socketmap netstrings.</summary>
    public Socketmap.Prepared Socketmap { get; }
    public Settings.DnsFailurePolicy Policy { get; }
    private readonly Model.Group[] _groups;
    private readonly long[] _positions;
    private readonly long[][] _sent;
    /// <summary>Answers the repeat window gave again, without a pick.</summary>
    private readonly long[][] _repeated;
    private readonly Dictionary<string, int> _byName = new(StringComparer.Ordinal);

    /// <summary>Written into every position and counter when retired; stays negative after any number of increments.</summary>
    private const long Sealed = long.MinValue / 2;
    private int _retired;
    private RoutingState? _successor;

    public RoutingState(Model.Config config) : this(config, Settings.DnsFailurePolicy.DeferMail)
    {
    }

    public RoutingState(Model.Config config, Settings.DnsFailurePolicy policy)
    {
        Config = config;
        Policy = policy;
        Plan = Lookup.plan(policy, config);
        var answers = Lookup.answers(Plan);
        TcpTable = Router.Core.TcpTable.prepare(answers);
        Socketmap = Router.Core.Socketmap.prepare(answers);
        _groups = Model.groups(config);
        _positions = new long[_groups.Length];
        _sent = new long[_groups.Length][];
        _repeated = new long[_groups.Length][];
        for (int i = 0; i < _groups.Length; i++)
        {
            _sent[i] = new long[_groups[i].Members.Length];
            _repeated[i] = new long[_groups[i].Members.Length];
            _byName.TryAdd(_groups[i].Name, i);
        }
    }

    /// <summary>
    /// The group's position for this pick, atomically; negative when a reload has retired this
    /// state (decide again on <see cref="Successor"/>).
    /// </summary>
    public long Advance(Model.Group group)
    {
        long position = Interlocked.Increment(ref _positions[group.Index]) - 1;
        return position < 0 ? -1 : position;
    }

    /// <summary>Bumps the counter a lookup's outcome names.</summary>
    public void Count(Lookup.Count count)
    {
        if (count.IsDecided) Count(repeats: false, count.group, count.relay);
        else if (count.IsRepeated) Count(repeats: true, count.repeatGroup, count.repeatMember);
    }

    private void Count(bool repeats, int g, int m)
    {
        var counters = repeats ? _repeated : _sent;
        if ((uint)g >= (uint)counters.Length || (uint)m >= (uint)counters[g].Length) return;
        // Sealed by a reload: the count belongs to the successor.
        if (Interlocked.Increment(ref counters[g][m]) < 0)
            Successor.CountCarried(repeats, _groups[g].Name, _groups[g].Members[m].Name);
    }

    /// <summary>A count that reached a retired state: it lands here if the relay is still in that group.</summary>
    private void CountCarried(bool repeats, string group, string relay)
    {
        if (!_byName.TryGetValue(group, out int g)) return;
        var members = _groups[g].Members;
        for (int m = 0; m < members.Length; m++)
        {
            if (members[m].Name == relay)
            {
                Count(repeats, g, m);
                return;
            }
        }
    }

    public bool IsRetired => Volatile.Read(ref _retired) != 0;

    /// <summary>
    /// The state that replaced this one. Only asked of a retired state; it is set a few
    /// instructions after the seal, so a caller that saw the seal first spins briefly.
    /// </summary>
    public RoutingState Successor
    {
        get
        {
            var spin = new SpinWait();
            RoutingState? next;
            while ((next = Volatile.Read(ref _successor)) == null) spin.SpinOnce();
            return next;
        }
    }

    /// <summary>
    /// SIGHUP: the state for the newly loaded config, with the WRR positions and counters
    /// the core's <see cref="Reload.carry"/> keeps. Retires this state; call it once.
    /// </summary>
    public RoutingState Retire(Model.Config next, out Reload.GroupCarry[] carried)
    {
        if (Interlocked.Exchange(ref _retired, 1) != 0)
            throw new InvalidOperationException("this routing state was already retired");
        carried = Reload.carry(Config, next);
        var successor = new RoutingState(next, Policy);

        // Seal: every pick or count from now on sees a negative value and goes elsewhere.
        var positions = new long[_groups.Length];
        for (int g = 0; g < _groups.Length; g++) positions[g] = Interlocked.Exchange(ref _positions[g], Sealed);
        var sent = Seal(_sent);
        var repeated = Seal(_repeated);

        for (int g = 0; g < carried.Length && g < successor._groups.Length; g++)
        {
            var c = carried[g];
            if (c.From is not { } from) continue;
            int old = from.Value;
            if (c.KeepPosition) successor._positions[g] = positions[old];
            for (int m = 0; m < c.Counters.Length && m < successor._sent[g].Length; m++)
            {
                if (c.Counters[m] is not { } counter) continue;
                successor._sent[g][m] = sent[old][counter.Value];
                successor._repeated[g][m] = repeated[old][counter.Value];
            }
        }
        Volatile.Write(ref _successor, successor);
        return successor;
    }

    private static long[][] Seal(long[][] counters)
    {
        var values = new long[counters.Length][];
        for (int g = 0; g < counters.Length; g++)
        {
            values[g] = new long[counters[g].Length];
            for (int m = 0; m < values[g].Length; m++) values[g][m] = Interlocked.Exchange(ref counters[g][m], Sealed);
        }
        return values;
    }

    /// <summary>Counters per group (All Servers first), read now; a retired state answers with its successor's.</summary>
    public List<Stats.GroupCounts> Counts()
    {
        if (IsRetired) return Successor.Counts();
        var blocks = new List<Stats.GroupCounts>(_groups.Length);
        for (int g = 0; g < _groups.Length; g++)
            blocks.Add(new Stats.GroupCounts(_groups[g], Snapshot(_sent[g]), Snapshot(_repeated[g])));
        return blocks;
    }

    private static long[] Snapshot(long[] counters)
    {
        var snapshot = new long[counters.Length];
        for (int m = 0; m < snapshot.Length; m++) snapshot[m] = Math.Max(0, Volatile.Read(ref counters[m]));
        return snapshot;
    }

    /// <summary>The stats table, as it stands now.</summary>
    public string RenderStats() => Stats.render(ListModule.OfSeq(Counts()));

    /// <summary>--simulate: N picks in every group from fresh positions, through the core's <see cref="Lookup.finish"/>.</summary>
    public static string Simulate(Model.Config config, int picks)
    {
        var state = new RoutingState(config);
        foreach (var group in state._groups)
        {
            var pick = Lookup.Decision.NewPick(group, Rules.Reason.NoRuleMatched);
            for (int i = 0; i < picks; i++) state.Count(Lookup.finish(state.Plan, pick, state.Advance(group)).Count);
        }
        return state.RenderStats();
    }
}
