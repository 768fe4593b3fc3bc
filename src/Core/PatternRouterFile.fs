module Router.Core.PatternRouterFile

open System
open Router.Core.ConfigTree
open Router.Core.Diagnostics
open Router.Core.Model

type Line =
    { Pattern: string
      Relay: string
      PatternAt: Pos
      RelayAt: Pos }

let private quote (s: string) = "\"" + s + "\""

/// The lines of a text without their line ends, numbered from 1.
let private numbered (text: string) : (int * string) array =
    text.Split('\n') |> Array.mapi (fun i l -> i + 1, l.TrimEnd('\r'))

/// The white-space separated fields of a line, with their 1-based columns.
let private fields (line: string) : (string * int) list =
    let found = ResizeArray<string * int>()
    let mutable i = 0

    while i < line.Length do
        if Char.IsWhiteSpace line[i] then
            i <- i + 1
        else
            let start = i

            while i < line.Length && not (Char.IsWhiteSpace line[i]) do
                i <- i + 1

            found.Add(line.Substring(start, i - start), start + 1)

    List.ofSeq found

let private significant (line: string) =
    let t = line.Trim()
    t <> "" && not (t.StartsWith '#')

let recognizes (text: string) : bool =
    match numbered text |> Array.tryFind (fun (_, l) -> significant l) with
    | None -> false
    | Some(_, line) ->
        let t = line.Trim()
        let first = t[0]
        let bare = t.Length = 1 || Char.IsWhiteSpace t[1]

        if "[]{},#&*!|>'\"%@`".IndexOf first >= 0 || t.StartsWith "---" || t.StartsWith "..." then false
        elif "-?:".IndexOf first >= 0 && bare then false
        else
            match fields t with
            | (word, _) :: rest ->
                not (word.Contains ':')
                && (match rest with
                    | (second, _) :: _ -> not (second.StartsWith ':')
                    | [] -> true)
            | [] -> false

let private example = "protection.outlook.com relay:[office365-relay.example.com]:587"

let private line (file: string) (number: int) (text: string) : Result<Line option, Diagnostic> =
    let error column message =
        Result.Error
            { File = file
              Pos = { Line = number; Column = column }
              Severity = Severity.Error
              Message = message }

    match fields text with
    | [] -> Ok None
    | (word, _) :: _ when word.StartsWith '#' -> Ok None
    | [ pattern, column ] ->
        error column ("a line must be PATTERN TRANSPORT:NEXTHOP, such as " + example + ": " + quote pattern + " has no relay")
    | (pattern, patternColumn) :: (relay, relayColumn) :: rest ->
        let colon = relay.IndexOf ':'

        match rest with
        | (extra, extraColumn) :: _ ->
            error
                extraColumn
                ("a line must be PATTERN TRANSPORT:NEXTHOP: unexpected " + quote extra
                 + " after the relay (a comment needs a line of its own, starting with #)")
        | [] when colon <= 0 || colon = relay.Length - 1 ->
            error
                relayColumn
                ("relay " + quote relay
                 + " must be TRANSPORT:NEXTHOP, with a transport before the colon and a next hop after it, such as relay:[office365-relay.example.com]:587")
        | [] ->
            Ok(
                Some
                    { Pattern = pattern.ToLowerInvariant()
                      Relay = relay
                      PatternAt = { Line = number; Column = patternColumn }
                      RelayAt = { Line = number; Column = relayColumn } }
            )

let parse (file: string) (text: string) : Result<Line list, Diagnostic list> =
    let results = numbered text |> Array.map (fun (n, l) -> line file n l)

    let errors =
        results
        |> Array.choose (fun r ->
            match r with
            | Result.Error d -> Some d
            | Ok _ -> None)

    if errors.Length > 0 then
        Result.Error(List.ofArray errors)
    else
        Ok(
            results
            |> Array.choose (fun r ->
                match r with
                | Ok l -> l
                | Result.Error _ -> None)
            |> List.ofArray
        )

let toConfig (file: string) (lines: Line list) : Config * Diagnostic list =
    let warn (pos: Pos) message =
        { File = file
          Pos = pos
          Severity = Severity.Warning
          Message = message }

    // One relay per distinct address, in order of first use, named by its address.
    let relays =
        lines
        |> List.map (fun l -> l.Relay)
        |> List.distinct
        |> List.mapi (fun i address ->
            { Name = address
              Address = address
              Weight = 100
              Index = i })
        |> Array.ofList

    let byAddress = relays |> Array.map (fun r -> r.Address, r) |> dict

    let rules =
        lines
        |> List.map (fun l ->
            { Pattern = l.Pattern
              Target = Relay byAddress[l.Relay]
              Pos = l.PatternAt
              Scope = MxHostOnly })

    let byLine = Array.ofList lines
    let firstIn = Automaton.shadowing (byLine |> Array.map (fun l -> l.Pattern))

    let shadowed =
        lines
        |> List.mapi (fun i l -> i, l)
        |> List.choose (fun (i, l) ->
            (if firstIn[i] >= 0 then Some byLine[firstIn[i]] else None)
            |> Option.map (fun earlier ->
                warn
                    l.PatternAt
                    ("pattern " + quote l.Pattern + " (line " + string l.PatternAt.Line
                     + ") can never match: the earlier pattern " + quote earlier.Pattern + " (line "
                     + string earlier.PatternAt.Line + ") matches every MX host it would match")))

    let empty =
        if lines.IsEmpty then
            [ warn { Line = 1; Column = 1 } "no PATTERN TRANSPORT:NEXTHOP lines: every lookup answers NO RESULT" ]
        else
            []

    let config =
        { File = file
          Relays = relays
          AllServers =
            { Name = AllServersName
              Index = 0
              Members = relays
              Schedule = Tijdeman.cycle (relays |> Array.map (fun r -> r.Weight)) }
          Groups = []
          Rules = rules
          Default = Some NoResult
          Settings = Settings.empty
          SettingsAt = Map.empty }

    config, empty @ shadowed

let read (file: string) (text: string) : Result<Config * Diagnostic list, Diagnostic list> =
    parse file text |> Result.map (toConfig file)
