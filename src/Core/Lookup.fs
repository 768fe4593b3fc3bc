module Router.Core.Lookup

open System
open Router.Core.Model

type MxAnswer =
    | NotQueried
    | Hosts of Rules.Hosts
    | DnsFailure of reason: string

type Plan =
    { Config: Config
      Policy: Settings.DnsFailurePolicy
      Rules: Rules.Matcher
      /// `default`, else all servers.
      Fallback: Target
      FallbackReason: Rules.Reason
      Answers: string array
      /// An answer's slot by its text.
      Slots: System.Collections.Generic.Dictionary<string, int>
      /// recipient_delimiter ("" = off): address rules also match the key without its extension.
      Delimiters: string
      Failover: int
      /// Every group's view with all relays up, by Group.Index.
      AllUp: Selection.View array }

let private slotOf (slots: System.Collections.Generic.Dictionary<string, int>) (text: string) =
    match slots.TryGetValue text with
    | true, slot -> slot
    | _ -> -1

let plan (policy: Settings.DnsFailurePolicy) (config: Config) : Plan =
    let failover = config.Settings.Failover |> Option.defaultValue 0
    let groups = Model.groups config
    let up = Selection.allUp config.Relays.Length
    let slots = System.Collections.Generic.Dictionary<string, int>(System.StringComparer.Ordinal)
    let answers = System.Collections.Generic.List<string>()

    let add text =
        if not (slots.ContainsKey text) then
            slots[text] <- answers.Count

        answers.Add text

    for relay in config.Relays do
        add relay.Address

    // With next-hop lists, the texts every group answers while all relays are up are
    // prepared too: the lists a down relay changes are made when it goes down.
    let views = groups |> Array.map (Selection.view failover (fun _ -> -1) up)

    if failover > 0 then
        for v in views do
            for p in 0 .. (Selection.schedule v).Length - 1 do
                let struct (text, _) = Selection.reply v (int64 p)

                if not (slots.ContainsKey text) then
                    add text

    { Config = config
      Policy = policy
      Rules = Rules.matcher (Array.ofList config.Rules)
      Fallback = config.Default |> Option.defaultValue (Group config.AllServers)
      FallbackReason = if config.Default.IsSome then Rules.DefaultRule else Rules.NoRuleMatched
      Answers = answers.ToArray()
      Slots = slots
      Delimiters = config.Settings.RecipientDelimiter |> Option.defaultValue ""
      Failover = failover
      AllUp = groups |> Array.map (Selection.view failover (slotOf slots) up) }

let config (plan: Plan) : Config = plan.Config

let answers (plan: Plan) : string array = plan.Answers

let failover (plan: Plan) : int = plan.Failover

let allUp (plan: Plan) (group: Group) : Selection.View = plan.AllUp[group.Index]

let view (plan: Plan) (up: Selection.UpSet) (group: Group) : Selection.View =
    Selection.view plan.Failover (slotOf plan.Slots) up group

[<Struct>]
type Decision =
    | Pick of group: Group * pickReason: Rules.Reason
    | Again of target: Target * againRelay: Relay * againReason: Rules.Reason
    | Direct of relay: Relay * directReason: Rules.Reason
    | Refuse of refuseReason: Rules.Reason voption
    | Defer of reason: string

let private route (plan: Plan) (key: Address.Key) (hosts: Rules.Hosts) : struct (Target * Rules.Reason) =
    let baseKey = Address.baseAddress plan.Delimiters key.Text
    let struct (index, reason) = Rules.firstMatchWithBase plan.Rules key.Text baseKey hosts

    if index >= 0 then
        struct (plan.Rules[index].Target, reason)
    else
        struct (plan.Fallback, plan.FallbackReason)

let decide
    (plan: Plan)
    (memory: Repeat.Table)
    (now: int64)
    (key: Address.Key)
    (mx: MxAnswer)
    : struct (Decision * Repeat.Table) =
    if key.IsWildcard then
        struct (Refuse ValueNone, memory)
    else
        match mx, plan.Policy with
        | DnsFailure reason, Settings.DeferMail -> struct (Defer reason, memory)
        | _ ->
            let hosts =
                match mx with
                | Hosts hosts -> hosts
                | _ -> Rules.noHosts

            let struct (target, reason) = route plan key hosts

            match target with
            | NoResult -> struct (Refuse(ValueSome reason), memory)
            | _ ->
                let struct (again, memory) = Repeat.recall now key.Text target memory

                match again, target with
                | ValueSome relay, _ -> struct (Again(target, relay, reason), memory)
                | ValueNone, Group g -> struct (Pick(g, reason), memory)
                | ValueNone, Relay r -> struct (Direct(r, reason), memory)
                | ValueNone, NoResult -> struct (Refuse(ValueSome reason), memory)

let upOnly (up: Selection.UpSet) (decision: Decision) : Decision =
    match decision with
    | Again(Group g, relay, reason) when not (Selection.isUp up relay) -> Pick(g, reason)
    | _ -> decision

[<Struct>]
type Count =
    | NoCount
    | Decided of group: int * relay: int
    | Repeated of repeatGroup: int * repeatMember: int

[<Struct>]
type Outcome =
    { Reply: Reply.Reply
      Target: string
      Relay: Relay voption
      Count: Count }

[<Literal>]
let RepeatMarker = " (repeat)"

let private found (relay: Relay) = Reply.Found(relay.Address, relay.Index)

let finish (plan: Plan) (decision: Decision) (view: Selection.View) (position: int64) : Outcome =
    match decision with
    | Pick(group, _) ->
        let view = if Object.ReferenceEquals(Selection.group view, group) then view else plan.AllUp[group.Index]
        let m = Selection.pick view position
        let relay = group.Members[m]
        let struct (text, slot) = Selection.reply view position

        { Reply = Reply.Found(text, slot)
          Target = group.Name
          Relay = ValueSome relay
          Count = Decided(group.Index, m) }
    | Direct(relay, _) ->
        { Reply = found relay
          Target = relay.Name
          Relay = ValueSome relay
          Count = Decided(plan.Config.AllServers.Index, relay.Index) }
    | Again(target, relay, _) ->
        let count =
            match target with
            | Group g ->
                match g.Members |> Array.tryFindIndex (fun r -> r.Index = relay.Index) with
                | Some m -> Repeated(g.Index, m)
                | None -> NoCount
            | _ -> Repeated(plan.Config.AllServers.Index, relay.Index)

        { Reply = found relay
          Target = targetName target + RepeatMarker
          Relay = ValueSome relay
          Count = count }
    | Refuse _ ->
        { Reply = Reply.NotFound
          Target = NoResultText
          Relay = ValueNone
          Count = NoCount }
    | Defer reason ->
        { Reply = Reply.Defer reason
          Target = "DEFER"
          Relay = ValueNone
          Count = NoCount }

let remember (now: int64) (key: string) (decision: Decision) (outcome: Outcome) (memory: Repeat.Table) : Repeat.Table =
    match decision, outcome.Relay with
    | Pick(group, _), ValueSome relay -> Repeat.remember now key (Group group) relay memory
    | Direct(relay, _), _ -> Repeat.remember now key (Relay relay) relay memory
    | _ -> memory
