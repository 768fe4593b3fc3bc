/// Config validation: one example per error the README lists, with its line; never throws.
module Router.Core.Tests.ConfigTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.ConfigTree
open Router.Core.Diagnostics
open Router.Core.Model
open Router.Core.Settings
open Router.Core.Validation
open Router.Core.Tests.Tree

let lines (xs: string list) = String.Join("\n", xs)

let names =
    [ "servers:"
      "  names:"
      "    mx1:"
      "      address: relay:[mx1.example.com]:25"
      "      perc: 40"
      "    mx2:"
      "      address: relay:[mx2.example.com]:25" ]

/// Asserts that exactly these diagnostics come out, in this order.
let expect (text: string list) (expected: string list) =
    Assert.Equal<string list>(expected, diagnostics (lines text))

let isError (text: string list) =
    match validate "test.yaml" (yaml (lines text)) with
    | Ok _ -> false
    | Result.Error _ -> true

[<Fact>]
let ``a diagnostic renders as FILE:LINE:COL: severity: message`` () =
    let d = { File = "/etc/x.yaml"; Pos = at 3 7; Severity = Severity.Error; Message = "m" }
    Assert.Equal("/etc/x.yaml:3:7: error: m", render d)
    Assert.Equal("/etc/x.yaml:3:7: warning: m", render { d with Severity = Severity.Warning })

[<Fact>]
let ``the example config is valid with no warning`` () =
    for i in 0..4 do
        match validate "test.yaml" (yaml (example i)) with
        | Ok(config, warnings) ->
            Assert.Empty warnings
            Assert.Equal(4, config.Rules.Length)
            Assert.Equal(Some NoResult, config.Default)
            Assert.Equal(Some "/var/log/postfix-mx-smart-router/routing.log", config.Settings.LogFile)
            Assert.Equal<int array>([| 40; 40; 20; 100 |], config.Relays |> Array.map (fun r -> r.Weight))
            Assert.Equal<int array>([| 0; 1; 2; 3 |], config.Relays |> Array.map (fun r -> r.Index))
            Assert.Equal<string list>([ "good"; "bad" ], config.Groups |> List.map (fun g -> g.Name))
        | Result.Error ds -> failwith (String.Join("\n", ds |> List.map render))

[<Fact>]
let ``unknown server in a group`` () =
    expect (names @ [ "  good: [mx1, mx9]" ]) [ "test.yaml:8:15: error: group \"good\" names unknown server \"mx9\"" ]

[<Fact>]
let ``unknown server in a block list group`` () =
    expect (names @ [ "  good:"; "    - mx1"; "    - mx7" ]) [ "test.yaml:10:7: error: group \"good\" names unknown server \"mx7\"" ]

[<Fact>]
let ``unknown group or server as a rule target`` () =
    expect
        (names @ [ "sender_rules:"; "  example.com: goood" ])
        [ "test.yaml:9:16: error: rule \"example.com\" targets unknown group or server \"goood\"" ]

[<Fact>]
let ``unknown default target`` () =
    expect (names @ [ "sender_rules:"; "  default: nowhere" ]) [ "test.yaml:9:12: error: default targets unknown group or server \"nowhere\"" ]

[<Fact>]
let ``NO RESULT must be written exactly`` () =
    expect
        (names @ [ "sender_rules:"; "  a.com: no result" ])
        [ "test.yaml:9:10: error: rule \"a.com\" targets unknown group or server \"no result\" (write NO RESULT exactly, in capitals)" ]

[<Fact>]
let ``duplicate server`` () =
    expect (names @ [ "    mx1:"; "      address: x" ]) [ "test.yaml:8:5: error: duplicate key \"mx1\" in servers.names (first on line 3)" ]

[<Fact>]
let ``duplicate group`` () =
    expect
        (names @ [ "  good: [mx1]"; "  good: [mx2]" ])
        [ "test.yaml:9:3: error: duplicate key \"good\" in servers (first on line 8)" ]

[<Fact>]
let ``duplicate rule`` () =
    expect
        (names @ [ "sender_rules:"; "  a.com: mx1"; "  b.com: mx1"; "  a.com: mx2" ])
        [ "test.yaml:11:3: error: duplicate key \"a.com\" in sender_rules (first on line 9)" ]

[<Fact>]
let ``duplicate top-level section`` () =
    expect (names @ [ "servers:"; "  names: {}" ]) [ "test.yaml:8:1: error: duplicate key \"servers\" in the top level (first on line 1)" ]

[<Fact>]
let ``duplicate key in a server`` () =
    expect (names @ [ "      perc: 5" ]) []
    expect (names @ [ "      address: again" ]) [ "test.yaml:8:7: error: duplicate key \"address\" in server \"mx2\" (first on line 7)" ]

[<Fact>]
let ``empty group`` () =
    expect (names @ [ "  good: []" ]) [ "test.yaml:8:3: error: group \"good\" is empty" ]
    expect (names @ [ "  good:" ]) [ "test.yaml:8:3: error: group \"good\" is empty" ]

