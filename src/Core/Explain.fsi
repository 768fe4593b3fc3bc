/// The text `--explain ADDRESS` prints: every step of one lookup, without a server.
module Router.Core.Explain

/// The tcp_table reply line exactly as the router sends it, without its LF.
val replyLine: reply: Router.Core.Reply.Reply -> string

/// Key, domain, MX hosts (sorted), the rule that matched, target, relay and reply line, for
/// the decision and outcome of Lookup.decide and Lookup.finish.
val render:
  key: Router.Core.Address.Key ->
    mx: Router.Core.Lookup.MxAnswer ->
    decision: Router.Core.Lookup.Decision ->
    outcome: Router.Core.Lookup.Outcome -> string
