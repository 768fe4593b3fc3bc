/// The repeat window (--repeat-window SECONDS). Without the recommended master.cf change,
/// Postfix looks a recipient up twice per message received over SMTP: smtpd at RCPT time,
/// then qmgr when the message is queued, and only qmgr's answer decides the relay. Counting
/// both as round-robin picks skews the shares (60/30/10 came out 96/24/0). With the window
/// on, a key answered less than the window ago gets the same relay once more, without a
/// new pick: the pair of lookups makes one decision.
///
/// Consume-once: only the first repeat is answered from the window; the entry is then
/// forgotten and the next lookup of that key picks anew. (Answering every repeat would pin
/// a key for the whole window: a newsletter from one sender through
/// sender_dependent_default_transport_maps would leave through one relay.)
///
/// The table is an immutable value with a fixed capacity: expired entries go first, then
/// the oldest. The shell keeps one behind a lock and times it with a monotonic clock (ms).
module Router.Core.Repeat

/// How many keys the window remembers at most; past that the oldest is forgotten (its
/// repeat, if it ever comes, picks anew). Measured: 192 bytes an entry plus the key
/// string, so some 4.5 MB when full of 30-character keys.
[<Literal>]
val DefaultCapacity: int = 16384

/// What the window remembers of one answer: when (ms), for which target, which relay.
type Entry =
    {
      At: int64

      /// The target's name (group and relay names never collide).
      Target: string
      Relay: string
    }

/// The keys answered within the window, at most Capacity of them.
type Table =
    private
      {
        Window: int64
        Capacity: int

        /// key -> (entry, serial)
        Entries: Map<string,(Entry * int64)>

        /// serial -> key: the order of insertion, which is the order of time
        Order: Map<int64,string>
        Next: int64
      }

/// An empty table for a window of `windowMs` milliseconds (> 0) holding at most
/// `capacity` keys (>= 1).
val create: windowMs: int64 -> capacity: int -> Table

/// The window off: recalls nothing, remembers nothing, costs nothing.
val off: Table

/// True unless the table is `off`.
val isOn: table: Table -> bool

/// Keys held now.
val count: table: Table -> int

/// Most keys held.
val capacity: table: Table -> int

/// A lookup of `key` whose rules chose `target`, at `now`: ValueSome relay when the key was
/// answered less than the window ago for the same target, with a relay that the target
/// still holds with a weight above 0: answer it again, without a pick. The entry is
/// consumed (the table returned no longer holds the key). A key the window does not hold
/// costs one map look-up and allocates nothing.
val recall:
  now: int64 ->
    key: string ->
    target: Router.Core.Model.Target ->
    table: Table -> struct (Router.Core.Model.Relay voption * Table)

/// Forgets every entry that is out of the window at `now` (oldest first).
val expire: now: int64 -> table: Table -> Table

/// Remembers that `key` was answered with `relay` for `target` at `now` (NO RESULT is not
/// remembered). Expired entries go, then the oldest while the table would exceed its capacity.
val remember:
  now: int64 ->
    key: string ->
    target: Router.Core.Model.Target ->
    relay: Router.Core.Model.Relay -> table: Table -> Table
