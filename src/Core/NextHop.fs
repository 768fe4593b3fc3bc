module Router.Core.NextHop

open System

type Host =
    | Literal of ip: string
    | Name of name: string
    | MxName of name: string

type Endpoint = { Host: Host; Port: int; Lmtp: bool }

type Target =
    | Probeable of Endpoint
    | NotProbeable of reason: string

let transport (address: string) =
    match address.IndexOf ':' with
    | -1 -> address
    | i -> address.Substring(0, i)

let hop (address: string) =
    match address.IndexOf ':' with
    | -1 -> ""
    | i -> address.Substring(i + 1)

let defaultPort (transport: string) = if transport = "lmtp" then 24 else 25

/// Postfix's transports that deliver without connecting to the next hop.
let private localTransports = set [ "error"; "retry"; "discard"; "local"; "virtual" ]

let private isDigit (c: char) = c >= '0' && c <= '9'

let private allDigits (s: string) = s.Length > 0 && Seq.forall isDigit s

/// Four decimal numbers 0..255 of one to three digits, between dots.
let private isIPv4 (s: string) =
    let parts = s.Split '.'

    parts.Length = 4
    && parts |> Array.forall (fun p -> p.Length >= 1 && p.Length <= 3 && allDigits p && int p <= 255)

/// An IPv6 address as text: hex digits, ':' and '.' (an embedded IPv4 tail) only, so no
/// scope id, and what System.Net reads as IPv6.
let private isIPv6 (s: string) =
    s.Contains ':'
    && s |> Seq.forall (fun c -> Uri.IsHexDigit c || c = ':' || c = '.')
    && (match Net.IPAddress.TryParse s with
        | true, NonNull a -> a.AddressFamily = Net.Sockets.AddressFamily.InterNetworkV6
        | _ -> false)

/// A host name as Postfix takes it: a DNS name that is not all digits and dots.
let private isName (s: string) =
    Address.isHostName (s.AsSpan())
    && s |> Seq.exists (fun c -> not (isDigit c) && c <> '.')

let private name (s: string) = s.TrimEnd('.').ToLowerInvariant()

let private port (lmtp: bool) (text: string) : Result<int, string> =
    match text with
    | "" -> Ok(if lmtp then 24 else 25)
    | "smtp" -> Ok 25
    | "submission" -> Ok 587
    | "lmtp" -> Ok 24
    | "submissions"
    | "smtps" -> Ok 465
    | t when allDigits t ->
        let trimmed = t.TrimStart '0'

        if trimmed.Length >= 1 && trimmed.Length <= 5 && int trimmed <= 65535 then
            Ok(int trimmed)
        else
            Error("port " + t + " is outside 1..65535")
    | t when isDigit t[0] -> Error("bad port " + t)
    | t -> Error("unknown port name " + t)

let private endpoint (lmtp: bool) (host: Host) (portText: string) : Target =
    match port lmtp portText with
    | Error e -> NotProbeable e
    | Ok 465 -> NotProbeable "port 465 is implicit TLS (submissions); the probe speaks plain SMTP"
    | Ok p -> Probeable { Host = host; Port = p; Lmtp = lmtp }

let private bracketed (lmtp: bool) (h: string) : Target =
    // [host], [host]:, [host]:port, [ipv6:addr]...
    match h.IndexOf ']' with
    | -1 -> NotProbeable "missing ] in the next hop"
    | close ->
        let inside = h.Substring(1, close - 1)
        let after = h.Substring(close + 1)

        if after <> "" && after[0] <> ':' then
            NotProbeable "text after ] in the next hop"
        else
            let portText = if after = "" then "" else after.Substring 1
            let v6 = inside.StartsWith("ipv6:", StringComparison.OrdinalIgnoreCase)
            let addr = if v6 then inside.Substring 5 else inside

            if v6 then
                if isIPv6 addr then
                    endpoint lmtp (Literal addr) portText
                else
                    NotProbeable "malformed IPv6 address"
            elif isIPv4 addr || isIPv6 addr then
                endpoint lmtp (Literal addr) portText
            elif isName addr then
                endpoint lmtp (Name(name addr)) portText
            else
                NotProbeable "not a host name or IP address"

let private unbracketed (lmtp: bool) (h: string) : Target =
    // host, host:, host:port: split at the last ':', as Postfix does.
    let host, portText =
        match h.LastIndexOf ':' with
        | -1 -> h, ""
        | i -> h.Substring(0, i), h.Substring(i + 1)

    if host = "" then NotProbeable "no host in the next hop"
    elif isIPv4 host then endpoint lmtp (Literal host) portText
    elif isName host then endpoint lmtp (if lmtp then Name(name host) else MxName(name host)) portText
    else NotProbeable "not a host name or IP address"

let parse (address: string) : Target =
    let t = transport address
    let lmtp = t = "lmtp"
    let h = hop address

    let h =
        if h.StartsWith("inet:", StringComparison.Ordinal) then h.Substring 5 else h

    if localTransports.Contains t then
        NotProbeable("the " + t + " transport connects to no next hop")
    elif h = "" then
        NotProbeable "no next hop"
    elif h.StartsWith("unix:", StringComparison.Ordinal) then
        NotProbeable "a UNIX-domain socket"
    elif h |> Seq.exists (fun c -> c = ',' || Char.IsWhiteSpace c) then
        NotProbeable "a list of next hops"
    elif h[0] = '[' then
        bracketed lmtp h
    else
        unbracketed lmtp h
