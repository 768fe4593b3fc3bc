module Router.Core.Validation

open System
open System.Collections.Generic
open Router.Core.ConfigTree
open Router.Core.Diagnostics
open Router.Core.Model

let private tryFind (name: string) (items: (string * Pos * Node) list) =
    items |> List.tryFind (fun (k, _, _) -> k = name)

let private reserved (name: string) = name = NoResultText || name = AllServersName

/// A whole number in 0..100 (a YAML scalar; a sign or spaces around it are tolerated).
let private percent (sink: Sink) (what: string) (node: Node) : int option =
    let value =
        match node with
        | Scalar(t, _, _) when not (isNull node) ->
            match
                Int64.TryParse(
                    t.Trim(),
                    Globalization.NumberStyles.AllowLeadingSign,
                    Globalization.CultureInfo.InvariantCulture
                )
            with
            | true, v -> Some v
            | _ -> None
        | _ -> None

    match value with
    | Some v when v >= 0L && v <= 100L -> Some(int v)
    | _ ->
        sink.Error(posOf node, what + " must be an integer from 0 to 100, not " + shown node)
        None

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
        | Some(_, _, v) -> percent sink (what + ": perc") v |> Option.defaultValue 100
        | None -> 100

    for key, keyPos, _ in fields do
        if key <> "address" && key <> "perc" then
            sink.Warn(keyPos, "unknown key " + quote key + " in " + what + " (ignored)")

    { Name = name
      Address = address
      Weight = weight
      Index = index }

let private groupOf (name: string) (index: int) (members: Relay array) : Group =
    { Name = name
      Index = index
      Members = members
      Schedule = Tijdeman.cycle (members |> Array.map (fun r -> r.Weight)) }

let private group
    (sink: Sink)
    (byName: Dictionary<string, Relay>)
    (index: int)
    (name: string, pos: Pos, value: Node)
    : Group =
    let what = "group " + quote name

    if reserved name then
        sink.Error(pos, quote name + " is reserved and cannot name a group")

    if byName.ContainsKey name then
        sink.Error(pos, what + " has the name of a server: a rule targeting " + quote name + " would be ambiguous")

    let items =
        match value with
        | Sequence(items, _) -> items
        | _ when isNull value -> []
        | _ ->
            sink.Error(posOf value, what + " must be a list of server names, such as [mx1, mx2]")
            []

    let members = ResizeArray<Relay>()
    let listed = HashSet<string>(StringComparer.Ordinal)
    let mutable unknown = false

    for item in items do
        match item with
        | Scalar(member', _, itemPos) ->
            match byName.TryGetValue member' with
            | true, _ when not (listed.Add member') ->
                sink.Error(itemPos, what + " lists server " + quote member' + " twice")
            | true, r -> members.Add r
            | _ ->
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

    groupOf name index members

/// A rule's (or the default's) target, resolved: a group, a server or NO RESULT.
let private target
    (sink: Sink)
    (relays: Dictionary<string, Relay>)
    (groups: Dictionary<string, Group>)
    (what: string)
    (value: Node)
    : Target option =
    match value with
    | Scalar(t, _, pos) when not (isNull value) ->
        if t = NoResultText then
            Some NoResult
        else
            match groups.TryGetValue t with
            | true, g -> Some(Group g)
            | _ ->
                match relays.TryGetValue t with
                | true, r -> Some(Relay r)
                | _ ->
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

/// Warns about every rule that an earlier one shadows: the earlier pattern is part of the
/// later one, so whatever the later would match, the earlier matched first. The first such
/// earlier rule is named, found by one automaton over the patterns (Automaton.shadowing).
let private shadows (sink: Sink) (rules: Rule list) =
    let rules = Array.ofList rules
    let earlier = Automaton.shadowing (rules |> Array.map (fun r -> r.Pattern))

    for j in 0 .. rules.Length - 1 do
        if earlier[j] >= 0 then
            let rule = rules[j]
            let first = rules[earlier[j]]

            sink.Warn(
                rule.Pos,
                "rule " + quote rule.Pattern + " (" + lineOf rule.Pos + ") can never match: the earlier rule "
                + quote first.Pattern + " (" + lineOf first.Pos + ") matches every key and MX host it would match"
            )

/// Rules in file order and the default target.
let private rules sink relays groups (section: Node) : Rule list * Target option =
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

            if lowered = "" then
                sink.Error(pos, "a rule needs a pattern: an address, a domain or a part of an MX host name")

            match target sink relays groups ("rule " + quote pattern) value with
            | Some t when lowered <> "" -> found.Add { Pattern = lowered; Target = t; Pos = pos; Scope = AnyKeyOrHost }
            | _ -> ()

    let rules = List.ofSeq found
    shadows sink rules
    rules, fallback

/// servers.names, in file order.
let private relays (sink: Sink) (top: (string * Pos * Node) list) (servers: (string * Pos * Node) list) =
    match tryFind "names" servers, tryFind "servers" top with
    | Some(_, _, (Mapping(_ :: _, _) as v)), _ -> entries sink "servers.names" v |> List.mapi (relay sink) |> Array.ofList
    | Some(_, pos, v), _ ->
        match v with
        | Mapping _ -> sink.Error(pos, "servers.names is empty: list every relay there")
        | _ when isNull v -> sink.Error(pos, "servers.names is empty: list every relay there")
        | _ -> sink.Error(posOf v, "servers.names must be a mapping of server names")

        [||]
    | None, Some(_, pos, _) ->
        sink.Error(pos, "servers.names is missing: list every relay there")
        [||]
    | None, None -> [||]

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
            sink.Error((if isNull v then pos else posOf v), "servers must be a mapping with names and groups")
            []
        | None ->
            match root with
            | Mapping _ -> sink.Error(posOf root, "the servers section is missing")
            | _ -> ()

            []

    let relays = relays sink top servers
    let relayByName = Dictionary<string, Relay>(StringComparer.Ordinal)

    for r in relays do
        relayByName.TryAdd(r.Name, r) |> ignore

    let groups =
        servers
        |> List.filter (fun (k, _, _) -> k <> "names")
        |> List.mapi (fun i entry -> group sink relayByName (i + 1) entry)

    let allServers = groupOf AllServersName 0 relays

    match tryFind "names" servers with
    | Some(_, pos, _) when relays.Length > 0 && allServers.Schedule.Length = 0 ->
        sink.Error(pos, "all servers have perc 0: no relay could ever be picked")
    | _ -> ()

    let groupByName = Dictionary<string, Group>(StringComparer.Ordinal)

    for g in groups do
        groupByName.TryAdd(g.Name, g) |> ignore

    let ruleList, fallback =
        match tryFind "sender_rules" top with
        | Some(_, _, v) -> rules sink relayByName groupByName v
        | None -> [], None

    let settings, settingsAt =
        match tryFind "config" top with
        | Some(_, _, v) -> Settings.read sink v
        | None -> Settings.empty, Map.empty

    if sink.HasErrors then
        Result.Error sink.All
    else
        Ok(
            { File = file
              Relays = relays
              AllServers = allServers
              Groups = groups
              Rules = ruleList
              Default = fallback
              Settings = settings
              SettingsAt = settingsAt },
            sink.All
        )
