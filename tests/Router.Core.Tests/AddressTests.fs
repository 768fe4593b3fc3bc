/// Keys: lower case, domain after the last '@', which keys are worth an MX query.
module Router.Core.Tests.AddressTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Router.Core

[<Theory>]
[<InlineData("John@Example.COM", "john@example.com", "example.com", true)>]
[<InlineData("a@b@c.example", "a@b@c.example", "c.example", true)>]
[<InlineData("example.com", "example.com", "example.com", true)>]
[<InlineData("user@mail.example.com.", "user@mail.example.com.", "mail.example.com.", true)>]
[<InlineData("user@xn--bcher-kva.example", "user@xn--bcher-kva.example", "xn--bcher-kva.example", true)>]
[<InlineData("user@bücher.example", "user@bücher.example", "bücher.example", true)>]
[<InlineData("user@_dmarc.example", "user@_dmarc.example", "_dmarc.example", true)>]
[<InlineData("user@[192.0.2.1]", "user@[192.0.2.1]", "[192.0.2.1]", false)>]
[<InlineData("user@", "user@", "", false)>]
[<InlineData("\"<>\"", "\"<>\"", "\"<>\"", false)>]
[<InlineData("user@exa mple.com", "user@exa mple.com", "exa mple.com", false)>]
[<InlineData("user@a..b", "user@a..b", "a..b", false)>]
[<InlineData("user@.", "user@.", ".", false)>]
let ``keys are lower-cased and split at the last at-sign`` (raw: string, text: string, domain: string, queryable: bool) =
    let key = Address.ofText raw
    Assert.Equal(text, key.Text)
    Assert.Equal(domain, key.Domain)
    Assert.Equal(queryable, key.Queryable)
    Assert.False key.IsWildcard

[<Fact>]
let ``the wildcard is never queried`` () =
    let key = Address.ofText "*"
    Assert.True key.IsWildcard
    Assert.False key.Queryable

[<Fact>]
let ``host names have labels of at most 63 bytes and 253 in all`` () =
    Assert.True(Address.isHostName ((String('a', 63) + ".example").AsSpan()))
    Assert.False(Address.isHostName ((String('a', 64) + ".example").AsSpan()))
    let long = String.Join(".", Array.create 64 "abc")
    Assert.False(Address.isHostName (long.AsSpan()))
    Assert.True(Address.isHostName (String.Join(".", Array.create 63 "abc").AsSpan()))

/// A host name by its definition, written as two regular expressions rather than a walk
/// over labels: only letters, digits, '-', '_' and dots; and, over the UTF-8 bytes, labels
/// of 1..63 bytes between single dots, an optional trailing dot, at most 253 bytes before it.
let private hostNameChars =
    Text.RegularExpressions.Regex(@"^[\p{L}\p{Nd}_.-]*$")

let private hostNameBytes =
    Text.RegularExpressions.Regex(@"^(?=.{1,253}\.?$)(?:[^.]{1,63}\.)*[^.]{1,63}\.?$", Text.RegularExpressions.RegexOptions.Singleline)

let private isHostNameByDefinition (domain: string) : bool =
    hostNameChars.IsMatch domain
    && hostNameBytes.IsMatch(Text.Encoding.Latin1.GetString(Text.Encoding.UTF8.GetBytes domain))

[<Theory>]
[<InlineData("example.com", true)>]
[<InlineData("example.com.", true)>]
[<InlineData("_dmarc.b\u00fccher.de", true)>]
[<InlineData("a..b", false)>]
[<InlineData(".", false)>]
[<InlineData("", false)>]
[<InlineData("a b.test", false)>]
[<InlineData("x@y.test", false)>]
let ``host names and not host names, by example`` (name: string, expected: bool) =
    Assert.Equal(expected, isHostNameByDefinition name)
    Assert.Equal(expected, Address.isHostName (name.AsSpan()))

let private domainGen =
    let chars = Gen.frequency [ 12, Gen.elements [ 'a'; 'B'; '1' ]; 3, Gen.constant '.'; 1, Gen.elements [ '-'; '_'; 'ü'; ' '; '@'; '\ud83d' ] ]
    Gen.frequency [ 4, Gen.choose (0, 20); 1, Gen.choose (55, 270) ]
    |> Gen.bind (fun n -> Gen.arrayOfLength n chars)
    |> Gen.map String

[<FsCheck.Xunit.Property(MaxTest = 2000)>]
let ``a host name is what the definition says`` () =
    Prop.forAll (Arb.fromGen domainGen) (fun domain -> Address.isHostName (domain.AsSpan()) = isHostNameByDefinition domain)

[<FsCheck.Xunit.Property(MaxTest = 1000)>]
let ``a key is its lower-cased text and the domain after its last at-sign`` () =
    Prop.forAll (Arb.fromGen (Gen.map2 (fun (l: string) d -> l + "@" + d) domainGen domainGen |> Gen.map (fun s -> s.Replace(' ', 'X')))) (fun raw ->
        let key = Address.ofText raw
        let text = raw.ToLowerInvariant()
        let domain = text.Substring(text.LastIndexOf '@' + 1)

        key.Text = text
        && key.Domain = domain
        && key.DomainSpan.SequenceEqual(domain.AsSpan())
        && key.Queryable = (not (domain.StartsWith "[") && isHostNameByDefinition domain))

[<FsCheck.Xunit.Property(MaxTest = 1000)>]
let ``a key parsed from a tcp_table request is lower-cased already: ofLowered takes it as ofText would`` () =
    Prop.forAll (Arb.fromGen domainGen) (fun text ->
        let utf8 = Text.Encoding.UTF8.GetBytes text
        let line = Text.Encoding.ASCII.GetBytes("get " + Percent.encode (ReadOnlySpan utf8))

        match TcpTable.parse (ReadOnlySpan line) with
        | TcpTable.Get key -> Address.ofLowered key = Address.ofText (Text.Encoding.UTF8.GetString utf8)
        | TcpTable.Malformed _ -> text.Length = 0)
