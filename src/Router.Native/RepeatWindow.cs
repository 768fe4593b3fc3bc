using Router.Core;

namespace Router.Native;

/// <summary>
/// --repeat-window: the keys answered within the window, held in the core's immutable
/// <see cref="Repeat.Table"/> behind one lock (a few map operations per lookup, and only
/// when the window is on). The clock is monotonic, in milliseconds.
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

    /// <summary>The relay this key got less than the window ago, consumed; null: pick anew.</summary>
    public Config.Relay? Recall(string key, Routing.Decision decision)
    {
        long now = Environment.TickCount64;
        lock (_gate)
        {
            var (relay, table) = Repeat.recall(now, key, decision, _table);
            _table = table;
            return relay?.Value;
        }
    }

    /// <summary>The key was answered with a fresh pick: its next lookup within the window repeats it.</summary>
    public void Remember(string key, Routing.Decision decision, Config.Relay relay)
    {
        long now = Environment.TickCount64;
        lock (_gate) _table = Repeat.remember(now, key, decision, relay, _table);
    }
}
