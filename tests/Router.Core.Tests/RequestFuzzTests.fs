/// The tcp_table request codec under random bytes: it never throws, anything that is not a
/// well-formed `get` is Malformed with a reason, and what it accepts is a usable key.
module Router.Core.Tests.RequestFuzzTests

open System
open System.Text
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.TcpTable

let private byteGen = Gen.choose (0, 255) |> Gen.map byte

/// Lines that often start like a request and then go wrong: random bytes, stray '%',
/// bad escapes, escaped NULs and invalid UTF-8.
let lineGen: Gen<byte[]> =
    let piece =
        Gen.frequency
            [ 10, byteGen |> Gen.map (fun b -> [| b |])
              3, Gen.elements [ "%"B; "%0"B; "%00"B; "%zz"B; "%ff"B; "%c3"B; "%C3%A9"B; "%0A"B; "%25"B; "\r"B; "\000"B ]
              5, Gen.choose (0x21, 0x7e) |> Gen.map (fun b -> [| byte b |]) ]

    gen {
        let! start = Gen.elements [ "get "B; "get "B; "get "B; "put "B; "GET "B; "get"B; ""B; "get  "B ]
        let! pieces = Gen.listOf piece
        return Array.concat (start :: pieces)
    }

let private isMalformed (r: Request) =
    match r with
    | Malformed reason -> reason.Length > 0
    | Get _ -> false

[<Property(MaxTest = 3000)>]
let ``any bytes parse without throwing`` (bytes: byte[]) =
    match parse (ReadOnlySpan bytes) with
    | Get key -> key.Length > 0
    | Malformed reason -> reason.Length > 0

[<Property(MaxTest = 3000)>]
let ``a line that does not start with "get " is malformed`` () =
    Prop.forAll (Arb.fromGen lineGen) (fun bytes ->
        bytes.AsSpan().StartsWith("get "B) || isMalformed (parse (ReadOnlySpan bytes)))

[<Property(MaxTest = 3000)>]
let ``an accepted key is the decoded text in lower case: not empty, no NUL, valid UTF-8`` () =
    Prop.forAll (Arb.fromGen lineGen) (fun bytes ->
        match parse (ReadOnlySpan bytes) with
        | Malformed _ -> true
        | Get key ->
            let line =
                if bytes.Length > 0 && bytes[bytes.Length - 1] = byte '\r' then Array.sub bytes 0 (bytes.Length - 1) else bytes

            let decoded = PercentTests.referenceDecode (Array.sub line 4 (line.Length - 4))

            key.Length > 0
            && not (key.Contains '\000')
            && (match decoded with
                | Some raw -> (Encoding.UTF8.GetString raw).ToLowerInvariant() = key && Unicode.Utf8.IsValid(ReadOnlySpan raw)
                | None -> false))

[<Property(MaxTest = 3000)>]
let ``a malformed request's 400 reply is one well-formed line`` () =
    Prop.forAll (Arb.fromGen lineGen) (fun bytes ->
        match parse (ReadOnlySpan bytes) with
        | Get _ -> true
        | Malformed reason ->
            let wire = Encoding.ASCII.GetString(encode (Reply.Defer reason))

            wire.StartsWith "400 "
            && wire.Length > 5
            && wire.IndexOf '\n' = wire.Length - 1
            && CodecTests.wellFormed (wire.Substring(4, wire.Length - 5)))

[<Fact>]
let ``lineGen reaches every kind of malformed request and some good ones`` () =
    let reasons =
        Gen.sampleWithSize 40 3000 lineGen
        |> Array.map (fun b -> parse (ReadOnlySpan b))
        |> Array.choose (fun r ->
            match r with
            | Malformed reason -> Some reason
            | Get _ -> Some "ok")
        |> Set.ofArray

    for expected in [ "ok"; "unknown command"; "truncated %XX escape"; "bad %XX escape"; "NUL byte in key"; "key is not UTF-8" ] do
        Assert.Contains(expected, reasons)
