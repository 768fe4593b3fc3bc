/// socketmap codec: netstring round trip, framing across arbitrary reads, malformed input
/// rejected without throwing, request and reply shape.
module Router.Core.Tests.SocketmapTests

open System
open System.Text
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.Socketmap

let latin1 (s: string) = Encoding.Latin1.GetBytes s
let utf8 (s: string) = Encoding.UTF8.GetBytes s
let frameOf (limit: int) (bytes: byte[]) = frame limit (ReadOnlySpan bytes)
let frameText (s: string) = frameOf MaxRequest (latin1 s)
let transport = mapNameBytes "transport"
let askText (s: string) = ask transport (ReadOnlySpan(utf8 s))
let wire (reply: Reply) = Encoding.UTF8.GetString(encode reply)

let isMalformed (f: Frame) =
    match f with
    | Malformed _ -> true
    | _ -> false

/// The payload of a Complete frame, and the bytes it took.
let payloadOf (bytes: byte[]) (f: Frame) =
    match f with
    | Complete(start, length) -> Some(Array.sub bytes start length, consumed start length)
    | _ -> None

/// Feeds chunks to the framer the way the shell does: append, take every whole netstring,
/// keep the rest. Returns the payloads in order, what is left, and the first Malformed.
let feed (limit: int) (chunks: byte[] list) =
    let buffer = ResizeArray<byte>()
    let payloads = ResizeArray<byte[]>()
    let mutable malformed = None

    for chunk in chunks do
        buffer.AddRange chunk
        let mutable go = malformed.IsNone

        while go do
            let bytes = buffer.ToArray()

            match frameOf limit bytes with
            | Complete(start, length) ->
                payloads.Add(Array.sub bytes start length)
                buffer.RemoveRange(0, consumed start length)
            | NeedMore -> go <- false
            | Malformed reason ->
                malformed <- Some reason
                go <- false

    List.ofSeq payloads, buffer.ToArray(), malformed

/// Byte strings of every length from empty to a little over MaxRequest, any bytes.
let payloadGen: Gen<byte[]> =
    gen {
        let! n =
            Gen.frequency
                [ 6, Gen.choose (0, 40)
                  2, Gen.choose (0, 300)
                  1, Gen.choose (MaxRequest - 20, MaxRequest + 20) ]

        return! Gen.arrayOfLength n (Gen.choose (0, 255) |> Gen.map byte)
    }

/// Request payloads as Postfix builds them: a map name without spaces, a space, a raw key
/// (any bytes but NUL, spaces included).
let requestGen: Gen<byte[]> =
    gen {
        let! name = Gen.elements [ "transport"; "t"; "sender_map"; "Transport" ]
        let! n = Gen.choose (1, 60)
        let! key = Gen.arrayOfLength n (Gen.choose (1, 255) |> Gen.map byte)
        return Array.append (latin1 (name + " ")) key
    }

/// A few requests as netstrings back to back, and where the reads cut that stream.
let splitGen: Gen<byte[] list * byte[] list> =
    gen {
        let! requests = Gen.listOf requestGen
        let stream = requests |> List.map (fun p -> netstring (ReadOnlySpan p)) |> Array.concat
        let! cuts = Gen.listOf (Gen.choose (0, stream.Length))

        let bounds = (0 :: List.sort cuts) @ [ stream.Length ] |> List.distinct

        let chunks =
            bounds
            |> List.pairwise
            |> List.map (fun (a, b) -> Array.sub stream a (b - a))

        return requests, chunks
    }

type Payloads =
    static member Arb() = Arb.fromGen payloadGen

// ---------------------------------------------------------------- netstring properties

[<Property(MaxTest = 1000, Arbitrary = [| typeof<Payloads> |])>]
let ``a netstring frames back to its payload, taking every byte`` (data: byte[]) =
    let bytes = netstring (ReadOnlySpan data)

    if data.Length <= MaxRequest then
        payloadOf bytes (frameOf MaxRequest bytes) = Some(data, bytes.Length)
    else
        isMalformed (frameOf MaxRequest bytes)

[<Property(MaxTest = 1000)>]
let ``netstrings of any byte strings round trip under the reply limit`` (data: byte[]) =
    let bytes = netstring (ReadOnlySpan data)
    payloadOf bytes (frameOf MaxReply bytes) = Some(data, bytes.Length)

