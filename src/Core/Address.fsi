/// Keys as Postfix sends them, after %XX decoding: lower-cased, split at the last '@'.
module Router.Core.Address

/// A lookup key, decoded and lower-cased. A struct: making one allocates nothing beyond
/// the lower-cased text (and not even that when the key was lower case already).
[<Struct>]
type Key =
    {

      /// The whole key, lower-cased (e.g. "john@example.com").
      Text: string

      /// Where the domain starts in Text: after the last '@'; 0 when there is no '@'.
      DomainStart: int

      /// True when an MX query makes sense: a syntactically valid host name
      /// (not "*", not an address literal like "[192.0.2.1]", not empty).
      Queryable: bool

      /// The key is "*": Postfix's wildcard probe, always "not found".
      IsWildcard: bool
    }

    /// The part after the last '@'; the whole key when there is no '@'. A new string
    /// (the lookup path reads `DomainSpan` instead).
    member Domain: string

    /// The domain, without a copy.
    member DomainSpan: System.ReadOnlySpan<char>

/// A syntactically valid DNS host name: labels of letters, digits, '-', '_'
/// (non-ASCII letters allowed: IDN is converted by the shell), 1..63 bytes each,
/// at most 253 in all, an optional trailing dot.
val isHostName: domain: System.ReadOnlySpan<char> -> bool

/// Valid UTF-8 as one lower-cased string (invariant culture), through a pooled buffer: the
/// string is the only allocation. Both protocols read their keys with it.
val lowerUtf8: utf8: System.ReadOnlySpan<byte> -> string

/// Builds a Key from key text already decoded and lower-cased (TcpTable.parse gives it so).
val ofLowered: text: string -> Key

/// Builds a Key from the decoded key text (already %XX-decoded, any case).
val ofText: decoded: string -> Key

/// Checks a recipient_delimiter value: any characters but '@', white space and control
/// characters; "" turns extensions off. Lower-cased, as the keys are.
val parseDelimiters: text: string -> Result<string, string>

/// The key without its address extension, as Postfix strips it: the extension runs from
/// the first of the delimiter characters in the local part (before the last '@') up to
/// that '@'. `key` itself (the same string, nothing allocated) when there is no extension:
/// no delimiters, no '@', no delimiter in the local part, one at its very start (the
/// local part would be empty), or a local part Postfix never splits (postmaster,
/// mailer-daemon, double-bounce; owner-X and X-request when '-' is a delimiter).
val baseAddress: delimiters: string -> key: string -> string
