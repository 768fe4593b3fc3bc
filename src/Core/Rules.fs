/// Rule matching, the Python tool's loop made deterministic.
module Router.Core.Rules

open Router.Core.Config

/// An MX record as DNS gave it.
type Mx = { Preference: int; Host: string }

/// Host names sorted by preference, then name; lower-cased, trailing dot removed,
/// duplicates removed; the null MX "." (RFC 7505) removed.
let sortHosts (records: Mx list) : string list = failwith "todo"

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
    failwith "todo"
