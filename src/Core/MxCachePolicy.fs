module Router.Core.MxCachePolicy

[<Literal>]
let FloorSeconds = 5L

[<Literal>]
let LongestRecheck = 30000L

[<Literal>]
let ShortestRecheck = 1000L

[<Literal>]
let NotFailed = -9223372036854775808L

type Settings = { CacheTtl: int64; StaleLimit: int64 }

[<Struct>]
type Soa = { Ttl: int64; Minimum: int64 }

let caches settings = settings.CacheTtl > 0L

let sweepEvery settings = (max 1L (min settings.CacheTtl 60L)) * 1000L

let recordsTtl (mxTtls: int64 seq) =
    let mutable smallest = System.Int64.MaxValue
    let mutable any = false

    for ttl in mxTtls do
        any <- true
        smallest <- min smallest (max 0L ttl)

    if any then smallest else 0L

let negativeTtl (soas: Soa seq) =
    let mutable smallest = System.Int64.MaxValue
    let mutable any = false

    for soa in soas do
        any <- true
        smallest <- min smallest (min (max 0L soa.Ttl) (max 0L soa.Minimum))

    if any then smallest else 0L

let lifetime settings ttl =
    if caches settings then
        min (max ttl FloorSeconds) settings.CacheTtl * 1000L
    else
        0L

[<Struct>]
type Entry =
    { StoredAt: int64
      FreshUntil: int64
      PrefetchAt: int64
      StaleUntil: int64
      Recheck: int64 }

let entry settings now lifetime =
    let freshUntil = now + lifetime

    { StoredAt = now
      FreshUntil = freshUntil
      PrefetchAt = freshUntil - lifetime / 10L
      StaleUntil = freshUntil + (max 0L settings.StaleLimit) * 1000L
      Recheck = max ShortestRecheck (min lifetime LongestRecheck) }

[<Struct>]
type State =
    | Fresh
    | Prefetch
    | Stale
    | Expired

let state entry now =
    if now < entry.PrefetchAt then Fresh
    elif now < entry.FreshUntil then Prefetch
    elif now < entry.StaleUntil then Stale
    else Expired

[<Struct>]
type Use =
    | Answer
    | AnswerAndRefresh
    | AnswerStale
    | AnswerStaleAndRefresh
    | Ask

let onHit entry failedAt now =
    match state entry now with
    | Fresh -> Answer
    | Prefetch -> if now >= failedAt then AnswerAndRefresh else Answer
    | Stale when failedAt <> NotFailed -> if now >= failedAt then AnswerStaleAndRefresh else AnswerStale
    | Stale
    | Expired -> Ask

[<Struct>]
type Cover =
    { AskAgainAt: int64
      ExpiredSeconds: int64
      RecheckSeconds: int64 }

let cover entry now =
    match state entry now with
    | Expired -> ValueNone
    | _ ->
        ValueSome
            { AskAgainAt = now + entry.Recheck
              ExpiredSeconds = (max 0L (now - entry.FreshUntil)) / 1000L
              RecheckSeconds = entry.Recheck / 1000L }
