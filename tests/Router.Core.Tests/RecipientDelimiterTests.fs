/// recipient_delimiter: address rules also match the key without its extension, as
/// Postfix's own tables do; substring rules still see the whole key; off by default.
module Router.Core.Tests.RecipientDelimiterTests

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

// The base address, from Postfix's documentation and split_addr.c's special cases.
[<Theory>]
[<InlineData("+", "vip+news@shop.test", "vip@shop.test")>]
[<InlineData("+-", "vip-news@shop.test", "vip@shop.test")>]
[<InlineData("+-", "vip+news@shop.test", "vip@shop.test")>]
[<InlineData("-+", "vip+a-b@shop.test", "vip@shop.test")>]
[<InlineData("+", "a-b+c@shop.test", "a-b@shop.test")>]
[<InlineData("+", "vip+@shop.test", "vip@shop.test")>]
[<InlineData("+", "vip+x@y@shop.test", "vip@shop.test")>]
[<InlineData("+", "vip@shop.test", "vip@shop.test")>]
[<InlineData("+", "+news@shop.test", "+news@shop.test")>]
[<InlineData("+", "vip@shop+x.test", "vip@shop+x.test")>]
[<InlineData("+", "vip+news", "vip+news")>]
[<InlineData("+", "@shop.test", "@shop.test")>]
[<InlineData("", "vip+news@shop.test", "vip+news@shop.test")>]
[<InlineData("-", "owner-list@shop.test", "owner-list@shop.test")>]
[<InlineData("-", "list-request@shop.test", "list-request@shop.test")>]
[<InlineData("+", "owner+x@shop.test", "owner@shop.test")>]
[<InlineData("-", "mailer-daemon@shop.test", "mailer-daemon@shop.test")>]
[<InlineData("-", "double-bounce@shop.test", "double-bounce@shop.test")>]
[<InlineData("+", "postmaster+x@shop.test", "postmaster@shop.test")>]
let ``the base address is the key without the extension, from the first delimiter to the last at sign`` (delimiters: string, key: string, expected: string) =
    Assert.Equal(expected, Address.baseAddress delimiters key)

[<Fact>]
let ``a key without extension is returned itself: nothing is allocated`` () =
    for key in [ "vip@shop.test"; "vip@shop+x.test"; "+news@shop.test"; "*"; "" ] do
        Assert.Same(key, Address.baseAddress "+-" key)

[<Theory>]
[<InlineData("+", "+")>]
[<InlineData("+-", "+-")>]
[<InlineData("", "")>]
[<InlineData("X", "x")>]
let ``delimiters are any characters but the at sign, white space and control characters`` (text: string, expected: string) =
    Assert.Equal(Ok expected, Address.parseDelimiters text)

[<Theory>]
[<InlineData("+@")>]
[<InlineData("+ ")>]
[<InlineData("\t")>]
[<InlineData("+\u0001")>]
let ``the at sign, white space and control characters are refused`` (text: string) =
    Assert.True(Result.isError (Address.parseDelimiters text))

[<Fact>]
let ``config.recipient_delimiter is read, checked with its line, and off when absent`` () =
    let withSetting (value: string) =
        (Tree.example 0).Replace("  log_file: /var/log/postfix-mx-smart-router/routing.log", "  recipient_delimiter: " + value)

    Assert.Equal(Some "+-", (Tree.load (withSetting "\"+-\"")).Settings.RecipientDelimiter)
    Assert.Equal(None, (Tree.load (Tree.example 0)).Settings.RecipientDelimiter)
    Assert.Equal(None, (Tree.load (withSetting "")).Settings.RecipientDelimiter)

    Assert.Equal<string list>(
        [ "test.yaml:2:24: error: config.recipient_delimiter must be delimiter characters such as + or +- (no @, white space or control characters), not \"+@\"" ],
        Tree.diagnostics (withSetting "\"+@\"")
    )

// Properties. Local parts, extensions, domains and hosts from small alphabets, so that
// patterns often are substrings of keys and hosts.

let delimiterSets = [ "+"; "-"; "+-" ]

/// A key built from its parts: the base address is known by construction.
type Keyed =
    { Local: string
      Extension: (char * string) option
      Domain: string }

    member k.Key =
        match k.Extension with
        | Some(d, ext) -> k.Local + string d + ext + "@" + k.Domain
        | None -> k.Local + "@" + k.Domain

    member k.Base = k.Local + "@" + k.Domain

type Case =
    { Delimiters: string
      Keyed: Keyed
      Rules: (string * string) list
      Hosts: string list
      DefaultAt: int }

let localGen = Gen.elements [ "a"; "b"; "ab"; "vip"; "a.b" ]
let domainGen = Gen.elements [ "b"; "ab"; "shop.test"; "a.b" ]

let caseGen =
    gen {
        let! delimiters = Gen.elements delimiterSets
        let! local = localGen
        let! domain = domainGen
        let! withExtension = Gen.elements [ true; true; false ]
        let! d = Gen.elements (List.ofSeq delimiters)
        let! ext = Gen.elements [ ""; "x"; "news"; "a"; "b+c"; "a-b" ]
        let keyed =
            { Local = local
              Extension = (if withExtension then Some(d, ext) else None)
              Domain = domain }

        let pattern =
            Gen.oneof
                [ Gen.elements [ "a"; "b"; "ab"; "x"; "a.b"; "+"; "-"; "news"; "shop"; "test" ]
                  // addresses: the key's base, the key itself, other addresses
                  Gen.constant keyed.Base
                  Gen.constant keyed.Key
                  Gen.map2 (fun l dm -> l + "@" + dm) localGen domainGen ]

        let! rules =
            Gen.listOf (Gen.zip pattern (Gen.elements [ "good"; "bad"; "mx4"; "NO RESULT" ]))
            |> Gen.map (List.distinctBy fst)

        let! hosts = Gen.listOf (Gen.elements [ "a"; "b"; "mx.ab"; "shop.test"; "x" ])
        let! defaultAt = Gen.choose (0, 3)

        return
            { Delimiters = delimiters
              Keyed = keyed
              Rules = rules
              Hosts = hosts
              DefaultAt = defaultAt }
    }

