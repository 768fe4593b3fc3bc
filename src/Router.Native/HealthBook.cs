using Microsoft.Extensions.Logging;
using Microsoft.FSharp.Collections;
using Router.Core;

namespace Router.Native;

/// <summary>
/// Each relay's health, by address, as the probes report it: the core's
/// <see cref="Health.observe"/> folds each probe into the relay's state; on a transition this
/// logs it (down: a warning with the probe's reason; up: info) and hands the routing state
/// the new up-set, whose groups then pick among their up members. A reload keeps the state of
/// every address still served. Probe reports arrive from pool threads; one lock orders them.
/// </summary>
public sealed class HealthBook
{
    private sealed class Entry
    {
        public Health.State State = Health.initial;
        public Status.Probe? Last;
        public long Ok;
        public long Failed;
        /// <summary>The next hop cannot be probed: it stays up, shown as unchecked.</summary>
        public bool Unchecked;
    }

    private readonly Health.Thresholds _thresholds;
    private readonly RouterService _router;
    private readonly ILogger _log;
    private readonly object _lock = new();
    private readonly Dictionary<string, Entry> _byAddress = new(StringComparer.Ordinal);

    public HealthBook(Health.Thresholds thresholds, RouterService router, ILogger log)
    {
        _thresholds = thresholds;
        _router = router;
        _log = log;
    }

    /// <summary>One probe of <paramref name="relay"/>'s next hop finished.</summary>
    public void Observe(Model.Relay relay, Status.Probe probe)
    {
        lock (_lock)
        {
            var entry = EntryOf(relay.Address);
            var (state, transition) = Health.observe(_thresholds, probe.Ok, entry.State).ToTuple();
            entry.State = state;
            entry.Last = probe;
            if (probe.Ok) entry.Ok++;
            else entry.Failed++;
            if (transition.IsUnchanged) return;

            if (transition.IsWentDown)
                _log.LogWarning("relay {Name} ({Address}) is down: {Reason}", relay.Name, relay.Address, probe.Detail);
            else
                _log.LogInformation("relay {Name} ({Address}) is up", relay.Name, relay.Address);
            var config = _router.State.Config;
            foreach (var (group, failingOpen) in _router.State.SetUp(UpForLocked(config)))
            {
                if (failingOpen)
                    _log.LogWarning("group {Group} has no relay up: answering as if all were up, so Postfix defers its mail", group);
                else
                    _log.LogInformation("group {Group} has a relay up again", group);
            }
        }
    }

    /// <summary>A relay whose next hop cannot be probed: up, and shown as unchecked.</summary>
    public void Unprobeable(Model.Relay relay)
    {
        lock (_lock) EntryOf(relay.Address).Unchecked = true;
    }

    /// <summary>Which relays of <paramref name="config"/> are up; an address never probed is.</summary>
    public Selection.UpSet UpFor(Model.Config config)
    {
        lock (_lock) return UpForLocked(config);
    }

    private Selection.UpSet UpForLocked(Model.Config config)
    {
        var up = new bool[config.Relays.Length];
        for (int i = 0; i < up.Length; i++)
            up[i] = !_byAddress.TryGetValue(config.Relays[i].Address, out var e) || e.State.Up;
        return Selection.ofFlags(up);
    }

    /// <summary>A reload: forget the addresses <paramref name="config"/> no longer has.</summary>
    public void Keep(Model.Config config)
    {
        lock (_lock)
        {
            var served = new HashSet<string>(StringComparer.Ordinal);
            foreach (var r in config.Relays) served.Add(r.Address);
            foreach (var address in _byAddress.Keys.ToList())
                if (!served.Contains(address)) _byAddress.Remove(address);
        }
    }

    /// <summary>The status page's health per relay name.</summary>
    public FSharpMap<string, Status.RelayHealth> Snapshot(Model.Config config)
    {
        var map = MapModule.Empty<string, Status.RelayHealth>();
        lock (_lock)
        {
            foreach (var relay in config.Relays)
            {
                var state = Status.HealthState.Up;
                Status.Probe? last = null;
                if (_byAddress.TryGetValue(relay.Address, out var e))
                {
                    state = e.Unchecked ? Status.HealthState.Unchecked : e.State.Up ? Status.HealthState.Up : Status.HealthState.Down;
                    last = e.Last;
                }
                map = map.Add(relay.Name, new Status.RelayHealth(state,
                    last is null ? Microsoft.FSharp.Core.FSharpOption<Status.Probe>.None : Microsoft.FSharp.Core.FSharpOption<Status.Probe>.Some(last)));
            }
        }
        return map;
    }

    /// <summary>The metrics' figures per relay, in file order.</summary>
    public List<Exposition.RelayHealth> Relays(Model.Config config)
    {
        var rows = new List<Exposition.RelayHealth>(config.Relays.Length);
        lock (_lock)
        {
            foreach (var relay in config.Relays)
            {
                _byAddress.TryGetValue(relay.Address, out var e);
                rows.Add(new Exposition.RelayHealth(relay.Name, e is null || e.State.Up, e?.Ok ?? 0, e?.Failed ?? 0));
            }
        }
        return rows;
    }

    private Entry EntryOf(string address)
    {
        if (!_byAddress.TryGetValue(address, out var entry))
        {
            entry = new Entry();
            _byAddress[address] = entry;
        }
        return entry;
    }
}
