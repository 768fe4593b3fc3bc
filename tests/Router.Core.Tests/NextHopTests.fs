/// Next hops: a table of the documented forms, and generated (transport, host, form, port)
/// rendered as text and read back, the expected value worked out from the parts.
module Router.Core.Tests.NextHopTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.NextHop

let private probe host port = Probeable { Host = host; Port = port; Lmtp = false }
let private lmtp host port = Probeable { Host = host; Port = port; Lmtp = true }

let examples: (string * Target) list =
    [ "relay:[mx1.example.com]:25", probe (Name "mx1.example.com") 25
      "smtp:[10.0.0.5]:2525", probe (Literal "10.0.0.5") 2525
      "smtp:mail.example.com", probe (MxName "mail.example.com") 25
      "smtp:mail.example.com:2525", probe (MxName "mail.example.com") 2525
      "smtp:Mail.Example.COM.", probe (MxName "mail.example.com") 25
      "smtp:mail.example.com:", probe (MxName "mail.example.com") 25
      "smtp:[ipv6:2001:db8::1]:25", probe (Literal "2001:db8::1") 25
      "smtp:[IPv6:2001:db8::1]", probe (Literal "2001:db8::1") 25
      "smtp:[2001:db8::1]:26", probe (Literal "2001:db8::1") 26
      "smtp:[ipv6:::ffff:192.0.2.1]:25", probe (Literal "::ffff:192.0.2.1") 25
      "smtp:192.0.2.7:2525", probe (Literal "192.0.2.7") 2525
      "smtp:[mx1.example.com]", probe (Name "mx1.example.com") 25
      "smtp:[mx1.example.com]:", probe (Name "mx1.example.com") 25
      "smtp:[mx1.example.com]:smtp", probe (Name "mx1.example.com") 25
      "smtp:[mx1.example.com]:submission", probe (Name "mx1.example.com") 587
      "relay:inet:[mx1.example.com]:2525", probe (Name "mx1.example.com") 2525
      "smtp:[mx1.example.com]:00025", probe (Name "mx1.example.com") 25
      "smtp:[mx1.example.com]:65535", probe (Name "mx1.example.com") 65535
      "lmtp:inet:mail.example.com", lmtp (Name "mail.example.com") 24
      "lmtp:[192.0.2.9]:lmtp", lmtp (Literal "192.0.2.9") 24
      "lmtp:mail.example.com:2003", lmtp (Name "mail.example.com") 2003
      "lmtp:unix:/var/run/x", NotProbeable "a UNIX-domain socket"
      "smtp:unix:/var/run/x", NotProbeable "a UNIX-domain socket"
      "discard:", NotProbeable "the discard transport connects to no next hop"
      "error:5.1.1 bad", NotProbeable "the error transport connects to no next hop"
      "retry:4.3.0 later", NotProbeable "the retry transport connects to no next hop"
      "local:", NotProbeable "the local transport connects to no next hop"
      "virtual:", NotProbeable "the virtual transport connects to no next hop"
      "smtp:", NotProbeable "no next hop"
      "smtp", NotProbeable "no next hop"
      "smtp:inet:", NotProbeable "no next hop"
      "smtp:[mx1.example.com]:submissions", NotProbeable "port 465 is implicit TLS (submissions); the probe speaks plain SMTP"
      "smtp:[mx1.example.com]:smtps", NotProbeable "port 465 is implicit TLS (submissions); the probe speaks plain SMTP"
      "smtp:[mx1.example.com]:465", NotProbeable "port 465 is implicit TLS (submissions); the probe speaks plain SMTP"
      "smtp:[mx1.example.com]:imap", NotProbeable "unknown port name imap"
      "smtp:[mx1.example.com]:25x", NotProbeable "bad port 25x"
      "smtp:[mx1.example.com]:0", NotProbeable "port 0 is outside 1..65535"
      "smtp:[mx1.example.com]:65536", NotProbeable "port 65536 is outside 1..65535"
      "smtp:[mx1.example.com]:9999999999", NotProbeable "port 9999999999 is outside 1..65535"
      "smtp:[mx1.example.com", NotProbeable "missing ] in the next hop"
      "smtp:[mx1.example.com]x", NotProbeable "text after ] in the next hop"
      "smtp:[ipv6:mx1.example.com]", NotProbeable "malformed IPv6 address"
      "smtp:[ipv6:fe80::1%eth0]", NotProbeable "malformed IPv6 address"
      "smtp:2001:db8::1", NotProbeable "not a host name or IP address"
      "smtp:192.0.2.300", NotProbeable "not a host name or IP address"
      "smtp:[192.0.2]", NotProbeable "not a host name or IP address"
      "smtp:[]", NotProbeable "not a host name or IP address"
      "smtp:exa mple.com", NotProbeable "a list of next hops"
      "smtp:[a.example]:25, [b.example]:25", NotProbeable "a list of next hops"
      "smtp::25", NotProbeable "no host in the next hop"
      "smtp:user@example.com", NotProbeable "not a host name or IP address" ]

[<Fact>]
let ``the documented next hops read as Postfix reads them`` () =
    let show t =
        match t with
        | Probeable e -> "Probeable " + string e.Host + ":" + string e.Port + (if e.Lmtp then " lmtp" else "")
        | NotProbeable r -> "NotProbeable " + r

    for address, expected in examples do
        Assert.Equal(address + " -> " + show expected, address + " -> " + show (parse address))

