/// Keys as Postfix sends them, after %XX decoding: lower-cased, split at the last '@'.
module Router.Core.Address

open System

/// A lookup key, decoded and lower-cased. A struct: making one allocates nothing beyond
/// the lower-cased text (and not even that when the key was lower case already).
[<Struct>]
type Key =
    { /// The whole key, lower-cased (e.g. "john@example.com").
      Text: string
      /// Where the domain starts in Text: after the last '@'; 0 when there is no '@'.
      DomainStart: int
      /// True when an MX query makes sense: a syntactically valid host name
      /// (not "*", not an address literal like "[192.0.2.1]", not empty).
      Queryable: bool
      /// The key is "*": Postfix's wildcard probe, always "not found".
      IsWildcard: bool }

    /// The part after the last '@'; the whole key when there is no '@'. A new string
    /// (the lookup path reads `DomainSpan` instead).
    member key.Domain = key.Text.Substring key.DomainStart

    /// The domain, without a copy.
    member key.DomainSpan = key.Text.AsSpan key.DomainStart

/// A syntactically valid DNS host name: labels of letters, digits, '-', '_'
/// (non-ASCII letters allowed: IDN is converted by the shell), 1..63 bytes each,
/// at most 253 in all, an optional trailing dot.
let isHostName (domain: ReadOnlySpan<char>) : bool =
    let name =
        if domain.Length > 0 && domain[domain.Length - 1] = '.' then
            domain.Slice(0, domain.Length - 1)
        else
            domain

    if name.Length = 0 || Text.Encoding.UTF8.GetByteCount name > 253 then
        false
    else
        // One pass over the labels: characters as they come, each label's length at its end.
        let mutable ok = true
        let mutable start = 0
        let mutable i = 0

        while ok && i <= name.Length do
            if i = name.Length || name[i] = '.' then
                let bytes = Text.Encoding.UTF8.GetByteCount(name.Slice(start, i - start))
                ok <- bytes >= 1 && bytes <= 63
                start <- i + 1
            else
                let c = name[i]
                ok <- Char.IsLetterOrDigit c || c = '-' || c = '_'

            i <- i + 1

        ok

/// Builds a Key from key text already decoded and lower-cased (TcpTable.parse gives it so).
let lowerUtf8 (utf8: ReadOnlySpan<byte>) : string =
    // UTF-16 never takes more chars than UTF-8 takes bytes: the decoded text, then its lower case.
    let chars = Buffers.ArrayPool<char>.Shared.Rent(2 * utf8.Length)

    try
        let n = Text.Encoding.UTF8.GetChars(utf8, Span(chars, 0, utf8.Length))
        let lower = Span(chars, utf8.Length, n)
        MemoryExtensions.ToLowerInvariant(ReadOnlySpan(chars, 0, n), lower) |> ignore
        String(Span<char>.op_Implicit lower)
    finally
        Buffers.ArrayPool<char>.Shared.Return chars

let ofLowered (text: string) : Key =
    let start = text.LastIndexOf '@' + 1
    let domain = text.AsSpan start
    let wildcard = (text = "*")

    { Text = text
      DomainStart = start
      Queryable = not wildcard && not (domain.Length > 0 && domain[0] = '[') && isHostName domain
      IsWildcard = wildcard }

/// Builds a Key from the decoded key text (already %XX-decoded, any case).
let ofText (decoded: string) : Key = ofLowered (decoded.ToLowerInvariant())

// Address extensions (Postfix's recipient_delimiter).

/// Checks a recipient_delimiter value: any characters but '@', white space and control
/// characters; "" turns extensions off. Lower-cased, as the keys are.
let parseDelimiters (text: string) : Result<string, string> =
    if text |> Seq.exists (fun c -> c = '@' || Char.IsWhiteSpace c || Char.IsControl c) then
        Error(
            "not a set of delimiter characters such as + or +- (no @, white space or control characters): \""
            + text
            + "\""
        )
    else
        Ok(text.ToLowerInvariant())

/// Local parts Postfix never splits (split_addr.c): postmaster, mailer-daemon,
/// double-bounce; with '-' among the delimiters, owner-foo and foo-request too.
let private unsplittable (localpart: ReadOnlySpan<char>) (delimiters: string) : bool =
    localpart.Equals("postmaster".AsSpan(), StringComparison.OrdinalIgnoreCase)
    || localpart.Equals("mailer-daemon".AsSpan(), StringComparison.OrdinalIgnoreCase)
    || localpart.Equals("double-bounce".AsSpan(), StringComparison.OrdinalIgnoreCase)
    || (delimiters.IndexOf '-' >= 0
        && (localpart.StartsWith("owner-".AsSpan(), StringComparison.OrdinalIgnoreCase)
            || (localpart.Length > 8
                && localpart.EndsWith("-request".AsSpan(), StringComparison.OrdinalIgnoreCase))))

/// The key without its address extension, as Postfix strips it: the extension runs from
/// the first of the delimiter characters in the local part (before the last '@') up to
/// that '@'. `key` itself (the same string, nothing allocated) when there is no extension:
/// no delimiters, no '@', no delimiter in the local part, one at its very start (the
/// local part would be empty), or a local part Postfix never splits.
let baseAddress (delimiters: string) (key: string) : string =
    if delimiters.Length = 0 then
        key
    else
        let at = key.LastIndexOf '@'

        if at <= 0 then
            key
        else
            let localpart = key.AsSpan(0, at)
            let cut = MemoryExtensions.IndexOfAny(localpart, delimiters.AsSpan())

            if cut <= 0 || unsplittable localpart delimiters then
                key
            else
                String.Concat(localpart.Slice(0, cut), key.AsSpan at)
