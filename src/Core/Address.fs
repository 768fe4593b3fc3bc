/// Keys as Postfix sends them, after %XX decoding: lower-cased, split at the last '@'.
module Router.Core.Address

/// A lookup key, decoded and lower-cased.
type Key =
    { /// The whole key, lower-cased (e.g. "john@example.com").
      Text: string
      /// The part after the last '@'; the whole key when there is no '@'.
      Domain: string
      /// True when an MX query makes sense: a syntactically valid host name
      /// (not "*", not an address literal like "[192.0.2.1]", not empty).
      Queryable: bool
      /// The key is "*": Postfix's wildcard probe, always "not found".
      IsWildcard: bool }

/// Builds a Key from the decoded key text (already %XX-decoded, any case).
let ofText (decoded: string) : Key = failwith "todo"

/// A syntactically valid DNS host name: labels of letters, digits, '-', '_'
/// (non-ASCII letters allowed: IDN is converted by the shell), 1..63 bytes each,
/// at most 253 in all, an optional trailing dot.
let isHostName (domain: string) : bool = failwith "todo"
