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
/// A syntactically valid DNS host name: labels of letters, digits, '-', '_'
/// (non-ASCII letters allowed: IDN is converted by the shell), 1..63 bytes each,
/// at most 253 in all, an optional trailing dot.
let isHostName (domain: string) : bool =
    let name =
        if domain.EndsWith(".", System.StringComparison.Ordinal) then
            domain.Substring(0, domain.Length - 1)
        else
            domain

    let validChar (c: char) =
        System.Char.IsLetterOrDigit c || c = '-' || c = '_'

    let validLabel (label: string) =
        let bytes = System.Text.Encoding.UTF8.GetByteCount label
        bytes >= 1 && bytes <= 63 && Seq.forall validChar label

    name.Length > 0
    && System.Text.Encoding.UTF8.GetByteCount name <= 253
    && name.Split('.') |> Array.forall validLabel

/// Builds a Key from the decoded key text (already %XX-decoded, any case).
let ofText (decoded: string) : Key =
    let text = decoded.ToLowerInvariant()
    let at = text.LastIndexOf '@'
    let domain = if at < 0 then text else text.Substring(at + 1)
    let wildcard = (text = "*")

    { Text = text
      Domain = domain
      Queryable = not wildcard && not (domain.StartsWith("[", System.StringComparison.Ordinal)) && isHostName domain
      IsWildcard = wildcard }
