/// The stats table, in the Python tool's shape.
module Router.Core.Stats

open System
open System.Globalization
open Router.Core.Config

/// Picks per relay of one group, aligned with the group's Members.
type GroupCounts = { Group: Group; Sent: int64 array }

let private header = "  Name          # Sent |  curr. % / target %"

/// Python's f"{x*100:8.4f}".
let private percent (part: float) (whole: float) =
    let value = if whole = 0.0 then 0.0 else part * 100.0 / whole
    value.ToString("F4", CultureInfo.InvariantCulture).PadLeft 8

/// Python's f"    {name:10s} {sent:7,d} | {cur:8.4f} / {target:8.4f}".
let private line (name: string) (sent: int64) (total: int64) (weight: int) (weights: int) =
    "    " + name.PadRight 10 + " " + sent.ToString("N0", CultureInfo.InvariantCulture).PadLeft 7
    + " | " + percent (float sent) (float total) + " / " + percent (float weight) (float weights)

let private block (counts: GroupCounts) =
    let title =
        if counts.Group.Name = AllServersName then AllServersName else "Group " + counts.Group.Name

    let total = Array.sum counts.Sent
    let weights = counts.Group.Members |> Array.sumBy (fun r -> r.Weight)

    let rows =
        counts.Group.Members
        |> Array.mapi (fun i r ->
            let sent = if i < counts.Sent.Length then counts.Sent[i] else 0L
            line r.Name sent total r.Weight weights)

    String.Join("\n", Array.append [| title; header |] rows) + "\n"

/// "All Servers" first, then one block per group, a blank line between blocks:
///
///   All Servers
///     Name          # Sent |  curr. % / target %
///       mx1              5 |  41.6667 /  40.0000
let render (blocks: GroupCounts list) : string =
    let allFirst =
        (blocks |> List.filter (fun b -> b.Group.Name = AllServersName))
        @ (blocks |> List.filter (fun b -> b.Group.Name <> AllServersName))

    String.Join("\n", allFirst |> List.map block)