[<Fact>]
let ``group whose weights are all 0`` () =
    expect
        (names @ [ "    mx3:"; "      address: x"; "      perc: 0"; "  good: [mx3]" ])
        [ "test.yaml:11:3: error: every server of group \"good\" has perc 0: it could never pick a relay" ]

[<Fact>]
let ``all servers with weight 0`` () =
    expect
        [ "servers:"; "  names:"; "    mx1:"; "      address: a"; "      perc: 0" ]
        [ "test.yaml:2:3: error: all servers have perc 0: no relay could ever be picked" ]

[<Theory>]
[<InlineData("101", 13, "perc must be an integer from 0 to 100, not \"101\"")>]
[<InlineData("-1", 13, "perc must be an integer from 0 to 100, not \"-1\"")>]
[<InlineData("abc", 13, "perc must be an integer from 0 to 100, not \"abc\"")>]
[<InlineData("1.5", 13, "perc must be an integer from 0 to 100, not \"1.5\"")>]
[<InlineData("[1]", 13, "perc must be an integer from 0 to 100, not a list")>]
let ``perc outside 0..100 or not an integer`` (perc: string, column: int, message: string) =
    expect (names @ [ "      perc: " + perc ]) [ "test.yaml:8:" + string column + ": error: server \"mx2\": " + message ]

[<Fact>]
let ``an empty perc is an error too`` () =
    expect (names @ [ "      perc:" ]) [ "test.yaml:8:12: error: server \"mx2\": perc must be an integer from 0 to 100, not nothing" ]

[<Fact>]
let ``perc defaults to 100`` () =
    let config = load (lines names)
    Assert.Equal(100, config.Relays[1].Weight)

[<Fact>]
let ``missing address`` () =
    expect (names @ [ "    mx3:"; "      perc: 10" ]) [ "test.yaml:8:5: error: server \"mx3\" has no address" ]
    expect (names @ [ "    mx3:" ]) [ "test.yaml:8:5: error: server \"mx3\" has no address" ]
    expect (names @ [ "    mx3:"; "      address:" ]) [ "test.yaml:9:15: error: server \"mx3\": address must be a transport:nexthop such as relay:[mx1.example.com]:25" ]

[<Fact>]
let ``names missing or empty`` () =
    expect [ "servers:"; "  good: [mx1]" ] [ "test.yaml:1:1: error: servers.names is missing: list every relay there"; "test.yaml:2:10: error: group \"good\" names unknown server \"mx1\"" ]
    expect [ "servers:"; "  names:" ] [ "test.yaml:2:3: error: servers.names is empty: list every relay there" ]
    expect [ "servers:"; "  names: {}" ] [ "test.yaml:2:3: error: servers.names is empty: list every relay there" ]
    expect [ "sender_rules:"; "  a: NO RESULT" ] [ "test.yaml:1:1: error: the servers section is missing" ]

[<Fact>]
let ``an empty file says so`` () =
    expect [ "# nothing" ] [ "test.yaml:1:1: error: the config is empty: it needs a servers section with names" ]
    expect [ "just text" ] [ "test.yaml:1:1: error: the config must be a mapping with servers and sender_rules" ]

[<Fact>]
let ``unknown keys are warnings`` () =
    expect
        ([ "colour: blue" ] @ names @ [ "      weight: 3"; "config:"; "  log_fil: /tmp/x" ])
        [ "test.yaml:1:1: warning: unknown key \"colour\" at the top level (ignored)"
          "test.yaml:9:7: warning: unknown key \"weight\" in server \"mx2\" (ignored)"
          "test.yaml:11:3: warning: unknown key \"log_fil\" in config (ignored)" ]

    Assert.False(isError ([ "colour: blue" ] @ names))

[<Fact>]
let ``a rule shadowed by an earlier one is a warning naming both`` () =
    expect
        (names @ [ "sender_rules:"; "  example.com: mx1"; "  default: mx2"; "  john@example.com: mx2" ])
        [ "test.yaml:11:3: warning: rule \"john@example.com\" (line 11) can never match: the earlier rule \"example.com\" (line 9) matches every key and MX host it would match" ]

[<Fact>]
let ``a group that is not a list`` () =
    expect (names @ [ "  good: mx1" ]) [ "test.yaml:8:9: error: group \"good\" must be a list of server names, such as [mx1, mx2]" ]

[<Fact>]
let ``a group named like a server is ambiguous`` () =
    expect
        (names @ [ "  mx1: [mx1, mx2]" ])
        [ "test.yaml:8:3: error: group \"mx1\" has the name of a server: a rule targeting \"mx1\" would be ambiguous" ]

[<Fact>]
let ``sender_rules missing or empty is fine`` () =
    let config = load (lines names)
    Assert.Empty config.Rules
    Assert.Equal(None, config.Default)
    let config = load (lines (names @ [ "sender_rules:" ]))
    Assert.Empty config.Rules

[<Fact>]
let ``rule patterns are lower-cased`` () =
    let config = load (lines (names @ [ "sender_rules:"; "  Example.COM: mx1" ]))
    Assert.Equal("example.com", config.Rules.Head.Pattern)

