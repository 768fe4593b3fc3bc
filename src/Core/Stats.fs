/// The stats table, in the Python tool's shape.
module Router.Core.Stats

open Router.Core.Config

/// Picks per relay of one group, aligned with the group's Members.
type GroupCounts = { Group: Group; Sent: int64 array }

/// "All Servers" first, then one block per group:
///
///   All Servers
///     Name          # Sent |  curr. % / target %
///       mx1              5 |  41.6667 /  40.0000
let render (blocks: GroupCounts list) : string = failwith "todo"
