/// One lookup, from a key and its MX answer to the reply: the whole decision. The shell
/// calls `decide`, increments the picked group's position atomically (its one mutable
/// step), calls `finish` with that position, and writes the reply; `--explain` and
/// `--simulate` call the same two functions.
module Router.Core.Lookup

open Router.Core.Model

/// What the shell knows about the key's domain.
type MxAnswer =
    /// No query was made: wildcard, address literal, not a host name.
    | NotQueried
    /// The hosts as the rules try them, sorted once when the answer came (Rules.sortHosts).
    | Hosts of Rules.Hosts
    /// DNS failed and no cache covers it.
    | DnsFailure of reason: string

/// A config made ready for lookups, once per config: the rules in an array, the fallback
/// target, the DNS failure policy, and the answer texts every protocol encodes once.
[<Sealed>]
type Plan

val plan: policy: Settings.DnsFailurePolicy -> config: Config -> Plan

val config: plan: Plan -> Config

/// The texts of the 200 answers that do not depend on the key, by slot (a Found reply's
/// slot indexes this array): every relay's address, by relay index; then, with next-hop
/// lists, every list the groups answer while all relays are up.
val answers: plan: Plan -> string array

/// Backups after each group pick (`failover:`, the command line's --failover wins): 0..4.
val failover: plan: Plan -> int

/// The group's view with every relay up, made with the plan.
val allUp: plan: Plan -> group: Group -> Selection.View

/// The group's view under `up`, its reply texts in the plan's slots where it has them. The
/// shell keeps the views it made (one per group and set of up members).
val view: plan: Plan -> up: Selection.UpSet -> group: Group -> Selection.View

/// What the rules (and the repeat window) decided, before the pick. A struct: deciding
/// allocates nothing.
[<Struct>]
type Decision =
    /// Pick one relay of this group at the group's next position.
    | Pick of group: Group * pickReason: Rules.Reason
    /// The repeat window answers this key again with the relay it got, without a pick.
    | Again of target: Target * againRelay: Relay * againReason: Rules.Reason
    /// A rule names this relay.
    | Direct of relay: Relay * directReason: Rules.Reason
    /// NO RESULT, or the key "*" (no reason).
    | Refuse of refuseReason: Rules.Reason voption
    /// DNS failed and nothing covers it (under the `defer` policy).
    | Defer of reason: string

/// The key "*" is refused; a DNS failure defers (`defer` policy) or routes as if the domain
/// had no MX hosts (`default`); else the first matching rule, else `default`, else all
/// servers. A target with relays is then asked of the repeat window (`Repeat.off` when it
/// is off): a key answered less than the window ago gets its relay again, and the window
/// returned no longer holds it.
val decide:
    plan: Plan -> memory: Repeat.Table -> now: int64 -> key: Address.Key -> mx: MxAnswer -> struct (Decision * Repeat.Table)

/// The decision with the health checks' up-set applied: an answer the repeat window would
/// give again with a relay of a group that is now down becomes a fresh pick in that group
/// (a down relay takes no mail); every other decision is unchanged.
val upOnly: up: Selection.UpSet -> decision: Decision -> Decision

/// Which counter a lookup bumps: a decision or a repeat of member `relay` of group `group`
/// (Group.Index; a rule's direct relay counts in All Servers, group 0, by relay index).
[<Struct>]
type Count =
    | NoCount
    | Decided of group: int * relay: int
    | Repeated of repeatGroup: int * repeatMember: int

/// What a lookup comes to: the reply, the routing log's fields and the counter to bump.
[<Struct>]
type Outcome =
    { Reply: Reply.Reply
      /// The routing log's target column: the group or relay name (with " (repeat)" for an
      /// answer the window gave again), "NO RESULT" or "DEFER".
      Target: string
      /// The relay answered; the log's last column ("n/a" when none).
      Relay: Relay voption
      Count: Count }

/// The routing log's marker for an answer the repeat window gave again.
[<Literal>]
val RepeatMarker: string = " (repeat)"

/// The outcome of a decision; `view` and `position` are the picked group's view and its
/// position in that view (a Pick's only inputs from the shell; ignored otherwise; a view of
/// another group is replaced by the group's all-up view).
val finish: plan: Plan -> decision: Decision -> view: Selection.View -> position: int64 -> Outcome

/// The repeat window after a lookup: a fresh decision with a relay is remembered, so the
/// key's next lookup within the window gets that relay again.
val remember: now: int64 -> key: string -> decision: Decision -> outcome: Outcome -> memory: Repeat.Table -> Repeat.Table
