/// The config file as the shell's YAML reader gives it: a tree in file order, duplicates
/// kept, every node with its position. Nothing here knows what the keys mean.
module Router.Core.ConfigTree

/// A position in the config file, 1-based.
type Pos = { Line: int; Column: int }

type Node =
    /// A scalar; `plain` is false for quoted scalars. A YAML null (`~`, `null`, nothing)
    /// is a plain scalar whose text is "" or "~" or "null".
    | Scalar of text: string * plain: bool * pos: Pos
    | Sequence of items: Node list * pos: Pos
    | Mapping of entries: (Node * Node) list * pos: Pos

/// Where a node starts.
val posOf: node: Node -> Pos

/// A YAML null: `~`, `null`, or nothing at all.
val isNull: node: Node -> bool

/// What a node holds, for messages: the quoted text, "nothing", "a list" or "a mapping".
val shown: node: Node -> string

/// The text in double quotes.
val quote: text: string -> string
