/// The text `--explain ADDRESS` prints: every step of one lookup, without a server.
module Router.Core.Explain

/// The tcp_table reply line exactly as the router sends it, without its LF.
val replyLine: reply: Router.Core.Reply.Reply -> string

/// Key, domain, MX hosts (sorted), the rule that matched, target, relay and reply line, for
/// the decision and outcome of Lookup.decide and Lookup.finish; with next-hop lists on, the
/// backups that follow the relay; with health checks on, the state of each relay of the
/// target (name and "up", or "down: " and the probe's reason).
val render:
  key: Router.Core.Address.Key ->
    mx: Router.Core.Lookup.MxAnswer ->
    decision: Router.Core.Lookup.Decision ->
    outcome: Router.Core.Lookup.Outcome ->
    backups: Router.Core.Model.Relay array option ->
    states: (Router.Core.Model.Relay * string) list -> string
