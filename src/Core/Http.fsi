/// The little HTTP/1.1 that the metrics endpoint speaks: read one request head, answer
/// GET or HEAD of /metrics, / (the status page) and /status.json, 404 for any other path, 405 for any other method, 400 for what
/// is not HTTP/1.x, and close. Parsing is here; the socket loop is the shell's.
module Router.Core.Http

/// The longest request head accepted (request line and headers); a longer one gets 431.
[<Literal>]
val MaxHead: int = 8192

type Request =

    /// GET or HEAD (HeadOnly) of /metrics, with or without a query string.
    | Metrics of headOnly: bool
    /// GET or HEAD of / (or /index.html): the status page.
    | HtmlStatus of headOnly: bool
    /// GET or HEAD of /status.json.
    | JsonStatus of headOnly: bool

    /// GET or HEAD of any other path.
    | NotFound of headOnly: bool

    /// A well-formed request with another method.
    | MethodNotAllowed

    /// Not an HTTP/1.x request line.
    | BadRequest

    /// The head did not end within MaxHead bytes.
    | HeadTooLarge

/// Where the head ends: the index just past the blank line (CRLF CRLF, or LF LF from a
/// lenient client), or -1 while it is incomplete.
val headEnd: bytes: System.ReadOnlySpan<byte> -> int

/// Reads the request line of a complete head.
val parse: head: string -> Request

/// A response: status line, headers and body, always `Connection: close`.
type Response =
    {
      Status: int
      Reason: string
      ContentType: string
      Body: string
      HeadOnly: bool
    }

/// What the endpoint serves; each is called only for its own path.
type Pages =
    {
      /// The Prometheus text.
      Metrics: unit -> string
      /// The status page's HTML.
      Html: unit -> string
      /// The status page's figures as JSON.
      Json: unit -> string
    }

/// The answer to a request.
val respond: request: Request -> pages: Pages -> Response

/// The bytes to send: headers with the body's length in bytes, then the body unless HEAD.
val encode: r: Response -> byte array
