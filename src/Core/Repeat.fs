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

open Router.Core.Model

/// How many keys the window remembers at most; past that the oldest is forgotten (its
/// repeat, if it ever comes, picks anew). Measured: 192 bytes an entry plus the key
/// string, so some 4.5 MB when full of 30-character keys.
[<Literal>]
let DefaultCapacity = 16384

/// What the window remembers of one answer: when (ms), for which target, which relay.
type Entry =
    { At: int64
      /// The target's name (group and relay names never collide).
      Target: string
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

/// The window off: recalls nothing, remembers nothing, costs nothing.
let off: Table =
    { Window = 0L
      Capacity = 1
      Entries = Map.empty
      Order = Map.empty
      Next = 0L }

let isOn (table: Table) : bool = table.Window > 0L

let count (table: Table) : int = table.Entries.Count

let capacity (table: Table) : int = table.Capacity

/// The relays a target may answer with; None for NO RESULT (never remembered).
let private relaysOf (target: Target) : Relay array option =
    match target with
    | Group g -> Some g.Members
    | Relay r -> Some [| r |]
    | NoResult -> None

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

let recall (now: int64) (key: string) (target: Target) (table: Table) : struct (Relay voption * Table) =
    if table.Window = 0L then
        struct (ValueNone, table)
    else
        match live now key table with
        | None -> struct (ValueNone, table)
        | Some entry ->
            match relaysOf target with
            | Some relays when entry.Target = targetName target ->
                match relays |> Array.tryFind (fun r -> r.Name = entry.Relay && r.Weight > 0) with
                | Some relay -> struct (ValueSome relay, remove key table)
                | None -> struct (ValueNone, table)
            | _ -> struct (ValueNone, table)

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

let remember (now: int64) (key: string) (target: Target) (relay: Relay) (table: Table) : Table =
    match relaysOf target with
    | _ when table.Window = 0L -> table
    | None -> table
    | Some _ ->
        let t = expire now (remove key table)

        let rec evict (t: Table) =
            if t.Entries.Count < t.Capacity || t.Order.IsEmpty then
                t
            else
                evict (remove (snd (Map.minKeyValue t.Order)) t)

        let t = evict t
        let entry = { At = now; Target = targetName target; Relay = relay.Name }

        { t with
            Entries = Map.add key (entry, t.Next) t.Entries
            Order = Map.add t.Next key t.Order
            Next = t.Next + 1L }
