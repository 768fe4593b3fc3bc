/// The MX cache's policy: lifetimes (floor, --cache-ttl cap, RFC 2308), the four states of
/// an entry, what a hit does, how a stale entry covers a DNS failure. Oracles are tables
/// and the README's numbers, not the module's arithmetic.
module Router.Core.Tests.MxCachePolicyTests

open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.MxCachePolicy

let private settings cacheTtl staleLimit =
    { CacheTtl = cacheTtl
      StaleLimit = staleLimit }

let private secondsGen (most: int) =
    Gen.frequency [ 1, Gen.constant 0; 3, Gen.choose (1, 12); 3, Gen.choose (1, most) ]
    |> Gen.map int64

let private settingsGen =
    gen {
        let! cacheTtl = secondsGen 200_000
        let! staleLimit = secondsGen 200_000
        return settings cacheTtl staleLimit
    }

/// TTLs as DNS gives them: 32-bit, a few below 0 (DnsClient reads them signed), many small.
let private ttlGen =
    Gen.frequency
        [ 1, Gen.choose64 (-100L, -1L)
          1, Gen.constant 0L
          3, Gen.choose64 (0L, 12L)
          3, Gen.choose64 (0L, 100_000L)
          1, Gen.choose64 (0L, 4_294_967_295L) ]

/// A monotonic clock's reading: milliseconds since boot, up to a millennium.
let private nowGen = Gen.choose64 (0L, 1L <<< 45)

/// The middle one of three.
let private median (a: int64) b c = List.item 1 (List.sort [ a; b; c ])

/// The README's rule, "fresh for its TTL, at least 5 s and at most --cache-ttl", as a
/// clamp written another way: the median of floor, TTL and cap, unless the cap is below
/// the floor (then the cap); nothing when the cache is off.
let private lifetimeOracle (cacheTtl: int64) (ttl: int64) =
    if cacheTtl = 0L then 0L
    elif cacheTtl < 5L then cacheTtl * 1000L
    else median 5L ttl cacheTtl * 1000L

[<Property(MaxTest = 2000)>]
let ``an answer lives its TTL, at least the floor, at most the cap`` () =
    Prop.forAll (Arb.fromGen (Gen.zip settingsGen ttlGen)) (fun (s, ttl) ->
        lifetime s ttl = lifetimeOracle s.CacheTtl ttl)

[<Property(MaxTest = 2000)>]
let ``a lifetime never exceeds the cap, and is below the floor only under a smaller cap or with the cache off`` () =
    Prop.forAll (Arb.fromGen (Gen.zip settingsGen ttlGen)) (fun (s, ttl) ->
        let l = lifetime s ttl
        l <= s.CacheTtl * 1000L && (l >= 5000L || l = s.CacheTtl * 1000L))

[<Property(MaxTest = 1000)>]
let ``a longer TTL never gives a shorter lifetime`` () =
    Prop.forAll (Arb.fromGen (Gen.zip3 settingsGen ttlGen ttlGen)) (fun (s, a, b) ->
        let shorter, longer = min a b, max a b
        lifetime s shorter <= lifetime s longer)

[<Property(MaxTest = 1000)>]
let ``cache-ttl 0 caches nothing`` () =
    Prop.forAll (Arb.fromGen (Gen.zip3 (secondsGen 200_000) ttlGen nowGen)) (fun (staleLimit, ttl, now) ->
        let off = settings 0L staleLimit
        let e = entry off now (lifetime off ttl)
        // Never fresh, from the moment it would be stored on.
        not (caches off)
        && lifetime off ttl = 0L
        && [ 0L; 1L; 999L; 5000L; 86_400_000L ]
           |> List.forall (fun d ->
               match state e (now + d) with
               | Fresh
               | Prefetch -> false
               | Stale
               | Expired -> true))

