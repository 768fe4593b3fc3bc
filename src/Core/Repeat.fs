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

open Router.Core.Config
open Router.Core.Routing

/// How many keys the window remembers at most; past that the oldest is forgotten (its
/// repeat, if it ever comes, picks anew). Measured: 192 bytes an entry plus the key
/// string, so some 4.5 MB when full of 30-character keys.
[<Literal>]
let DefaultCapacity = 16384

/// What the window remembers of one answer: when (ms), for which target, which relay.
type Entry =
    { At: int64
      Target: Target
      Relay: string }

/// The keys answered within the window, at most Capacity of them.
type Table =
    private
        { Window: int64
          Capacity: int
          /// key -> (entry, serial)
          Entries: Map<string, Entry * int64>
          /// serial -> key: the order of insertion, which is the order of time
          Order: Map<int64, string>
          Next: int64 }

/// An empty table for a window of `windowMs` milliseconds (> 0) holding at most
/// `capacity` keys (>= 1).
let create (windowMs: int64) (capacity: int) : Table =
    { Window = max 1L windowMs
      Capacity = max 1 capacity
      Entries = Map.empty
      Order = Map.empty
      Next = 0L }

let count (table: Table) : int = table.Entries.Count

let capacity (table: Table) : int = table.Capacity

/// The target a decision names, and the relays it may answer with; None when the
/// decision has no relay (NO RESULT, "*", DNS failure): those are never remembered.
let private targetOf (decision: Decision) : (Target * Relay array) option =
    match decision with
    | PickFrom(group, _) -> Some(ToGroup group.Name, group.Members)
    | Direct(relay, _) -> Some(ToServer relay.Name, [| relay |])
    | Refuse _
    | Defer _ -> None

let private remove (key: string) (table: Table) : Table =
    match Map.tryFind key table.Entries with
    | Some(_, serial) ->
        { table with
            Entries = Map.remove key table.Entries
            Order = Map.remove serial table.Order }
    | None -> table

/// The entry of a key when it is still inside the window at `now`.
let private live (now: int64) (key: string) (table: Table) : Entry option =
    match Map.tryFind key table.Entries with
    | Some(entry, _) when now - entry.At < table.Window && now >= entry.At -> Some entry
    | _ -> None

/// A lookup of `key`, decided as `decision`, at `now`. Some relay: the key was answered
/// less than the window ago for the same target, with a relay that the target still
/// holds with a weight above 0: answer it again, and do not pick. The entry is consumed
/// (the table returned no longer holds the key). None: pick as usual, then `remember`.
/// A key the window does not hold costs one map look-up and allocates nothing.
let recall (now: int64) (key: string) (decision: Decision) (table: Table) : struct (Relay option * Table) =
    match live now key table with
    | None -> struct (None, table)
    | Some entry ->
        match targetOf decision with
        | Some(target, relays) when entry.Target = target ->
            match relays |> Array.tryFind (fun r -> r.Name = entry.Relay && r.Weight > 0) with
            | Some relay -> struct (Some relay, remove key table)
            | None -> struct (None, table)
        | _ -> struct (None, table)

/// Forgets every entry that is out of the window at `now` (oldest first).
let expire (now: int64) (table: Table) : Table =
    let rec go (t: Table) =
        if t.Order.IsEmpty then
            t
        else
            let serial, key = Map.minKeyValue t.Order

            match live now key t with
            | Some _ -> t
            | None -> go (remove key t)

    go table

/// Remembers that `key` was answered with `relay` for `decision` at `now` (a decision
/// without a relay is not remembered). Expired entries go, then the oldest while the
/// table would exceed its capacity.
let remember (now: int64) (key: string) (decision: Decision) (relay: Relay) (table: Table) : Table =
    match targetOf decision with
    | None -> table
    | Some(target, _) ->
        let t = expire now (remove key table)

        let rec evict (t: Table) =
            if t.Entries.Count < t.Capacity || t.Order.IsEmpty then
                t
            else
                evict (remove (snd (Map.minKeyValue t.Order)) t)

        let t = evict t
        let entry = { At = now; Target = target; Relay = relay.Name }

        { t with
            Entries = Map.add key (entry, t.Next) t.Entries
            Order = Map.add t.Next key t.Order
            Next = t.Next + 1L }
