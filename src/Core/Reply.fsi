/// What the router answers, before any protocol's encoding: tcp_table and socketmap each
/// write it their own way (TcpTable.encode, Socketmap.encode).
module Router.Core.Reply

/// A struct: a lookup that answers a prepared reply allocates nothing for it.
[<Struct>]
type Reply =
    /// The relay (transport:nexthop). `Slot` is the index of this text among the answers a
    /// plan prepared (Lookup.answers), whose encodings each protocol keeps; -1 when the
    /// text was made for this reply alone.
    | Found of text: string * slot: int
    /// NO RESULT, and the key "*": Postfix uses its own routing.
    | NotFound
    /// A temporary failure: Postfix defers the message and asks again later.
    | Defer of reason: string

/// The tcp_table status code of a reply: 200, 500 or 400 (also the metrics' label).
val code: reply: Reply -> int