[<Fact>]
let ``the documented lifetimes`` () =
    // cache-ttl, TTL (s) -> lifetime (ms)
    let table =
        [ 3600L, 300L, 300_000L // the TTL
          3600L, 0L, 5_000L // the floor
          3600L, 4L, 5_000L
          3600L, 5L, 5_000L
          3600L, 86_400L, 3_600_000L // the cap
          2L, 300L, 2_000L // a cap below the floor wins
          2L, 0L, 2_000L
          10L, 10L, 10_000L
          0L, 300L, 0L // off
          3600L, -1L, 5_000L ]

    for cacheTtl, ttl, expected in table do
        Assert.Equal(expected, lifetime (settings cacheTtl 86_400L) ttl)

    Assert.True(caches (settings 1L 0L))
    Assert.False(caches (settings 0L 86_400L))

let private soaGen =
    Gen.zip ttlGen ttlGen |> Gen.map (fun (t, m) -> { Ttl = t; Minimum = m })

[<Property(MaxTest = 1000)>]
let ``a negative answer lives the smallest SOA TTL or minimum, 0 without an SOA`` () =
    Prop.forAll (Arb.fromGen (Gen.listOf soaGen)) (fun soas ->
        // Every field of every SOA, negatives as 0: the least of them all.
        let fields = soas |> List.collect (fun s -> [ s.Ttl; s.Minimum ]) |> List.map (fun v -> if v < 0L then 0L else v)
        let expected = if List.isEmpty fields then 0L else List.min fields
        negativeTtl soas = expected)

[<Property(MaxTest = 1000)>]
let ``a negative lifetime is min(SOA TTL, SOA minimum) with the floor and cap`` () =
    Prop.forAll (Arb.fromGen (Gen.zip settingsGen soaGen)) (fun (s, soa) ->
        let rfc2308 = if soa.Ttl < soa.Minimum then soa.Ttl else soa.Minimum
        lifetime s (negativeTtl [ soa ]) = lifetimeOracle s.CacheTtl (max 0L rfc2308))

[<Fact>]
let ``the documented negative lifetimes`` () =
    let s = settings 3600L 86_400L
    Assert.Equal(6_000L, lifetime s (negativeTtl [ { Ttl = 300L; Minimum = 6L } ]))
    Assert.Equal(6_000L, lifetime s (negativeTtl [ { Ttl = 6L; Minimum = 300L } ]))
    Assert.Equal(6_000L, lifetime (settings 6L 0L) (negativeTtl [ { Ttl = 300L; Minimum = 300L } ]))
    // Without an SOA, 5 s.
    Assert.Equal(5_000L, lifetime s (negativeTtl []))

[<Property(MaxTest = 1000)>]
let ``a positive answer lives its shortest MX TTL`` () =
    Prop.forAll (Arb.fromGen (Gen.nonEmptyListOf ttlGen)) (fun ttls ->
        let sorted = ttls |> List.map (fun t -> if t < 0L then 0L else t) |> List.sort
        recordsTtl ttls = List.head sorted)

[<Fact>]
let ``an answer without records has TTL 0`` () = Assert.Equal(0L, recordsTtl [])

/// An entry as the shell makes one: from the settings, a TTL and a time.
let private entryGen =
    gen {
        let! s = settingsGen |> Gen.filter caches
        let! ttl = ttlGen
        let! now = nowGen
        return s, ttl, now, entry s now (lifetime s ttl)
    }

let private rank =
    function
    | Fresh -> 0
    | Prefetch -> 1
    | Stale -> 2
    | Expired -> 3

/// The state from the elapsed time, lifetime L and stale limit S (ms) as a table of
/// intervals: [0, 9L/10) fresh, [9L/10, L) prefetch, [L, L + S) stale, then expired.
let private stateOracle (elapsed: int64) (l: int64) (stale: int64) =
    [ (fun e -> e * 10L < l * 9L), Fresh
      (fun e -> e < l), Prefetch
      (fun e -> e < l + stale), Stale
      (fun _ -> true), Expired ]
    |> List.find (fun (holds, _) -> holds elapsed)
    |> snd

/// Times around every boundary of an entry, and some anywhere.
let private probes (e: Entry) =
    [ e.StoredAt; e.PrefetchAt; e.FreshUntil; e.StaleUntil ]
    |> List.collect (fun t -> [ t - 1L; t; t + 1L ])
    |> List.filter (fun t -> t >= e.StoredAt)

