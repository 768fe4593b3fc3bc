/// --dns-failure-policy: what a DNS failure that no cached answer covers does, and the DNS
/// keys of the `config:` section.
module Router.Core.Tests.DnsPolicyTests

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
open Router.Core.Lookup
open Router.Core.Tests.Tree

let private failure = DnsFailure "SERVFAIL for example.org"

/// The example with `default: bad` instead of `default: NO RESULT`.
let private withDefaultBad () =
    load ((example 0).Replace("  default: NO RESULT", "  default: bad"))

let private withoutDefault () =
    load ((example 0).Replace("  default: NO RESULT\n", ""))

[<Fact>]
let ``the words of the policy are defer and default`` () =
    let read (text: string) = Settings.dnsFailurePolicy.Read text |> Result.toOption
    Assert.Equal(Some DeferMail, read "defer")
    Assert.Equal(Some UseDefault, read "default")
    Assert.Equal(None, read "Default")
    Assert.Equal(None, read "route")
    Assert.Equal(None, read "")

[<Fact>]
let ``under defer a DNS failure replies 400 with the reason`` () =
    let config = withDefaultBad ()

    match decideWith DeferMail (config) (Address.ofText "a@example.org") failure with
    | Defer reason -> Assert.Equal("SERVFAIL for example.org", reason)
    | _ -> failwith "expected Defer"

    // decide is the defer policy.
    Assert.Equal("400 SERVFAIL%20for%20example.org\n", RulesTests.answer config "a@example.org" failure)

[<Fact>]
let ``under default a DNS failure picks from the default target`` () =
    match decideWith UseDefault ((withDefaultBad ())) (Address.ofText "a@example.org") failure with
    | Pick(group, Rules.DefaultRule) -> Assert.Equal("bad", group.Name)
    | _ -> failwith "expected the default group bad"

[<Fact>]
let ``under default with no default target a DNS failure picks from all servers`` () =
    match decideWith UseDefault ((withoutDefault ())) (Address.ofText "a@example.org") failure with
    | Pick(group, Rules.NoRuleMatched) -> Assert.Equal(AllServersName, group.Name)
    | _ -> failwith "expected All Servers"

[<Fact>]
let ``under default a NO RESULT default still replies 500`` () =
    match decideWith UseDefault ((load (example 0))) (Address.ofText "a@example.org") failure with
    | Refuse(ValueSome Rules.DefaultRule) -> ()
    | _ -> failwith "expected NO RESULT"

[<Fact>]
let ``under default a rule on the address still applies: it needs no DNS`` () =
    match decideWith UseDefault ((withDefaultBad ())) (Address.ofText "vip@example.com") failure with
    | Direct(relay, Rules.AddressRule _) -> Assert.Equal("mx4", relay.Name)
    | _ -> failwith "expected the address rule vip@example.com: mx4"

[<Fact>]
let ``the wildcard is refused under either policy`` () =
    for policy in [ DeferMail; UseDefault ] do
        match decideWith policy ((withDefaultBad ())) (Address.ofText "*") failure with
        | Refuse ValueNone -> ()
        | _ -> failwith "expected the wildcard to be refused"

let private keyGen =
    Gen.elements
        [ "a@example.org"; "john@example.com"; "vip@example.com"; "x@contoso.com"; "*"; "bad"; "good@b.org"; "" ]

let private reasonGen = Gen.elements [ "SERVFAIL"; "REFUSED"; "DNS timeout"; "100% wrong" ]

let private decisionText (d: Decision) =
    match d with
    | Pick(g, _) -> "pick " + g.Name
    | Direct(r, _) -> "direct " + r.Name
    | Again(t, r, _) -> "again " + targetName t + " " + r.Name
    | Refuse _ -> "refuse " + NoResultText
    | Defer r -> "defer " + r

[<Property(MaxTest = 500)>]
let ``under default a DNS failure routes exactly as a domain without MX hosts`` () =
    Prop.forAll (Arb.fromGen (Gen.zip3 keyGen reasonGen (Gen.choose (0, 4)))) (fun (key, reason, defaultAt) ->
        let config = load (example defaultAt)
        let k = Address.ofText key
        decisionText (decideWith UseDefault (config) k (DnsFailure reason)) = decisionText (decideWith DeferMail config k (Hosts Rules.noHosts)))

[<Property(MaxTest = 500)>]
let ``under defer every DNS failure of a real key is a 400 carrying its reason`` () =
    Prop.forAll (Arb.fromGen (Gen.zip keyGen reasonGen)) (fun (key, reason) ->
        let k = Address.ofText key
        let decision = decideWith DeferMail ((withDefaultBad ())) k (DnsFailure reason)
        if k.IsWildcard then
            decisionText decision = "refuse " + NoResultText
        else
            decisionText decision = "defer " + reason)

[<Property(MaxTest = 300)>]
let ``the policy changes nothing when DNS answered`` () =
    let hostsGen = Gen.listOf (Gen.elements [ "mail.example.com"; "x.mail.protection.outlook.com"; "mx.b.org" ])

    Prop.forAll (Arb.fromGen (Gen.zip keyGen hostsGen)) (fun (key, hosts) ->
        let config = withDefaultBad ()
        let k = Address.ofText key
        let mx = Hosts(Rules.sortHosts (hosts |> List.mapi (fun i h -> ({ Preference = i; Host = h }: Rules.Mx))))
        decisionText (decideWith UseDefault config k mx) = decisionText (decideWith DeferMail config k mx))

let private lines (xs: string list) = String.Join("\n", xs)

let private names =
    [ "servers:"; "  names:"; "    mx1:"; "      address: relay:[mx1.example.com]:25" ]

[<Fact>]
let ``the DNS keys of the config section become settings`` () =
    let config =
        load (
            lines (
                [ "config:"
                  "  dns_timeout: 3"
                  "  dns_retries: 0"
                  "  cache_size: 1000"
                  "  stale_limit: 600"
                  "  dns_failure_policy: default" ]
                @ names
            )
        )

    let s = config.Settings
    Assert.Equal(Some 3, s.DnsTimeout)
    Assert.Equal(Some 0, s.DnsRetries)
    Assert.Equal(Some 1000, s.CacheSize)
    Assert.Equal(Some 600, s.StaleLimit)
    Assert.Equal(Some UseDefault, s.DnsFailurePolicy)

[<Fact>]
let ``without them the DNS settings are None`` () =
    let s = (load (lines names)).Settings
    Assert.Equal(None, s.DnsTimeout)
    Assert.Equal(None, s.DnsRetries)
    Assert.Equal(None, s.StaleLimit)
    Assert.Equal(None, s.DnsFailurePolicy)

[<Fact>]
let ``bad DNS settings are errors with their position`` () =
    let errors =
        diagnostics (
            lines (
                [ "config:"
                  "  dns_timeout: 0"
                  "  dns_retries: 11"
                  "  stale_limit: -1"
                  "  dns_failure_policy: route" ]
                @ names
            )
        )

    Assert.Equal<string list>(
        [ "test.yaml:2:16: error: config.dns_timeout must be a number of seconds from 1 to 300, not \"0\""
          "test.yaml:3:16: error: config.dns_retries must be a whole number from 0 to 10, not \"11\""
          "test.yaml:4:16: error: config.stale_limit must be a whole number, 0 or more, not \"-1\""
          "test.yaml:5:23: error: config.dns_failure_policy must be defer or default, not \"route\"" ],
        errors
    )
