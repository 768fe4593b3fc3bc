/// Postfix tcp_table protocol (man 5 tcp_table, src/util/dict_tcp.c): pure codec.
module Router.Core.TcpTable

open System

/// Longest request line, and longest reply including its LF.
[<Literal>]
let MaxLine = 4096

/// One request line (without its LF; a trailing CR is tolerated).
type Request =
    /// `get SP key`: the key %XX-decoded (UTF-8), not yet lower-cased.
    | Get of key: string
    /// Anything else; the reason goes into a 400 reply.
    | Malformed of reason: string

/// What the router answers.
type Reply =
    | Found of relay: string      // 200
    | NotFound of text: string    // 500
    | TempFail of reason: string  // 400

/// %XX-encodes '%', space, control bytes (< 0x20, 0x7f) and bytes >= 0x80.
let encodeBytes (bytes: ReadOnlySpan<byte>) : string = failwith "todo"

/// Decodes %XX (hex, either case); Error on a bad escape.
let decodeBytes (text: ReadOnlySpan<byte>) : Result<byte[], string> = failwith "todo"

/// Parses one request line (LF removed; a trailing CR removed here).
let parse (line: ReadOnlySpan<byte>) : Request = failwith "todo"

/// Encodes a reply: three digits, space, %XX-encoded text, LF; at most MaxLine bytes.
/// Never 200 with empty text (that becomes a 400).
let encode (reply: Reply) : byte[] = failwith "todo"
