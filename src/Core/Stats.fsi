/// The stats table, in the Python tool's shape.
module Router.Core.Stats

/// Per relay of one group, aligned with the group's Members: Sent counts the decisions
/// (round-robin picks, or a rule's direct relay); Repeats counts the answers the repeat
/// window gave again without a new decision (empty or zeros when the window is off).
type GroupCounts =
    {
      Group: Router.Core.Model.Group
      Sent: int64 array
      Repeats: int64 array
    }

/// One relay's figures in one group: its decisions and repeats, and the shares (0 to 1)
/// its weight asks for and it has had so far.
type Row =
    {
      Relay: Router.Core.Model.Relay
      Decisions: int64
      Repeats: int64
      /// perc / sum(perc of the group); 0 when the weights are all 0.
      TargetShare: float
      /// decisions / the group's decisions; 0 before the first.
      CurrentShare: float
    }

/// The rows of a group, in member order: the share arithmetic of the metrics and the
/// status page.
val rows: counts: GroupCounts -> Row array

/// part / whole, between 0 and 1: the share a relay's count or weight is of its group's
/// total; 0 when the total is 0. The one share arithmetic of the stats table, the metrics,
/// the status page and --check.
val share: part: int64 -> whole: int64 -> float

/// The share of the group's picks the weights ask for, for the member at `index`.
val targetShare: group: Router.Core.Model.Group -> index: int -> float

/// "All Servers" first, then one block per group, a blank line between blocks:
///
///   All Servers
///     Name          # Sent |  curr. % / target %
///       mx1              5 |  41.6667 /  40.0000
///
/// "# Sent" and the percentages count decisions only. Once the repeat window has answered
/// a repeat, every row gets one more column, " | Repeats", with the answers given again.
val render: blocks: GroupCounts list -> string

/// `render` with health checks on: every row gets one more column, " | State", up or down.
val renderWithStates: isUp: (Router.Core.Model.Relay -> bool) -> blocks: GroupCounts list -> string
