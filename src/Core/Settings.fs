module Router.Core.Settings

open System
open System.Globalization
open System.Net
open System.Net.Sockets
open Router.Core.ConfigTree
open Router.Core.Diagnostics

type DnsFailurePolicy =
    | DeferMail
    | UseDefault

type Value<'T> =
    { Read: string -> Result<'T, string>
      Expected: string }

/// Digits only (a sign or a space is no number here), at most ten of them.
let private digits (text: string) : int64 option =
    if text.Length = 0 || text.Length > 10 || not (text |> Seq.forall Char.IsAsciiDigit) then
        None
    else
        match Int64.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture) with
        | true, v -> Some v
        | _ -> None

let private integer (lo: int64) (hi: int64) (noun: string) (expected: string) : Value<int> =
    { Read =
        fun text ->
            match digits text with
            | Some v when v >= lo && v <= hi -> Ok(int v)
            | _ -> Error("not " + noun + ": " + quote text)
      Expected = expected }

let port = integer 1L 65535L "a port number" "a port number from 1 to 65535"
let seconds = integer 0L (int64 Int32.MaxValue) "a number of seconds" "a whole number, 0 or more"
let count = integer 0L (int64 Int32.MaxValue) "a count" "a whole number, 0 or more"
let limit = integer 1L (int64 Int32.MaxValue) "a whole number of 1 or more" "a whole number, 1 or more"
let dnsTimeout = integer 1L 300L "a number of seconds from 1 to 300" "a number of seconds from 1 to 300"
let dnsRetries = integer 0L 10L "a count from 0 to 10" "a whole number from 0 to 10"
let failover = integer 0L 4L "a count from 0 to 4" "a whole number from 0 to 4"
let healthTimeout = integer 1L 300L "a number of seconds from 1 to 300" "a number of seconds from 1 to 300"
let probes = integer 1L 100L "a count from 1 to 100" "a whole number from 1 to 100"

let tryParseIp (text: string) : IPAddress option =
    let dotted () =
        let mutable dots = 0
        let mutable ok = true

        for c in text do
            if c = '.' then dots <- dots + 1
            elif not (Char.IsAsciiDigit c) then ok <- false

        ok && dots = 3

    if text.Length = 0 || (not (text.Contains ':') && not (dotted ())) then
        None
    else
        let mutable ip: IPAddress | null = null

        match IPAddress.TryParse(text, &ip) with
        | true ->
            match ip with
            | null -> None
            | ip -> Some ip
        | false -> None

let private bareHost (text: string) : string option =
    if text.Equals("localhost", StringComparison.OrdinalIgnoreCase) then
        Some "127.0.0.1"
    else
        let bare =
            if text.Length > 2 && text[0] = '[' && text[text.Length - 1] = ']' then
                text.Substring(1, text.Length - 2)
            else
                text

        tryParseIp bare |> Option.map (fun _ -> bare)

let host =
    { Read =
        fun text ->
            match bareHost text with
            | Some bare -> Ok bare
            | None -> Error("not an IP address: " + quote text)
      Expected = "an IP address such as 127.0.0.1 or ::1" }

let private portOf (text: string) =
    match digits text with
    | Some p when p >= 1L && p <= 65535L -> Some(int p)
    | _ -> None

let listen =
    let parse (text: string) : IPEndPoint option =
        let split =
            if text.StartsWith '[' then
                let close = text.IndexOf ']'

                if close < 0 || close + 1 >= text.Length || text[close + 1] <> ':' then
                    None
                else
                    Some(text.Substring(0, close + 1), text.Substring(close + 2))
            else
                let colon = text.LastIndexOf ':'

                if colon <= 0 || text.IndexOf ':' <> colon then
                    None
                else
                    Some(text.Substring(0, colon), text.Substring(colon + 1))

        match split with
        | Some(h, p) ->
            match bareHost h, portOf p with
            | Some bare, Some port -> Some(IPEndPoint(IPAddress.Parse bare, port))
            | _ -> None
        | None -> None

    { Read =
        fun text ->
            match parse text with
            | Some endpoint -> Ok endpoint
            | None -> Error("not an ADDR:PORT: " + quote text)
      Expected = "an ADDR:PORT such as 127.0.0.1:9100" }

