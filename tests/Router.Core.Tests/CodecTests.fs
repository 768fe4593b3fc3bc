/// tcp_table codec: request and reply shape.
module Router.Core.Tests.CodecTests

open System
open System.Text
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.TcpTable

let bytes (s: string) = Encoding.UTF8.GetBytes s
let ascii (b: byte[]) = Encoding.ASCII.GetString b
let encodeText (s: string) = Percent.encode (ReadOnlySpan(bytes s))
let parseText (s: string) = parse (ReadOnlySpan(Encoding.Latin1.GetBytes s))
let encodeReply (r: Reply.Reply) = ascii (encode r)
let Found (text: string) = Reply.Found(text, -1)
let TempFail (reason: string) = Reply.Defer reason

let private isHex (c: char) = Uri.IsHexDigit c

/// No space, '%', control byte or byte >= 0x80 except as %XX.
let wellFormed (text: string) =
    let mutable i = 0
    let mutable ok = true

    while ok && i < text.Length do
        let c = text[i]

        if c = '%' then
            ok <- i + 2 < text.Length && isHex text[i + 1] && isHex text[i + 2]
            i <- i + 3
        else
            ok <- c > ' ' && c < '\u007f'
            i <- i + 1

    ok

/// Text mixing ASCII, '%', spaces, controls, non-ASCII and astral characters, valid UTF-16.
let keyGen: Gen<string> =
    let piece =
        Gen.frequency
            [ 6, Gen.choose (0x21, 0x7e)
              2, Gen.elements [ 0x25; 0x20; 0x09; 0x0d; 0x0a; 0x7f; 0x01 ]
              2, Gen.choose (0x80, 0xd7ff)
              1, Gen.choose (0x10000, 0x10ffff) ]

    Gen.nonEmptyListOf piece
    |> Gen.map (fun cps -> String.Concat(cps |> List.map Char.ConvertFromUtf32))

let longTextGen: Gen<string> =
    gen {
        let! n = Gen.choose (0, 6000)
        let! chars = Gen.arrayOfLength n (Gen.elements [ 'a'; '%'; ' '; 'é'; '\n'; 'z'; '€' ])
        return String chars
    }

type Texts =
    static member Arb() = Arb.fromGen keyGen

[<Property(MaxTest = 1000, Arbitrary = [| typeof<Texts> |])>]
let ``get with an encoded UTF-8 key parses to that key in lower case`` (key: string) =
    key.Contains '\000' || parseText ("get " + encodeText key) = Get(key.ToLowerInvariant())

[<Property(MaxTest = 1000, Arbitrary = [| typeof<Texts> |])>]
let ``a trailing CR is tolerated`` (key: string) =
    key.Contains '\000' || parseText ("get " + encodeText key + "\r") = Get(key.ToLowerInvariant())

[<Property(MaxTest = 300)>]
let ``a reply fits 4096 bytes, ends with one LF, holds no CR and decodes`` () =
    Prop.forAll
        (Arb.fromGen (
            gen {
                let! text = longTextGen
                let! make = Gen.elements [ Found; (fun _ -> Reply.NotFound); TempFail ]
                return make text
            }
        ))
        (fun reply ->
            let wire = encode reply
            let line = ascii wire

            wire.Length <= MaxLine
            && line.EndsWith "\n"
            && not (line.Substring(0, line.Length - 1).Contains '\n')
            && not (line.Contains '\r')
            && wellFormed (line.Substring(4, line.Length - 5))
            && Result.isOk (Percent.decode (ReadOnlySpan(wire, 4, wire.Length - 5))))

[<Theory>]
[<InlineData("get john@example.com", "john@example.com")>]
[<InlineData("get John%40Example.COM", "john@example.com")>]
[<InlineData("get %C3%89T%C3%89@X.FR", "été@x.fr")>]
[<InlineData("get a%20b%25c", "a b%c")>]
[<InlineData("get %c3%a9t%C3%A9@x.fr", "été@x.fr")>]
[<InlineData("get *", "*")>]
[<InlineData("get \"<>\"", "\"<>\"")>]
[<InlineData("get x@y\r", "x@y")>]
let ``requests Postfix sends parse`` (line: string, key: string) = Assert.Equal(Get key, parseText line)

[<Theory>]
[<InlineData("put x y", "unknown command")>]
[<InlineData("GET x", "unknown command")>]
[<InlineData("get", "unknown command")>]
[<InlineData("", "unknown command")>]
[<InlineData("get ", "empty key")>]
[<InlineData("get \r", "empty key")>]
[<InlineData("get %4", "truncated %XX escape")>]
[<InlineData("get a%", "truncated %XX escape")>]
[<InlineData("get %zz", "bad %XX escape")>]
[<InlineData("get %g1", "bad %XX escape")>]
[<InlineData("get a%00b", "NUL byte in key")>]
[<InlineData("get %ff", "key is not UTF-8")>]
[<InlineData("get a%c3", "key is not UTF-8")>]
let ``malformed requests say why`` (line: string, reason: string) = Assert.Equal(Malformed reason, parseText line)

[<Fact>]
let ``a request longer than MaxLine is malformed`` () =
    Assert.Equal(Malformed "request too long", parseText ("get " + String('a', MaxLine)))

[<Fact>]
let ``replies have a status, a space, encoded text and a bare LF`` () =
    Assert.Equal("200 relay:[mx1.example.com]:25\n", encodeReply (Found "relay:[mx1.example.com]:25"))
    Assert.Equal("500 NO%20RESULT\n", encodeReply Reply.NotFound)
    Assert.Equal("400 DNS%20timeout,%2050%25\n", encodeReply (TempFail "DNS timeout, 50%"))
    Assert.Equal("200 %C3%A9\n", encodeReply (Found "é"))

[<Fact>]
let ``200 with empty text becomes a 400`` () =
    Assert.StartsWith("400 ", encodeReply (Found ""))

[<Fact>]
let ``a long reply is cut to 4096 bytes`` () =
    let line = encodeReply (Found(String('a', 5000)))
    Assert.Equal(MaxLine, line.Length)
    Assert.Equal("200 " + String('a', MaxLine - 5) + "\n", line)

[<Fact>]
let ``a cut never splits a %XX escape`` () =
    // 4090 'a' then escapes: the text may hold 4091 bytes, so the escape at 4090 goes.
    let line = encodeReply (Found(String('a', MaxLine - 6) + "%%%"))
    Assert.Equal("200 " + String('a', MaxLine - 6) + "\n", line)
    let line2 = encodeReply (Found(String('a', MaxLine - 7) + "%%%"))
    Assert.Equal("200 " + String('a', MaxLine - 7) + "\n", line2)
    let line3 = encodeReply (Found(String('a', MaxLine - 8) + "%%%"))
    Assert.Equal("200 " + String('a', MaxLine - 8) + "%25\n", line3)

[<Property>]
let ``prepared replies are the bytes encode gives`` (answers: (string | null) array) (slot: int) =
    let texts = answers |> Array.map (fun (a: string | null) -> match a with null -> "" | a -> a)
    let prepared = prepare texts

    texts
    |> Array.mapi (fun i t -> TcpTable.bytes prepared (Reply.Found(t, i)) = encode (Reply.Found(t, -1)))
    |> Array.forall id
    && TcpTable.bytes prepared Reply.NotFound = encode Reply.NotFound
    && TcpTable.bytes prepared (Reply.Found("relay:[x]", -1 - abs slot)) = encode (Reply.Found("relay:[x]", -1))
