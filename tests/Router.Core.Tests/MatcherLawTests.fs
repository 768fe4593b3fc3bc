/// The automaton behind rule matching and the shadowed-rule warning, against the plain
/// scans it replaced: every rule tried in file order, every pair of rules compared.
module Router.Core.Tests.MatcherLawTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.Model
open Router.Core.Tests.Tree

/// The linear scan: for each host in order (or one pass with no host), every rule in file
/// order; the first pass also tries the key (substring, or equal to baseKey when an
/// extension was removed) before the same rule on the first host.
let scan (rules: Rule array) (key: string) (baseKey: string) (names: string array) : struct (int * Rules.Reason) =
    let extended = not (Object.ReferenceEquals(key, baseKey))
    let mutable found = -1
    let mutable reason = Rules.NoRuleMatched
    let mutable i = 0

    while found < 0 && i < rules.Length do
        let rule = rules[i]

        let onAddress =
            rule.Scope = AnyKeyOrHost
            && (key.Contains(rule.Pattern, StringComparison.Ordinal) || (extended && baseKey = rule.Pattern))

        if onAddress then
            found <- i
            reason <- Rules.AddressRule rule
        elif names.Length > 0 && names[0].Contains(rule.Pattern, StringComparison.Ordinal) then
            found <- i
            reason <- Rules.MxRule(rule, names[0])

        i <- i + 1

    for pass in 1 .. names.Length - 1 do
        for i in 0 .. rules.Length - 1 do
            if found < 0 && names[pass].Contains(rules[i].Pattern, StringComparison.Ordinal) then
                found <- i
                reason <- Rules.MxRule(rules[i], names[pass])

    struct (found, reason)

/// For each pattern, the first earlier one it contains: every pair compared.
let pairwise (patterns: string array) : int array =
    patterns
    |> Array.mapi (fun j p ->
        [ 0 .. j - 1 ]
        |> List.tryFind (fun i -> p.Contains(patterns[i], StringComparison.Ordinal))
        |> Option.defaultValue -1)

/// Strings over three letters and the two separators, so that patterns overlap, repeat
/// and occur in one another and in keys and hosts.
let textGen (longest: int) =
    gen {
        let! n = Gen.choose (0, longest)
        let! cs = Gen.arrayOfLength n (Gen.elements [ 'a'; 'b'; 'c'; '.'; '@' ])
        return String(cs)
    }

let patternGen =
    Gen.frequency [ 1, Gen.constant ""; 12, textGen 4 |> Gen.filter (fun p -> p <> "") ]

type MatchCase =
    { Rules: Rule array
      Key: string
      /// The key without its extension; the key itself (the same string) when none was removed.
      BaseKey: string
      Hosts: string list }

let matchCaseGen =
    gen {
        let! patterns = Gen.arrayOf patternGen
        let! scopes = Gen.arrayOfLength patterns.Length (Gen.elements [ AnyKeyOrHost; AnyKeyOrHost; MxHostOnly ])

        let rules =
            Array.init patterns.Length (fun i ->
                { Pattern = patterns[i]
                  Target = NoResult
                  Pos = at (i + 1) 3
                  Scope = scopes[i] })

        let! key = textGen 10
        let picks = if patterns.Length = 0 then [| key |] else patterns
        // A new string object, so the key counts as extended even when the texts are equal.
        let! baseKey =
            Gen.frequency
                [ 2, Gen.constant key
                  1, Gen.elements picks |> Gen.map (fun p -> String(p.ToCharArray()))
                  1, textGen 6 |> Gen.map (fun p -> String(p.ToCharArray())) ]

        let! hosts = Gen.listOf (textGen 8) |> Gen.map (List.truncate 4)
        return { Rules = rules; Key = key; BaseKey = baseKey; Hosts = hosts }
    }

type MatchCases =
    static member Arb() = Arb.fromGen matchCaseGen

let patternsGen = Gen.arrayOf patternGen

type Patterns =
    static member Arb() = Arb.fromGen (Gen.zip patternsGen (textGen 12))

let hostsOf (names: string list) : Rules.Hosts =
    Rules.sortHosts (names |> List.mapi (fun i h -> ({ Preference = i; Host = h }: Rules.Mx)))

