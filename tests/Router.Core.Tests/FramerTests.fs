/// The tcp_table line framer: random byte streams cut at random points give the same lines
/// as a plain model, no line is ever longer than 4096 bytes, and it never throws.
module Router.Core.Tests.FramerTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.TcpTable

let frameOf (bytes: byte[]) = frame (ReadOnlySpan bytes)

/// What a connection made of a stream: the request lines (LF removed, CR kept) and whether
/// it ended on a line too long (reply 400, close).
type Outcome = { Lines: byte[] list; TooLong: bool }

/// Plays a connection as the shell does: each chunk is one read, appended to the unread
/// bytes; the framer takes whole lines off the front; TooLong ends the connection. Also
/// returns the most bytes held unread after the framer asked for more.
let play (chunks: byte[] list) : Outcome * int =
    let mutable buffer = Array.zeroCreate<byte> 256
    let mutable start = 0
    let mutable fill = 0
    let lines = ResizeArray<byte[]>()
    let mutable tooLong = false
    let mutable held = 0

    for chunk in chunks do
        if not tooLong then
            if fill + chunk.Length > buffer.Length then
                let grown = Array.zeroCreate<byte> (max (2 * buffer.Length) (fill - start + chunk.Length))
                Array.blit buffer start grown 0 (fill - start)
                buffer <- grown
                fill <- fill - start
                start <- 0

            Array.blit chunk 0 buffer fill chunk.Length
            fill <- fill + chunk.Length
            let mutable go = true

            while go do
                match frame (ReadOnlySpan(buffer, start, fill - start)) with
                | Line n ->
                    lines.Add(Array.sub buffer start n)
                    start <- start + n + 1
                | TooLong ->
                    tooLong <- true
                    go <- false
                | NeedMore ->
                    held <- max held (fill - start)
                    go <- false

    { Lines = List.ofSeq lines; TooLong = tooLong }, held

/// The law, written the plain way: cut at every LF; a line whose text (without a final CR)
/// is longer than MaxLine ends the connection; so does an unterminated tail longer than
/// MaxLine + 1 bytes (no CR and LF could make it short enough).
let model (stream: byte[]) : Outcome =
    let rec go (from: int) (acc: byte[] list) =
        let lf = Array.IndexOf(stream, byte '\n', from)

        if lf < 0 then
            { Lines = List.rev acc; TooLong = stream.Length - from > MaxLine + 1 }
        else
            let line = Array.sub stream from (lf - from)
            let text = if line.Length > 0 && line[line.Length - 1] = byte '\r' then line.Length - 1 else line.Length

            if text > MaxLine then
                { Lines = List.rev acc; TooLong = true }
            else
                go (lf + 1) (line :: acc)

    go 0 []

let private byteGen = Gen.choose (0, 255) |> Gen.map byte

/// `n` bytes, any but LF, now and then a CR. Drawn from a seeded Random: FsCheck drawing
/// each of thousands of bytes on its own is slow.
let private bodyGen (n: int) : Gen<byte[]> =
    Gen.choose (0, Int32.MaxValue)
    |> Gen.map (fun seed ->
        let random = Random(seed)
        let body = Array.zeroCreate<byte> n
        random.NextBytes body

        for i in 0 .. n - 1 do
            if body[i] = byte '\n' then body[i] <- byte 'n'
            elif random.Next 30 = 0 then body[i] <- byte '\r'

        body)

/// One line: usually short, often right at the 4096-byte edge, sometimes far past it; any
/// bytes (an LF inside only makes more lines); LF or CRLF at the end, or nothing.
let lineGen: Gen<byte[]> =
    gen {
        let! n =
            Gen.frequency
                [ 6, Gen.choose (0, 60)
                  3, Gen.choose (MaxLine - 3, MaxLine + 3)
                  1, Gen.choose (0, 3 * MaxLine) ]

        let! body = bodyGen n
        let! ending = Gen.elements [ "\n"B; "\n"B; "\r\n"B; ""B; "\r"B ]
        return Array.append body ending
    }

/// A stream: lines back to back, or plain random bytes with LFs here and there.
let streamGen: Gen<byte[]> =
    Gen.oneof
        [ Gen.listOfLength 8 lineGen |> Gen.map Array.concat
          Gen.listOf lineGen |> Gen.resize 30 |> Gen.map Array.concat
          gen {
              // Random bytes with an LF every 20 bytes or so, up to 20000 of them.
              let! n = Gen.choose (0, 20000)
              let! body = bodyGen n
              let! seed = Gen.choose (0, Int32.MaxValue)
              let random = Random(seed)
              return body |> Array.map (fun b -> if random.Next 20 = 0 then byte '\n' else b)
          } ]