[<Property(MaxTest = 1000, Arbitrary = [| typeof<Payloads> |])>]
let ``every proper prefix of an acceptable netstring needs more`` (data: byte[]) (cut: NonNegativeInt) =
    let bytes = netstring (ReadOnlySpan data)
    let n = cut.Get % bytes.Length
    data.Length > MaxRequest || frameOf MaxRequest (Array.sub bytes 0 n) = NeedMore

[<Property(MaxTest = 1000, Arbitrary = [| typeof<Payloads> |])>]
let ``what follows a netstring is left alone`` (data: byte[]) (rest: byte[]) =
    let bytes = netstring (ReadOnlySpan data)
    let stream = Array.append bytes rest
    data.Length > MaxRequest || payloadOf stream (frameOf MaxRequest stream) = Some(data, bytes.Length)

[<Fact>]
let ``splitGen cuts streams into several pieces`` () =
    // Guards the next property: most samples must really be split, some in many places.
    let samples = Gen.sampleWithSize 30 200 splitGen
    Assert.True(samples |> Array.filter (fun (_, chunks) -> List.length chunks > 2) |> Array.length > 100)

[<Property(MaxTest = 1000)>]
let ``requests split across reads at any points come out whole and in order`` () =
    Prop.forAll (Arb.fromGen splitGen) (fun (requests, chunks) ->
        let payloads, rest, malformed = feed MaxRequest chunks
        payloads = requests && rest.Length = 0 && malformed.IsNone)

// ---------------------------------------------------------------- malformed input

let bytesGen = Gen.arrayOf (Gen.choose (0, 255) |> Gen.map byte)

let badLengthGen: Gen<byte[]> =
    gen {
        let! digits = Gen.choose (0, 4)
        let! prefix = Gen.arrayOfLength digits (Gen.choose (int '1', int '9') |> Gen.map byte)

        let! bad =
            Gen.choose (0, 255)
            |> Gen.map byte
            |> Gen.filter (fun b -> b <> byte ':' && (b < byte '0' || b > byte '9'))

        let! rest = bytesGen
        return Array.concat [ prefix; [| bad |]; rest ]
    }

[<Property(MaxTest = 1000)>]
let ``a length with a non-digit is malformed, whatever follows`` () =
    Prop.forAll (Arb.fromGen badLengthGen) (fun bytes ->
        frameOf MaxRequest bytes = Malformed "bad netstring length: not a digit")

[<Property(MaxTest = 1000)>]
let ``an empty length is malformed`` (rest: byte[]) =
    frameOf MaxRequest (Array.append (latin1 ":") rest) = Malformed "bad netstring length: no digits"

[<Property(MaxTest = 1000)>]
let ``a length with a leading zero is malformed`` (digit: byte) (rest: byte[]) =
    let d = byte '0' + digit % 10uy
    frameOf MaxRequest (Array.append [| byte '0'; d |] rest) = Malformed "bad netstring length: leading zero"

[<Property(MaxTest = 1000, Arbitrary = [| typeof<Payloads> |])>]
let ``a netstring without its comma is malformed`` (data: byte[]) (last: byte) (rest: byte[]) =
    let bytes = netstring (ReadOnlySpan data)
    let last = if last = byte ',' then byte '.' else last
    bytes[bytes.Length - 1] <- last

    data.Length > MaxRequest
    || frameOf MaxRequest (Array.append bytes rest) = Malformed "netstring does not end with a comma"

let oversizedGen: Gen<byte[]> =
    gen {
        let! n =
            Gen.frequency
                [ 3, Gen.choose (MaxRequest + 1, MaxRequest + 100)
                  1, Gen.choose (MaxRequest + 1, Int32.MaxValue) ]

        let! tail = Gen.elements [ ""; ":"; ":abc"; "0123456789" ]
        let! junk = bytesGen
        return Array.append (latin1 (string n + tail)) junk
    }

[<Property(MaxTest = 1000)>]
let ``a length over the limit is malformed as soon as its digits say so`` () =
    Prop.forAll (Arb.fromGen oversizedGen) (fun bytes ->
        frameOf MaxRequest bytes = Malformed("netstring longer than " + string MaxRequest + " bytes"))