let dnsServer =
    let parse (text: string) : IPEndPoint option =
        if text.StartsWith '[' then
            let close = text.IndexOf ']'

            if close < 0 then
                None
            else
                let rest = text.Substring(close + 1)

                let port =
                    if rest.Length = 0 then Some 53
                    elif rest[0] = ':' then portOf (rest.Substring 1)
                    else None

                match tryParseIp (text.Substring(1, close - 1)), port with
                | Some ip, Some p when ip.AddressFamily = AddressFamily.InterNetworkV6 -> Some(IPEndPoint(ip, p))
                | _ -> None
        else
            let colons = text |> Seq.filter (fun c -> c = ':') |> Seq.length

            if colons = 1 then
                let colon = text.IndexOf ':'

                match tryParseIp (text.Substring(0, colon)), portOf (text.Substring(colon + 1)) with
                | Some ip, Some p when ip.AddressFamily = AddressFamily.InterNetwork -> Some(IPEndPoint(ip, p))
                | _ -> None
            else
                tryParseIp text |> Option.map (fun ip -> IPEndPoint(ip, 53))

    { Read =
        fun text ->
            match parse text with
            | Some endpoint -> Ok endpoint
            | None -> Error("not an address[:port]: " + quote text)
      Expected = "an address[:port] such as 127.0.0.1:53" }

let network =
    { Read = Allow.parse
      Expected = "a network such as 192.0.2.0/24 or 2001:db8::/32" }

let socketmapName =
    { Read =
        fun text ->
            if text.Length > 0 && text |> Seq.forall (fun c -> c <> ':' && not (Char.IsWhiteSpace c) && not (Char.IsControl c)) then
                Ok text
            else
                Error("not a socketmap name (no spaces or colons): " + quote text)
      Expected = "a map name without spaces or colons" }

let dnsFailurePolicy =
    { Read =
        fun text ->
            match text.Trim() with
            | "defer" -> Ok DeferMail
            | "default" -> Ok UseDefault
            | _ -> Error("not defer or default: " + quote text)
      Expected = "defer or default" }

let recipientDelimiter =
    { Read = Address.parseDelimiters
      Expected = "delimiter characters such as + or +- (no @, white space or control characters)" }

type Settings =
    { LogFile: string option
      Port: int option
      Host: string option
      CacheTtl: int option
      Timeout: int option
      DnsServers: IPEndPoint list
      RepeatWindow: int option
      SocketmapPort: int option
      SocketmapName: string option
      Metrics: IPEndPoint option
      Allow: Allow.Network list
      MaxConnections: int option
      CacheSize: int option
      DnsTimeout: int option
      DnsRetries: int option
      StaleLimit: int option
      DnsFailurePolicy: DnsFailurePolicy option
      /// recipient_delimiter: the characters that start an address extension ("" = off).
      RecipientDelimiter: string option
      /// failover: backups after each group pick, 0..4.
      Failover: int option
      /// health_interval: seconds between two probes of a relay; 0 = off.
      HealthInterval: int option
      /// health_timeout: seconds a probe may take, 1..300.
      HealthTimeout: int option
      /// health_fall: failed probes in a row that mark a relay down.
      HealthFall: int option
      /// health_rise: good probes in a row that mark a relay up.
      HealthRise: int option }

let empty =
    { LogFile = None
      Port = None
      Host = None
      CacheTtl = None
      Timeout = None
      DnsServers = []
      RepeatWindow = None
      SocketmapPort = None
      SocketmapName = None
      Metrics = None
      Allow = []
      MaxConnections = None
      CacheSize = None
      DnsTimeout = None
      DnsRetries = None
      StaleLimit = None
      DnsFailurePolicy = None
      RecipientDelimiter = None
      Failover = None
      HealthInterval = None
      HealthTimeout = None
      HealthFall = None
      HealthRise = None }

