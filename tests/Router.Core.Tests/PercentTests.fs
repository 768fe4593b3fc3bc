/// %XX encoding: round trip, what Postfix's tcp_table sees in an encoded text, the log's
/// line-safe escaping; each checked against a definition written another way.
module Router.Core.Tests.PercentTests

open System
open System.Text
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core

/// The encoding by its definition: a byte stays when it is printable ASCII other than space
/// and '%', else it becomes '%' and its two upper-case hex digits.
let referenceEncode (data: byte array) : string =
    data
    |> Array.map (fun b -> if b > 0x20uy && b < 0x7fuy && b <> byte '%' then string (char b) else "%" + b.ToString "X2")
    |> String.Concat

/// Decoding by its definition, over a list: '%' and two hex digits are one byte, a '%'
/// without them is no text at all.
let referenceDecode (text: byte array) : byte array option =
    let hex (b: byte) = Uri.IsHexDigit(char b)

    let rec go acc rest =
        match rest with
        | [] -> Some(List.rev acc)
        | p :: h :: l :: tail when p = byte '%' && hex h && hex l ->
            go (Convert.ToByte(String [| char h; char l |], 16) :: acc) tail
        | p :: _ when p = byte '%' -> None
        | b :: tail -> go (b :: acc) tail

    go [] (List.ofArray text) |> Option.map Array.ofList

let private asOption r =
    match r with
    | Ok v -> Some v
    | Error _ -> None

/// Bytes rich in '%' and hex digits, so that good, bad and truncated escapes all come up.
let escapeLikeGen: Gen<byte array> =
    Gen.arrayOf (Gen.elements (0x80uy :: ("%%%0aFfgZ 9\n"B |> Array.toList)))

[<Property(MaxTest = 1000)>]
let ``decode undoes encode for every byte string`` (data: byte array) =
    Percent.decode (ReadOnlySpan(Encoding.ASCII.GetBytes(Percent.encode (ReadOnlySpan data)))) = Ok data

[<Property(MaxTest = 1000)>]
let ``encode is the definition: printable ASCII but space and percent stays, the rest is %XX`` (data: byte array) =
    Percent.encode (ReadOnlySpan data) = referenceEncode data

[<Property(MaxTest = 1000)>]
let ``an encoded text holds only bytes tcp_table passes unchanged`` (data: byte array) =
    // Postfix splits the reply at white space and stops at control bytes; a '%' must start
    // an escape of two hex digits.
    let text = Percent.encode (ReadOnlySpan data)
    let chars = text.ToCharArray()

    chars |> Array.forall (fun c -> c > ' ' && c < '\u007f')
    && chars
       |> Array.indexed
       |> Array.forall (fun (i, c) ->
           c <> '%'
           || (i + 2 < chars.Length
               && "0123456789ABCDEF".Contains chars[i + 1]
               && "0123456789ABCDEF".Contains chars[i + 2]))

[<Property(MaxTest = 2000)>]
let ``decode agrees with the definition, errors included`` () =
    Prop.forAll (Arb.fromGen escapeLikeGen) (fun text ->
        asOption (Percent.decode (ReadOnlySpan text)) = referenceDecode text)

[<Property(MaxTest = 1000)>]
let ``truncate keeps a prefix of at most max characters that splits no escape`` (data: byte array) (max: PositiveInt) =
    let encoded = Percent.encode (ReadOnlySpan data)
    let cut = Percent.truncate max.Get encoded

    encoded.StartsWith(cut, StringComparison.Ordinal)
    && cut.Length <= max.Get
    && cut.Length >= min encoded.Length (max.Get - 2)
    && Option.isSome (referenceDecode (Encoding.ASCII.GetBytes cut))

let private lineSafe (text: string) =
    let sb = StringBuilder()
    Percent.appendLineSafe sb text
    sb.ToString()

let private breaksLine (c: char) =
    Char.IsControl c || c = '\u2028' || c = '\u2029'

[<Property(MaxTest = 1000)>]
let ``appendLineSafe leaves no character that breaks a line, and decodes back`` (chars: char array) =
    let text = String chars
    // a lone surrogate has no UTF-8 form to come back to
    let valid = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes text) = text
    let safe = lineSafe text

    not (safe |> Seq.exists breaksLine)
    && (not valid || referenceDecode (Encoding.UTF8.GetBytes safe) = Some(Encoding.UTF8.GetBytes text))

[<Theory>]
[<InlineData("a b", "a b")>]
[<InlineData("50%", "50%25")>]
[<InlineData("x\ny", "x%0Ay")>]
[<InlineData("x\u0085y", "x%C2%85y")>]
[<InlineData("x\u2028y", "x%E2%80%A8y")>]
[<InlineData("été", "été")>]
let ``appendLineSafe examples`` (text: string, expected: string) = Assert.Equal(expected, lineSafe text)
