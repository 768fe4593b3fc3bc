/// %XX encoding, the router's one: tcp_table keys and replies (Postfix's dict_tcp.c) and
/// the control characters of routing log lines.
module Router.Core.Percent

open System

let private hexDigits = "0123456789ABCDEF"

let private appendEscape (sb: Text.StringBuilder) (b: byte) =
    sb.Append('%').Append(hexDigits[int b >>> 4]).Append(hexDigits[int b &&& 0xf]) |> ignore

let private needsEscape (b: byte) =
    b = byte '%' || b = byte ' ' || b < 0x20uy || b >= 0x7fuy

let private hexValue (b: byte) : int =
    if b >= byte '0' && b <= byte '9' then int b - int '0'
    elif b >= byte 'a' && b <= byte 'f' then int b - int 'a' + 10
    elif b >= byte 'A' && b <= byte 'F' then int b - int 'A' + 10
    else -1

let encode (bytes: ReadOnlySpan<byte>) : string =
    let sb = Text.StringBuilder(bytes.Length + 8)

    for i in 0 .. bytes.Length - 1 do
        let b = bytes[i]

        if needsEscape b then appendEscape sb b else sb.Append(char b) |> ignore

    sb.ToString()

let decodeInto (text: ReadOnlySpan<byte>) (into: Span<byte>) : Result<int, string> =
    let mutable n = 0
    let mutable i = 0
    // "" while no error (every reason is non-empty)
    let mutable error = ""

    while error.Length = 0 && i < text.Length do
        let b = text[i]

        if b = byte '%' then
            if i + 2 >= text.Length then
                error <- "truncated %XX escape"
            else
                let hi = hexValue text[i + 1]
                let lo = hexValue text[i + 2]

                if hi < 0 || lo < 0 then
                    error <- "bad %XX escape"
                else
                    into[n] <- byte (hi * 16 + lo)
                    n <- n + 1
                    i <- i + 3
        else
            into[n] <- b
            n <- n + 1
            i <- i + 1

    if error.Length = 0 then Ok n else Error error

let decode (text: ReadOnlySpan<byte>) : Result<byte[], string> =
    let out = Array.zeroCreate<byte> text.Length

    match decodeInto text (Span out) with
    | Ok n -> Ok(Array.sub out 0 n)
    | Error e -> Error e

let truncate (max: int) (encoded: string) : string =
    if encoded.Length <= max then
        encoded
    else
        let cut =
            if max >= 1 && encoded[max - 1] = '%' then max - 1
            elif max >= 2 && encoded[max - 2] = '%' then max - 2
            else max

        encoded.Substring(0, cut)

let private breaksLine (c: char) =
    c = '%' || c < '\u0020' || (c >= '\u007f' && c <= '\u009f') || c = '\u2028' || c = '\u2029'

let appendLineSafe (into: Text.StringBuilder) (text: string) : unit =
    for i in 0 .. text.Length - 1 do
        let c = text[i]

        if breaksLine c then
            // C0, DEL and '%' are one byte, C1 two, the separators three
            let utf8 = Array.zeroCreate<byte> 4
            let n = Text.Encoding.UTF8.GetBytes(text.AsSpan(i, 1), Span utf8)

            for b in 0 .. n - 1 do
                appendEscape into utf8[b]
        else
            into.Append c |> ignore
