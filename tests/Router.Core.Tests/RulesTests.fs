/// Rules and routing: one example per rule sentence of the README, plus properties.
module Router.Core.Tests.RulesTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.ConfigTree
open Router.Core.Model
open Router.Core.Lookup
open Router.Core.Tests.Tree

let mx (preference: int) (host: string) : Rules.Mx = { Preference = preference; Host = host }

/// The decision of the shipped lookup for a config under the `defer` policy, window off.
let decide (config: Config) (key: Address.Key) (mx: MxAnswer) : Decision =
    let struct (decision, _) = Lookup.decide (Lookup.plan Settings.DeferMail config) Repeat.off 0L key mx
    decision

/// The reply line for a key, picking the first relay of a group (position 0).
let answer (config: Config) (key: string) (mx: MxAnswer) =
    let plan = Lookup.plan Settings.DeferMail config
    let struct (decision, _) = Lookup.decide plan Repeat.off 0L (Address.ofText key) mx
    CodecTests.ascii (TcpTable.encode (Lookup.finish plan decision (Lookup.allUp plan config.AllServers) 0L).Reply)

/// The answer DNS gives, as the resolver caches it: sorted once.
let mxHosts (records: Rules.Mx list) : MxAnswer = Hosts(Rules.sortHosts records)

/// Host names already in the rules' order (preferences 0, 1, 2 ...).
let inOrder (hosts: string list) : Rules.Hosts =
    Rules.sortHosts (hosts |> List.mapi (fun i h -> mx i h))

/// The name of the target a decision of the rules names, and why.
let targetAndReason (decision: Decision) : string * Rules.Reason =
    match decision with
    | Pick(group, reason) -> group.Name, reason
    | Direct(relay, reason) -> relay.Name, reason
    | Refuse(ValueSome reason) -> NoResultText, reason
    | Again _
    | Refuse ValueNone
    | Defer _ -> failwith "not a decision of the rules"

let decideRules (config: Config) (key: Address.Key) (hosts: string list) : string * Rules.Reason =
    targetAndReason (decide config key (Hosts(inOrder hosts)))

let targetOf (config: Config) (key: string) (hosts: string list) =
    fst (decideRules config (Address.ofText key) hosts)

let outlook = mxHosts [ mx 10 "contoso-com.mail.protection.outlook.com." ]

[<Theory>]
[<InlineData(0)>]
[<InlineData(4)>]
let ``the example config routes as documented with default first and last`` (defaultAt: int) =
    let config = load (example defaultAt)
    Assert.Equal("200 smtp:[192.0.2.4]:587\n", answer config "John@Example.com" (mxHosts []))
    Assert.Equal("200 smtp:[192.0.2.4]:587\n", answer config "vip@example.com" (mxHosts []))
    Assert.Equal("200 relay:[mx1.example.com]:25\n", answer config "someone@contoso.com" outlook)
    Assert.Equal("200 relay:[mx1.example.com]:25\n", answer config "else@example.com" NotQueried)
    Assert.Equal("500 NO%20RESULT\n", answer config "x@elsewhere.org" (mxHosts [ mx 10 "mx.elsewhere.org" ]))
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
        Rules.hostNames (Rules.sortHosts [ mx 20 "B.example."; mx 10 "z.example"; mx 20 "a.example."; mx 10 "Y.Example."; mx 30 "a.example"; mx 0 "." ])

    Assert.Equal<string list>([ "y.example"; "z.example"; "a.example"; "b.example" ], sorted)

[<Fact>]
let ``every rule is tried for the first host before the second host`` () =
    let config = load (example 0 + "\n  hostb: bad\n  hosta: good")
    let key = Address.ofText "u@contoso.org"
    let target, reason = decideRules config key [ "hosta.net"; "hostb.net" ]
    Assert.Equal("good", target)
    Assert.Equal(Rules.MxRule(config.Rules |> List.find (fun r -> r.Pattern = "hosta"), "hosta.net"), reason)

[<Fact>]
let ``a rule matches when it equals the key, is part of the key or part of a host`` () =
    let config = load (example 4)
    Assert.Equal("bad", targetOf config "john@example.com" [])
    Assert.Equal("good", targetOf config "someone@sub.example.com" [])
    Assert.Equal("good", targetOf config "a@contoso.com" [ "contoso-com.mail.protection.outlook.com" ])
    Assert.Equal(NoResultText, targetOf config "a@contoso.com" [ "mx.contoso.com" ])

