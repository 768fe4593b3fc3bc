/// Rate limit for one kind of log line, so that a flood (refused connections, an unwritable
/// routing log, accept errors) costs one line per period rather than one per event. Pure:
/// the shell passes the clock in.
module Router.Core.Throttle

type Throttle =
    {

      /// The shortest time between two lines, in milliseconds.
      Every: int64

      /// The earliest time the next line may be written.
      Next: int64

      /// Events since the last line that got none of their own.
      Pending: int64
    }

val create: every: int64 -> Throttle

/// One event at `now` (milliseconds, any monotonic origin). Some n when a line is due now:
/// it stands for n events (this one and the n - 1 held back since the last line); None when
/// the event is only counted.
val onEvent: now: int64 -> throttle: Throttle -> int64 option * Throttle
