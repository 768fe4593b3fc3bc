using Router.Core;

namespace Router.Native;

/// <summary>
/// One cached MX answer: the answer, its times (<see cref="MxCachePolicy.Entry"/>, in
/// <see cref="Environment.TickCount64"/> milliseconds), when it was last used (for
/// eviction) and, after DNS failed to refresh it, when DNS may be asked again.
/// <see cref="MxCachePolicy"/> decides what the entry may do; this only holds it.
/// </summary>
public sealed class CacheEntry
{
    /// <summary>Last-use times closer than this are not written (hits on a hot domain share one cache line).</summary>
    private const long TouchResolution = 1000;

    public readonly Lookup.MxAnswer Answer;
    public readonly MxCachePolicy.Entry Times;

    private static long s_stored;

    /// <summary>Order of creation: breaks ties between equal last-use times (oldest first).</summary>
    public readonly long Sequence = Interlocked.Increment(ref s_stored);

    private long _lastUsed;
    private long _failedAt = MxCachePolicy.NotFailed;

    public CacheEntry(Lookup.MxAnswer answer, MxCachePolicy.Entry times)
    {
        Answer = answer;
        Times = times;
        _lastUsed = times.StoredAt;
    }

    public long LastUsed => Volatile.Read(ref _lastUsed);

    /// <summary><see cref="MxCachePolicy.NotFailed"/> while DNS has not failed to refresh this entry; else when to ask again.</summary>
    public long FailedAt => Volatile.Read(ref _failedAt);

    public void Touch(long now)
    {
        if (now - Volatile.Read(ref _lastUsed) >= TouchResolution) Volatile.Write(ref _lastUsed, now);
    }

    /// <summary>DNS failed to refresh this entry: ask again from <paramref name="askAgainAt"/> on.</summary>
    public void RefreshFailed(long askAgainAt) => Volatile.Write(ref _failedAt, askAgainAt);
}
