using System.Diagnostics;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using Router.Core;

namespace Router.Native;

/// <summary>
/// The router's counters for --metrics: static, lock-free, always counting (a few
/// uncontended Interlocked increments per lookup; each counter sits on its own cache line
/// so that cores do not fight over one). The rest of the shell calls the hooks; the
/// metrics endpoint reads a <see cref="Snapshot"/> (with the resolver's own cache
/// counters and the routing state's per-relay counts) and the core renders it.
/// </summary>
public static class Metrics
{
    /// <summary>Upper bounds of the DNS latency buckets, in seconds.</summary>
    public static readonly double[] DnsBounds = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

    private const int Stride = 16; // 16 longs = 128 bytes: one counter per cache line pair

    private enum Cell
    {
        Found,
        NotFound,
        Deferred,
        Repeats,
        DnsQueries,
        DnsFailures,
        DnsSumMicros,
        ReloadsSucceeded,
        ReloadsFailed,
        LastReloadFailed,
        DnsBucket0, // DnsBounds.Length + 1 buckets from here
    }

    private static readonly long[] Cells = new long[((int)Cell.DnsBucket0 + DnsBounds.Length + 1) * Stride];

    private static ref long At(Cell cell) => ref Cells[(int)cell * Stride];

    private static void Add(Cell cell) => Interlocked.Increment(ref At(cell));

    private static long Read(Cell cell) => Volatile.Read(ref At(cell));

    /// <summary>A lookup was answered with this code (200, 500 or 400).</summary>
    public static void Lookup(int code) =>
        Add(code == 200 ? Cell.Found : code == 500 ? Cell.NotFound : Cell.Deferred);

    /// <summary>The repeat window gave a key the relay it had (hook for --repeat-window).</summary>
    public static void Repeat() => Add(Cell.Repeats);

    /// <summary>When an MX query starts: pass it to <see cref="DnsQuery"/>.</summary>
    public static long DnsStarted() => Stopwatch.GetTimestamp();

    /// <summary>An MX query ended; <paramref name="started"/> is what <see cref="DnsStarted"/> gave.</summary>
    public static void DnsQuery(long started, bool failed)
    {
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Add(Cell.DnsQueries);
        if (failed) Add(Cell.DnsFailures);
        Interlocked.Add(ref At(Cell.DnsSumMicros), (long)(seconds * 1_000_000));
        int bucket = 0;
        while (bucket < DnsBounds.Length && seconds > DnsBounds[bucket]) bucket++;
        Interlocked.Increment(ref Cells[((int)Cell.DnsBucket0 + bucket) * Stride]);
    }

    /// <summary>When the router started, for the status page's uptime.</summary>
    public static DateTimeOffset Started { get; private set; } = DateTimeOffset.UtcNow;

    /// <summary>The router starts serving now.</summary>
    public static void Start() => Started = DateTimeOffset.UtcNow;

    private static Status.ReloadOutcome? _lastReload;

    /// <summary>A reload ended; <paramref name="message"/> is one line for the status page.</summary>
    public static void Reloaded(bool succeeded, string message)
    {
        Add(succeeded ? Cell.ReloadsSucceeded : Cell.ReloadsFailed);
        Volatile.Write(ref At(Cell.LastReloadFailed), succeeded ? 0 : 1);
        Volatile.Write(ref _lastReload, new Status.ReloadOutcome(DateTimeOffset.UtcNow, succeeded, message));
    }

    /// <summary>
    /// Health per relay name for the status page, or null while health checks are off (the
    /// page then has no health columns).
    /// </summary>
    public static Func<FSharpMap<string, Status.RelayHealth>>? Health { get; set; }

    /// <summary>Health per relay for relay_up and health_checks_total, or null while health checks are off (every relay up).</summary>
    public static Func<Model.Config, List<Exposition.RelayHealth>>? RelayHealth { get; set; }

    /// <summary>The status page's figures, as they stand now; reads counters only, never blocks a lookup.</summary>
    public static Status.Snapshot StatusSnapshot(RoutingState state, MxResolver resolver, long openConnections)
    {
        var health = Health is { } read
            ? FSharpOption<FSharpMap<string, Status.RelayHealth>>.Some(read())
            : FSharpOption<FSharpMap<string, Status.RelayHealth>>.None;
        var reload = Volatile.Read(ref _lastReload);
        return new Status.Snapshot(
            Snapshot(state, resolver, openConnections),
            DateTimeOffset.UtcNow,
            Started,
            state.Config.File,
            reload is null ? FSharpOption<Status.ReloadOutcome>.None : FSharpOption<Status.ReloadOutcome>.Some(reload),
            health);
    }

    /// <summary>Everything, as it stands now, for the core to render.</summary>
    public static Exposition.Snapshot Snapshot(RoutingState state, MxResolver resolver, long openConnections)
    {
        var buckets = new long[DnsBounds.Length + 1];
        for (int i = 0; i < buckets.Length; i++)
            buckets[i] = Volatile.Read(ref Cells[((int)Cell.DnsBucket0 + i) * Stride]);
        var lookups = ListModule.OfArray(new[]
        {
            Tuple.Create(200, Read(Cell.Found)),
            Tuple.Create(500, Read(Cell.NotFound)),
            Tuple.Create(400, Read(Cell.Deferred)),
        });
        return new Exposition.Snapshot(
            Cli.VersionText.Substring(Cli.Name.Length + 1),
            ListModule.OfSeq(state.Counts()),
            lookups,
            Read(Cell.Repeats),
            Read(Cell.DnsQueries),
            Read(Cell.DnsFailures),
            new Exposition.Buckets((double[])DnsBounds.Clone(), buckets, Read(Cell.DnsSumMicros) / 1_000_000.0),
            resolver.Hits,
            resolver.Misses + resolver.Failures,
            resolver.StaleAnswers,
            resolver.Prefetches,
            resolver.CacheEntries,
            openConnections,
            Read(Cell.ReloadsSucceeded),
            Read(Cell.ReloadsFailed),
            Read(Cell.LastReloadFailed) == 0,
            ListModule.OfSeq(RelayHealth is { } health ? health(state.Config) : AllUp(state.Config)),
            RelayHealth is not null,
            ListModule.OfSeq(state.FailingOpen()));
    }

    private static IEnumerable<Exposition.RelayHealth> AllUp(Model.Config config)
    {
        foreach (var relay in config.Relays) yield return new Exposition.RelayHealth(relay.Name, true, 0, 0);
    }
}
