/// Postfix socketmap protocol (man 5 socketmap_table, src/util/dict_sockmap.c): pure codec.
/// A request is one netstring `LEN:name SP key,` with the key raw (no %XX encoding); a reply
/// is one netstring `OK data`, `NOTFOUND `, `TEMP reason`, `TIMEOUT reason` or `PERM reason`.
module Router.Core.Socketmap

open System
open System.Text

/// Longest request payload (`name SP key`) the router reads: recent Postfix sends no more.
[<Literal>]
let MaxRequest = 10000

/// Longest reply payload Postfix accepts (without the netstring's length, colon and comma).
[<Literal>]
let MaxReply = 100000

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
let consumed (start: int) (length: int) : int = start + length + 1

/// Finds the netstring at the start of `buffer`. Never reads more than the length prefix
/// before it can tell that a netstring is too long, so a buffer of limit + 8 bytes is
/// enough for any netstring it accepts. Never throws.
let frame (limit: int) (buffer: ReadOnlySpan<byte>) : Frame =
    let mutable i = 0
    let mutable length = 0L
    let mutable error = ""

    while error.Length = 0 && i < buffer.Length && buffer[i] <> byte ':' do
        let b = buffer[i]

        if b < byte '0' || b > byte '9' then
            error <- "bad netstring length: not a digit"
        elif i = 1 && buffer[0] = byte '0' then
            error <- "bad netstring length: leading zero"
        else
            length <- length * 10L + int64 (b - byte '0')

            if length > int64 limit then
                error <- "netstring longer than " + string limit + " bytes"

        i <- i + 1

    if error.Length > 0 then
        Malformed error
    elif i = buffer.Length then
        NeedMore
    elif i = 0 then
        Malformed "bad netstring length: no digits"
    else
        let start = i + 1
        let length = int length

        if buffer.Length <= start + length then NeedMore
        elif buffer[start + length] <> byte ',' then Malformed "netstring does not end with a comma"
        else Complete(start, length)

/// Wraps a payload as a netstring: `LEN:payload,`.
let netstring (payload: ReadOnlySpan<byte>) : byte[] =
    let prefix = Encoding.ASCII.GetBytes(string payload.Length + ":")
    let out = Array.zeroCreate<byte> (prefix.Length + payload.Length + 1)
    prefix.CopyTo(out, 0)
    payload.CopyTo(Span(out, prefix.Length, payload.Length))
    out[out.Length - 1] <- byte ','
    out

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

let ofReply (reply: Router.Core.Reply.Reply) : Reply =
    match reply with
    | Router.Core.Reply.Found(relay, _) -> Found relay
    | Router.Core.Reply.NotFound -> NotFound
    | Router.Core.Reply.Defer reason -> Temp reason

[<Struct>]
type Asked =
    | Key of key: string
    | Refused of refusal: Reply

let mapNameBytes (mapName: string) : byte[] = Encoding.UTF8.GetBytes mapName

let ask (mapName: byte[]) (payload: ReadOnlySpan<byte>) : Asked =
    let space = payload.IndexOf(byte ' ')

    if space < 0 then
        Refused(Perm "missing space between map name and key")
    elif space = 0 then
        Refused(Perm "empty map name")
    elif space = payload.Length - 1 then
        Refused(Perm "empty key")
    elif payload.IndexOf(0uy) >= 0 then
        Refused(Perm "NUL byte in request")
    elif not (Unicode.Utf8.IsValid payload) then
        Refused(Perm "request is not UTF-8")
    elif not (payload.Slice(0, space).SequenceEqual(ReadOnlySpan mapName)) then
        // Valid UTF-8 on both sides: equal bytes are equal text, ordinal.
        Refused(Perm("unknown map name \"" + Encoding.UTF8.GetString(payload.Slice(0, space)) + "\""))
    else
        Key(Address.lowerUtf8 (payload.Slice(space + 1)))

/// Longest prefix of `bytes` of at most `max` bytes that does not split a UTF-8 sequence.
let private cutUtf8 (max: int) (bytes: byte[]) : byte[] =
    if bytes.Length <= max then
        bytes
    else
        let mutable cut = max

        // Back up over continuation bytes (10xxxxxx) to the start of the cut sequence.
        while cut > 0 && bytes[cut] &&& 0xC0uy = 0x80uy do
            cut <- cut - 1

        Array.sub bytes 0 cut

/// The reply payload, at most MaxReply bytes. Never `OK` with empty or cut data: that
/// becomes TEMP; reasons are cut to fit.
let replyPayload (reply: Reply) : byte[] =
    let text (word: string) (rest: string) =
        cutUtf8 MaxReply (Encoding.UTF8.GetBytes(word + " " + rest))

    match reply with
    | Found "" -> text "TEMP" "empty relay"
    | Found data when Encoding.UTF8.GetByteCount data > MaxReply - 3 -> text "TEMP" "relay address too long"
    | Found data -> text "OK" data
    | NotFound -> text "NOTFOUND" ""
    | Temp reason -> text "TEMP" reason
    | Timeout reason -> text "TIMEOUT" reason
    | Perm reason -> text "PERM" reason

/// The reply as the netstring to write.
let encode (reply: Reply) : byte[] =
    netstring (ReadOnlySpan(replyPayload reply))

/// A reply payload as text, for logs and --explain (e.g. `OK relay:[mx1.example.com]:25`).
let render (reply: Reply) : string =
    Encoding.UTF8.GetString(replyPayload reply)

type Prepared =
    { Found: byte[] array
      NotFound: byte[] }

let prepare (answers: string array) : Prepared =
    { Found = answers |> Array.map (fun a -> encode (Found a))
      NotFound = encode NotFound }

let bytes (prepared: Prepared) (reply: Router.Core.Reply.Reply) : byte[] =
    match reply with
    | Router.Core.Reply.Found(_, slot) when slot >= 0 && slot < prepared.Found.Length -> prepared.Found[slot]
    | Router.Core.Reply.NotFound -> prepared.NotFound
    | _ -> encode (ofReply reply)
