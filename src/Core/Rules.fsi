/// Rule matching, the Python tool's loop made deterministic.
module Router.Core.Rules

open Router.Core.Model

/// An MX record as DNS gave it.
type Mx = { Preference: int; Host: string }

/// MX host names in the order the rules try them: by preference, then name; lower-cased,
/// trailing dot removed, duplicates removed; the null MX "." (RFC 7505) removed. Only
/// `sortHosts` makes one, once per DNS answer: the shell caches it, so a lookup walks a
/// ready array.
[<Sealed>]
type Hosts

/// No MX hosts: one pass of the rules with no host.
val noHosts: Hosts

/// The hosts of a DNS answer. A name that DNS gave already lower-cased and without the
/// trailing dot stays the same string (the shell shares one string per host name).
val sortHosts: records: Mx list -> Hosts

/// The host names, in order.
val hostNames: hosts: Hosts -> string list

/// Why a target was chosen. A struct: deciding allocates nothing.
[<Struct>]
type Reason =
    | AddressRule of rule: Rule
    | MxRule of mxRule: Rule * host: string
    | DefaultRule
    | NoRuleMatched

/// The rules of a config made ready for lookups, once per config (Lookup.plan makes it):
/// the rules in file order, one Aho–Corasick automaton over their patterns and a table of
/// the patterns. Memory is proportional to the patterns' total length.
[<Sealed>]
type Matcher =
    /// The rule at an index `firstMatchWithBase` gave.
    member Item: index: int -> Rule with get

val matcher: rules: Rule array -> Matcher

/// For each host in order (or one pass with no host when there are none) try every rule
/// in file order: it matches when its pattern equals the key, is a substring of the key or
/// of the host (a MxHostOnly rule: of the host only). With an address extension removed
/// (`baseKey` is not `key` itself, see Address.baseAddress), a rule also matches when its
/// pattern equals `baseKey`; substrings are still looked for in the whole key. The first
/// match: its index in the rules and why; -1 and NoRuleMatched when none matches. The
/// cost is one walk of the key and of each host tried, whatever the number of rules, and
/// nothing is allocated.
val firstMatchWithBase: matcher: Matcher -> key: string -> baseKey: string -> hosts: Hosts -> struct (int * Reason)

/// `firstMatchWithBase` with no extension removed.
val firstMatch: matcher: Matcher -> key: string -> hosts: Hosts -> struct (int * Reason)
