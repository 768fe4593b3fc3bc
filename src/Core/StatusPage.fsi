/// GET /: the status page for a person, rendered from a Status.Snapshot. One document,
/// inline CSS, no script, no outside assets, refreshing itself every 10 s. It is also
/// well-formed XML (every element closed, attributes quoted, no named entities but the
/// XML ones), so tools and tests can read it with any XML parser.
module Router.Core.StatusPage

/// HTML text or attribute value: & < > " ' as character references; control characters
/// (which HTML and XML reject) and lone surrogates become U+FFFD.
val escape: text: string -> string

/// The Content-Type of the page.
[<Literal>]
val ContentType: string = "text/html; charset=utf-8"

/// The page's seconds between refreshes.
[<Literal>]
val RefreshSeconds: int = 10

/// The whole page.
val render: s: Status.Snapshot -> string
