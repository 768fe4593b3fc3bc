/// How long the router keeps an MX answer and what a cached answer may still do: the
/// decisions of the MX cache, over times and TTLs only. The shell stores the entries, shares
/// one query per name and applies these answers; it decides nothing itself.
///
/// Times are milliseconds on a monotonic clock the shell passes in; TTLs are seconds, as DNS
/// gives them. An entry lives through four states, in this order and never back:
/// Fresh, Prefetch (the last tenth of its lifetime), Stale (expired, within --stale-limit;
/// usable only when DNS fails) and Expired.
module Router.Core.MxCachePolicy

/// The floor of an entry's lifetime in seconds, so that TTL 0 answers do not query on every
/// lookup (--cache-ttl still caps it).
[<Literal>]
val FloorSeconds: int64 = 5L

/// The most a stale entry waits before DNS is asked again after a failure (ms).
[<Literal>]
val LongestRecheck: int64 = 30000L

/// The least a stale entry waits before DNS is asked again after a failure (ms).
[<Literal>]
val ShortestRecheck: int64 = 1000L

/// The stamp of an entry that DNS has not failed to refresh (no time is this early).
[<Literal>]
val NotFailed: int64 = -9223372036854775808L

/// The cache's settings, in seconds as the command line gives them.
type Settings =
    {
        /// --cache-ttl: the longest an answer is fresh; 0 disables the cache.
        CacheTtl: int64
        /// --stale-limit: how long past its expiry an answer may cover a DNS failure.
        StaleLimit: int64
    }

/// The SOA record of a negative answer's authority section: its TTL and its minimum field.
[<Struct>]
type Soa = { Ttl: int64; Minimum: int64 }

/// Whether anything is cached at all (--cache-ttl above 0).
val caches: settings: Settings -> bool

/// How often the store sweeps out entries past use (ms): every --cache-ttl seconds, but at
/// least once a minute and at most once a second.
val sweepEvery: settings: Settings -> int64

/// The TTL of an answer with MX records: the smallest of theirs (a negative TTL counts as 0).
/// An empty list has none: 0, which the floor then covers.
val recordsTtl: mxTtls: int64 seq -> int64

/// The TTL of a negative answer (NXDOMAIN, or no MX records), RFC 2308 section 5:
/// min(SOA TTL, SOA minimum), the smallest over its SOA records; 0 without an SOA (the RFC
/// says not to cache; the floor keeps that short).
val negativeTtl: soas: Soa seq -> int64

/// How long an answer with this TTL (seconds) is fresh, in ms: the TTL, at least
/// FloorSeconds, at most --cache-ttl; 0 when the cache is off.
val lifetime: settings: Settings -> ttl: int64 -> int64

/// The times of one cached answer (ms on the shell's clock).
[<Struct>]
type Entry =
    {
        StoredAt: int64
        /// Fresh before this.
        FreshUntil: int64
        /// From here until FreshUntil, a hit refreshes the entry in the background.
        PrefetchAt: int64
        /// From FreshUntil until this, the entry may cover a DNS failure.
        StaleUntil: int64
        /// After a failed refresh, DNS is not asked again for this long (RFC 8767).
        Recheck: int64
    }

/// An answer stored at `now` with this lifetime (ms, from `lifetime`).
val entry: settings: Settings -> now: int64 -> lifetime: int64 -> Entry

/// Where an entry stands at a time.
[<Struct>]
type State =
    /// Fresh: answer from it.
    | Fresh
    /// Fresh, in the last tenth of its life: answer from it and refresh it in the background.
    | Prefetch
    /// Expired less than --stale-limit ago: it may answer only when DNS fails.
    | Stale
    /// Past use: the store may drop it.
    | Expired

val state: entry: Entry -> now: int64 -> State

/// What a lookup that finds an entry does.
[<Struct>]
type Use =
    /// Answer from the entry (a hit).
    | Answer
    /// Answer from the entry (a hit) and refresh it in the background.
    | AnswerAndRefresh
    /// DNS failed to refresh this expired entry: answer from it (stale), without waiting.
    | AnswerStale
    /// As AnswerStale, and the recheck interval has passed: ask DNS again in the background.
    | AnswerStaleAndRefresh
    /// Ask DNS and wait for it (an entry not Expired still covers a failure: see `cover`).
    | Ask

/// The use of an entry at `now`; `failedAt` is the time from which DNS may be asked again
/// after a failed refresh (`Cover.AskAgainAt`), or NotFailed.
val onHit: entry: Entry -> failedAt: int64 -> now: int64 -> Use

/// How an entry covers a DNS failure.
[<Struct>]
type Cover =
    {
        /// Ask DNS again from this time on (pass it to onHit as failedAt).
        AskAgainAt: int64
        /// How long ago the entry expired, in whole seconds (0 while still fresh).
        ExpiredSeconds: int64
        /// The recheck interval, in whole seconds.
        RecheckSeconds: int64
    }

/// When DNS fails at `now`: how the entry covers the failure, or ValueNone when it is Expired.
val cover: entry: Entry -> now: int64 -> Cover voption
