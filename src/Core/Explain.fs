/// The text `--explain ADDRESS` prints: every step of one lookup, without a server.
module Router.Core.Explain

open System
open Router.Core.Config
open Router.Core.Routing

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

/// The reply line exactly as the router sends it, without its LF.
let replyLine (reply: TcpTable.Reply) : string =
    let bytes = TcpTable.encode reply
    Text.Encoding.ASCII.GetString(bytes, 0, bytes.Length - 1)

/// Key, domain, MX hosts (sorted), the rule that matched, target, relay and reply line.
/// `relay` is the relay picked for a PickFrom decision (None when nothing was picked).
let render (key: Address.Key) (mx: MxAnswer) (decision: Decision) (relay: Relay option) : string =
    let rule, target, chosen =
        match decision with
        | PickFrom(group, reason) -> reasonText reason, group.Name, relay
        | Direct(direct, reason) -> reasonText reason, direct.Name, Some(relay |> Option.defaultValue direct)
        | Refuse(text, ValueSome reason) -> reasonText reason, text, None
        | Refuse(_, ValueNone) -> "none (the wildcard key * is never found)", "n/a", None
        | Defer _ -> "n/a (DNS failed: Postfix will retry)", "n/a", None

    let relayText =
        match chosen with
        | Some r -> r.Name + " " + r.Address
        | None -> "n/a"

    String.Join(
        "\n",
        [| "key:      " + key.Text
           "domain:   " + key.Domain
           "MX hosts: " + hostsText key mx
           "rule:     " + rule
           "target:   " + target
           "relay:    " + relayText
           "reply:    " + replyLine (reply decision relay) |]
    )
    + "\n"