[<Properties(Arbitrary = [| typeof<MatchCases>; typeof<Patterns> |], MaxTest = 2000)>]
module MatcherLaws =

    [<Property>]
    let ``the automaton's first match is the linear scan's, key, base key and hosts`` (case: MatchCase) =
        let hosts = hostsOf case.Hosts
        let expected = scan case.Rules case.Key case.BaseKey (Array.ofList (Rules.hostNames hosts))
        let actual = Rules.firstMatchWithBase (Rules.matcher case.Rules) case.Key case.BaseKey hosts
        actual = expected

    [<Property>]
    let ``the lowest pattern in a text is the first in order that the text contains`` (patterns: string array, text: string) =
        let marked = patterns |> Array.map (fun p -> p.Length % 2 = 0)
        let automaton = Automaton.build patterns marked
        let first keep =
            [ 0 .. patterns.Length - 1 ]
            |> List.tryFind (fun i -> keep i && text.Contains(patterns[i], StringComparison.Ordinal))
            |> Option.defaultValue -1

        Automaton.lowest automaton text = first (fun _ -> true)
        && Automaton.lowestMarked automaton text = first (fun i -> marked[i])

    [<Property>]
    let ``the shadowing check names the same earlier pattern as comparing every pair`` (patterns: string array, _text: string) =
        Automaton.shadowing patterns = pairwise patterns

/// The warnings of a config whose rules are `patterns`, as text, and those the pairwise
/// comparison expects.
let shadowWarnings (patterns: string list) =
    let rules = patterns |> List.map (fun p -> "  \"" + p + "\": mx1")
    let text = String.Join("\n", [ "servers:"; "  names:"; "    mx1:"; "      address: relay:[a]:25"; "sender_rules:" ] @ rules)
    let byIndex = Array.ofList patterns
    let first = pairwise byIndex

    let expected =
        [ for j in 0 .. byIndex.Length - 1 do
              if first[j] >= 0 then
                  let line i = string (i + 6)

                  yield
                      "test.yaml:" + line j + ":3: warning: rule \"" + byIndex[j] + "\" (line " + line j
                      + ") can never match: the earlier rule \"" + byIndex[first[j]] + "\" (line " + line first[j]
                      + ") matches every key and MX host it would match" ]

    diagnostics text, expected

let distinctPatternsGen =
    Gen.listOf (textGen 4 |> Gen.filter (fun p -> p <> ""))
    |> Gen.map List.distinct

type DistinctPatterns =
    static member Arb() = Arb.fromGen distinctPatternsGen

[<Properties(Arbitrary = [| typeof<DistinctPatterns> |], MaxTest = 300)>]
module ShadowWarningLaws =

    [<Property>]
    let ``the config's shadow warnings are the pairwise check's, in rule order, naming both rules`` (patterns: string list) =
        let actual, expected = shadowWarnings patterns
        actual = expected

[<Fact>]
let ``a config with a rule shadowed twice names the first earlier rule only`` () =
    let actual, expected = shadowWarnings [ "b.c"; "a"; "ab.c"; "ca" ]
    Assert.Equal<string list>(expected, actual)
    Assert.Equal(2, actual.Length)

[<Fact>]
let ``a lookup in 3000 rules allocates nothing: key, base key and three hosts`` () =
    let rules =
        Array.init 3000 (fun i ->
            { Pattern = (if i % 2 = 0 then "u" + string i + "@c" + string i + ".test" else ".mail" + string i + ".test")
              Target = NoResult
              Pos = at (i + 1) 3
              Scope = (if i % 3 = 0 then MxHostOnly else AnyKeyOrHost) })

    let matcher = Rules.matcher rules
    let hosts = hostsOf [ "mx1.nomatch.test"; "mx2.nomatch.test"; "x.mail2999.test" ]
    let key = "nobody+x@[192.0.2.1]"
    let baseKey = "nobody@[192.0.2.1]"
    let struct (index, _) = Rules.firstMatchWithBase matcher key baseKey hosts
    let before = GC.GetAllocatedBytesForCurrentThread()

    for _ in 1..1000 do
        Rules.firstMatchWithBase matcher key baseKey hosts |> ignore

    Assert.Equal(0L, GC.GetAllocatedBytesForCurrentThread() - before)
    Assert.Equal(2999, index)