[<Fact>]
let ``the first matching rule wins`` () =
    let config = load (example 4)
    // john@example.com also contains example.com, a later rule
    Assert.Equal("bad", targetOf config "john@example.com" [ "mail.protection.outlook.com" ])

[<Fact>]
let ``default is never a pattern`` () =
    let config = load (example 4)
    Assert.Equal(NoResultText, targetOf config "default" [])
    Assert.Equal(NoResultText, targetOf config "default@default.org" [ "default.org" ])
    Assert.DoesNotContain(config.Rules, fun r -> r.Pattern = "default")

[<Fact>]
let ``rules on the address apply when the domain has no MX records`` () =
    let config = load (example 0)
    let key = Address.ofText "john@example.com"
    let target, reason = decideRules config key []
    Assert.Equal("bad", target)
    Assert.Equal(Rules.AddressRule config.Rules.Head, reason)

[<Fact>]
let ``no rule matched: the default target, else all servers`` () =
    let withDefault = load (example 2)
    Assert.Equal((NoResultText, Rules.DefaultRule), decideRules withDefault (Address.ofText "a@b.org") [ "mx.b.org" ])
    let without = load (example 0 |> fun t -> t.Replace("  default: NO RESULT\n", ""))
    Assert.Equal((AllServersName, Rules.NoRuleMatched), decideRules without (Address.ofText "a@b.org") [])
    // mx4 (perc 100 of 200) has the earliest deadline, so All Servers starts with it.
    Assert.Equal("200 smtp:[192.0.2.4]:587\n", answer without "a@b.org" (mxHosts []))

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
    Assert.Equal(Refuse ValueNone, decide config (Address.ofText "*") NotQueried)

[<Fact>]
let ``a DNS failure defers`` () =
    let config = load (example 0)
    Assert.Equal(Defer "timeout", decide config (Address.ofText "john@example.com") (DnsFailure "timeout"))

