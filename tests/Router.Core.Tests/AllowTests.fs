/// --allow: CIDR parsing and matching, IPv4 and IPv6.
module Router.Core.Tests.AllowTests

open System
open System.Net
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core

let net (text: string) =
    match Allow.parse text with
    | Ok n -> n
    | Error e -> failwith e

let ip (text: string) = IPAddress.Parse(text).GetAddressBytes()

let private byteGen = Gen.choose (0, 255) |> Gen.map byte

let addressGen: Gen<byte[]> =
    Gen.oneof [ Gen.arrayOfLength 4 byteGen; Gen.arrayOfLength 16 byteGen ]

/// A network built from any address and prefix, the bits past the prefix cleared.
let networkGen: Gen<Allow.Network> =
    gen {
        let! address = addressGen
        let! bits = Gen.choose (0, address.Length * 8)
        let text = IPAddress(address).ToString() + "/" + string bits

        let cleared =
            Array.init address.Length (fun i ->
                let first = i * 8
                if first + 8 <= bits then address[i]
                elif first >= bits then 0uy
                else address[i] &&& byte (0xff <<< (8 - (bits - first))))

        return net (IPAddress(cleared).ToString() + "/" + string bits)
    }

/// The slow way: compare the first `bits` bits one at a time.
let modelContains (n: Allow.Network) (address: byte[]) =
    let address = Allow.normalize address
    let bit (a: byte[]) i = (a[i / 8] >>> (7 - i % 8)) &&& 1uy

    address.Length = n.Bytes.Length
    && Seq.forall (fun i -> bit n.Bytes i = bit address i) (seq { 0 .. n.PrefixLength - 1 })

[<Property(MaxTest = 2000)>]
let ``contains agrees with a bit-by-bit comparison`` () =
    Prop.forAll (Arb.fromGen (Gen.zip networkGen addressGen)) (fun (n, a) -> Allow.contains n a = modelContains n a)

[<Property(MaxTest = 1000)>]
let ``a network contains its own address and every address that shares its prefix`` () =
    Prop.forAll (Arb.fromGen (Gen.zip networkGen (Gen.arrayOfLength 16 byteGen))) (fun (n, noise) ->
        // Keep the prefix, randomise the rest: still inside.
        let inside =
            Array.init n.Bytes.Length (fun i ->
                let first = i * 8
                if first + 8 <= n.PrefixLength then n.Bytes[i]
                elif first >= n.PrefixLength then noise[i]
                else
                    let keep = byte (0xff <<< (8 - (n.PrefixLength - first)))
                    (n.Bytes[i] &&& keep) ||| (noise[i] &&& ~~~keep))

        Allow.contains n n.Bytes && Allow.contains n inside)

[<Property(MaxTest = 1000)>]
let ``flipping a bit inside the prefix leaves the network`` () =
    Prop.forAll (Arb.fromGen (Gen.zip networkGen (Gen.choose (0, 127)))) (fun (n, pick) ->
        n.PrefixLength = 0
        || (let i = pick % n.PrefixLength
            let outside = Array.copy n.Bytes
            outside[i / 8] <- outside[i / 8] ^^^ (0x80uy >>> (i % 8))
            not (Allow.contains n outside)))

[<Property(MaxTest = 1000)>]
let ``render parses back to the same network`` () =
    Prop.forAll (Arb.fromGen networkGen) (fun n -> Allow.parse (Allow.render n) = Ok n)

[<Property(MaxTest = 3000)>]
let ``parse never throws on any text`` () =
    let textGen =
        Gen.oneof
            [ Gen.arrayOf (Gen.elements ("0123456789abcdef.:/[]% x" |> Seq.toList)) |> Gen.map String
              Gen.arrayOf (Gen.choose (0, 0xd7ff) |> Gen.map char) |> Gen.map String ]

    Prop.forAll (Arb.fromGen textGen) (fun text ->
        match Allow.parse text with
        | Ok n -> n.PrefixLength <= n.Bytes.Length * 8
        | Error e -> e.Length > 0)

