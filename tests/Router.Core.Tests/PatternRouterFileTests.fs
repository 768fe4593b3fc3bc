/// postfix-mx-pattern-router's format: telling it from YAML, its lines and errors, and its
/// routing (MX hosts only, in order; no match, no hosts, `*` and literals: NO RESULT).
module Router.Core.Tests.PatternRouterFileTests

open System
open Xunit
open Router.Core
open Router.Core.ConfigTree
open Router.Core.Diagnostics
open Router.Core.Model
open Router.Core.Settings
open Router.Core.Validation
open Router.Core.Lookup
open Router.Core.Tests.Tree

/// The upstream tool's example file, as it ships.
let upstream =
    "protection.outlook.com    relay:[office365-relay.example.com]:587\n"
    + "mx.microsoft              relay:[office365-relay.example.com]:587\n"
    + "icloud.com                relay:[icloud-relay.example.com]:587\n"

let office = "relay:[office365-relay.example.com]:587"
let icloud = "relay:[icloud-relay.example.com]:587"

let read (text: string) : Config * string list =
    match PatternRouterFile.read "p.conf" text with
    | Ok(config, warnings) -> config, warnings |> List.map render
    | Result.Error errors -> failwith (String.Join("\n", errors |> List.map render))

let errors (text: string) : string list =
    match PatternRouterFile.read "p.conf" text with
    | Ok _ -> []
    | Result.Error all -> all |> List.map render

/// The reply line for a key and its MX records (preference, host).
let reply (config: Config) (key: string) (records: (int * string) list) : string =
    let k = Address.ofText key
    let mx =
        if k.Queryable then
            Hosts(Rules.sortHosts (records |> List.map (fun (p, h) -> ({ Preference = p; Host = h }: Rules.Mx))))
        else
            NotQueried

    let decision, outcome = lookupAt0 config k mx
    CodecTests.ascii (TcpTable.encode outcome.Reply)

[<Theory>]
[<InlineData("protection.outlook.com relay:[x]:587")>]
[<InlineData("# the upstream's file\n\n\tmx.microsoft\trelay:[x]:25\n")>]
[<InlineData("icloud.com")>]
[<InlineData(".outlook.com relay:[x]:25")>]
[<InlineData("-outlook.com relay:[x]:25")>]
let ``lines of PATTERN TRANSPORT:NEXTHOP are the pattern router's format`` (text: string) =
    Assert.True(PatternRouterFile.recognizes text)

[<Theory>]
[<InlineData("servers:\n  names:\n")>]
[<InlineData("# a comment first\n\nconfig:\n  log_file: x\n")>]
[<InlineData("---\nservers: {}\n")>]
[<InlineData("{servers: {names: {}}}")>]
[<InlineData("\"servers\":\n")>]
[<InlineData("- a\n")>]
[<InlineData("servers : x\n")>]
[<InlineData("%YAML 1.2\n---\n")>]
[<InlineData("")>]
[<InlineData("# only comments\n\n")>]
let ``a YAML mapping, an empty file and anything YAML-shaped are YAML`` (text: string) =
    Assert.False(PatternRouterFile.recognizes text)

[<Fact>]
let ``the shipped YAML example is YAML and the upstream example is not`` () =
    Assert.False(PatternRouterFile.recognizes (Tree.example 0))
    Assert.True(PatternRouterFile.recognizes upstream)

[<Fact>]
let ``valid lines, comments, blank lines and tabs: patterns lower-cased, relays as written`` () =
    let text =
        "# relays for the big providers\n"
        + "\n"
        + "Protection.Outlook.COM    relay:[Office365-relay.example.com]:587\r\n"
        + "   # an indented comment\n"
        + "\tmx.microsoft\t\trelay:[office365-relay.example.com]:587   \n"
        + "  \t \n"
        + "icloud.com smtp:[192.0.2.7]"

    match PatternRouterFile.parse "p.conf" text with
    | Result.Error e -> failwith (String.Join("\n", e |> List.map render))
    | Ok lines ->
        let shown =
            lines
            |> List.map (fun l ->
                l.Pattern + " " + l.Relay + " " + string l.PatternAt.Line + ":" + string l.PatternAt.Column + " "
                + string l.RelayAt.Line + ":" + string l.RelayAt.Column)

        Assert.Equal<string list>(
            [ "protection.outlook.com relay:[Office365-relay.example.com]:587 3:1 3:27"
              "mx.microsoft relay:[office365-relay.example.com]:587 5:2 5:16"
              "icloud.com smtp:[192.0.2.7] 7:1 7:12" ],
            shown
        )

