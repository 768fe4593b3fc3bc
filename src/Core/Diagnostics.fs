module Router.Core.Diagnostics

open System.Collections.Generic
open Router.Core.ConfigTree

[<RequireQualifiedAccess>]
type Severity =
    | Error
    | Warning

type Diagnostic =
    { File: string
      Pos: Pos
      Severity: Severity
      Message: string }

let render (d: Diagnostic) : string =
    let severity =
        match d.Severity with
        | Severity.Error -> "error"
        | Severity.Warning -> "warning"

    d.File + ":" + string d.Pos.Line + ":" + string d.Pos.Column + ": " + severity + ": " + d.Message

[<Sealed>]
type Sink(file: string) =
    let items = ResizeArray<Diagnostic>()

    member private _.Add(severity, pos, message) =
        items.Add
            { File = file
              Pos = pos
              Severity = severity
              Message = message }

    member this.Error(pos, message) = this.Add(Severity.Error, pos, message)
    member this.Warn(pos, message) = this.Add(Severity.Warning, pos, message)
    member _.HasErrors = items.Exists(fun d -> d.Severity = Severity.Error)

    member _.All =
        items |> Seq.sortBy (fun d -> d.Pos.Line, d.Pos.Column) |> List.ofSeq

let lineOf (pos: Pos) = "line " + string pos.Line

let entries (sink: Sink) (where: string) (node: Node) : (string * Pos * Node) list =
    match node with
    | Mapping(items, _) ->
        let seen = Dictionary<string, Pos>()

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
