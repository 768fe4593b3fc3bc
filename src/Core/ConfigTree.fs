module Router.Core.ConfigTree

type Pos = { Line: int; Column: int }

type Node =
    | Scalar of text: string * plain: bool * pos: Pos
    | Sequence of items: Node list * pos: Pos
    | Mapping of entries: (Node * Node) list * pos: Pos

let posOf (node: Node) =
    match node with
    | Scalar(_, _, p)
    | Sequence(_, p)
    | Mapping(_, p) -> p

let isNull (node: Node) =
    match node with
    | Scalar(t, true, _) -> t = "" || t = "~" || t = "null" || t = "Null" || t = "NULL"
    | _ -> false

let quote (text: string) = "\"" + text + "\""

let shown (node: Node) =
    match node with
    | _ when isNull node -> "nothing"
    | Scalar(t, _, _) -> quote t
    | Sequence _ -> "a list"
    | Mapping _ -> "a mapping"
