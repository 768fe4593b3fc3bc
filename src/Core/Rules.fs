/// Rule matching, the Python tool's loop made deterministic.
module Router.Core.Rules

open Router.Core.Config

/// An MX record as DNS gave it.
type Mx = { Preference: int; Host: string }

/// Host names sorted by preference, then name; lower-cased, trailing dot removed,
/// duplicates removed; the null MX "." (RFC 7505) removed.
let sortHosts (records: Mx list) : string list =
    records
    |> List.map (fun r -> r.Preference, r.Host.ToLowerInvariant().TrimEnd('.'))
    |> List.filter (fun (_, host) -> host <> "")
    |> List.sortWith (fun (p1, h1) (p2, h2) ->
        if p1 <> p2 then compare p1 p2 else System.String.CompareOrdinal(h1, h2))
    |> List.map snd
    |> List.distinct

/// Why a target was chosen.
type Reason =
    | AddressRule of Rule
    | MxRule of Rule * host: string
    | DefaultRule
    | NoRuleMatched

/// For each host in order (or one pass with no host when there are none) try every rule
/// in file order: it matches when its pattern equals the key, is a substring of the key or
/// of the host. First match wins; else `default`; else all servers.
let decide (config: Config) (key: Address.Key) (hosts: string list) : Target * Reason =
    let onKey (rule: Rule) =
        rule.Pattern = key.Text || key.Text.Contains(rule.Pattern, System.StringComparison.Ordinal)

    let onHost (host: string) (rule: Rule) =
        host.Contains(rule.Pattern, System.StringComparison.Ordinal)

    let passes = if hosts.IsEmpty then [ None ] else List.map Some hosts

    let matched =
        passes
        |> List.tryPick (fun host ->
            config.Rules
            |> List.tryPick (fun rule ->
                if onKey rule then
                    Some(rule.Target, AddressRule rule)
                else
                    match host with
                    | Some h when onHost h rule -> Some(rule.Target, MxRule(rule, h))
                    | _ -> None))

    match matched, config.Default with
    | Some found, _ -> found
    | None, Some target -> target, DefaultRule
    | None, None -> ToGroup AllServersName, NoRuleMatched
