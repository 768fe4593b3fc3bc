/// What validation says about a config file: errors and warnings, each with its position.
module Router.Core.Diagnostics

open Router.Core.ConfigTree

[<RequireQualifiedAccess>]
type Severity =
    | Error
    | Warning

type Diagnostic =
    { File: string
      Pos: Pos
      Severity: Severity
      Message: string }

/// "FILE:LINE:COLUMN: error: MESSAGE" (or "warning:").
val render: d: Diagnostic -> string

/// Collects the diagnostics of one file in the order they are found.
[<Sealed>]
type Sink =
    new: file: string -> Sink
    member Error: pos: Pos * message: string -> unit
    member Warn: pos: Pos * message: string -> unit
    member HasErrors: bool
    /// Every diagnostic, by position.
    member All: Diagnostic list

/// The entries of a mapping as (key, key position, value); a duplicate key is reported
/// (naming where the first one stands) and dropped; a key that is not a scalar is reported.
/// `where` names the mapping in messages ("servers.names").
val entries: sink: Sink -> where: string -> node: Node -> (string * Pos * Node) list

/// "line N", for messages that point at a second place.
val lineOf: pos: Pos -> string
