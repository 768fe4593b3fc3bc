/// The configuration: the YAML tree as the shell read it (with positions), the validated
/// model, and validation from one to the other. Errors are values.
module Router.Core.Config

open System

/// A position in the config file, 1-based.
type Pos = { Line: int; Column: int }

/// The YAML document as a tree, in file order, duplicates kept. The shell builds it with
/// YamlDotNet; everything else (shape, names, types, duplicates) is checked here.
type Node =
    /// A scalar; `Plain` is false for quoted scalars. A YAML null (`~`, `null`, nothing)
    /// is a plain scalar whose text is "" or "~" or "null".
    | Scalar of text: string * plain: bool * pos: Pos
    | Sequence of items: Node list * pos: Pos
    | Mapping of entries: (Node * Node) list * pos: Pos

type Severity =
    | Error
    | Warning

type Diagnostic =
    { File: string
      Pos: Pos
      Severity: Severity
      Message: string }

/// "FILE:LINE:COLUMN: error: MESSAGE" (or "warning:").
let render (d: Diagnostic) : string =
    let severity =
        match d.Severity with
        | Error -> "error"
        | Warning -> "warning"

    d.File + ":" + string d.Pos.Line + ":" + string d.Pos.Column + ": " + severity + ": " + d.Message

/// A relay, as listed under servers.names.
type Relay =
    { Name: string
      /// transport:nexthop, e.g. relay:[mx1.example.com]:25
      Address: string
      /// perc, 0..100
      Weight: int
      /// position under servers.names, 0-based
      Index: int }

/// A weighted group of relays; "All Servers" is the implicit group of every relay.
type Group =
    { Name: string
      Members: Relay array
      /// One WRR cycle: indices into Members, length = sum of weights. Built by Wrr.schedule.
      Schedule: int array }

type Target =
    | ToGroup of name: string
    | ToServer of name: string
    | NoResult

/// What a rule's pattern is compared with.
type Scope =
    /// The YAML format's rules: the key (equal or a substring) and every MX host.
    | AnyKeyOrHost
    /// postfix-mx-pattern-router's lines: the MX hosts only, never the address.
    | MxHostOnly

type Rule =
    { Pattern: string
      Target: Target
      Pos: Pos
      Scope: Scope }

/// What a DNS failure does when no cached answer covers it (--dns-failure-policy).
type DnsFailurePolicy =
    /// `defer`, the default: reply 400, Postfix defers the message and retries later.
    | DeferMail
    /// `default`: route as if the domain had no MX hosts: rules on the address, else the
    /// `default` target, else all servers.
    | UseDefault

/// "defer" or "default" (the words of --dns-failure-policy and config.dns_failure_policy).
let parseDnsFailurePolicy (text: string) : DnsFailurePolicy option =
    match text.Trim() with
    | "defer" -> Some DeferMail
    | "default" -> Some UseDefault
    | _ -> None

/// Options that may also be given in the `config:` section; the command line wins.
type Settings =
    { LogFile: string option
      Port: int option
      Host: string option
      CacheTtl: int option
      Timeout: int option
      DnsServers: string list
      RepeatWindow: int option
      SocketmapPort: int option
      SocketmapName: string option
      Metrics: string option
      Allow: string list
      MaxConnections: int option
      CacheSize: int option
      DnsTimeout: int option
      DnsRetries: int option
      StaleLimit: int option
      DnsFailurePolicy: DnsFailurePolicy option
      /// recipient_delimiter: the characters that start an address extension ("" = off).
      RecipientDelimiter: string option }

type Config =
    { File: string
      Relays: Relay array
      AllServers: Group
      /// Groups in file order.
      Groups: Group list
      /// Rules in file order, without `default`.
      Rules: Rule list
      Default: Target option
      Settings: Settings
      /// Where each key of the `config:` section stands (its value's position), so that the
      /// shell's checks of those values (host, allow ...) can name a line too.
      SettingsAt: Map<string, Pos> }

/// The name of the implicit group of every relay, as the stats table shows it.
[<Literal>]
let AllServersName = "All Servers"

/// The text that targets nothing: reply 500.
[<Literal>]
let NoResultText = "NO RESULT"

/// No option set in `config:`: every value comes from the command line or its default.
let emptySettings =
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
      RecipientDelimiter = None }

let private posOf (node: Node) =
    match node with
    | Scalar(_, _, p)
    | Sequence(_, p)
    | Mapping(_, p) -> p

/// A YAML null: `~`, `null`, or nothing at all.
let private isNull (node: Node) =
    match node with
    | Scalar(t, true, _) -> t = "" || t = "~" || t = "null" || t = "Null" || t = "NULL"
    | _ -> false

let private quote (s: string) = "\"" + s + "\""

