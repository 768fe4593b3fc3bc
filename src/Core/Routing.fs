/// From a key and its MX answer to what must be picked and replied.
module Router.Core.Routing

open Router.Core.Config

/// What the shell knows about the key's domain.
type MxAnswer =
    /// No query was made: wildcard, address literal, not a host name.
    | NotQueried
    | Hosts of Rules.Mx list
    /// DNS failed and no cache covers it.
    | DnsFailure of reason: string

/// The outcome before the WRR pick.
type Decision =
    /// Pick one relay of this group (the shell owns the group's position).
    | PickFrom of Group * Rules.Reason
    /// A rule targets this relay directly.
    | Direct of Relay * Rules.Reason
    /// NO RESULT target or the "*" key: 500.
    | Refuse of text: string * Rules.Reason option
    /// 400.
    | Defer of reason: string

/// Routes a key: "*" is refused; a DNS failure defers (DeferMail) or routes as if the
/// domain had no MX hosts (UseDefault); else the rules decide.
let decideWith (policy: DnsFailurePolicy) (config: Config) (key: Address.Key) (mx: MxAnswer) : Decision =
    let route (hosts: string list) =
        let target, reason = Rules.decide config key hosts

        match target with
        | NoResult -> Refuse(NoResultText, Some reason)
        | ToServer name ->
            match config.Relays |> Array.tryFind (fun r -> r.Name = name) with
            | Some relay -> Direct(relay, reason)
            | None -> Defer("unknown server " + name)
        | ToGroup name ->
            match tryGroup config name with
            | Some group -> PickFrom(group, reason)
            | None -> Defer("unknown group " + name)

    if key.IsWildcard then
        Refuse(NoResultText, None)
    else
        match mx with
        | DnsFailure reason ->
            match policy with
            | DeferMail -> Defer reason
            | UseDefault -> route []
        | NotQueried -> route []
        | Hosts records -> route (Rules.sortHosts records)

/// Routes a key under the `defer` policy: a DNS failure replies 400.
let decide (config: Config) (key: Address.Key) (mx: MxAnswer) : Decision = decideWith DeferMail config key mx

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

/// Text of a target for logs: the group or server name, or "NO RESULT".
let renderTarget (target: Target) : string =
    match target with
    | ToGroup name
    | ToServer name -> name
    | NoResult -> NoResultText
