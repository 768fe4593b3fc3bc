/// Rule matching, the Python tool's loop made deterministic.
module Router.Core.Rules

open System
open System.Collections.Generic
open Router.Core.Model

/// An MX record as DNS gave it.
type Mx = { Preference: int; Host: string }

/// MX host names in the order the rules try them: by preference, then name; lower-cased,
/// trailing dot removed, duplicates removed; the null MX "." (RFC 7505) removed. Only
/// `sortHosts` makes one, once per DNS answer: the shell caches it, so a lookup walks a
/// ready array.
type Hosts = { Names: string array }

/// No MX hosts: one pass of the rules with no host.
let noHosts : Hosts = { Names = [||] }

/// The hosts of a DNS answer. A name that DNS gave already lower-cased and without the
/// trailing dot stays the same string (the shell shares one string per host name).
let sortHosts (records: Mx list) : Hosts =
    let names =
        records
        |> List.map (fun r -> r.Preference, r.Host.ToLowerInvariant().TrimEnd('.'))
        |> List.filter (fun (_, host) -> host <> "")
        |> List.sortWith (fun (p1, h1) (p2, h2) ->
            if p1 <> p2 then compare p1 p2 else String.CompareOrdinal(h1, h2))
        |> List.map snd
        |> List.distinct

    { Names = Array.ofList names }

/// The host names, in order.
let hostNames (hosts: Hosts) : string list = List.ofArray hosts.Names

/// Why a target was chosen. A struct: deciding allocates nothing.
[<Struct>]
type Reason =
    | AddressRule of rule: Rule
    | MxRule of mxRule: Rule * host: string
    | DefaultRule
    | NoRuleMatched

/// The rules of a config made ready for lookups, once per config: one automaton over every
/// pattern (the AnyKeyOrHost ones marked, as only they look at the key), and the first
/// AnyKeyOrHost rule for each pattern, for keys with an extension removed.
type Matcher =
    { Rules: Rule array
      Automaton: Automaton.Automaton
      Exact: Dictionary<string, int> }

    member m.Item
        with get (index: int) = m.Rules[index]

let matcher (rules: Rule array) : Matcher =
    let exact = Dictionary<string, int>(StringComparer.Ordinal)

    for i in 0 .. rules.Length - 1 do
        if rules[i].Scope = AnyKeyOrHost then
            exact.TryAdd(rules[i].Pattern, i) |> ignore

    { Rules = rules
      Automaton =
        Automaton.build (rules |> Array.map (fun r -> r.Pattern)) (rules |> Array.map (fun r -> r.Scope = AnyKeyOrHost))
      Exact = exact }

/// The Python tool's loop (for each host, or one pass with no host, every rule in file
/// order; the first pass also tries the key, and a rule on the key wins over the same rule
/// on the host) answered with the automaton: the first pass's match is the lowest of the
/// lowest marked rule in the key (or the lowest rule equal to `baseKey`) and the lowest rule
/// in the first host; a later pass's is the lowest rule in its host.
let firstMatchWithBase (matcher: Matcher) (key: string) (baseKey: string) (hosts: Hosts) : struct (int * Reason) =
    let names = hosts.Names
    let automaton = matcher.Automaton
    let mutable onKey = Automaton.lowestMarked automaton key

    if not (Object.ReferenceEquals(key, baseKey)) then
        let mutable equal = -1

        if matcher.Exact.TryGetValue(baseKey, &equal) && (onKey < 0 || equal < onKey) then
            onKey <- equal

    let onHost = if names.Length > 0 then Automaton.lowest automaton names[0] else -1

    if onKey >= 0 && (onHost < 0 || onKey <= onHost) then
        struct (onKey, AddressRule matcher.Rules[onKey])
    elif onHost >= 0 then
        struct (onHost, MxRule(matcher.Rules[onHost], names[0]))
    else
        let mutable found = -1
        let mutable reason = NoRuleMatched
        let mutable pass = 1

        while found < 0 && pass < names.Length do
            let i = Automaton.lowest automaton names[pass]

            if i >= 0 then
                found <- i
                reason <- MxRule(matcher.Rules[i], names[pass])

            pass <- pass + 1

        struct (found, reason)

/// `firstMatchWithBase` with no extension removed.
let firstMatch (matcher: Matcher) (key: string) (hosts: Hosts) : struct (int * Reason) =
    firstMatchWithBase matcher key key hosts