[<Fact>]
let ``every line that is not PATTERN TRANSPORT:NEXTHOP is an error with its line and column`` () =
    let text =
        "# header\n"
        + "protection.outlook.com    relay:[office365-relay.example.com]:587\n"
        + "\n"
        + "icloud.com\n"
        + "mx.microsoft relay:[x]:587 # a comment\n"
        + "\tbad.example   norelay\n"
        + "a.example :nexthop\n"
        + "b.example smtp:\n"
        + "fine.example relay:[fine]:25\n"

    Assert.Equal<string list>(
        [ "p.conf:4:1: error: a line must be PATTERN TRANSPORT:NEXTHOP, such as protection.outlook.com relay:[office365-relay.example.com]:587: \"icloud.com\" has no relay"
          "p.conf:5:28: error: a line must be PATTERN TRANSPORT:NEXTHOP: unexpected \"#\" after the relay (a comment needs a line of its own, starting with #)"
          "p.conf:6:16: error: relay \"norelay\" must be TRANSPORT:NEXTHOP, with a transport before the colon and a next hop after it, such as relay:[office365-relay.example.com]:587"
          "p.conf:7:11: error: relay \":nexthop\" must be TRANSPORT:NEXTHOP, with a transport before the colon and a next hop after it, such as relay:[office365-relay.example.com]:587"
          "p.conf:8:11: error: relay \"smtp:\" must be TRANSPORT:NEXTHOP, with a transport before the colon and a next hop after it, such as relay:[office365-relay.example.com]:587" ],
        errors text
    )

[<Fact>]
let ``each distinct relay is one relay named by its address, each line a rule on MX hosts only`` () =
    let config, warnings = read upstream
    Assert.Empty warnings
    Assert.Equal<string array>([| office; icloud |], config.Relays |> Array.map (fun r -> r.Name))
    Assert.Equal<string array>([| office; icloud |], config.Relays |> Array.map (fun r -> r.Address))
    Assert.Equal<int array>([| 0; 1 |], config.Relays |> Array.map (fun r -> r.Index))
    Assert.Empty config.Groups
    Assert.Equal(Some NoResult, config.Default)

    Assert.Equal<(string * string * int * Scope) list>(
        [ "protection.outlook.com", office, 1, MxHostOnly
          "mx.microsoft", office, 2, MxHostOnly
          "icloud.com", icloud, 3, MxHostOnly ],
        config.Rules |> List.map (fun r -> r.Pattern, targetName r.Target, r.Pos.Line, r.Scope)
    )

[<Fact>]
let ``a pattern an earlier one contains can never match: a warning names both lines`` () =
    let _, warnings =
        read ("outlook.com relay:[a]:25\n" + "protection.outlook.com relay:[b]:25\n" + "outlook.com relay:[c]:25\n")

    Assert.Equal<string list>(
        [ "p.conf:2:1: warning: pattern \"protection.outlook.com\" (line 2) can never match: the earlier pattern \"outlook.com\" (line 1) matches every MX host it would match"
          "p.conf:3:1: warning: pattern \"outlook.com\" (line 3) can never match: the earlier pattern \"outlook.com\" (line 1) matches every MX host it would match" ],
        warnings
    )

[<Fact>]
let ``a file without lines answers NO RESULT to everything, with a warning`` () =
    let config, warnings = read "# nothing yet\n"
    Assert.Equal<string list>([ "p.conf:1:1: warning: no PATTERN TRANSPORT:NEXTHOP lines: every lookup answers NO RESULT" ], warnings)
    Assert.Equal("500 NO%20RESULT\n", reply config "a@b.test" [ 10, "mx.protection.outlook.com" ])

[<Fact>]
let ``the first MX host in preference order that any pattern matches answers, not the first pattern`` () =
    let config, _ = read upstream
    // icloud.com is the last pattern, but its host comes first (preference 5).
    let records = [ 20, "contoso.mail.protection.outlook.com."; 5, "MX01.iCloud.com." ]
    Assert.Equal("200 " + icloud + "\n", reply config "user@shop.test" records)
    let swapped = [ 5, "contoso.mail.protection.outlook.com"; 20, "mx01.icloud.com" ]
    Assert.Equal("200 " + office + "\n", reply config "user@shop.test" swapped)

[<Fact>]
let ``on one host the patterns are tried in file order`` () =
    let config, _ = read ("microsoft relay:[first]:25\n" + "mx.microsoft relay:[second]:25\n")
    Assert.Equal("200 relay:[first]:25\n", reply config "a@b.test" [ 10, "shop-test.mx.microsoft" ])

[<Fact>]
let ``the address itself is never matched, only MX hosts`` () =
    let config, _ = read upstream
    Assert.Equal("500 NO%20RESULT\n", reply config "user@protection.outlook.com" [ 10, "mx.unrelated.test" ])
    Assert.Equal("500 NO%20RESULT\n", reply config "icloud.com@icloud.com" [])
    Assert.Equal("200 " + office + "\n", reply config "user@protection.outlook.com" [ 10, "x.mail.protection.outlook.com" ])

[<Fact>]
let ``no match, no MX hosts, the wildcard and address literals answer NO RESULT`` () =
    let config, _ = read upstream
    Assert.Equal("500 NO%20RESULT\n", reply config "user@unmatched.test" [ 10, "mx.unmatched.test" ])
    Assert.Equal("500 NO%20RESULT\n", reply config "user@nomx.test" [])
    Assert.Equal("500 NO%20RESULT\n", reply config "*" [])
    Assert.Equal("500 NO%20RESULT\n", reply config "user@[192.0.2.1]" [])
    Assert.Equal("500 NO%20RESULT\n", reply config "user@[IPv6:2001:db8::1]" [])

[<Fact>]
let ``a DNS failure defers, as for YAML`` () =
    let config, _ = read upstream
    let _, outcome = lookupAt0 config (Address.ofText "user@shop.test") (DnsFailure "SERVFAIL")
    Assert.Equal("400 SERVFAIL\n", CodecTests.ascii (TcpTable.encode outcome.Reply))