[<Property(MaxTest = 2000)>]
let ``an entry is fresh, prefetched in its last tenth, stale within the limit, then expired`` () =
    Prop.forAll (Arb.fromGen (Gen.zip entryGen (Gen.choose64 (0L, 1L <<< 40)))) (fun ((s, ttl, now, e), d) ->
        let l = lifetime s ttl
        (d :: (probes e |> List.map (fun t -> t - now)))
        |> List.forall (fun elapsed -> state e (now + elapsed) = stateOracle elapsed l (s.StaleLimit * 1000L)))

[<Property(MaxTest = 2000)>]
let ``states only move forward in time`` () =
    Prop.forAll (Arb.fromGen (Gen.zip3 entryGen (Gen.choose64 (0L, 1L <<< 40)) (Gen.choose64 (0L, 1L <<< 40)))) (fun ((_, _, now, e), a, b) ->
        let times = List.sort ([ now + a; now + b ] @ probes e)
        times |> List.pairwise |> List.forall (fun (t1, t2) -> rank (state e t1) <= rank (state e t2)))

[<Property(MaxTest = 1000)>]
let ``the prefetch window is the last tenth of the lifetime`` () =
    Prop.forAll (Arb.fromGen entryGen) (fun (s, ttl, now, e) ->
        let l = lifetime s ttl
        e.StoredAt = now
        && e.FreshUntil = now + l
        && now < e.PrefetchAt
        && e.PrefetchAt < e.FreshUntil
        && (e.FreshUntil - e.PrefetchAt) * 10L = l)

[<Property(MaxTest = 1000)>]
let ``stale-limit 0 never serves stale`` () =
    Prop.forAll (Arb.fromGen (Gen.zip entryGen (Gen.choose64 (0L, 1L <<< 40)))) (fun ((s, ttl, now, _), d) ->
        let e = entry { s with StaleLimit = 0L } now (lifetime s ttl)
        (d :: (probes e |> List.map (fun t -> t - now)))
        |> List.forall (fun elapsed -> state e (now + elapsed) <> Stale))

/// "at most once per min(30 s, the entry's lifetime)", and never more than once a second.
let private recheckOracle (l: int64) =
    [ (fun l -> l < 1_000L), 1_000L; (fun l -> l > 30_000L), 30_000L ]
    |> List.tryFind (fun (holds, _) -> holds l)
    |> Option.map snd
    |> Option.defaultValue l

[<Property(MaxTest = 1000)>]
let ``a stale entry is asked again after min(30 s, its lifetime)`` () =
    Prop.forAll (Arb.fromGen (Gen.zip settingsGen (Gen.choose64 (0L, 100_000_000L)))) (fun (s, l) ->
        (entry s 0L l).Recheck = recheckOracle l)

[<Fact>]
let ``the documented recheck intervals`` () =
    let s = settings 3600L 86_400L
    Assert.Equal(2_000L, (entry s 0L (lifetime (settings 2L 60L) 300L)).Recheck)
    Assert.Equal(5_000L, (entry s 0L (lifetime s 0L)).Recheck)
    Assert.Equal(30_000L, (entry s 0L (lifetime s 300L)).Recheck)

[<Fact>]
let ``the documented sweep intervals`` () =
    // cache-ttl (s) -> sweep every (ms): every cache-ttl, but at least once a minute.
    for cacheTtl, expected in [ 0L, 1_000L; 1L, 1_000L; 2L, 2_000L; 59L, 59_000L; 60L, 60_000L; 3600L, 60_000L ] do
        Assert.Equal(expected, sweepEvery (settings cacheTtl 0L))

/// What a hit does, by the entry's state, whether a refresh failed, and whether the
/// recheck time has come: the README's cache and "When DNS fails" sections as a table.
let private useTable =
    [ (Fresh, false, true), Answer
      (Fresh, true, false), Answer
      (Fresh, true, true), Answer
      (Prefetch, false, true), AnswerAndRefresh
      (Prefetch, true, false), Answer
      (Prefetch, true, true), AnswerAndRefresh
      (Stale, false, true), Ask
      (Stale, true, false), AnswerStale
      (Stale, true, true), AnswerStaleAndRefresh
      (Expired, false, true), Ask
      (Expired, true, false), Ask
      (Expired, true, true), Ask ]

