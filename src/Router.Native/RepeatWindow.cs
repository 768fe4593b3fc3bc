using Router.Core;

namespace Router.Native;

/// <summary>
/// --repeat-window: the core's immutable <see cref="Repeat.Table"/> behind one lock, timed
/// with a monotonic clock in milliseconds. The core decides (<see cref="Lookup.decide"/>,
/// <see cref="Lookup.remember"/>); this class only keeps the table and the lock.
/// </summary>
public sealed class RepeatWindow
{
    private readonly object _gate = new();
    private Repeat.Table _table;

    public int Seconds { get; }
    public int Capacity => Repeat.capacity(_table);

    public RepeatWindow(int seconds, int capacity = Repeat.DefaultCapacity)
    {
        Seconds = seconds;
        _table = Repeat.create(seconds * 1000L, capacity);
    }

    public int Count
    {
        get { lock (_gate) return Repeat.count(_table); }
    }

    /// <summary>The lookup's decision, the window asked (and a repeat consumed) under the lock.</summary>
    public Lookup.Decision Decide(Lookup.Plan plan, Address.Key key, Lookup.MxAnswer mx)
    {
        long now = Environment.TickCount64;
        lock (_gate)
        {
            var (decision, table) = Lookup.decide(plan, _table, now, key, mx);
            _table = table;
            return decision;
        }
    }

    /// <summary>The lookup is finished: the window remembers what the core says to remember.</summary>
    public void Remember(string key, Lookup.Decision decision, Lookup.Outcome outcome)
    {
        long now = Environment.TickCount64;
        lock (_gate) _table = Lookup.remember(now, key, decision, outcome, _table);
    }
}
