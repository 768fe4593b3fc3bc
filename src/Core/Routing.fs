/// From a key and its MX answer to what must be picked and replied.
module Router.Core.Routing

open Router.Core.Config

/// What the shell knows about the key's domain.
type MxAnswer =
    /// No query was made: wildcard, address literal, not a host name.
    | NotQueried
    /// The hosts as the rules try them, sorted once when the answer came (Rules.sortHosts).
    | Hosts of Rules.Hosts
    /// DNS failed and no cache covers it.
    | DnsFailure of reason: string

/// The outcome before the WRR pick. A struct: deciding allocates nothing.
[<Struct>]
type Decision =
    /// Pick one relay of this group (the shell owns the group's position).
    | PickFrom of group: Group * pickReason: Rules.Reason
    /// A rule targets this relay directly.
    | Direct of relay: Relay * directReason: Rules.Reason
    /// NO RESULT target or the "*" key (no reason): 500.
    | Refuse of text: string * refuseReason: Rules.Reason voption
    /// 400.
    | Defer of reason: string

/// What a rule's target (or the default) comes to under one config.
type Resolved =
    | ToPick of Group
    | ToRelay of Relay
    | ToRefuse
    /// A name the config does not define (validation prevents it): 400 with this reason.
    | Unresolved of reason: string

/// A reply and its tcp_table encoding.
type Answer = { Reply: TcpTable.Reply; Bytes: byte array }

/// A config made ready for lookups, once per config (the shell keeps it with the config's
/// WRR state, so a reload makes a new one): the rules in an array with what each target
/// comes to, and the answers that do not depend on the key (every relay's 200, the 500 of
/// NO RESULT) encoded once. Lookups then walk arrays and share these answers.
type Plan =
    private
        { Config: Config
          Rules: Rule array
          /// Rules[i]'s target, resolved.
          Targets: Resolved array
          /// `default`, else all servers.
          Fallback: Resolved
          FallbackReason: Rules.Reason
          /// By relay index.
          Found: Answer array
          Refused: Answer
          /// recipient_delimiter ("" = off): address rules also match the key without its extension.
          Delimiters: string }

let private encoded (reply: TcpTable.Reply) : Answer =
    { Reply = reply
      Bytes = TcpTable.encode reply }

let private resolve (config: Config) (target: Target) : Resolved =
    match target with
    | NoResult -> ToRefuse
    | ToServer name ->
        match config.Relays |> Array.tryFind (fun r -> r.Name = name) with
        | Some relay -> ToRelay relay
        | None -> Unresolved("unknown server " + name)
    | ToGroup name ->
        match tryGroup config name with
        | Some group -> ToPick group
        | None -> Unresolved("unknown group " + name)

/// Prepares a config for lookups.
let plan (config: Config) : Plan =
    let rules = Array.ofList config.Rules

    { Config = config
      Rules = rules
      Targets = rules |> Array.map (fun r -> resolve config r.Target)
      Fallback = resolve config (config.Default |> Option.defaultValue (ToGroup AllServersName))
      FallbackReason = if config.Default.IsSome then Rules.DefaultRule else Rules.NoRuleMatched
      Found = config.Relays |> Array.map (fun r -> encoded (TcpTable.Found r.Address))
      Refused = encoded (TcpTable.NotFound NoResultText)
      Delimiters = config.Settings.RecipientDelimiter |> Option.defaultValue "" }

let private decision (resolved: Resolved) (reason: Rules.Reason) : Decision =
    match resolved with
    | ToPick group -> PickFrom(group, reason)
    | ToRelay relay -> Direct(relay, reason)
    | ToRefuse -> Refuse(NoResultText, ValueSome reason)
    | Unresolved text -> Defer text

let private route (plan: Plan) (key: Address.Key) (hosts: Rules.Hosts) : Decision =
    let baseKey = Address.baseAddress plan.Delimiters key.Text
    let struct (index, reason) = Rules.firstMatchWithBase plan.Rules key.Text baseKey hosts

    if index >= 0 then
        decision plan.Targets[index] reason
    else
        decision plan.Fallback plan.FallbackReason

/// Routes a key: "*" is refused; a DNS failure defers (DeferMail) or routes as if the
/// domain had no MX hosts (UseDefault); else the rules decide.
let decideWith (policy: DnsFailurePolicy) (plan: Plan) (key: Address.Key) (mx: MxAnswer) : Decision =
    if key.IsWildcard then
        Refuse(NoResultText, ValueNone)
    else
        match mx with
        | DnsFailure reason ->
            match policy with
            | DeferMail -> Defer reason
            | UseDefault -> route plan key Rules.noHosts
        | NotQueried -> route plan key Rules.noHosts
        | Hosts hosts -> route plan key hosts

/// Routes a key under the `defer` policy: a DNS failure replies 400.
let decide (config: Config) (key: Address.Key) (mx: MxAnswer) : Decision = decideWith DeferMail (plan config) key mx

/// The reply for a decision once a relay has been picked (None for Refuse/Defer).
let reply (decision: Decision) (relay: Relay option) : TcpTable.Reply =
    match decision with
    | PickFrom _ ->
        match relay with
        | Some picked -> TcpTable.Found picked.Address
        | None -> TcpTable.TempFail "no relay picked"
    | Direct(direct, _) -> TcpTable.Found (relay |> Option.defaultValue direct).Address
    | Refuse(text, _) -> TcpTable.NotFound text
    | Defer reason -> TcpTable.TempFail reason

/// `reply` and its encoding, shared from the plan when they are a relay's 200 or NO
/// RESULT's 500 (callers only read the bytes); made anew otherwise (400s).
let answer (plan: Plan) (decision: Decision) (relay: Relay voption) : Answer =
    let chosen =
        match decision, relay with
        | PickFrom _, picked -> picked
        | Direct _, ValueSome picked -> ValueSome picked
        | Direct(direct, _), ValueNone -> ValueSome direct
        | _ -> ValueNone

    match decision, chosen with
    | (PickFrom _ | Direct _), ValueSome r when
        r.Index >= 0
        && r.Index < plan.Found.Length
        && LanguagePrimitives.PhysicalEquality plan.Config.Relays[r.Index] r
        ->
        plan.Found[r.Index]
    | Refuse(NoResultText, _), _ -> plan.Refused
    | _ -> encoded (reply decision (ValueOption.toOption relay))

/// Text of a target for logs: the group or server name, or "NO RESULT".
let renderTarget (target: Target) : string =
    match target with
    | ToGroup name
    | ToServer name -> name
    | NoResult -> NoResultText