/// A stream and the reads that deliver it (empty reads included).
let splitGen: Gen<byte[] * byte[] list> =
    gen {
        let! stream = streamGen
        let! cuts = Gen.listOf (Gen.choose (0, stream.Length))
        let bounds = (0 :: List.sort cuts) @ [ stream.Length ]
        let chunks = bounds |> List.pairwise |> List.map (fun (a, b) -> Array.sub stream a (b - a))
        return stream, chunks
    }

[<Property(MaxTest = 300)>]
let ``the framer gives the model's lines`` () =
    Prop.forAll (Arb.fromGen streamGen) (fun stream -> fst (play [ stream ]) = model stream)

[<Property(MaxTest = 300)>]
let ``the same lines come out wherever the reads cut the stream`` () =
    Prop.forAll (Arb.fromGen splitGen) (fun (stream, chunks) -> fst (play chunks) = fst (play [ stream ]))

[<Property(MaxTest = 300)>]
let ``a line is never longer than 4096 bytes and never holds an LF`` () =
    Prop.forAll (Arb.fromGen splitGen) (fun (_, chunks) ->
        let outcome, _ = play chunks

        outcome.Lines
        |> List.forall (fun line ->
            let text = if line.Length > 0 && line[line.Length - 1] = byte '\r' then line.Length - 1 else line.Length
            text <= MaxLine && not (Array.contains (byte '\n') line)))

[<Property(MaxTest = 300)>]
let ``a connection never holds more than MaxLine + 1 unread bytes while it waits`` () =
    Prop.forAll (Arb.fromGen splitGen) (fun (_, chunks) -> snd (play chunks) <= MaxLine + 1)

[<Property(MaxTest = 2000)>]
let ``any bytes frame without throwing, and a Line ends at the first LF`` (bytes: byte[]) =
    match frameOf bytes with
    | Line n -> n < bytes.Length && bytes[n] = byte '\n' && Array.IndexOf(bytes, byte '\n') = n
    | NeedMore -> bytes.Length <= MaxLine + 1 && not (Array.contains (byte '\n') bytes)
    | TooLong -> true

[<Fact>]
let ``splitGen makes long, many-piece and edge-length streams`` () =
    // Guards the properties above: they must see streams cut in many places, streams past
    // the limit, and lines right at it.
    let samples = Gen.sampleWithSize 50 300 splitGen
    Assert.True(samples |> Array.filter (fun (_, chunks) -> List.length chunks > 3) |> Array.length > 100)
    Assert.True(samples |> Array.filter (fun (s, _) -> (model s).TooLong) |> Array.length > 10)
    Assert.True(samples |> Array.filter (fun (s, _) -> not (model s).TooLong && s.Length > MaxLine) |> Array.length > 10)

let private line (n: int) (ending: string) =
    Array.append (Array.create n (byte 'a')) (Text.Encoding.ASCII.GetBytes ending)

[<Fact>]
let ``the 4096-byte edge`` () =
    Assert.Equal(Line MaxLine, frameOf (line MaxLine "\n"))
    Assert.Equal(Line(MaxLine + 1), frameOf (line MaxLine "\r\n"))
    Assert.Equal(TooLong, frameOf (line (MaxLine + 1) "\n"))
    Assert.Equal(TooLong, frameOf (line (MaxLine + 1) "\r\n"))
    // Unterminated: MaxLine bytes and a CR could still end well; one more cannot.
    Assert.Equal(NeedMore, frameOf (line MaxLine ""))
    Assert.Equal(NeedMore, frameOf (line MaxLine "\r"))
    Assert.Equal(NeedMore, frameOf (line (MaxLine + 1) ""))
    Assert.Equal(TooLong, frameOf (line (MaxLine + 2) ""))
    Assert.Equal(TooLong, frameOf (line 100000 ""))

[<Fact>]
let ``empty buffers, empty lines and pipelined lines`` () =
    Assert.Equal(NeedMore, frameOf [||])
    Assert.Equal(Line 0, frameOf "\n"B)
    Assert.Equal(Line 1, frameOf "\r\n"B)
    Assert.Equal(Line 5, frameOf "get a\nget b\n"B)
    Assert.Equal(NeedMore, frameOf "get a"B)
