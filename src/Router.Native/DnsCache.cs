using System.Collections.Concurrent;
using Router.Core;

namespace Router.Native;

/// <summary>
/// The router's MX cache: at most <c>capacity</c> domains. A store that makes it overflow
/// evicts the least recently used tenth (at least one entry); a timer sweeps out entries
/// that can no longer be served, even stale. Lookups never wait for either: the map is a
/// <see cref="ConcurrentDictionary{TKey,TValue}"/> and both walk it without locking it.
/// </summary>
public sealed class DnsCache : IDisposable
{
    private readonly ConcurrentDictionary<string, CacheEntry> _map = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CacheEntry>.AlternateLookup<ReadOnlySpan<char>> _byChars;
    private readonly int _capacity;
    private readonly int _lowWater;
    private readonly object _evicting = new();
    private readonly Timer _sweeper;
    private int _count;
    private long _evicted;
    private long _swept;

    /// <param name="capacity">The most entries kept (at least 1).</param>
    /// <param name="sweepEvery">How often expired entries are swept out (<see cref="MxCachePolicy.sweepEvery"/>).</param>
    public DnsCache(int capacity, TimeSpan sweepEvery)
    {
        _capacity = Math.Max(1, capacity);
        _lowWater = _capacity - _capacity / 10;
        _byChars = _map.GetAlternateLookup<ReadOnlySpan<char>>();
        _sweeper = new Timer(_ => Sweep(Environment.TickCount64), null, sweepEvery, sweepEvery);
    }

    public int Count => Volatile.Read(ref _count);

    public int Capacity => _capacity;

    /// <summary>Entries removed to stay within the capacity.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    /// <summary>Entries removed because they could no longer be served.</summary>
    public long Swept => Interlocked.Read(ref _swept);

    public bool TryGet(string name, out CacheEntry entry) => _map.TryGetValue(name, out entry!);

    /// <summary>The entry of a name given as characters, without making a string; <paramref name="stored"/> is the cache's own.</summary>
    public bool TryGet(ReadOnlySpan<char> name, out string stored, out CacheEntry entry) =>
        _byChars.TryGetValue(name, out stored!, out entry!);

    /// <summary>Adds or replaces the entry of a name; evicts when the cache overflows.</summary>
    public void Store(string name, CacheEntry entry)
    {
        while (true)
        {
            if (_map.TryGetValue(name, out var old))
            {
                if (_map.TryUpdate(name, entry, old)) return;
            }
            else if (_map.TryAdd(name, entry))
            {
                if (Interlocked.Increment(ref _count) > _capacity) Evict();
                return;
            }
        }
    }

    /// <summary>Removes the entries past their stale limit; returns how many.</summary>
    public int Sweep(long now)
    {
        int removed = 0;
        foreach (var pair in _map)
        {
            if (MxCachePolicy.state(pair.Value.Times, now).IsExpired && Remove(pair)) removed++;
        }
        Interlocked.Add(ref _swept, removed);
        return removed;
    }

    /// <summary>Down to the low-water mark, least recently used first. One evictor at a time.</summary>
    private void Evict()
    {
        if (!Monitor.TryEnter(_evicting)) return;
        try
        {
            int excess = Count - _lowWater;
            if (excess <= 0) return;
            // Enumerating takes no lock (ToArray would take them all and hold up stores).
            var snapshot = new List<KeyValuePair<string, CacheEntry>>(Count + 16);
            foreach (var pair in _map) snapshot.Add(pair);
            var entries = snapshot.ToArray();
            var order = new (long LastUsed, long Sequence)[entries.Length];
            for (int i = 0; i < entries.Length; i++) order[i] = (entries[i].Value.LastUsed, entries[i].Value.Sequence);
            Array.Sort(order, entries);
            int removed = 0;
            for (int i = 0; i < entries.Length && removed < excess; i++)
            {
                if (Remove(entries[i])) removed++;
            }
            Interlocked.Add(ref _evicted, removed);
        }
        finally
        {
            Monitor.Exit(_evicting);
        }
    }

    /// <summary>Removes exactly this entry: not one that replaced it meanwhile.</summary>
    private bool Remove(KeyValuePair<string, CacheEntry> pair)
    {
        if (!_map.TryRemove(pair)) return false;
        Interlocked.Decrement(ref _count);
        return true;
    }

    public void Dispose() => _sweeper.Dispose();
}