/// The position of each key's value (the first, for duplicates).
let private positions (section: Node) : Map<string, Pos> =
    match section with
    | Mapping(items, _) ->
        items
        |> List.rev
        |> List.fold
            (fun positions (key, value) ->
                match key with
                | Scalar(text, _, keyPos) -> Map.add text (if isNull value then keyPos else posOf value) positions
                | _ -> positions)
            Map.empty
    | _ -> Map.empty

let read (sink: Sink) (section: Node) : Settings * Map<string, Pos> =
    let items =
        match section with
        | Mapping _ -> entries sink "config" section
        | _ when isNull section -> []
        | _ ->
            sink.Error(posOf section, "config must be a mapping of option: value")
            []

    let text key (node: Node) =
        match node with
        | _ when isNull node -> None
        | Scalar(t, _, _) -> Some t
        | _ ->
            sink.Error(posOf node, "config." + key + " must be text")
            None

    /// One value of a kind; a YAML null is "not set".
    let one (kind: Value<'T>) key (node: Node) : 'T option =
        match node with
        | _ when isNull node -> None
        | Scalar(t, _, _) ->
            match kind.Read(t.Trim()) with
            | Ok v -> Some v
            | Error why ->
                // A reader that says more than "not a ..." (a network's host bits) is quoted.
                let detail = if why.StartsWith "not " then "" else ": " + why
                sink.Error(posOf node, "config." + key + " must be " + kind.Expected + ", not " + shown node + detail)
                None
        | _ ->
            sink.Error(posOf node, "config." + key + " must be " + kind.Expected + ", not " + shown node)
            None

    /// A list of values of a kind, or one value alone.
    let many (kind: Value<'T>) key (node: Node) : 'T list =
        match node with
        | Sequence(items, _) -> items |> List.choose (one kind key)
        | _ -> one kind key node |> Option.toList

    let mutable s = empty

    for key, pos, value in items do
        match key with
        | "log_file" -> s <- { s with LogFile = text key value |> Option.filter (fun t -> t.Trim() <> "") }
        | "port" -> s <- { s with Port = one port key value }
        | "host" -> s <- { s with Host = one host key value }
        | "cache_ttl" -> s <- { s with CacheTtl = one seconds key value }
        | "timeout" -> s <- { s with Timeout = one seconds key value }
        | "dns_server" -> s <- { s with DnsServers = many dnsServer key value }
        | "repeat_window" -> s <- { s with RepeatWindow = one seconds key value }
        | "socketmap_port" -> s <- { s with SocketmapPort = one port key value }
        | "socketmap_name" -> s <- { s with SocketmapName = one socketmapName key value }
        | "metrics" -> s <- { s with Metrics = one listen key value }
        | "allow" -> s <- { s with Allow = many network key value }
        | "max_connections" -> s <- { s with MaxConnections = one limit key value }
        | "cache_size" -> s <- { s with CacheSize = one count key value }
        | "dns_timeout" -> s <- { s with DnsTimeout = one dnsTimeout key value }
        | "dns_retries" -> s <- { s with DnsRetries = one dnsRetries key value }
        | "stale_limit" -> s <- { s with StaleLimit = one seconds key value }
        | "dns_failure_policy" -> s <- { s with DnsFailurePolicy = one dnsFailurePolicy key value }
        | "recipient_delimiter" ->
            // An empty value turns extensions off, as in Postfix.
            s <-
                { s with
                    RecipientDelimiter =
                        match value with
                        | Scalar(t, false, _) when t.Trim() = "" -> Some ""
                        | _ -> one recipientDelimiter key value }
        | "failover" -> s <- { s with Failover = one failover key value }
        | "health_interval" -> s <- { s with HealthInterval = one seconds key value }
        | "health_timeout" -> s <- { s with HealthTimeout = one healthTimeout key value }
        | "health_fall" -> s <- { s with HealthFall = one probes key value }
        | "health_rise" -> s <- { s with HealthRise = one probes key value }
        | _ -> sink.Warn(pos, "unknown key " + quote key + " in config (ignored)")

    s, positions section