type Cases =
    static member Arb() = Arb.fromGen caseGen

/// A rule's target by name, as the config resolves it.
let resolve (config: Config) (name: string) : Target =
    match name with
    | "NO RESULT" -> NoResult
    | "mx4" -> Relay(config.Relays |> Array.find (fun r -> r.Name = name))
    | _ -> Group (tryGroup config name).Value

/// A target's name, as the rules' decision names it.
let targetOf (name: string) = name

/// The example config with these rules (and `default: bad` for odd DefaultAt).
let configOf (case: Case) : Config =
    let config = RulesTests.baseConfig ()

    { config with
        Rules =
            case.Rules
            |> List.mapi (fun i (p, t) ->
                { Pattern = p
                  Target = resolve config t
                  Pos = Tree.at (i + 1) 3
                  Scope = AnyKeyOrHost })
        Default = if case.DefaultAt % 2 = 1 then Some(resolve config "bad") else None }

/// What the router decides for a key, as (target, reason text).
let decided (config: Config) (key: string) (hosts: string list) : string * string =
    let target, reason =
        RulesTests.targetAndReason (RulesTests.decide config (Address.ofText key) (Hosts(RulesTests.inOrder hosts)))

    let why =
        match reason with
        | Rules.AddressRule r -> "address " + r.Pattern
        | Rules.MxRule(r, h) -> "mx " + r.Pattern + " " + h
        | Rules.DefaultRule -> "default"
        | Rules.NoRuleMatched -> "none"

    target, why

/// The oracle: a plain nested loop over the hosts (one pass without a host when there are
/// none) and the rules, in the words of the README: a rule matches when its pattern is a
/// substring of the key, or equals `baseKey` (None: extensions off), or is a substring of the host.
let oracle (case: Case) (key: string) (baseKey: string option) : string * string =
    let passes = if case.Hosts.IsEmpty then [ None ] else case.Hosts |> List.distinct |> List.map Some
    let mutable found = None

    for host in passes do
        for pattern, target in case.Rules do
            if found.IsNone then
                if key.Contains pattern || baseKey = Some pattern then
                    found <- Some(targetOf target, "address " + pattern)
                else
                    match host with
                    | Some h when h.Contains pattern -> found <- Some(targetOf target, "mx " + pattern + " " + h)
                    | _ -> ()

    match found with
    | Some f -> f
    | None when case.DefaultAt % 2 = 1 -> "bad", "default"
    | None -> AllServersName, "none"

[<Properties(Arbitrary = [| typeof<Cases> |], MaxTest = 1000)>]
module Laws =

    [<Property>]
    let ``off (absent or empty), every answer is the plain scan's on the whole key`` (case: Case) =
        let config = configOf case
        let key = case.Keyed.Key
        let expected = oracle case key None

        decided config key case.Hosts = expected
        && decided (withRecipientDelimiter "" config) key case.Hosts = expected

    [<Property>]
    let ``on, address rules also match the base address; substrings still see the whole key`` (case: Case) =
        let config = withRecipientDelimiter case.Delimiters (configOf case)
        let key = case.Keyed.Key
        let baseKey = if case.Keyed.Extension.IsSome then Some case.Keyed.Base else None
        decided config key case.Hosts = oracle case key baseKey

    [<Property>]
    let ``on, a key with an extension routes as its base when an address rule names the base`` (case: Case) =
        let k = case.Keyed
        // The rule naming the base, at a place in the list; the other rules see the key and
        // its base alike (both contain the pattern, or neither does).
        let rules =
            case.Rules |> List.filter (fun (p, _) -> p <> k.Base && k.Key.Contains p = k.Base.Contains p)

        let at = min case.DefaultAt rules.Length
        let named = List.take at rules @ [ k.Base, "mx4" ] @ List.skip at rules
        let withNamed = withRecipientDelimiter case.Delimiters (configOf { case with Rules = named })

        k.Extension.IsSome
        ==> (decided withNamed k.Key case.Hosts = decided withNamed k.Base case.Hosts)

    [<Property>]
    let ``on, a key without an extension routes as with the option off`` (case: Case) =
        let config = configOf case
        let key = case.Keyed.Base
        decided (withRecipientDelimiter case.Delimiters config) key case.Hosts = decided config key case.Hosts

    [<Property>]
    let ``rules on MX hosts only never see the key, with or without extension`` (case: Case) =
        let config = withRecipientDelimiter case.Delimiters (configOf case)

        let hostOnly =
            { config with
                Rules = config.Rules |> List.map (fun r -> { r with Scope = MxHostOnly }) }

        // A key that contains no pattern: the plain scan then only matches hosts.
        decided hostOnly case.Keyed.Key case.Hosts = oracle case "\u0000" None

    [<Property>]
    let ``the base is the local part before its first delimiter, with the domain`` (case: Case) =
        let k = case.Keyed
        let delimiters = match k.Extension with Some(d, _) -> string d | None -> case.Delimiters
        let expected = if k.Extension.IsSome then k.Base else k.Key
        Address.baseAddress (delimiters + case.Delimiters) k.Key = expected
