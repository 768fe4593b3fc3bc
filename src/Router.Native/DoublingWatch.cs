using Microsoft.Extensions.Logging;
using Router.Core;

namespace Router.Native;

/// <summary>
/// With the repeat window off: notices when Postfix asks twice per message (smtpd and
/// qmgr) and warns at most once an hour (the core's <see cref="Doubling"/> judges). Per
/// lookup it costs one hash and two array accesses: a direct-mapped table of 8192 slots,
/// each (32-bit key hash, second of last lookup) in one long, so no lock and no allocation.
/// A slot overwritten by another key only hides a repeat, which errs towards silence.
/// </summary>
public sealed class DoublingWatch
{
    private const int Slots = 8192;
    private readonly long[] _slots = new long[Slots];
    private readonly long _start = Environment.TickCount64;
    private readonly ILogger _log;
    private readonly object _gate = new();
    private Doubling.Watch _watch = Doubling.initial;
    private long _lookups;
    private long _repeats;

    public DoublingWatch(ILogger log) => _log = log;

    public void Observe(string key)
    {
        long now = Environment.TickCount64;
        uint hash = (uint)StringComparer.Ordinal.GetHashCode(key);
        // Seconds since start, from 1, so that an empty slot (0) never looks recent.
        uint second = (uint)((now - _start) / 1000) + 1;
        ref long slot = ref _slots[hash & (Slots - 1)];
        long old = Volatile.Read(ref slot);
        bool repeat = old != 0 && (uint)(old >> 32) == hash && second - (uint)old < Doubling.RecentSeconds;
        Volatile.Write(ref slot, ((long)hash << 32) | second);

        if (repeat) Interlocked.Increment(ref _repeats);
        if (Interlocked.Increment(ref _lookups) % Doubling.Batch != 0) return;

        long repeats = Interlocked.Exchange(ref _repeats, 0);
        string? warning;
        lock (_gate)
        {
            var (text, watch) = Doubling.judge(now, Doubling.Batch, Math.Min(repeats, Doubling.Batch), _watch);
            _watch = watch;
            warning = text?.Value;
        }
        if (warning != null) _log.LogWarning("{Warning}", warning);
    }
}
