/// The stats table, in the Python tool's shape.
module Router.Core.Stats

open System
open System.Globalization
open Router.Core.Model

/// Per relay of one group, aligned with the group's Members: Sent counts the decisions
/// (round-robin picks, or a rule's direct relay); Repeats counts the answers the repeat
/// window gave again without a new decision (empty or zeros when the window is off).
type GroupCounts =
    { Group: Group
      Sent: int64 array
      Repeats: int64 array }

let private header = "  Name          # Sent |  curr. % / target %"

let private repeatsHeader = " | Repeats"

let share (part: int64) (whole: int64) : float =
    if whole = 0L then 0.0 else float part / float whole

let private weightSum (group: Group) =
    group.Members |> Array.sumBy (fun r -> int64 r.Weight)

let targetShare (group: Group) (index: int) : float =
    share (int64 group.Members[index].Weight) (weightSum group)

/// Python's f"{x*100:8.4f}".
let private percent (part: int64) (whole: int64) =
    (share part whole * 100.0).ToString("F4", CultureInfo.InvariantCulture).PadLeft 8

let private number (n: int64) (width: int) =
    n.ToString("N0", CultureInfo.InvariantCulture).PadLeft width

/// Python's f"    {name:10s} {sent:7,d} | {cur:8.4f} / {target:8.4f}".
let private line (name: string) (sent: int64) (total: int64) (weight: int64) (weights: int64) =
    "    " + name.PadRight 10 + " " + number sent 7
    + " | " + percent sent total + " / " + percent weight weights

let private at (counts: int64 array) (i: int) =
    if i < counts.Length then counts[i] else 0L

type Row =
    { Relay: Relay
      Decisions: int64
      Repeats: int64
      TargetShare: float
      CurrentShare: float }

let rows (counts: GroupCounts) : Row array =
    let members = counts.Group.Members
    let total = Array.sum counts.Sent

    members
    |> Array.mapi (fun i r ->
        let sent = at counts.Sent i

        { Relay = r
          Decisions = sent
          Repeats = at counts.Repeats i
          TargetShare = targetShare counts.Group i
          CurrentShare = share sent total })

let private block (withRepeats: bool) (state: (Relay -> bool) option) (counts: GroupCounts) =
    let title =
        if counts.Group.Name = AllServersName then AllServersName else "Group " + counts.Group.Name

    let total = Array.sum counts.Sent
    let weights = weightSum counts.Group

    let rows =
        counts.Group.Members
        |> Array.mapi (fun i r ->
            let row = line r.Name (at counts.Sent i) total (int64 r.Weight) weights

            let row = if withRepeats then row + " | " + number (at counts.Repeats i) 7 else row

            match state with
            | Some isUp -> row + " | " + (if isUp r then "up" else "down")
            | None -> row)

    let head = if withRepeats then header + repeatsHeader else header
    let head = if state.IsSome then head + " | State" else head
    String.Join("\n", Array.append [| title; head |] rows) + "\n"

/// "All Servers" first, then one block per group, a blank line between blocks:
///
///   All Servers
///     Name          # Sent |  curr. % / target %
///       mx1              5 |  41.6667 /  40.0000
///
/// "# Sent" and the percentages count decisions only. Once the repeat window has answered
/// a repeat, every row gets one more column, " | Repeats", with the answers given again.
let private renderAll (state: (Relay -> bool) option) (blocks: GroupCounts list) : string =
    let allFirst =
        (blocks |> List.filter (fun b -> b.Group.Name = AllServersName))
        @ (blocks |> List.filter (fun b -> b.Group.Name <> AllServersName))

    let withRepeats =
        blocks |> List.exists (fun b -> b.Repeats |> Array.exists (fun n -> n <> 0L))

    String.Join("\n", allFirst |> List.map (block withRepeats state))

let render (blocks: GroupCounts list) : string = renderAll None blocks

let renderWithStates (isUp: Relay -> bool) (blocks: GroupCounts list) : string = renderAll (Some isUp) blocks
