using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
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
    /// <summary>Per group: the view it picks by under the current up-set, and its position in it.</summary>
    private Lane[] _lanes;
    /// <summary>Which relays are up; replaced under <see cref="_gate"/> on a transition.</summary>
    private Selection.UpSet _up;
    /// <summary>The views made so far, by group and mask: each set of up members is scheduled once.</summary>
    private readonly Dictionary<(int Group, string Mask), Selection.View> _views = new();
    /// <summary>Orders health changes and the reload's seal.</summary>
    private readonly object _gate = new();
    private readonly long[][] _sent;
    /// <summary>Answers the repeat window gave again, without a pick.</summary>
    private readonly long[][] _repeated;
    private readonly Dictionary<string, int> _byName = new(StringComparer.Ordinal);

    /// <summary>Written into every position and counter when retired; stays negative after any number of increments.</summary>
    private const long Sealed = long.MinValue / 2;
    private int _retired;
    private RoutingState? _successor;

    /// <summary>A group's view and the position of its next pick in that view.</summary>
    private sealed class Lane(Selection.View view, long position)
    {
        public readonly Selection.View View = view;
        public long Position = position;
    }

    public RoutingState(Model.Config config) : this(config, Settings.DnsFailurePolicy.DeferMail)
    {
    }

    public RoutingState(Model.Config config, Settings.DnsFailurePolicy policy, Selection.UpSet? up = null)
    {
        Config = config;
        Policy = policy;
        Plan = Lookup.plan(policy, config);
        var answers = Lookup.answers(Plan);
        TcpTable = Router.Core.TcpTable.prepare(answers);
        Socketmap = Router.Core.Socketmap.prepare(answers);
        _groups = Model.groups(config);
        _up = up ?? Selection.allUp(config.Relays.Length);
        _lanes = new Lane[_groups.Length];
        for (int g = 0; g < _groups.Length; g++) _lanes[g] = new Lane(ViewOf(_groups[g]), 0);
        _sent = new long[_groups.Length][];
        _repeated = new long[_groups.Length][];
        for (int i = 0; i < _groups.Length; i++)
        {
            _sent[i] = new long[_groups[i].Members.Length];
            _repeated[i] = new long[_groups[i].Members.Length];
            _byName.TryAdd(_groups[i].Name, i);
        }
    }

    /// <summary>The group's view under the current up-set, made once per set of up members.</summary>
    private Selection.View ViewOf(Model.Group group)
    {
        var all = Lookup.allUp(Plan, group);
        var view = Lookup.view(Plan, _up, group);
        if (Selection.mask(view) == Selection.mask(all)) return all;
        var key = (group.Index, Selection.mask(view));
        if (_views.TryGetValue(key, out var kept)) return kept;
        _views[key] = view;
        return view;
    }

    /// <summary>The up-set now in force.</summary>
    public Selection.UpSet Up => Volatile.Read(ref _up);

    /// <summary>
    /// The relays that are up changed: every group whose up members changed starts its new
    /// view from position 0, so the fairness law holds over the picks since the change. A
    /// retired state passes it on to its successor.
    /// </summary>
    /// <returns>The groups that began or stopped failing open (no member up), with their new state.</returns>
    public List<(string Group, bool FailingOpen)> SetUp(Selection.UpSet up)
    {
        var turned = new List<(string, bool)>();
        lock (_gate)
        {
            if (IsRetired) return Successor.SetUp(up);
            Volatile.Write(ref _up, up);
            var lanes = (Lane[])_lanes.Clone();
            for (int g = 0; g < _groups.Length; g++)
            {
                var view = ViewOf(_groups[g]);
                if (Selection.mask(view) == Selection.mask(lanes[g].View)) continue;
                if (Selection.failOpen(view) != Selection.failOpen(lanes[g].View))
                    turned.Add((_groups[g].Name, Selection.failOpen(view)));
                lanes[g] = new Lane(view, 0);
            }
            Volatile.Write(ref _lanes, lanes);
        }
        return turned;
    }

    /// <summary>The groups with no member up, answering as if all were up.</summary>
    public List<string> FailingOpen()
    {
        if (IsRetired) return Successor.FailingOpen();
        var names = new List<string>();
        foreach (var lane in Volatile.Read(ref _lanes))
            if (Selection.failOpen(lane.View)) names.Add(Selection.group(lane.View).Name);
        return names;
    }

    /// <summary>The group's view now (for --explain: its backups and states).</summary>
    public Selection.View ViewNow(Model.Group group) => Volatile.Read(ref _lanes)[group.Index].View;

    /// <summary>
    /// The group's view and position for this pick, atomically; the position is negative
    /// when a reload has retired this state (decide again on <see cref="Successor"/>).
    /// </summary>
    public (Selection.View View, long Position) Advance(Model.Group group)
    {
        var lane = Volatile.Read(ref _lanes)[group.Index];
        long position = Interlocked.Increment(ref lane.Position) - 1;
        return (lane.View, position < 0 ? -1 : position);
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
    public RoutingState Retire(Model.Config next, Selection.UpSet up, out Reload.GroupCarry[] carried)
    {
        Lane[] lanes;
        lock (_gate)
        {
            if (Interlocked.Exchange(ref _retired, 1) != 0)
                throw new InvalidOperationException("this routing state was already retired");
            lanes = _lanes;
        }
        carried = Reload.carry(Config, next);
        var successor = new RoutingState(next, Policy, up);

        // Seal: every pick or count from now on sees a negative value and goes elsewhere.
        var positions = new long[_groups.Length];
        for (int g = 0; g < _groups.Length; g++) positions[g] = Interlocked.Exchange(ref lanes[g].Position, Sealed);
        var sent = Seal(_sent);
        var repeated = Seal(_repeated);

        for (int g = 0; g < carried.Length && g < successor._groups.Length; g++)
        {
            var c = carried[g];
            if (c.From is not { } from) continue;
            int old = from.Value;
            // A position means something only in the same view: the same members up.
            if (c.KeepPosition && Selection.mask(successor._lanes[g].View) == Selection.mask(lanes[old].View))
                successor._lanes[g].Position = positions[old];
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

    /// <summary>The stats table, as it stands now; with health checks on, each relay's state too.</summary>
    public string RenderStats(bool withStates = false)
    {
        if (IsRetired) return Successor.RenderStats(withStates);
        var up = Up;
        return withStates
            ? Stats.renderWithStates(FuncConvert.FromFunc<Model.Relay, bool>(r => Selection.isUp(up, r)), ListModule.OfSeq(Counts()))
            : Stats.render(ListModule.OfSeq(Counts()));
    }

    /// <summary>--simulate: N picks in every group from fresh positions, through the core's <see cref="Lookup.finish"/>.</summary>
    public static string Simulate(Model.Config config, int picks)
    {
        var state = new RoutingState(config);
        foreach (var group in state._groups)
        {
            var pick = Lookup.Decision.NewPick(group, Rules.Reason.NoRuleMatched);
            for (int i = 0; i < picks; i++)
            {
                var (view, position) = state.Advance(group);
                state.Count(Lookup.finish(state.Plan, pick, view, position).Count);
            }
        }
        return state.RenderStats();
    }
}