let private failedAtGen (e: Entry) =
    Gen.frequency
        [ 1, Gen.constant NotFailed
          3, Gen.choose64 (e.StoredAt, e.StaleUntil + 60_000L) ]

[<Property(MaxTest = 3000)>]
let ``a hit does what the table says`` () =
    let g =
        gen {
            let! (_, _, _, e) = entryGen
            let! failedAt = failedAtGen e
            let! now = Gen.oneof [ Gen.elements (probes e @ [ failedAt - 1L; failedAt; failedAt + 1L ]); Gen.choose64 (e.StoredAt, e.StaleUntil + 60_000L) ]
            return e, failedAt, now
        }

    Prop.forAll (Arb.fromGen g) (fun (e, failedAt, now) ->
        let failed = failedAt <> NotFailed
        let due = now >= failedAt
        let expected = useTable |> List.find (fun (k, _) -> k = (state e now, failed, due)) |> snd
        onHit e failedAt now = expected)

[<Property(MaxTest = 1000)>]
let ``only an entry that is not expired covers a DNS failure`` () =
    let g =
        gen {
            let! (_, _, _, e) = entryGen
            let! now = Gen.oneof [ Gen.elements (probes e); Gen.choose64 (e.StoredAt, e.StaleUntil + 60_000L) ]
            return e, now
        }

    Prop.forAll (Arb.fromGen g) (fun (e, now) ->
        match cover e now, state e now with
        | ValueNone, Expired -> true
        | ValueSome c, (Fresh | Prefetch | Stale) ->
            c.AskAgainAt - now = e.Recheck && c.RecheckSeconds * 1000L <= e.Recheck && e.Recheck < (c.RecheckSeconds + 1L) * 1000L
        | _ -> false)

/// A stale entry after a failure, then lookups at increasing times: answered stale until
/// the recheck time, then stale with a background query, and the lookup never waits.
[<Property(MaxTest = 1000)>]
let ``after a failure a stale entry answers at once and asks again once the recheck is due`` () =
    let g =
        gen {
            let! (s, _, _, e) = entryGen |> Gen.filter (fun (s, _, _, _) -> s.StaleLimit > 0L)
            let! failedAt = Gen.choose64 (e.FreshUntil, e.StaleUntil - 1L)
            let! later = Gen.listOf (Gen.choose64 (0L, 2L * e.Recheck))
            return s, e, failedAt, later
        }

    Prop.forAll (Arb.fromGen g) (fun (_, e, failedAt, later) ->
        match cover e failedAt with
        | ValueNone -> false
        | ValueSome c ->
            later
            |> List.map (fun d -> failedAt + d)
            |> List.filter (fun t -> t < e.StaleUntil)
            |> List.forall (fun t ->
                onHit e c.AskAgainAt t = (if t < failedAt + e.Recheck then AnswerStale else AnswerStaleAndRefresh)))

[<Fact>]
let ``the documented stale example`` () =
    // --cache-ttl 2 --stale-limit 60: DNS fails 2.3 s after the answer was stored.
    let s = settings 2L 60L
    let e = entry s 0L (lifetime s 300L)
    Assert.Equal(Stale, state e 2_300L)
    Assert.Equal(Ask, onHit e NotFailed 2_300L)

    match cover e 2_300L with
    | ValueSome c ->
        Assert.Equal(4_300L, c.AskAgainAt)
        Assert.Equal(0L, c.ExpiredSeconds)
        Assert.Equal(2L, c.RecheckSeconds)
        Assert.Equal(AnswerStale, onHit e c.AskAgainAt 4_299L)
        Assert.Equal(AnswerStaleAndRefresh, onHit e c.AskAgainAt 4_300L)
    | ValueNone -> failwith "a stale entry covers a failure"

    Assert.Equal(ValueNone, cover e 62_000L)
    // Expired 59.999 s ago: 59 whole seconds.
    Assert.Equal(59L, (cover e 61_999L).Value.ExpiredSeconds)
    Assert.Equal(Expired, state e 62_000L)
