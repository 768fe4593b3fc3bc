/// Rules and routing: one example per rule sentence of PRODUCT.md, plus properties.
module Router.Core.Tests.RulesTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.Config
open Router.Core.Routing
open Router.Core.Tests.Tree

let mx (preference: int) (host: string) : Rules.Mx = { Preference = preference; Host = host }

/// The reply line for a key, picking the first relay of a group (position 0).
let answer (config: Config) (key: string) (mx: MxAnswer) =
    let decision = decide config (Address.ofText key) mx

    let relay =
        match decision with
        | PickFrom(group, _) -> Some(Wrr.at group 0L)
        | _ -> None

    CodecTests.ascii (TcpTable.encode (reply decision relay))

let targetOf (config: Config) (key: string) (hosts: string list) =
    fst (Rules.decide config (Address.ofText key) hosts)

let outlook = Hosts [ mx 10 "contoso-com.mail.protection.outlook.com." ]

[<Theory>]
[<InlineData(0)>]
[<InlineData(4)>]
let ``PRODUCT.md's example routes as documented with default first and last`` (defaultAt: int) =
    let config = load (example defaultAt)
    Assert.Equal("200 smtp:[192.0.2.4]:587\n", answer config "John@Example.com" (Hosts []))
    Assert.Equal("200 smtp:[192.0.2.4]:587\n", answer config "vip@example.com" (Hosts []))
    Assert.Equal("200 relay:[mx1.example.com]:25\n", answer config "someone@contoso.com" outlook)
    Assert.Equal("200 relay:[mx1.example.com]:25\n", answer config "else@example.com" NotQueried)
    Assert.Equal("500 NO%20RESULT\n", answer config "x@elsewhere.org" (Hosts [ mx 10 "mx.elsewhere.org" ]))
    Assert.Equal("500 NO%20RESULT\n", answer config "*" NotQueried)
    Assert.Equal("400 SERVFAIL\n", answer config "a@b.org" (DnsFailure "SERVFAIL"))

[<Fact>]
let ``a server's share in a group is perc over the group's sum, the same perc in every group`` () =
    let config = load (example 0)
    let count (name: string) =
        let g = (tryGroup config name).Value
        [ 0L .. int64 g.Schedule.Length - 1L ]
        |> List.countBy (fun p -> (Wrr.at g p).Name)
        |> List.sort

    Assert.Equal<(string * int) list>([ "mx1", 40; "mx2", 40; "mx3", 20 ], count "good")
    Assert.Equal<(string * int) list>([ "mx3", 20; "mx4", 100 ], count "bad")

[<Fact>]
let ``All Servers is the implicit group of every server under names`` () =
    let config = load (example 0)
    Assert.Equal(AllServersName, config.AllServers.Name)
    Assert.Equal<string array>([| "mx1"; "mx2"; "mx3"; "mx4" |], config.AllServers.Members |> Array.map (fun r -> r.Name))
    Assert.Equal(Some config.AllServers, tryGroup config AllServersName)

[<Fact>]
let ``MX hosts are sorted by preference then name, lower case, without trailing dot`` () =
    let sorted =
        Rules.sortHosts [ mx 20 "B.example."; mx 10 "z.example"; mx 20 "a.example."; mx 10 "Y.Example."; mx 30 "a.example"; mx 0 "." ]

    Assert.Equal<string list>([ "y.example"; "z.example"; "a.example"; "b.example" ], sorted)

[<Fact>]
let ``every rule is tried for the first host before the second host`` () =
    let config = load (example 0 + "\n  hostb: bad\n  hosta: good")
    let key = Address.ofText "u@contoso.org"
    let target, reason = Rules.decide config key [ "hosta.net"; "hostb.net" ]
    Assert.Equal(ToGroup "good", target)
    Assert.Equal(Rules.MxRule(config.Rules |> List.find (fun r -> r.Pattern = "hosta"), "hosta.net"), reason)

[<Fact>]
let ``a rule matches when it equals the key, is part of the key or part of a host`` () =
    let config = load (example 4)
    Assert.Equal(ToGroup "bad", targetOf config "john@example.com" [])
    Assert.Equal(ToGroup "good", targetOf config "someone@sub.example.com" [])
    Assert.Equal(ToGroup "good", targetOf config "a@contoso.com" [ "contoso-com.mail.protection.outlook.com" ])
    Assert.Equal(NoResult, targetOf config "a@contoso.com" [ "mx.contoso.com" ])

[<Fact>]
let ``the first matching rule wins`` () =
    let config = load (example 4)
    // john@example.com also contains example.com, a later rule
    Assert.Equal(ToGroup "bad", targetOf config "john@example.com" [ "mail.protection.outlook.com" ])

[<Fact>]
let ``default is never a pattern`` () =
    let config = load (example 4)
    Assert.Equal(NoResult, targetOf config "default" [])
    Assert.Equal(NoResult, targetOf config "default@default.org" [ "default.org" ])
    Assert.DoesNotContain(config.Rules, fun r -> r.Pattern = "default")

[<Fact>]
let ``rules on the address apply when the domain has no MX records`` () =
    let config = load (example 0)
    let key = Address.ofText "john@example.com"
    let target, reason = Rules.decide config key []
    Assert.Equal(ToGroup "bad", target)
    Assert.Equal(Rules.AddressRule config.Rules.Head, reason)

[<Fact>]
let ``no rule matched: the default target, else all servers`` () =
    let withDefault = load (example 2)
    Assert.Equal((NoResult, Rules.DefaultRule), Rules.decide withDefault (Address.ofText "a@b.org") [ "mx.b.org" ])
    let without = load (example 0 |> fun t -> t.Replace("  default: NO RESULT\n", ""))
    Assert.Equal((ToGroup AllServersName, Rules.NoRuleMatched), Rules.decide without (Address.ofText "a@b.org") [])
    // mx4 (perc 100 of 200) has the earliest deadline, so All Servers starts with it.
    Assert.Equal("200 smtp:[192.0.2.4]:587\n", answer without "a@b.org" (Hosts []))