[<Fact>]
let ``an oversized length is caught before its colon arrives`` () =
    Assert.Equal(NeedMore, frameText "1000")
    Assert.Equal(NeedMore, frameText "10000")
    Assert.Equal(Malformed "netstring longer than 10000 bytes", frameText "10001")
    Assert.Equal(Malformed "netstring longer than 10000 bytes", frameText "99999")
    Assert.Equal(Malformed "netstring longer than 10000 bytes", frameText "999999999999999999999999")

/// Bytes that are mostly netstring-like: digits, colons, commas, spaces, anything.
let junkGen: Gen<byte[]> =
    Gen.arrayOf (
        Gen.frequency
            [ 4, Gen.choose (int '0', int '9') |> Gen.map byte
              2, Gen.elements [ byte ':'; byte ','; byte ' ' ]
              1, Gen.choose (0, 255) |> Gen.map byte ]
    )

[<Property(MaxTest = 2000)>]
let ``any bytes frame without throwing, and a Complete frame is a real netstring`` () =
    Prop.forAll (Arb.fromGen junkGen) (fun bytes ->
        match frameOf 50 bytes with
        | NeedMore ->
            // Only digits so far (a length still coming), or a whole length waiting for data.
            let colon = Array.IndexOf(bytes, byte ':')
            let digits = if colon < 0 then bytes else Array.sub bytes 0 colon
            digits |> Array.forall (fun b -> b >= byte '0' && b <= byte '9')
        | Complete(start, length) ->
            start + length < bytes.Length
            && bytes[start + length] = byte ','
            && latin1 (string length + ":") = Array.sub bytes 0 start
            && length <= 50
        | Malformed reason -> reason.Length > 0)

[<Property(MaxTest = 1000)>]
let ``after a malformed netstring the feed stops, earlier requests still count`` () =
    Prop.forAll (Arb.fromGen (Gen.zip splitGen badLengthGen)) (fun ((requests, chunks), bad) ->
        let payloads, _, malformed = feed MaxRequest (chunks @ [ bad ])
        payloads = requests && malformed = Some "bad netstring length: not a digit")

// ---------------------------------------------------------------- requests

[<Property(MaxTest = 1000, Arbitrary = [| typeof<CodecTests.Texts> |])>]
let ``a request for this map asks for its raw key, lower-cased, spaces kept`` (key: string) =
    key.Contains '\000' || key = "" || askText ("transport " + key) = Key(key.ToLowerInvariant())

[<Theory>]
[<InlineData("transport john@example.com", "john@example.com")>]
[<InlineData("transport John@Example.COM", "john@example.com")>]
[<InlineData("transport \"john doe\"@example.com", "\"john doe\"@example.com")>]
[<InlineData("transport a%20b", "a%20b")>]
[<InlineData("transport *", "*")>]
[<InlineData("transport  x", " x")>]
[<InlineData("transport ÉTÉ@x.fr", "été@x.fr")>]
let ``requests Postfix sends ask for their key`` (payload: string, key: string) =
    Assert.Equal(Key key, askText payload)

[<Theory>]
[<InlineData("transport", "missing space between map name and key")>]
[<InlineData("", "missing space between map name and key")>]
[<InlineData(" key", "empty map name")>]
[<InlineData("transport ", "empty key")>]
[<InlineData("transport a\000b", "NUL byte in request")>]
[<InlineData("relay x@y", "unknown map name \"relay\"")>]
[<InlineData("Transport x@y", "unknown map name \"Transport\"")>]
[<InlineData("transports x@y", "unknown map name \"transports\"")>]
[<InlineData("other été@x.fr", "unknown map name \"other\"")>]
let ``invalid requests and other maps are refused with the reason`` (payload: string, reason: string) =
    Assert.Equal(Refused(Perm reason), askText payload)

[<Fact>]
let ``a request that is not UTF-8 is refused`` () =
    Assert.Equal(Refused(Perm "request is not UTF-8"), ask transport (ReadOnlySpan(latin1 "transport j\xf6hn@example.com")))