[<Theory>]
[<InlineData("relay:[mx1.example.com]:25", "relay", "[mx1.example.com]:25")>]
[<InlineData("smtp:[ipv6:2001:db8::1]:25", "smtp", "[ipv6:2001:db8::1]:25")>]
[<InlineData("discard:", "discard", "")>]
[<InlineData("error:5.1.1 bad", "error", "5.1.1 bad")>]
[<InlineData("lmtp:unix:/var/run/x", "lmtp", "unix:/var/run/x")>]
[<InlineData("smtp", "smtp", "")>]
[<InlineData(":x", "", "x")>]
let ``transport and hop split at the first colon`` (address: string, t: string, h: string) =
    Assert.Equal(t, transport address)
    Assert.Equal(h, hop address)

/// Text rich in the characters a next hop is made of, and any others.
let private textGen =
    Gen.arrayOf (
        Gen.frequency
            [ 3, Gen.elements [ ':'; '['; ']'; '.'; ','; ' '; 'a'; '1'; '2'; '5'; 'x'; 'i'; 'p'; 'v'; '6' ]
              1, Gen.choose (0, 0x17f) |> Gen.map char ]
    )
    |> Gen.map String

/// The split by its definition: the address is the transport, then (when it has a colon) a
/// colon and the hop; the transport has no colon.
[<Property(MaxTest = 500)>]
let ``transport and hop put back together give the address`` () =
    Prop.forAll (Arb.fromGen textGen) (fun address ->
        let t = transport address

        not (t.Contains ':')
        && (if address.Contains ':' then t + ":" + hop address = address else t = address && hop address = ""))

/// Whatever the text, parse answers, and a probeable port is a plain SMTP port.
[<Property(MaxTest = 1000)>]
let ``any text parses to a target`` () =
    Prop.forAll (Arb.fromGen textGen) (fun address ->
        match parse ("smtp:" + address) with
        | Probeable e -> e.Port >= 1 && e.Port <= 65535 && e.Port <> 465
        | NotProbeable r -> r <> "")

type HostKind =
    | V4 of byte array
    | V6 of uint16 array * prefix: bool
    | DnsName of labels: string list * trailingDot: bool

type PortForm =
    | NoPort
    | EmptyPort
    | Number of int
    | Named of string

type Case =
    { Transport: string
      Inet: bool
      Host: HostKind
      Bracketed: bool
      Port: PortForm }

let private label =
    let chars = [ 'a' .. 'z' ] @ [ 'A'; 'Q' ] @ [ '0' .. '9' ] @ [ '-' ]

    gen {
        let! first = Gen.elements [ 'a'; 'M'; 'x'; 'z' ]
        let! rest = Gen.listOf (Gen.elements chars) |> Gen.resize 8
        return String(Array.ofList (first :: rest))
    }

let private hostKind =
    Gen.oneof
        [ Gen.arrayOfLength 4 (Gen.choose (0, 255) |> Gen.map byte) |> Gen.map V4
          Gen.zip (Gen.arrayOfLength 8 (Gen.choose (0, 65535) |> Gen.map uint16)) (Gen.elements [ true; false ]) |> Gen.map V6
          Gen.zip (Gen.nonEmptyListOf label |> Gen.resize 4) (Gen.elements [ true; false ]) |> Gen.map DnsName ]

let private portForm =
    Gen.oneof
        [ Gen.constant NoPort
          Gen.constant EmptyPort
          Gen.choose (1, 65535) |> Gen.map Number
          Gen.elements [ "smtp"; "submission"; "lmtp"; "submissions" ] |> Gen.map Named ]

let private case =
    gen {
        let! t = Gen.elements [ "relay"; "smtp"; "lmtp"; "fast-relay" ]
        let! inet = Gen.elements [ true; false ]
        let! host = hostKind
        let! bracketed = Gen.elements [ true; false ]
        let! port = portForm
        return { Transport = t; Inet = inet; Host = host; Bracketed = bracketed; Port = port }
    }

let private render (c: Case) =
    let host =
        match c.Host with
        | V4 b -> String.Join(".", b |> Array.map string)
        | V6(groups, prefix) -> (if prefix then "ipv6:" else "") + String.Join(":", groups |> Array.map (fun g -> g.ToString "x"))
        | DnsName(labels, dot) -> String.Join(".", labels) + (if dot then "." else "")

    let port =
        match c.Port with
        | NoPort -> ""
        | EmptyPort -> ":"
        | Number n -> ":" + string n
        | Named n -> ":" + n

    c.Transport + ":" + (if c.Inet then "inet:" else "") + (if c.Bracketed then "[" + host + "]" else host) + port

/// The expected target from the parts: None when it must not be probeable.
let private expected (c: Case) : Endpoint option =
    let lmtpT = c.Transport = "lmtp"

    let port =
        match c.Port with
        | NoPort
        | EmptyPort -> if lmtpT then 24 else 25
        | Number n -> n
        | Named "smtp" -> 25
        | Named "submission" -> 587
        | Named "lmtp" -> 24
        | Named _ -> 465

    let host =
        match c.Host with
        | V4 b -> Some(Literal(String.Join(".", b |> Array.map string)))
        | V6(groups, prefix) when c.Bracketed ->
            ignore prefix
            Some(Literal(String.Join(":", groups |> Array.map (fun g -> g.ToString "x"))))
        | V6 _ -> None
        | DnsName(labels, _) ->
            let n = String.Join(".", labels).ToLowerInvariant()

            if n.Length > 253 then None
            elif c.Bracketed || lmtpT then Some(Name n)
            else Some(MxName n)

    if port = 465 then
        None
    else
        host |> Option.map (fun h -> { Host = h; Port = port; Lmtp = lmtpT })

[<Property(MaxTest = 2000)>]
let ``a rendered next hop reads back as its parts`` () =
    Prop.forAll (Arb.fromGen case) (fun c ->
        let text = render c

        let ok =
            match expected c, parse text with
            | Some e, Probeable got -> e = got
            | None, NotProbeable _ -> true
            | _ -> false

        ok |> Prop.label text)
