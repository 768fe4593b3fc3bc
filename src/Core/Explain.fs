/// The text `--explain ADDRESS` prints: every step of one lookup, without a server.
module Router.Core.Explain

open System
open Router.Core.Model
open Router.Core.Lookup

let private quote (s: string) = "\"" + s + "\""

let private hostsText (key: Address.Key) (mx: MxAnswer) =
    match mx with
    | NotQueried when key.IsWildcard -> "none (the wildcard key is not looked up)"
    | NotQueried -> "none (" + quote key.Domain + " is not a host name: not looked up)"
    | Hosts hosts ->
        match Rules.hostNames hosts with
        | [] -> "none"
        | hosts -> String.Join(", ", hosts)
    | DnsFailure reason -> "DNS failure: " + reason

let private reasonText (reason: Rules.Reason) =
    let rule (r: Rule) = quote r.Pattern + " (line " + string r.Pos.Line + ")"

    match reason with
    | Rules.AddressRule r -> rule r + ", on the address"
    | Rules.MxRule(r, host) -> rule r + ", on MX host " + host
    | Rules.DefaultRule -> "default"
    | Rules.NoRuleMatched -> "none matched, no default: all servers"

let replyLine (reply: Reply.Reply) : string =
    let bytes = TcpTable.encode reply
    Text.Encoding.ASCII.GetString(bytes, 0, bytes.Length - 1)

let render
    (key: Address.Key)
    (mx: MxAnswer)
    (decision: Decision)
    (outcome: Outcome)
    (backups: Relay array option)
    (states: (Relay * string) list)
    : string =
    let rule =
        match decision with
        | Pick(_, reason)
        | Again(_, _, reason)
        | Direct(_, reason)
        | Refuse(ValueSome reason) -> reasonText reason
        | Refuse ValueNone -> "none (the wildcard key * is never found)"
        | Defer _ -> "n/a (DNS failed: Postfix will retry)"

    let target =
        match decision with
        | Refuse ValueNone
        | Defer _ -> "n/a"
        | _ -> outcome.Target

    let relayText =
        match outcome.Relay with
        | ValueSome r -> r.Name + " " + r.Address
        | ValueNone -> "n/a"

    let backupLines =
        match backups with
        | None -> [||]
        | Some [||] -> [| "backups:  none" |]
        | Some relays -> [| "backups:  " + String.Join(", ", relays |> Array.map (fun r -> r.Name + " " + r.Address)) |]

    let stateLines =
        states |> List.map (fun (r, state) -> "state:    " + r.Name + " " + state) |> Array.ofList

    String.Join(
        "\n",
        Array.concat
            [ [| "key:      " + key.Text
                 "domain:   " + key.Domain
                 "MX hosts: " + hostsText key mx
                 "rule:     " + rule
                 "target:   " + target
                 "relay:    " + relayText |]
              backupLines
              stateLines
              [| "reply:    " + replyLine outcome.Reply |] ]
    )
    + "\n"
