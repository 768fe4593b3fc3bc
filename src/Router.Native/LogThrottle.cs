using Router.Core;

namespace Router.Native;

/// <summary>
/// The core's <see cref="Throttle"/> with a clock and a lock: at most one log line per
/// period for one kind of trouble, the events in between counted into the next line.
/// </summary>
public sealed class LogThrottle(TimeSpan every)
{
    private readonly object _lock = new();
    private Throttle.Throttle _state = Throttle.create((long)every.TotalMilliseconds);

    /// <summary>
    /// Counts one event. Returns how many events a line written now stands for (this one and
    /// those held back since the last line), or 0 when no line is due.
    /// </summary>
    public long Count()
    {
        lock (_lock)
        {
            var (line, next) = Throttle.onEvent(Environment.TickCount64, _state);
            _state = next;
            return line?.Value ?? 0;
        }
    }

    /// <summary>" (and N more since the last such line)" for a line that stands for N + 1 events.</summary>
    public static string More(long events) =>
        events > 1 ? " (and " + (events - 1) + " more since the last such line)" : "";
}
