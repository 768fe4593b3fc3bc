/// Detection, with the repeat window off: is Postfix asking twice per message? Without
/// the recommended master.cf change, smtpd looks a recipient up at RCPT time and qmgr
/// again moments later, and the shares skew. The shell notes, per lookup, whether the
/// same key was asked less than RecentSeconds before (a small hashed table, cheap enough
/// for every lookup); every Batch lookups it asks `judge` whether to warn.
module Router.Core.Doubling

/// A lookup repeats its key when the same key was asked less than this ago.
[<Literal>]
let RecentSeconds = 10

/// The lookups judged together.
[<Literal>]
let Batch = 200

/// At most one warning in this time (ms): an hour.
[<Literal>]
let WarnEveryMs = 3600000L

/// The README section the warning names.
[<Literal>]
let ReadmeSection = "Recommended: one lookup per message"

/// Most keys were asked twice: of the keys seen (lookups - repeats), more than half came
/// back (repeats > (lookups - repeats) / 2). Doubled SMTP traffic gives repeats = half
/// the lookups; mail that pickup hands over (sendmail) gives none.
let mostAskedTwice (lookups: int64) (repeats: int64) : bool =
    lookups > 0L && repeats >= 0L && repeats <= lookups && 3L * repeats > lookups

/// When the last warning was given (ms on the shell's monotonic clock), if ever.
type Watch = { LastWarning: int64 voption }

let initial: Watch = { LastWarning = ValueNone }

/// The warning text for a batch in which `repeats` of `lookups` repeated a key.
let warning (lookups: int64) (repeats: int64) : string =
    "most keys are looked up twice within seconds ("
    + string repeats
    + " of the last "
    + string lookups
    + " lookups repeated a key asked less than "
    + string RecentSeconds
    + " s before). Postfix is probably asking from smtpd at RCPT time as well as from qmgr, "
    + "and only qmgr's answer is used, so the relays' shares skew. See the README, \""
    + ReadmeSection
    + "\" (master.cf), or start the router with --repeat-window SECONDS"

/// The batch just judged: Some warning when most keys were asked twice and no warning was
/// given in the last hour (the watch then remembers `now`). A struct pair: a quiet batch
/// allocates nothing.
let judge (now: int64) (lookups: int64) (repeats: int64) (watch: Watch) : struct (string option * Watch) =
    let quiet =
        match watch.LastWarning with
        | ValueSome last -> now - last < WarnEveryMs && now >= last
        | ValueNone -> false

    if mostAskedTwice lookups repeats && not quiet then
        struct (Some(warning lookups repeats), { LastWarning = ValueSome now })
    else
        struct (None, watch)
