/// Postfix tcp_table protocol (man 5 tcp_table, src/util/dict_tcp.c): pure codec.
module Router.Core.TcpTable

open System

/// Longest request line, and longest reply including its LF.
[<Literal>]
val MaxLine: int = 4096

/// One request line (without its LF; a trailing CR is tolerated). A struct: parsing
/// allocates nothing but the key.
[<Struct>]
type Request =
    /// `get SP key`: the key %XX-decoded (UTF-8) and lower-cased (Postfix does not
    /// lower-case keys for tcp tables), as String.ToLowerInvariant would.
    | Get of key: string
    /// Anything else; the reason goes into a 400 reply.
    | Malformed of reason: string

/// Parses one request line (LF removed; a trailing CR removed here).
val parse: line: ReadOnlySpan<byte> -> Request

/// A reply as its line: three digits, space, %XX-encoded text, LF; at most MaxLine bytes.
/// Found is 200, NotFound "500 NO%20RESULT", Defer 400. Never 200 with empty text (that
/// becomes a 400).
val encode: reply: Reply.Reply -> byte[]

/// The encodings of a plan's answers (Lookup.answers), made once per config.
type Prepared =
    { Found: byte[] array
      NotFound: byte[] }

val prepare: answers: string array -> Prepared

/// A reply's bytes: the prepared ones for a Found with a slot and for NotFound (shared:
/// callers only read them), else encoded now.
val bytes: prepared: Prepared -> reply: Reply.Reply -> byte[]

/// What the line framer sees at the start of a connection's unread bytes.
[<Struct>]
type Frame =
    /// No LF yet, and the bytes so far could still be a request: read more.
    | NeedMore
    /// One request line: buffer[0 .. length - 1] (the LF excluded; a CR before it is kept,
    /// `parse` drops it). The line and its LF take `length + 1` bytes of the buffer.
    | Line of length: int
    /// The line is longer than MaxLine bytes (without its LF and an optional CR), whether or
    /// not its LF has arrived: reply 400 and close, the framing cannot be trusted past it.
    | TooLong

/// Frames the first request line of `buffer`. Looks at no more than MaxLine + 2 bytes, so a
/// connection never needs to buffer more than that to decide; never throws.
val frame: buffer: ReadOnlySpan<byte> -> Frame