let private lineOf (p: Pos) = "line " + string p.Line

/// Collects diagnostics in the order they are found.
type private Sink(file: string) =
    let items = ResizeArray<Diagnostic>()

    member _.Add(severity, pos, message) =
        items.Add
            { File = file
              Pos = pos
              Severity = severity
              Message = message }

    member this.Error(pos, message) = this.Add(Error, pos, message)
    member this.Warn(pos, message) = this.Add(Warning, pos, message)
    member _.HasErrors = items.Exists(fun d -> d.Severity = Error)

    member _.All =
        items |> Seq.sortBy (fun d -> d.Pos.Line, d.Pos.Column) |> List.ofSeq

/// The entries of a mapping as (key, key position, value), duplicates reported and dropped.
let private entries (sink: Sink) (where: string) (node: Node) : (string * Pos * Node) list =
    match node with
    | Mapping(items, _) ->
        let seen = Collections.Generic.Dictionary<string, Pos>()

        [ for key, value in items do
              match key with
              | Scalar(text, _, pos) ->
                  match seen.TryGetValue text with
                  | true, first ->
                      sink.Error(pos, "duplicate key " + quote text + " in " + where + " (first on " + lineOf first + ")")
                  | _ ->
                      seen[text] <- pos
                      yield text, pos, value
              | other -> sink.Error(posOf other, "a key in " + where + " must be a plain name") ]
    | _ -> []

let private tryFind (name: string) (items: (string * Pos * Node) list) =
    items |> List.tryFind (fun (k, _, _) -> k = name)

let private tryInt (text: string) : int64 option =
    match
        Int64.TryParse(text.Trim(), Globalization.NumberStyles.AllowLeadingSign, Globalization.CultureInfo.InvariantCulture)
    with
    | true, v -> Some v
    | _ -> None

/// What a node holds, for messages: the quoted text, "nothing", "a list" or "a mapping".
let private shown (node: Node) =
    match node with
    | _ when isNull node -> "nothing"
    | Scalar(t, _, _) -> quote t
    | Sequence _ -> "a list"
    | Mapping _ -> "a mapping"

/// An integer in lo..hi, or an error naming what was expected.
let private intIn (sink: Sink) (what: string) (expected: string) (lo: int64) (hi: int64) (node: Node) : int option =
    let value =
        match node with
        | Scalar(t, _, _) when not (isNull node) -> tryInt t
        | _ -> None

    match value with
    | Some v when v >= lo && v <= hi -> Some(int v)
    | _ ->
        sink.Error(posOf node, what + " must be " + expected + ", not " + shown node)
        None

let private reserved (name: string) = name = NoResultText || name = AllServersName

let private relay (sink: Sink) (index: int) (name: string, pos: Pos, value: Node) : Relay =
    let what = "server " + quote name

    if reserved name then
        sink.Error(pos, quote name + " is reserved and cannot name a server")

    let fields =
        match value with
        | Mapping _ -> entries sink what value
        | _ when isNull value -> []
        | _ ->
            sink.Error(posOf value, what + " must be a mapping with address and perc")
            []

    let address =
        match tryFind "address" fields with
        | Some(_, _, (Scalar(t, _, _) as v)) when not (isNull v) && t.Trim() <> "" -> t.Trim()
        | Some(_, _, v) ->
            sink.Error(posOf v, what + ": address must be a transport:nexthop such as relay:[mx1.example.com]:25")
            ""
        | None ->
            sink.Error(pos, what + " has no address")
            ""

    let weight =
        match tryFind "perc" fields with
        | Some(_, _, v) -> intIn sink (what + ": perc") "an integer from 0 to 100" 0L 100L v |> Option.defaultValue 100
        | None -> 100

    for key, keyPos, _ in fields do
        if key <> "address" && key <> "perc" then
            sink.Warn(keyPos, "unknown key " + quote key + " in " + what + " (ignored)")

    { Name = name
      Address = address
      Weight = weight
      Index = index }