[<Fact>]
let ``NO RESULT as a rule's target replies 500`` () =
    let config = load (example 0 + "\n  spam.example: NO RESULT")
    Assert.Equal("500 NO%20RESULT\n", answer config "x@spam.example" NotQueried)

[<Fact>]
let ``a server name targets that relay directly`` () =
    let config = load (example 0)
    match decide config (Address.ofText "vip@example.com") NotQueried with
    | Direct(relay, _) -> Assert.Equal("mx4", relay.Name)
    | _ -> failwith "expected a direct relay"

[<Fact>]
let ``the wildcard key is refused even when a rule would match it`` () =
    let config = load (example 0 + "\n  \"*\": good")
    Assert.Equal(Refuse("NO RESULT", None), decide config (Address.ofText "*") NotQueried)

[<Fact>]
let ``a DNS failure defers`` () =
    let config = load (example 0)
    Assert.Equal(Defer "timeout", decide config (Address.ofText "john@example.com") (DnsFailure "timeout"))

[<Fact>]
let ``renderTarget names groups, servers and NO RESULT`` () =
    Assert.Equal("good", renderTarget (ToGroup "good"))
    Assert.Equal("mx4", renderTarget (ToServer "mx4"))
    Assert.Equal("NO RESULT", renderTarget NoResult)

// Properties over generated rule lists: patterns and keys from a small alphabet so that
// matches are frequent.

let wordGen = Gen.elements [ "a"; "b"; "ab"; "ba"; "a.b"; "b@a"; "aa"; "x" ]

let rulesGen =
    Gen.listOf (Gen.zip wordGen (Gen.elements [ "good"; "bad"; "mx4"; "NO RESULT" ]))
    |> Gen.map (List.distinctBy fst)

let baseConfig () = load (example 0 |> fun t -> t.Replace("  default: NO RESULT\n", ""))

let withRules (rules: (string * string) list) =
    let config = baseConfig ()

    { config with
        Rules =
            rules
            |> List.mapi (fun i (p, t) ->
                { Pattern = p
                  Target =
                    (match t with
                     | "NO RESULT" -> NoResult
                     | "mx4" -> ToServer t
                     | _ -> ToGroup t)
                  Pos = at (i + 1) 3 }) }

type Case = { Rules: (string * string) list; Key: string; Hosts: string list; DefaultAt: int }

let caseGen =
    gen {
        let! rules = rulesGen
        let! key = Gen.map2 (fun l d -> l + "@" + d) wordGen wordGen
        let! hosts = Gen.listOf wordGen
        let! defaultAt = Gen.choose (0, rules.Length)
        return { Rules = rules; Key = key; Hosts = hosts; DefaultAt = defaultAt }
    }

type Cases =
    static member Arb() = Arb.fromGen caseGen

[<Properties(Arbitrary = [| typeof<Cases> |], MaxTest = 1000)>]
module RuleLaws =

    [<Property>]
    let ``without hosts the first rule in file order that matches the key wins`` (case: Case) =
        let config = withRules case.Rules
        let expected = case.Rules |> List.tryFind (fun (p, _) -> case.Key.Contains p)
        let target = targetOf config case.Key []

        match expected with
        | Some(p, _) -> target = (config.Rules |> List.find (fun r -> r.Pattern = p)).Target
        | None -> target = ToGroup AllServersName

    [<Property>]
    let ``a rule that matches the address wins with or without MX hosts when it comes first`` (case: Case) =
        let config = withRules (("a@b", "bad") :: case.Rules)
        targetOf config "a@b" case.Hosts = ToGroup "bad" && targetOf config "a@b" [] = ToGroup "bad"

    [<Property>]
    let ``hosts are tried in order, rules in file order for each`` (case: Case) =
        let config = withRules case.Rules
        let passes = if case.Hosts.IsEmpty then [ "" ] else case.Hosts

        let expected =
            passes
            |> List.tryPick (fun h ->
                case.Rules |> List.tryFind (fun (p, _) -> case.Key.Contains p || (h <> "" && h.Contains p)))

        match expected with
        | Some(p, _) -> targetOf config case.Key case.Hosts = (config.Rules |> List.find (fun r -> r.Pattern = p)).Target
        | None -> targetOf config case.Key case.Hosts = ToGroup AllServersName

    [<Property>]
    let ``where default stands in sender_rules does not matter`` (case: Case) =
        let lines (defaultAt: int) =
            let rules = case.Rules |> List.map (fun (p, t) -> "  \"" + p + "\": " + t)
            List.take defaultAt rules @ [ "  default: bad" ] @ List.skip defaultAt rules

        let text defaultAt =
            (example 0).Replace("  default: NO RESULT\n", "").Split('\n')
            |> Array.takeWhile (fun l -> l <> "sender_rules:")
            |> fun head -> String.Join("\n", Array.append head (Array.ofList ("sender_rules:" :: lines defaultAt)))

        let first = load (text 0)
        let here = load (text case.DefaultAt)
        let key = Address.ofText case.Key
        let outcome (config: Config) =
            match Rules.decide config key case.Hosts with
            | target, Rules.AddressRule r -> target, "address " + r.Pattern
            | target, Rules.MxRule(r, h) -> target, "mx " + r.Pattern + " " + h
            | target, Rules.DefaultRule -> target, "default"
            | target, Rules.NoRuleMatched -> target, "none"

        outcome first = outcome here && here.Default = Some(ToGroup "bad")
