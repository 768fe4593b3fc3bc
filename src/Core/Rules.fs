/// Rule matching, the Python tool's loop made deterministic.
module Router.Core.Rules

open System
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

/// For each host in order (or one pass with no host when there are none) try every rule
/// in file order: it matches when its pattern equals the key, is a substring of the key or
/// of the host (a MxHostOnly rule: of the host only). With an address extension removed
/// (`baseKey` is not `key` itself, see Address.baseAddress), a rule also matches when its
/// pattern equals `baseKey`; substrings are still looked for in the whole key. The first
/// match: its index in `rules` and why; -1 and NoRuleMatched when none matches (then
/// `default` applies, else all servers).
let firstMatchWithBase (rules: Rule array) (key: string) (baseKey: string) (hosts: Hosts) : struct (int * Reason) =
    let names = hosts.Names
    let extended = not (Object.ReferenceEquals(key, baseKey))
    let mutable found = -1
    let mutable reason = NoRuleMatched
    // Equal to the key implies part of it: one Contains covers both.
    let mutable i = 0

    while found < 0 && i < rules.Length do
        let rule = rules[i]

        let onAddress =
            match rule.Scope with
            | MxHostOnly -> false
            | AnyKeyOrHost ->
                key.Contains(rule.Pattern, StringComparison.Ordinal)
                || (extended && String.Equals(baseKey, rule.Pattern))

        if onAddress then
            found <- i
            reason <- AddressRule rule
        elif names.Length > 0 && names[0].Contains(rule.Pattern, StringComparison.Ordinal) then
            found <- i
            reason <- MxRule(rule, names[0])

        i <- i + 1

    // The first pass tried every rule on the key: the later passes need only the host.
    let mutable pass = 1

    while found < 0 && pass < names.Length do
        let host = names[pass]
        let mutable i = 0

        while found < 0 && i < rules.Length do
            if host.Contains(rules[i].Pattern, StringComparison.Ordinal) then
                found <- i
                reason <- MxRule(rules[i], host)

            i <- i + 1

        pass <- pass + 1

    struct (found, reason)

/// `firstMatchWithBase` with no extension removed.
let firstMatch (rules: Rule array) (key: string) (hosts: Hosts) : struct (int * Reason) =
    firstMatchWithBase rules key key hosts
