module Router.Core.Selection

open System
open System.Collections.Generic
open Router.Core.Model

type UpSet = { Flags: bool array; All: bool }

let allUp (relays: int) : UpSet = { Flags = Array.create relays true; All = true }

let ofFlags (up: bool array) : UpSet =
    { Flags = Array.copy up; All = Array.forall id up }

let isUp (up: UpSet) (relay: Relay) : bool =
    up.All || relay.Index >= up.Flags.Length || up.Flags[relay.Index]

type View =
    { Group: Group
      FailOpen: bool
      Members: bool array
      Mask: string
      Schedule: int array
      Failover: int
      /// Per schedule position: the reply text and its prepared slot.
      Texts: string array
      Slots: int array }

let private offset (length: int) (p: int64) =
    let l = int64 length
    int (((p % l) + l) % l)

let private backupsAt (group: Group) (members: bool array) (schedule: int array) (failover: int) (at: int) : int array =
    if failover <= 0 then
        [||]
    else
        let first = group.Members[schedule[at]]
        let wanted = NextHop.transport first.Address
        let found = List<int>(failover)

        if NextHop.hop first.Address <> "" then
            let mutable step = 1

            while found.Count < failover && step < schedule.Length do
                let m = schedule[(at + step) % schedule.Length]
                let relay = group.Members[m]

                if m <> schedule[at]
                   && members[m]
                   && not (found.Contains m)
                   && NextHop.transport relay.Address = wanted
                   && NextHop.hop relay.Address <> "" then
                    found.Add m

                step <- step + 1

        found.ToArray()

let view (failover: int) (slot: string -> int) (up: UpSet) (group: Group) : View =
    let upMembers = group.Members |> Array.map (isUp up)
    let pickable = group.Members |> Array.exists (fun r -> r.Weight > 0 && isUp up r)
    let mask = String(upMembers |> Array.map (fun u -> if u then '1' else '0'))

    let members, schedule =
        if not pickable then
            Array.create group.Members.Length true, group.Schedule
        elif Array.forall id upMembers then
            upMembers, group.Schedule
        else
            upMembers, Wrr.schedule (group.Members |> Array.map (fun r -> if isUp up r then r.Weight else 0))

    // Fail open: the members are not up, so none is a backup.
    let failover = if pickable then failover else 0
    let shared = Dictionary<string, string>(StringComparer.Ordinal)

    let text at =
        let first = group.Members[schedule[at]]

        match backupsAt group members schedule failover at with
        | [||] -> first.Address
        | backups ->
            let t = String.Join(", ", Array.append [| first.Address |] (backups |> Array.map (fun m -> NextHop.hop group.Members[m].Address)))

            match shared.TryGetValue t with
            | true, s -> s
            | _ ->
                shared[t] <- t
                t

    let texts = Array.init schedule.Length text

    { Group = group
      FailOpen = not pickable
      Members = members
      Mask = mask
      Schedule = schedule
      Failover = failover
      Texts = texts
      Slots = texts |> Array.map slot }

let group (view: View) = view.Group
let failOpen (view: View) = view.FailOpen
let members (view: View) = Array.copy view.Members
let mask (view: View) = view.Mask
let schedule (view: View) = Array.copy view.Schedule

let pick (view: View) (position: int64) : int = view.Schedule[offset view.Schedule.Length position]

let backups (view: View) (position: int64) : int array =
    backupsAt view.Group view.Members view.Schedule view.Failover (offset view.Schedule.Length position)

let reply (view: View) (position: int64) : struct (string * int) =
    let at = offset view.Schedule.Length position
    struct (view.Texts[at], view.Slots[at])
