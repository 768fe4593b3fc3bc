module Router.Core.Lookup

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
      /// recipient_delimiter ("" = off): address rules also match the key without its extension.
      Delimiters: string }

let plan (policy: Settings.DnsFailurePolicy) (config: Config) : Plan =
    { Config = config
      Policy = policy
      Rules = Rules.matcher (Array.ofList config.Rules)
      Fallback = config.Default |> Option.defaultValue (Group config.AllServers)
      FallbackReason = if config.Default.IsSome then Rules.DefaultRule else Rules.NoRuleMatched
      Answers = config.Relays |> Array.map (fun r -> r.Address)
      Delimiters = config.Settings.RecipientDelimiter |> Option.defaultValue "" }

let config (plan: Plan) : Config = plan.Config

let answers (plan: Plan) : string array = plan.Answers

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

let finish (plan: Plan) (decision: Decision) (position: int64) : Outcome =
    match decision with
    | Pick(group, _) ->
        let m = Wrr.memberAt group position
        let relay = group.Members[m]

        { Reply = found relay
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
