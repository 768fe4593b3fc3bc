/// Keys: lower case, domain after the last '@', which keys are worth an MX query.
module Router.Core.Tests.AddressTests

open System
open Xunit
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
    Assert.True(Address.isHostName (String('a', 63) + ".example"))
    Assert.False(Address.isHostName (String('a', 64) + ".example"))
    let long = String.Join(".", Array.create 64 "abc")
    Assert.False(Address.isHostName long)
    Assert.True(Address.isHostName (String.Join(".", Array.create 63 "abc")))