[<Property(MaxTest = 500, Arbitrary = [| typeof<CodecTests.Texts> |])>]
let ``only the configured map name is served`` (name: string) =
    let ok = name <> "" && not (name.Contains ' ') && not (name.Contains '\000')
    not ok
    || (match ask (mapNameBytes name) (ReadOnlySpan(utf8 (name + " x@y"))) with
        | Key "x@y" -> true
        | _ -> false)
       && (match ask (mapNameBytes (name + "x")) (ReadOnlySpan(utf8 (name + " x@y"))) with
           | Refused(Perm _) -> true
           | _ -> false)

// ---------------------------------------------------------------- replies

[<Fact>]
let ``replies are netstrings of OK, NOTFOUND, TEMP, TIMEOUT or PERM`` () =
    Assert.Equal("29:OK relay:[mx1.example.com]:25,", wire (Found "relay:[mx1.example.com]:25"))
    Assert.Equal("9:NOTFOUND ,", wire NotFound)
    Assert.Equal("25:TEMP DNS server failure 2,", wire (Temp "DNS server failure 2"))
    Assert.Equal("14:TIMEOUT dns 5s,", wire (Timeout "dns 5s"))
    Assert.Equal("29:PERM unknown map name \"relay\",", wire (Perm "unknown map name \"relay\""))
    Assert.Equal("10:OK ét%é ,", wire (Found "ét%é "))

[<Fact>]
let ``OK with an empty relay becomes TEMP`` () =
    Assert.Equal("16:TEMP empty relay,", wire (Found ""))

[<Fact>]
let ``the router's replies map to socketmap answers`` () =
    Assert.Equal(Found "smtp:[192.0.2.4]:587", ofReply (Router.Core.Reply.Found("smtp:[192.0.2.4]:587", 3)))
    Assert.Equal(NotFound, ofReply Router.Core.Reply.NotFound)
    Assert.Equal(Temp "SERVFAIL", ofReply (Router.Core.Reply.Defer "SERVFAIL"))

let replyGen: Gen<Reply> =
    gen {
        let! n = Gen.frequency [ 4, Gen.choose (0, 50); 1, Gen.choose (MaxReply - 10, MaxReply + 10) ]
        let! chars = Gen.arrayOfLength n (Gen.elements [ 'a'; ' '; 'é'; '€'; ','; ':'; '\n'; '%' ])
        let text = String chars
        let! make = Gen.elements [ Found; (fun _ -> NotFound); Temp; Timeout; Perm ]
        return make text
    }

[<Property(MaxTest = 1000)>]
let ``a reply is one netstring of at most 100000 bytes, valid UTF-8, with its word first`` () =
    Prop.forAll (Arb.fromGen replyGen) (fun reply ->
        let bytes = encode reply

        match payloadOf bytes (frameOf MaxReply bytes) with
        | Some(payload, taken) ->
            let text = Encoding.UTF8.GetString payload

            let word =
                match reply with
                | Found d when d.Length > 0 && Encoding.UTF8.GetByteCount d <= MaxReply - 3 -> "OK "
                | Found _ -> "TEMP "
                | NotFound -> "NOTFOUND "
                | Temp _ -> "TEMP "
                | Timeout _ -> "TIMEOUT "
                | Perm _ -> "PERM "

            taken = bytes.Length
            && payload.Length <= MaxReply
            && Unicode.Utf8.IsValid(ReadOnlySpan payload)
            && text.StartsWith(word, StringComparison.Ordinal)
            && (reply <> NotFound || text = "NOTFOUND ")
        | None -> false)

[<Fact>]
let ``OK data is never cut: a relay too long for a reply becomes TEMP`` () =
    Assert.Equal("TEMP relay address too long", render (Found(String('a', MaxReply))))
    Assert.Equal("OK " + String('a', MaxReply - 3), render (Found(String('a', MaxReply - 3))))

[<Fact>]
let ``a long reason is cut on a UTF-8 boundary`` () =
    let text = render (Perm(String('€', MaxReply)))
    Assert.True(Encoding.UTF8.GetByteCount text <= MaxReply)
    Assert.True(Encoding.UTF8.GetByteCount text > MaxReply - 3)
    Assert.Equal("PERM ", text.Substring(0, 5))
    Assert.DoesNotContain('\uFFFD', text)
