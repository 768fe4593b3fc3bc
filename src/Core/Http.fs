/// The little HTTP/1.1 that the metrics endpoint speaks: read one request head, answer
/// GET or HEAD of /metrics, / (the status page) and /status.json, 404 for any other path, 405 for any other method, 400 for what
/// is not HTTP/1.x, and close. Parsing is here; the socket loop is the shell's.
module Router.Core.Http

open System
open System.Text

/// The longest request head accepted (request line and headers); a longer one gets 431.
[<Literal>]
let MaxHead = 8192

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
let headEnd (bytes: ReadOnlySpan<byte>) : int =
    let mutable found = -1
    let mutable i = 0

    while found < 0 && i < bytes.Length do
        if bytes[i] = byte '\n' then
            if i + 1 < bytes.Length && bytes[i + 1] = byte '\n' then
                found <- i + 2
            elif i + 2 < bytes.Length && bytes[i + 1] = byte '\r' && bytes[i + 2] = byte '\n' then
                found <- i + 3

        i <- i + 1

    found

let private isToken (s: string) =
    s.Length > 0
    && s
       |> Seq.forall (fun c -> (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || "!#$%&'*+-.^_`|~".IndexOf c >= 0)

/// Reads the request line of a complete head.
let parse (head: string) : Request =
    let lineEnd = head.IndexOf '\n'
    let line = (if lineEnd >= 0 then head.Substring(0, lineEnd) else head).TrimEnd('\r')
    let parts = line.Split(' ')

    if parts.Length <> 3 || not (parts[2] = "HTTP/1.1" || parts[2] = "HTTP/1.0") || not (isToken parts[0]) then
        BadRequest
    elif parts[1].Length = 0 || (parts[1][0] <> '/' && parts[1] <> "*") then
        BadRequest
    else
        let target = parts[1]
        let query = target.IndexOf '?'
        let path = if query >= 0 then target.Substring(0, query) else target

        match parts[0] with
        | "GET"
        | "HEAD" ->
            let headOnly = parts[0] = "HEAD"
            match path with
            | "/metrics" -> Metrics headOnly
            | "/"
            | "/index.html" -> HtmlStatus headOnly
            | "/status.json" -> JsonStatus headOnly
            | _ -> NotFound headOnly
        | _ -> MethodNotAllowed

/// A response: status line, headers and body, always `Connection: close`.
type Response =
    { Status: int
      Reason: string
      ContentType: string
      Body: string
      HeadOnly: bool }

let private plain status reason body headOnly =
    { Status = status
      Reason = reason
      ContentType = "text/plain; charset=utf-8"
      Body = body
      HeadOnly = headOnly }

type Pages =
    { Metrics: unit -> string
      Html: unit -> string
      Json: unit -> string }

let private ok contentType body headOnly =
    { Status = 200
      Reason = "OK"
      ContentType = contentType
      Body = body
      HeadOnly = headOnly }

/// The answer to a request.
let respond (request: Request) (pages: Pages) : Response =
    match request with
    | Metrics headOnly -> ok Exposition.ContentType (pages.Metrics()) headOnly
    | HtmlStatus headOnly -> ok StatusPage.ContentType (pages.Html()) headOnly
    | JsonStatus headOnly -> ok Status.JsonContentType (pages.Json()) headOnly
    | NotFound headOnly ->
        plain 404 "Not Found" "not found: the status page is at /, its figures at /status.json, the metrics at /metrics\n" headOnly
    | MethodNotAllowed -> plain 405 "Method Not Allowed" "only GET and HEAD\n" false
    | BadRequest -> plain 400 "Bad Request" "bad request\n" false
    | HeadTooLarge -> plain 431 "Request Header Fields Too Large" "request head too large\n" false

/// The bytes to send: headers with the body's length in bytes, then the body unless HEAD.
let encode (r: Response) : byte array =
    let body = Encoding.UTF8.GetBytes r.Body

    let head =
        "HTTP/1.1 " + string r.Status + " " + r.Reason + "\r\n"
        + "Content-Type: " + r.ContentType + "\r\n"
        + "Content-Length: " + string body.Length + "\r\n"
        + (if r.Status = 405 then "Allow: GET, HEAD\r\n" else "")
        + "Cache-Control: no-store\r\n"
        + "Connection: close\r\n\r\n"

    let headBytes = Encoding.ASCII.GetBytes head
    if r.HeadOnly then headBytes else Array.append headBytes body
