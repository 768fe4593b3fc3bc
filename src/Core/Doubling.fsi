/// Detection, with the repeat window off: is Postfix asking twice per message? Without
/// the recommended master.cf change, smtpd looks a recipient up at RCPT time and qmgr
/// again moments later, and the shares skew. The shell notes, per lookup, whether the
/// same key was asked less than RecentSeconds before (a small hashed table, cheap enough
/// for every lookup); every Batch lookups it asks `judge` whether to warn.
module Router.Core.Doubling

/// A lookup repeats its key when the same key was asked less than this ago.
[<Literal>]
val RecentSeconds: int = 10

/// The lookups judged together.
[<Literal>]
val Batch: int = 200

/// At most one warning in this time (ms): an hour.
[<Literal>]
val WarnEveryMs: int64 = 3600000L

/// The README section the warning names.
[<Literal>]
val ReadmeSection: string = "Recommended: one lookup per message"

/// Most keys were asked twice: of the keys seen (lookups - repeats), more than half came
/// back (repeats > (lookups - repeats) / 2). Doubled SMTP traffic gives repeats = half
/// the lookups; mail that pickup hands over (sendmail) gives none.
val mostAskedTwice: lookups: int64 -> repeats: int64 -> bool

/// When the last warning was given (ms on the shell's monotonic clock), if ever.
type Watch =
    { LastWarning: int64 voption }

val initial: Watch

/// The warning text for a batch in which `repeats` of `lookups` repeated a key.
val warning: lookups: int64 -> repeats: int64 -> string

/// The batch just judged: Some warning when most keys were asked twice and no warning was
/// given in the last hour (the watch then remembers `now`). A struct pair: a quiet batch
/// allocates nothing.
val judge:
  now: int64 ->
    lookups: int64 ->
    repeats: int64 -> watch: Watch -> struct (string option * Watch)
