/// How a group picks when some relays are down: among its members that are up, by the
/// earliest-deadline schedule over their weights (Tijdeman), started afresh for each set of
/// up members; with a next-hop list, the pick is followed by backups. A group with no member
/// up answers as if all were up (fail open), so Postfix defers its mail rather than send it
/// through a group the rules did not choose.
module Router.Core.Selection

open Router.Core.Model

/// Which relays are up, by Relay.Index. A value: the shell makes a new one on a transition.
[<Sealed>]
type UpSet

/// Every one of `relays` relays up (health checks off, or nothing known yet).
val allUp: relays: int -> UpSet

/// The relays whose flag is true are up (by Relay.Index; an index past the end is up).
val ofFlags: up: bool array -> UpSet

val isUp: up: UpSet -> relay: Relay -> bool

/// One group under one up-set: the schedule it picks by and the reply for each position.
[<Sealed>]
type View

/// The view of `group` under `up`, with up to `failover` backups (0..4) after each pick.
/// `slot` gives a reply text's index among the plan's prepared answers, -1 for none.
val view: failover: int -> slot: (string -> int) -> up: UpSet -> group: Group -> View

val group: view: View -> Group

/// No member with a weight above 0 is up: the view picks as if all were up, with no backups.
val failOpen: view: View -> bool

/// The members it picks among, by member index: the up ones, or all when failing open.
val members: view: View -> bool array

/// "1" or "0" per member: which are up. Views of one group with the same mask are the same.
val mask: view: View -> string

/// One cycle of the view's picks: member indices, as Wrr.schedule over the up members' weights.
val schedule: view: View -> int array

/// The member picked at `position` (counted from the view's start).
val pick: view: View -> position: int64 -> int

/// The backups that follow the pick at `position`, in order: the next distinct members in
/// the view's round-robin order with the pick's transport, up, and a next hop of their own.
val backups: view: View -> position: int64 -> int array

/// The reply text at `position`: the pick's address, then ", " and each backup's next hop;
/// and its slot among the plan's prepared answers (-1 when it has none).
val reply: view: View -> position: int64 -> struct (string * int)