[<Fact>]
let ``every error is reported, not just the first`` () =
    let ds = diagnostics (lines (names @ [ "      perc: 300"; "  good: [mx1, nope]"; "  bad: []"; "sender_rules:"; "  x: zzz" ]))
    Assert.Equal(4, ds.Length)
    Assert.All(ds, fun d -> Assert.Contains(": error: ", d))

[<Fact>]
let ``the config section becomes settings`` () =
    let config =
        load (
            lines (
                [ "config:"
                  "  port: 10100"
                  "  host: 0.0.0.0"
                  "  cache_ttl: 0"
                  "  timeout: 30"
                  "  dns_server: [192.0.2.53, \"192.0.2.54:5353\"]"
                  "  repeat_window: 5"
                  "  socketmap_port: 10101"
                  "  socketmap_name: transport"
                  "  metrics: 127.0.0.1:9100"
                  "  allow: 127.0.0.0/8"
                  "  max_connections: 100"
                  "  cache_size: 5000" ]
                @ names
            )
        )

    let s = config.Settings
    Assert.Equal(Some 10100, s.Port)
    Assert.Equal(Some "0.0.0.0", s.Host)
    Assert.Equal(Some 0, s.CacheTtl)
    Assert.Equal(Some 30, s.Timeout)
    Assert.Equal<string list>([ "192.0.2.53:53"; "192.0.2.54:5353" ], s.DnsServers |> List.map string)
    Assert.Equal(Some 5, s.RepeatWindow)
    Assert.Equal(Some 10101, s.SocketmapPort)
    Assert.Equal(Some "transport", s.SocketmapName)
    Assert.Equal(Some "127.0.0.1:9100", s.Metrics |> Option.map string)
    Assert.Equal<string list>([ "127.0.0.0/8" ], s.Allow |> List.map Allow.render)
    Assert.Equal(Some 100, s.MaxConnections)
    Assert.Equal(Some 5000, s.CacheSize)

[<Fact>]
let ``bad settings are errors`` () =
    expect
        ([ "config:"; "  port: 0"; "  socketmap_port: 70000"; "  cache_ttl: -5"; "  timeout: soon"; "  host: [a]" ] @ names)
        [ "test.yaml:2:9: error: config.port must be a port number from 1 to 65535, not \"0\""
          "test.yaml:3:19: error: config.socketmap_port must be a port number from 1 to 65535, not \"70000\""
          "test.yaml:4:14: error: config.cache_ttl must be a whole number, 0 or more, not \"-5\""
          "test.yaml:5:12: error: config.timeout must be a whole number, 0 or more, not \"soon\""
          "test.yaml:6:9: error: config.host must be an IP address such as 127.0.0.1 or ::1, not a list" ]

// Validation is total: any tree gives Ok or Error, never an exception.

let words =
    [ "servers"; "names"; "address"; "perc"; "mx1"; "mx2"; "good"; "default"; "NO RESULT"; "sender_rules"
      "config"; "port"; "dns_server"; "allow"; "100"; "0"; "-1"; "70000"; "abc"; ""; "~"; "All Servers"
      "example.com"; "cache_ttl"; "99999999999999999999" ]

let posGen = Gen.map2 at (Gen.choose (1, 50)) (Gen.choose (1, 20))

let rec nodeGen (depth: int) : Gen<Node> =
    let scalar = gen { let! t = Gen.elements words in let! q = Gen.elements [ true; false ] in let! p = posGen in return Scalar(t, q, p) }

    if depth <= 0 then
        scalar
    else
        Gen.frequency
            [ 2, scalar
              1, Gen.map2 (fun items p -> Sequence(items, p)) (Gen.listOf (nodeGen (depth - 1)) |> Gen.resize 4) posGen
              3,
              Gen.map2
                  (fun entries p -> Mapping(entries, p))
                  (Gen.listOf (Gen.zip scalar (nodeGen (depth - 1))) |> Gen.resize 5)
                  posGen ]

/// The example config with random subtrees swapped in.
let rec mutate (node: Node) : Gen<Node> =
    gen {
        let! swap = Gen.choose (0, 9)

        if swap = 0 then
            return! nodeGen 2
        else
            match node with
            | Mapping(entries, p) ->
                let! entries' =
                    entries
                    |> List.map (fun (k, v) -> Gen.map (fun v' -> k, v') (mutate v))
                    |> Gen.sequenceToList

                return Mapping(entries', p)
            | Sequence(items, p) ->
                let! items' = items |> List.map mutate |> Gen.sequenceToList
                return Sequence(items', p)
            | other -> return other
    }

let treeGen = Gen.oneof [ nodeGen 4; Gen.elements [ 0..4 ] |> Gen.bind (fun i -> mutate (yaml (example i))) ]

[<Property(MaxTest = 2000)>]
let ``validation never throws`` () =
    Prop.forAll (Arb.fromGen treeGen) (fun tree ->
        match validate "t.yaml" tree with
        | Ok(config, warnings) ->
            config.AllServers.Schedule.Length > 0
            && warnings |> List.forall (fun d -> d.Severity = Severity.Warning && render d <> "")
        | Result.Error ds -> ds |> List.exists (fun d -> d.Severity = Severity.Error))
