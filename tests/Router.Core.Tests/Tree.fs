/// Builds Config.Node trees for tests: directly from lists, or from a small YAML subset
/// (block mappings, block sequences of scalars, flow sequences, quoted scalars, comments)
/// so that examples keep real line and column numbers.
module Router.Core.Tests.Tree

open System
open Router.Core
open Router.Core.ConfigTree
open Router.Core.Diagnostics
open Router.Core.Model
open Router.Core.Validation

let at line column = { Line = line; Column = column }
let nowhere = at 1 1

let scalar (text: string) = Scalar(text, true, nowhere)
let seq (items: Node list) = Sequence(items, nowhere)
let map (entries: (string * Node) list) = Mapping(entries |> List.map (fun (k, v) -> scalar k, v), nowhere)

let rec private node (text: string) (line: int) (column: int) : Node =
    if text = "{}" then
        Mapping([], at line column)
    elif text.Length >= 2 && text.StartsWith "\"" && text.EndsWith "\"" then
        Scalar(text.Substring(1, text.Length - 2), false, at line column)
    elif text.StartsWith "[" && text.EndsWith "]" then
        let inner = text.Substring(1, text.Length - 2)
        let mutable offset = column + 1

        let items =
            if inner.Trim() = "" then
                []
            else
                [ for part in inner.Split(',') do
                      let lead = part.Length - part.TrimStart().Length
                      yield node (part.Trim()) line (offset + lead)
                      offset <- offset + part.Length + 1 ]

        Sequence(items, at line column)
    else
        Scalar(text, true, at line column)

/// (line, indent, content) of every line that is not blank or a comment.
let private significant (text: string) =
    text.Replace("\r", "").Split('\n')
    |> Array.mapi (fun i raw ->
        let cut = raw.IndexOf " #"
        let content = (if cut >= 0 then raw.Substring(0, cut) else raw).TrimEnd()
        i + 1, content.Length - content.TrimStart().Length, content.Trim())
    |> Array.filter (fun (_, _, c) -> c <> "" && not (c.StartsWith "#"))

/// Splits "key: value" (the key may be quoted) into key, value, and the value's offset.
let private splitKey (content: string) =
    let keyEnd =
        if content.StartsWith "\"" then content.IndexOf('"', 1) + 1 else content.IndexOf ':'

    let colon = content.IndexOf(':', max keyEnd 0)
    let key = content.Substring(0, colon).Trim()
    let rest = content.Substring(colon + 1)
    let value = rest.Trim()
    key, value, colon + 1 + (rest.Length - rest.TrimStart().Length)

let yaml (text: string) : Node =
    let lines = significant text

    let rec block (i: int) (indent: int) : Node * int =
        let line0, _, first = lines[i]

        if first.StartsWith "-" then
            let mutable j = i
            let items = ResizeArray()

            while j < lines.Length && (let _, ind, c = lines[j] in ind = indent && c.StartsWith "-") do
                let line, _, c = lines[j]
                items.Add(node (c.Substring(1).Trim()) line (indent + 3))
                j <- j + 1

            Sequence(List.ofSeq items, at line0 (indent + 1)), j
        else
            let mutable j = i
            let entries = ResizeArray()

            while j < lines.Length && (let _, ind, _ = lines[j] in ind = indent) do
                let line, _, c = lines[j]
                let key, value, offset = splitKey c
                let keyNode = node key line (indent + 1)

                if value <> "" then
                    entries.Add(keyNode, node value line (indent + offset + 1))
                    j <- j + 1
                elif j + 1 < lines.Length && (let _, ind, _ = lines[j + 1] in ind > indent) then
                    let _, childIndent, _ = lines[j + 1]
                    let child, next = block (j + 1) childIndent
                    entries.Add(keyNode, child)
                    j <- next
                else
                    entries.Add(keyNode, Scalar("", true, at line (indent + offset + 1)))
                    j <- j + 1

            Mapping(List.ofSeq entries, at line0 (indent + 1)), j

    if lines.Length = 0 then
        Scalar("", true, nowhere)
    elif lines.Length = 1 && not ((let _, _, c = lines[0] in c).Contains ':') then
        let line, indent, c = lines[0]
        node c line (indent + 1)
    else
        let _, indent, _ = lines[0]
        fst (block 0 indent)

/// The shipped postfix-mx-smart-router.yaml.example, found above the test assembly.
let exampleFile () : string =
    let rec up (dir: IO.DirectoryInfo | null) =
        match dir with
        | null -> failwith "postfix-mx-smart-router.yaml.example not found above the test assembly"
        | d ->
            let candidate = IO.Path.Combine(d.FullName, "postfix-mx-smart-router.yaml.example")
            if IO.File.Exists candidate then candidate else up d.Parent

    IO.File.ReadAllText(up (IO.DirectoryInfo AppContext.BaseDirectory))

/// The shipped example config, with its `default: NO RESULT` moved to the given rule
/// position (0 = first, 4 = last) and comments dropped.
let example (defaultAt: int) =
    let lines =
        (exampleFile ()).Replace("\r", "").Split('\n')
        |> Array.map (fun l ->
            let cut = l.IndexOf " #"
            (if cut >= 0 then l.Substring(0, cut) else l).TrimEnd())
        |> Array.filter (fun l -> l <> "" && not (l.TrimStart().StartsWith "#"))
        |> List.ofArray

    let head = lines |> List.takeWhile (fun l -> l <> "sender_rules:")
    let rules = lines |> List.skipWhile (fun l -> l <> "sender_rules:") |> List.tail |> List.filter (fun l -> l <> "  default: NO RESULT")
    let withDefault = List.take defaultAt rules @ [ "  default: NO RESULT" ] @ List.skip defaultAt rules
    // The fixture also names a routing log (the shipped file leaves config: empty).
    let head = head |> List.collect (fun l -> if l = "config:" then [ l; "  log_file: /var/log/postfix-mx-smart-router/routing.log" ] else [ l ])
    String.Join("\n", head @ [ "sender_rules:" ] @ withDefault)

/// Validates YAML text that must be valid.
let load (text: string) : Config =
    match validate "test.yaml" (yaml text) with
    | Ok(config, _) -> config
    | Result.Error diagnostics -> failwith (String.Join("\n", diagnostics |> List.map render))

/// All diagnostics of YAML text, rendered.
let diagnostics (text: string) : string list =
    match validate "test.yaml" (yaml text) with
    | Ok(_, warnings) -> warnings |> List.map render
    | Result.Error all -> all |> List.map render

/// The shipped lookup's decision for a key under a DNS failure policy, window off.
let decideWith (policy: Settings.DnsFailurePolicy) (config: Config) (key: Address.Key) (mx: Lookup.MxAnswer) : Lookup.Decision =
    let struct (decision, _) = Lookup.decide (Lookup.plan policy config) Repeat.off 0L key mx
    decision

/// The decision and its outcome at position 0 (the first pick of a group), `defer` policy.
let lookupAt0 (config: Config) (key: Address.Key) (mx: Lookup.MxAnswer) : Lookup.Decision * Lookup.Outcome =
    let plan = Lookup.plan Settings.DeferMail config
    let struct (decision, _) = Lookup.decide plan Repeat.off 0L key mx
    decision, Lookup.finish plan decision (Lookup.allUp plan config.AllServers) 0L
