/// Postfix socketmap protocol (man 5 socketmap_table, src/util/dict_sockmap.c): pure codec.
/// A request is one netstring `LEN:name SP key,` with the key raw (no %XX encoding); a reply
/// is one netstring `OK data`, `NOTFOUND `, `TEMP reason`, `TIMEOUT reason` or `PERM reason`.
module Router.Core.Socketmap

/// Longest request payload (`name SP key`) the router reads: recent Postfix sends no more.
[<Literal>]
val MaxRequest: int = 10000

/// Longest reply payload Postfix accepts (without the netstring's length, colon and comma).
[<Literal>]
val MaxReply: int = 100000

/// What the framer sees at the start of a buffer.
[<Struct>]
type Frame =

    /// Nothing wrong so far, but no whole netstring yet: read more.
    | NeedMore

    /// One netstring: its payload is buffer[start .. start + length - 1] and the
    /// netstring ends with the comma at start + length (see `consumed`).
    | Complete of start: int * length: int

    /// Not a netstring, or longer than the limit: the framing is lost.
    | Malformed of reason: string

/// Bytes a Complete frame takes from the buffer, comma included.
val consumed: start: int -> length: int -> int

/// Finds the netstring at the start of `buffer`. Never reads more than the length prefix
/// before it can tell that a netstring is too long, so a buffer of limit + 8 bytes is
/// enough for any netstring it accepts. Never throws.
val frame: limit: int -> buffer: System.ReadOnlySpan<byte> -> Frame

/// Wraps a payload as a netstring: `LEN:payload,`.
val netstring: payload: System.ReadOnlySpan<byte> -> byte array

/// What the router answers.
type Reply =

    /// `OK data`
    | Found of data: string

    /// `NOTFOUND `
    | NotFound

    /// `TEMP reason`: Postfix retries later.
    | Temp of reason: string

    /// `TIMEOUT reason`: Postfix retries later.
    | Timeout of reason: string

    /// `PERM reason`: a configuration error for Postfix (the message waits too).
    | Perm of reason: string

val ofReply: reply: Router.Core.Reply.Reply -> Reply

/// One request payload (`name SP key`), read for the map the router serves. A struct: a
/// request for this map allocates nothing beyond its key's string.
[<Struct>]
type Asked =

    /// The key, lower-cased (spaces kept; the socketmap key is raw, no %XX decoding).
    | Key of key: string

    /// Not a request for this map, or no request at all; the framing is intact, so this is
    /// the reply to send at once (PERM with the reason).
    | Refused of refusal: Reply

/// The map name's bytes as `ask` compares them (UTF-8).
val mapNameBytes: mapName: string -> byte array

/// Reads a netstring's payload: the map name up to the first space must be `mapName`
/// (compared byte for byte, so case counts), the key is what follows it.
val ask: mapName: byte array -> payload: System.ReadOnlySpan<byte> -> Asked

/// The reply payload, at most MaxReply bytes. Never `OK` with empty or cut data: that
/// becomes TEMP; reasons are cut to fit.
val replyPayload: reply: Reply -> byte array

/// The reply as the netstring to write.
val encode: reply: Reply -> byte array

/// A reply payload as text, for logs and --explain (e.g. `OK relay:[mx1.example.com]:25`).
val render: reply: Reply -> string

type Prepared =
    {
      Found: byte array array
      NotFound: byte array
    }

val prepare: answers: string array -> Prepared

val bytes: prepared: Prepared -> reply: Router.Core.Reply.Reply -> byte array