let private group (sink: Sink) (relays: Relay array) (name: string, pos: Pos, value: Node) : Group =
    let what = "group " + quote name

    if reserved name then
        sink.Error(pos, quote name + " is reserved and cannot name a group")

    if relays |> Array.exists (fun r -> r.Name = name) then
        sink.Error(pos, what + " has the name of a server: a rule targeting " + quote name + " would be ambiguous")

    let items =
        match value with
        | Sequence(items, _) -> items
        | _ when isNull value -> []
        | _ ->
            sink.Error(posOf value, what + " must be a list of server names, such as [mx1, mx2]")
            []

    let members = ResizeArray<Relay>()
    let mutable unknown = false

    for item in items do
        match item with
        | Scalar(member', _, itemPos) ->
            match relays |> Array.tryFind (fun r -> r.Name = member') with
            | Some r when members.Contains r -> sink.Error(itemPos, what + " lists server " + quote member' + " twice")
            | Some r -> members.Add r
            | None ->
                unknown <- true
                sink.Error(itemPos, what + " names unknown server " + quote member')
        | other ->
            unknown <- true
            sink.Error(posOf other, what + ": every member must be a server name")

    let members = members.ToArray()

    if items.IsEmpty && (isNull value || (match value with Sequence _ -> true | _ -> false)) then
        sink.Error(pos, what + " is empty")
    elif not unknown && not items.IsEmpty && members |> Array.forall (fun r -> r.Weight = 0) then
        sink.Error(pos, "every server of " + what + " has perc 0: it could never pick a relay")

    { Name = name
      Members = members
      Schedule = Tijdeman.cycle (members |> Array.map (fun r -> r.Weight)) }

let private target (sink: Sink) (relays: Relay array) (groups: string list) (what: string) (value: Node) =
    match value with
    | Scalar(t, _, pos) when not (isNull value) ->
        if t = NoResultText then
            Some NoResult
        elif List.contains t groups then
            Some(ToGroup t)
        elif relays |> Array.exists (fun r -> r.Name = t) then
            Some(ToServer t)
        else
            let hint =
                if t.Trim().ToUpperInvariant() = NoResultText then
                    " (write NO RESULT exactly, in capitals)"
                else
                    ""

            sink.Error(pos, what + " targets unknown group or server " + quote t + hint)
            None
    | _ ->
        sink.Error(posOf value, what + " needs a target: a group, a server or NO RESULT")
        None

/// Rules in file order and the default target; warns about rules an earlier one shadows.
let private rules (sink: Sink) (relays: Relay array) (groups: string list) (section: Node) =
    let items =
        match section with
        | Mapping _ -> entries sink "sender_rules" section
        | _ when isNull section -> []
        | _ ->
            sink.Error(posOf section, "sender_rules must be a mapping of pattern: target")
            []

    let mutable fallback = None
    let found = ResizeArray<Rule>()

    for pattern, pos, value in items do
        if pattern = "default" then
            fallback <- target sink relays groups "default" value
        else
            let lowered = pattern.Trim().ToLowerInvariant()
            let what = "rule " + quote pattern

            if lowered = "" then
                sink.Error(pos, "a rule needs a pattern: an address, a domain or a part of an MX host name")

            match target sink relays groups what value with
            | Some t when lowered <> "" ->
                match found |> Seq.tryFind (fun e -> lowered.Contains(e.Pattern, StringComparison.Ordinal)) with
                | Some earlier ->
                    sink.Warn(
                        pos,
                        what + " (" + lineOf pos + ") can never match: the earlier rule " + quote earlier.Pattern
                        + " (" + lineOf earlier.Pos + ") matches every key and MX host it would match"
                    )
                | None -> ()

                found.Add
                    { Pattern = lowered
                      Target = t
                      Pos = pos
                      Scope = AnyKeyOrHost }
            | _ -> ()

    List.ofSeq found, fallback

let private settings (sink: Sink) (section: Node) : Settings =
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

    let texts key (node: Node) =
        match node with
        | Sequence(items, _) -> items |> List.choose (text key)
        | _ -> text key node |> Option.toList

    let bounded key expected lo hi node =
        if isNull node then None else intIn sink ("config." + key) expected lo hi node

    let port key node =
        bounded key "a port number from 1 to 65535" 1L 65535L node

    let count key node =
        bounded key "a whole number, 0 or more" 0L (int64 Int32.MaxValue) node

    let mutable s = emptySettings

    for key, pos, value in items do
        match key with
        | "log_file" -> s <- { s with LogFile = text key value }
        | "port" -> s <- { s with Port = port key value }
        | "host" -> s <- { s with Host = text key value }
        | "cache_ttl" -> s <- { s with CacheTtl = count key value }
        | "timeout" -> s <- { s with Timeout = count key value }
        | "dns_server" -> s <- { s with DnsServers = texts key value }
        | "repeat_window" -> s <- { s with RepeatWindow = count key value }
        | "socketmap_port" -> s <- { s with SocketmapPort = port key value }
        | "socketmap_name" -> s <- { s with SocketmapName = text key value }
        | "metrics" -> s <- { s with Metrics = text key value }
        | "allow" -> s <- { s with Allow = texts key value }
        | "max_connections" -> s <- { s with MaxConnections = count key value }
        | "cache_size" -> s <- { s with CacheSize = count key value }
        | "dns_timeout" ->
            s <- { s with DnsTimeout = bounded key "a number of seconds from 1 to 300" 1L 300L value }
        | "dns_retries" -> s <- { s with DnsRetries = bounded key "a whole number from 0 to 10" 0L 10L value }
        | "stale_limit" -> s <- { s with StaleLimit = count key value }
        | "dns_failure_policy" ->
            let policy =
                match text key value with
                | None -> None
                | Some t ->
                    match parseDnsFailurePolicy t with
                    | Some p -> Some p
                    | None ->
                        sink.Error(posOf value, "config." + key + " must be defer or default, not " + quote t)
                        None

            s <- { s with DnsFailurePolicy = policy }
        | "recipient_delimiter" ->
            let delimiters =
                match text key value with
                | None -> None
                | Some t ->
                    match Address.parseDelimiters t with
                    | Ok d -> Some d
                    | Result.Error message ->
                        sink.Error(posOf value, "config." + key + ": " + message)
                        None

            s <- { s with RecipientDelimiter = delimiters }
        | _ -> sink.Warn(pos, "unknown key " + quote key + " in config (ignored)")

    s

/// The position of each key's value in the `config:` section (the first, for duplicates).
let private settingPositions (section: Node) : Map<string, Pos> =
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

/// Validates the tree read from `file`. Ok carries the config and its warnings; Error
/// carries every error found (and the warnings), each with its position.
let validate (file: string) (root: Node) : Result<Config * Diagnostic list, Diagnostic list> =
    let sink = Sink(file)
    let top = entries sink "the top level" root

    match root with
    | Mapping _ -> ()
    | _ when isNull root -> sink.Error(posOf root, "the config is empty: it needs a servers section with names")
    | _ -> sink.Error(posOf root, "the config must be a mapping with servers and sender_rules")

    for key, pos, _ in top do
        if key <> "servers" && key <> "sender_rules" && key <> "config" then
            sink.Warn(pos, "unknown key " + quote key + " at the top level (ignored)")

    let servers =
        match tryFind "servers" top with
        | Some(_, _, (Mapping _ as v)) -> entries sink "servers" v
        | Some(_, pos, v) ->
            let at = if isNull v then pos else posOf v
            sink.Error(at, "servers must be a mapping with names and groups")
            []
        | None ->
            match root with
            | Mapping _ -> sink.Error(posOf root, "the servers section is missing")
            | _ -> ()

            []

    let relays =
        match tryFind "names" servers, tryFind "servers" top with
        | Some(_, _, (Mapping(_ :: _, _) as v)), _ -> entries sink "servers.names" v |> List.mapi (relay sink) |> Array.ofList
        | Some(_, pos, v), _ ->
            (match v with
             | Mapping _ -> sink.Error(pos, "servers.names is empty: list every relay there")
             | _ when isNull v -> sink.Error(pos, "servers.names is empty: list every relay there")
             | _ -> sink.Error(posOf v, "servers.names must be a mapping of server names"))

            [||]
        | None, Some(_, pos, _) ->
            sink.Error(pos, "servers.names is missing: list every relay there")
            [||]
        | None, None -> [||]

    let groups =
        servers |> List.filter (fun (k, _, _) -> k <> "names") |> List.map (group sink relays)

    let allServers =
        { Name = AllServersName
          Members = relays
          Schedule = Tijdeman.cycle (relays |> Array.map (fun r -> r.Weight)) }

    match tryFind "names" servers with
    | Some(_, pos, _) when relays.Length > 0 && allServers.Schedule.Length = 0 ->
        sink.Error(pos, "all servers have perc 0: no relay could ever be picked")
    | _ -> ()

    let groupNames = groups |> List.map (fun g -> g.Name)

    let ruleList, fallback =
        match tryFind "sender_rules" top with
        | Some(_, _, v) -> rules sink relays groupNames v
        | None -> [], None

    let config =
        match tryFind "config" top with
        | Some(_, _, v) -> settings sink v
        | None -> emptySettings

    if sink.HasErrors then
        Result.Error sink.All
    else
        let warnings = sink.All

        Ok(
            { File = file
              Relays = relays
              AllServers = allServers
              Groups = groups
              Rules = ruleList
              Default = fallback
              Settings = config
              SettingsAt =
                match tryFind "config" top with
                | Some(_, _, v) -> settingPositions v
                | None -> Map.empty },
            warnings
        )

/// Finds a group by name ("All Servers" included).
let tryGroup (config: Config) (name: string) : Group option =
    if name = AllServersName then
        Some config.AllServers
    else
        config.Groups |> List.tryFind (fun g -> g.Name = name)

/// The config with another recipient delimiter (the command line's, which wins over the file's).
let withRecipientDelimiter (delimiters: string) (config: Config) : Config =
    { config with
        Settings =
            { config.Settings with
                RecipientDelimiter = Some delimiters } }
