/// Postfix tcp_table protocol (man 5 tcp_table, src/util/dict_tcp.c): pure codec.
module Router.Core.TcpTable

open System

/// Longest request line, and longest reply including its LF.
[<Literal>]
let MaxLine = 4096

/// One request line (without its LF; a trailing CR is tolerated). A struct: parsing
/// allocates nothing but the key.
[<Struct>]
type Request =
    /// `get SP key`: the key %XX-decoded (UTF-8) and lower-cased (Postfix does not
    /// lower-case keys for tcp tables), as String.ToLowerInvariant would.
    | Get of key: string
    /// Anything else; the reason goes into a 400 reply.
    | Malformed of reason: string


let private getPrefix = "get "B

/// The key of a `get` line: decoded into a pooled buffer, checked, made one lower-cased string.
let private key (encoded: ReadOnlySpan<byte>) : Request =
    let buffer = Buffers.ArrayPool<byte>.Shared.Rent(max 1 encoded.Length)

    try
        match Percent.decodeInto encoded (Span buffer) with
        | Error e -> Malformed e
        | Ok 0 -> Malformed "empty key"
        | Ok n ->
            let key = ReadOnlySpan(buffer, 0, n)

            if key.IndexOf 0uy >= 0 then Malformed "NUL byte in key"
            elif not (Text.Unicode.Utf8.IsValid key) then Malformed "key is not UTF-8"
            else Get(Address.lowerUtf8 key)
    finally
        Buffers.ArrayPool<byte>.Shared.Return buffer

/// Parses one request line (LF removed; a trailing CR removed here).
let parse (line: ReadOnlySpan<byte>) : Request =
    let line =
        if line.Length > 0 && line[line.Length - 1] = byte '\r' then
            line.Slice(0, line.Length - 1)
        else
            line

    if line.Length > MaxLine then
        Malformed "request too long"
    elif not (line.StartsWith(ReadOnlySpan getPrefix)) then
        Malformed "unknown command"
    else
        key (line.Slice getPrefix.Length)

let private line (status: string) (text: string) : byte[] =
    let encoded = Percent.encode (ReadOnlySpan(Text.Encoding.UTF8.GetBytes text))
    let body = Percent.truncate (MaxLine - 5) encoded
    Text.Encoding.ASCII.GetBytes(status + " " + body + "\n")

let encode (reply: Reply.Reply) : byte[] =
    match reply with
    | Reply.Found("", _) -> line "400" "empty relay"
    | Reply.Found(relay, _) -> line "200" relay
    | Reply.NotFound -> line "500" Model.NoResultText
    | Reply.Defer reason -> line "400" reason

type Prepared =
    { Found: byte[] array
      NotFound: byte[] }

let prepare (answers: string array) : Prepared =
    { Found = answers |> Array.map (fun a -> encode (Reply.Found(a, -1)))
      NotFound = encode Reply.NotFound }

let bytes (prepared: Prepared) (reply: Reply.Reply) : byte[] =
    match reply with
    | Reply.Found(_, slot) when slot >= 0 && slot < prepared.Found.Length -> prepared.Found[slot]
    | Reply.NotFound -> prepared.NotFound
    | _ -> encode reply

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
let frame (buffer: ReadOnlySpan<byte>) : Frame =
    // MaxLine bytes, a CR and the LF: the furthest an acceptable line's LF can stand.
    let window = min buffer.Length (MaxLine + 2)
    let lf = buffer.Slice(0, window).IndexOf(byte '\n')

    if lf >= 0 then
        let content = if lf > 0 && buffer[lf - 1] = byte '\r' then lf - 1 else lf
        if content > MaxLine then TooLong else Line lf
    elif buffer.Length > MaxLine + 1 then
        TooLong
    else
        NeedMore