[<Fact>]
let ``targetName names groups, servers and NO RESULT`` () =
    let config = load (example 0)
    Assert.Equal("good", targetName (Group (tryGroup config "good").Value))
    Assert.Equal("mx4", targetName (Relay(config.Relays |> Array.find (fun r -> r.Name = "mx4"))))
    Assert.Equal("NO RESULT", targetName NoResult)

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
                { Scope = AnyKeyOrHost
                  Pattern = p
                  Target =
                    (match t with
                     | "NO RESULT" -> NoResult
                     | "mx4" -> Relay(config.Relays |> Array.find (fun r -> r.Name = t))
                     | _ -> Group (tryGroup config t).Value)
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
        | Some(p, _) -> target = targetName (config.Rules |> List.find (fun r -> r.Pattern = p)).Target
        | None -> target = AllServersName

    [<Property>]
    let ``a rule that matches the address wins with or without MX hosts when it comes first`` (case: Case) =
        let config = withRules (("a@b", "bad") :: case.Rules)
        targetOf config "a@b" case.Hosts = "bad" && targetOf config "a@b" [] = "bad"

    [<Property>]
    let ``hosts are tried in order, rules in file order for each`` (case: Case) =
        let config = withRules case.Rules
        let passes = if case.Hosts.IsEmpty then [ "" ] else case.Hosts

        let expected =
            passes
            |> List.tryPick (fun h ->
                case.Rules |> List.tryFind (fun (p, _) -> case.Key.Contains p || (h <> "" && h.Contains p)))

        match expected with
        | Some(p, _) -> targetOf config case.Key case.Hosts = targetName (config.Rules |> List.find (fun r -> r.Pattern = p)).Target
        | None -> targetOf config case.Key case.Hosts = AllServersName

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
            match decideRules config key case.Hosts with
            | target, Rules.AddressRule r -> target, "address " + r.Pattern
            | target, Rules.MxRule(r, h) -> target, "mx " + r.Pattern + " " + h
            | target, Rules.DefaultRule -> target, "default"
            | target, Rules.NoRuleMatched -> target, "none"

        outcome first = outcome here && (here.Default |> Option.map targetName) = Some "bad"

    /// The rule semantics as the README states them, by brute force: of all (pass, rule)
    /// pairs where the rule matches (equal to the key, part of the key, or part of that
    /// pass's host; one pass with no host when there are none), the least by pass, then by
    /// file order; none: the default, else all servers.
    let private byDefinition (config: Config) (key: Address.Key) (hosts: string list) : string * Rules.Reason =
        let passes = if hosts.IsEmpty then [| None |] else hosts |> List.map Some |> Array.ofList
        let rules = Array.ofList config.Rules

        let matching =
            [ for p in 0 .. passes.Length - 1 do
                  for i in 0 .. rules.Length - 1 do
                      let pattern = rules[i].Pattern
                      let onKey = key.Text = pattern || key.Text.IndexOf(pattern, StringComparison.Ordinal) >= 0

                      let onHost =
                          match passes[p] with
                          | Some h -> h.IndexOf(pattern, StringComparison.Ordinal) >= 0
                          | None -> false

                      if onKey || onHost then
                          yield (p, i), onKey ]

        if matching.IsEmpty then
            match config.Default with
            | Some target -> targetName target, Rules.DefaultRule
            | None -> AllServersName, Rules.NoRuleMatched
        else
            let (p, i), onKey = matching |> List.minBy fst
            let rule = rules[i]
            targetName rule.Target, (if onKey then Rules.AddressRule rule else Rules.MxRule(rule, passes[p].Value))

    /// MX records for a case's hosts: mixed case, some with a trailing dot, preferences repeating.
    let private records (hosts: string list) : Rules.Mx list =
        hosts |> List.mapi (fun i h -> mx (i % 3) (if i % 2 = 0 then h.ToUpperInvariant() + "." else h))

    [<Property>]
    let ``deciding over the sorted hosts agrees with the rules' definition, by brute force`` (case: Case) =
        let ruled = withRules case.Rules

        let config =
            { ruled with
                Default = if case.DefaultAt % 2 = 1 then Some(Group (tryGroup ruled "bad").Value) else None }

        let key = Address.ofText case.Key
        let sorted = Rules.sortHosts (records case.Hosts)
        targetAndReason (decide config key (Hosts sorted)) = byDefinition config key (Rules.hostNames sorted)

    [<Property>]
    let ``a relay's 200 and NO RESULT's 500 are the bytes the plan prepared, shared`` (case: Case) (position: int) =
        let config = withRules case.Rules
        let plan = Lookup.plan Settings.DeferMail config
        let prepared = TcpTable.prepare (Lookup.answers plan)
        let key = Address.ofText case.Key

        [ Hosts(inOrder case.Hosts); NotQueried; DnsFailure "SERVFAIL" ]
        |> List.forall (fun mx ->
            let struct (decision, _) = Lookup.decide plan Repeat.off 0L key mx
            let reply = (Lookup.finish plan decision (Lookup.allUp plan config.AllServers) (int64 position)).Reply
            let first = TcpTable.bytes prepared reply
            let again = TcpTable.bytes prepared reply

            let shared =
                match reply with
                | Reply.Found _
                | Reply.NotFound -> obj.ReferenceEquals(first, again)
                | Reply.Defer _ -> true

            first = TcpTable.encode reply && shared)

let hostGen =
    Gen.map2 mx (Gen.choose (0, 3)) (Gen.elements [ "."; ""; "a.example"; "A.Example."; "b.example"; "mx.B.example."; "a.example."; "c" ])

[<Property(MaxTest = 1000)>]
let ``sorted hosts: by preference then name, lower case, no trailing dot, distinct, null MX removed`` () =
    Prop.forAll (Arb.fromGen (Gen.listOf hostGen)) (fun (records: Rules.Mx list) ->
        let names = Rules.hostNames (Rules.sortHosts records)
        let normal (host: string) = host.ToLowerInvariant().TrimEnd('.')
        let present = records |> List.map (fun r -> normal r.Host) |> List.filter (fun h -> h <> "")
        // A name listed at several preferences stands at its best one.
        let rank (name: string) =
            (records |> List.filter (fun r -> normal r.Host = name) |> List.map (fun r -> r.Preference) |> List.min), name

        set names = set present
        && List.distinct names = names
        && names |> List.forall (fun n -> n = n.ToLowerInvariant() && not (n.EndsWith ".") && n <> "")
        && names |> List.pairwise |> List.forall (fun (a, b) -> compare (rank a) (rank b) < 0))