[<Theory>]
[<InlineData("192.0.2.0/24", "192.0.2.0", true)>]
[<InlineData("192.0.2.0/24", "192.0.2.255", true)>]
[<InlineData("192.0.2.0/24", "192.0.3.0", false)>]
[<InlineData("10.0.0.0/8", "10.255.1.2", true)>]
[<InlineData("10.0.0.0/8", "11.0.0.1", false)>]
[<InlineData("192.0.2.7", "192.0.2.7", true)>]
[<InlineData("192.0.2.7", "192.0.2.8", false)>]
[<InlineData("0.0.0.0/0", "203.0.113.9", true)>]
[<InlineData("0.0.0.0/0", "2001:db8::1", false)>]
[<InlineData("2001:db8::/32", "2001:db8:ffff::1", true)>]
[<InlineData("2001:db8::/32", "2001:db9::1", false)>]
[<InlineData("::/0", "2001:db8::1", true)>]
[<InlineData("::1", "::1", true)>]
[<InlineData("[2001:db8::]/48", "2001:db8:0:1::", true)>]
[<InlineData("[2001:db8::]/48", "2001:db8:1::", false)>]
[<InlineData("192.0.2.0/24", "::ffff:192.0.2.10", true)>]
[<InlineData("::ffff:192.0.2.0/120", "192.0.2.10", true)>]
[<InlineData("::ffff:192.0.2.0/120", "192.0.3.10", false)>]
[<InlineData("127.0.0.1/32", "::1", false)>]
let ``networks contain what they should`` (network: string, address: string, expected: bool) =
    Assert.Equal(expected, Allow.contains (net network) (ip address))

[<Theory>]
[<InlineData("")>]
[<InlineData("example.com")>]
[<InlineData("192.0.2")>]
[<InlineData("192.0.2.256")>]
[<InlineData("192.0.2.01")>]
[<InlineData("1")>]
[<InlineData("192.0.2.0/33")>]
[<InlineData("192.0.2.0/-1")>]
[<InlineData("192.0.2.0/")>]
[<InlineData("192.0.2.0/24/8")>]
[<InlineData("192.0.2.0/2x")>]
[<InlineData("2001:db8::/129")>]
[<InlineData("fe80::1%eth0")>]
[<InlineData("2001:db8:::1")>]
[<InlineData(" / ")>]
let ``bad networks are refused`` (text: string) =
    Assert.True(Result.isError (Allow.parse text), text)

[<Fact>]
let ``bits past the prefix are refused with the network meant`` () =
    match Allow.parse "192.0.2.77/24" with
    | Error e -> Assert.Contains("did you mean 192.0.2.0/24?", e)
    | Ok _ -> Assert.Fail "accepted 192.0.2.77/24"

    match Allow.parse "2001:db8::1/32" with
    | Error e -> Assert.Contains("did you mean 2001:db8::/32?", e)
    | Ok _ -> Assert.Fail "accepted 2001:db8::1/32"

[<Fact>]
let ``an empty list allows all, a list only its networks`` () =
    Assert.True(Allow.allows [] (ip "203.0.113.1"))
    let list = [ net "192.0.2.0/24"; net "2001:db8::/32" ]
    Assert.True(Allow.allows list (ip "192.0.2.1"))
    Assert.True(Allow.allows list (ip "2001:db8::5"))
    Assert.False(Allow.allows list (ip "127.0.0.1"))
    Assert.False(Allow.allows list (ip "::1"))

[<Theory>]
[<InlineData("127.0.0.1", false)>]
[<InlineData("127.1.2.3", false)>]
[<InlineData("::1", false)>]
[<InlineData("::ffff:127.0.0.1", false)>]
[<InlineData("0.0.0.0", true)>]
[<InlineData("::", true)>]
[<InlineData("192.0.2.1", true)>]
[<InlineData("2001:db8::1", true)>]
let ``a non-loopback host needs an allow-list`` (host: string, needs: bool) =
    Assert.Equal(needs, Allow.needsList (ip host))
