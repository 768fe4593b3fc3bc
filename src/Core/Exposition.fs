/// The Prometheus text exposition format, version 0.0.4: what --metrics serves. The shell
/// takes a snapshot of its counters; everything about names, labels and text is here.
module Router.Core.Exposition

open System
open System.Globalization
open System.Text

type Kind =
    | Counter
    | Gauge
    | Histogram

/// One sample line: `name{label="value",...} value`.
type Sample =
    { Name: string
      Labels: (string * string) list
      Value: float }

/// A metric family: `# HELP` and `# TYPE` lines, then its samples.
type Family =
    { Name: string
      Help: string
      Kind: Kind
      Samples: Sample list }

/// Counts of a histogram, per bucket (not cumulative): Counts has one more entry than
/// Bounds, the last one counting the observations above the highest bound.
type Buckets =
    { Bounds: float array
      Counts: int64 array
      Sum: float }

/// Everything the router reports, as read at one scrape.
type RelayHealth =
    { Server: string
      Up: bool
      ChecksOk: int64
      ChecksFailed: int64 }

type Snapshot =
    { Version: string
      /// Sent counters per group, as the stats table has them.
      Groups: Stats.GroupCounts list
      /// (reply code, lookups answered with it)
      Lookups: (int * int64) list
      Repeats: int64
      DnsQueries: int64
      DnsFailures: int64
      DnsLatency: Buckets
      CacheHits: int64
      CacheMisses: int64
      CacheStale: int64
      CachePrefetches: int64
      CacheEntries: int64
      OpenConnections: int64
      ReloadsSucceeded: int64
      ReloadsFailed: int64
      LastReloadSucceeded: bool
      Relays: RelayHealth list
      HealthChecks: bool
      FailingOpen: string list }

[<Literal>]
let Prefix = "postfix_mx_smart_router_"

/// The Content-Type of the format.
[<Literal>]
let ContentType = "text/plain; version=0.0.4; charset=utf-8"

/// A label value: backslash, double quote and line feed escaped.
let escapeLabel (value: string) : string =
    value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n")

/// HELP text: backslash and line feed escaped.
let escapeHelp (text: string) : string =
    text.Replace("\\", "\\\\").Replace("\n", "\\n")

/// A sample value as Go's ParseFloat reads it: integers without a fraction, +Inf, -Inf, NaN.
let number (value: float) : string =
    if Double.IsPositiveInfinity value then "+Inf"
    elif Double.IsNegativeInfinity value then "-Inf"
    elif Double.IsNaN value then "NaN"
    else value.ToString("R", CultureInfo.InvariantCulture)

let private kindText (kind: Kind) =
    match kind with
    | Counter -> "counter"
    | Gauge -> "gauge"
    | Histogram -> "histogram"

let private sampleLine (sb: StringBuilder) (s: Sample) =
    sb.Append(s.Name) |> ignore

    if not s.Labels.IsEmpty then
        sb.Append('{') |> ignore

        s.Labels
        |> List.iteri (fun i (k, v) ->
            if i > 0 then
                sb.Append(',') |> ignore

            sb.Append(k).Append("=\"").Append(escapeLabel v).Append('"') |> ignore)

        sb.Append('}') |> ignore

    sb.Append(' ').Append(number s.Value).Append('\n') |> ignore

/// The families as text, each with its HELP and TYPE lines.
let render (families: Family list) : string =
    let sb = StringBuilder(4096)

    for f in families do
        sb.Append("# HELP ").Append(f.Name).Append(' ').Append(escapeHelp f.Help).Append('\n') |> ignore
        sb.Append("# TYPE ").Append(f.Name).Append(' ').Append(kindText f.Kind).Append('\n') |> ignore

        for s in f.Samples do
            sampleLine sb s

    sb.ToString()

let private single (name: string) (help: string) (kind: Kind) (value: float) : Family =
    { Name = Prefix + name
      Help = help
      Kind = kind
      Samples = [ { Name = Prefix + name; Labels = []; Value = value } ] }

let private counter name help (value: int64) = single name help Counter (float value)

let private gauge name help (value: float) = single name help Gauge value

/// A histogram family: cumulative `_bucket{le}` samples ending with +Inf, `_sum`, `_count`.
let histogram (name: string) (help: string) (b: Buckets) : Family =
    let full = Prefix + name
    let count i = if i < b.Counts.Length then b.Counts[i] else 0L
    // Cumulative counts, one per bound, then +Inf.
    let cumulative = Array.init (b.Bounds.Length + 1) count |> Array.scan (+) 0L |> Array.tail

    let buckets =
        cumulative
        |> Array.mapi (fun i n ->
            { Name = full + "_bucket"
              Labels = [ "le", (if i < b.Bounds.Length then number b.Bounds[i] else "+Inf") ]
              Value = float n })
        |> List.ofArray

    let total = cumulative[cumulative.Length - 1]

    { Name = full
      Help = help
      Kind = Histogram
      Samples =
        buckets
        @ [ { Name = full + "_sum"; Labels = []; Value = b.Sum }
            { Name = full + "_count"; Labels = []; Value = float total } ] }

/// Per group and relay: picks so far, the share the weights ask for, the share so far.
let decisions (groups: Stats.GroupCounts list) : Family list =
    let rows =
        [ for g in groups do
              for r in Stats.rows g do
                  yield [ "group", g.Group.Name; "server", r.Relay.Name ], r.Decisions, r.TargetShare, r.CurrentShare ]

    let family name help kind (value: int64 * float * float -> float) =
        { Name = Prefix + name
          Help = help
          Kind = kind
          Samples =
            rows
            |> List.map (fun (labels, sent, target, current) ->
                { Name = Prefix + name
                  Labels = labels
                  Value = value (sent, target, current) }) }

    [ family
          "decisions_total"
          "Relays picked, per group and server (All Servers also counts rules that name a server)."
          Counter
          (fun (sent, _, _) -> float sent)
      family "target_share" "Share of the group's picks the weights ask for (0 to 1)." Gauge (fun (_, t, _) -> t)
      family "current_share" "Share of the group's picks the server has had so far (0 to 1)." Gauge (fun (_, _, c) -> c) ]

let health (s: Snapshot) : Family list =
    let family name help kind samples =
        { Name = Prefix + name
          Help = help
          Kind = kind
          Samples = samples |> List.map (fun (labels, value) -> { Name = Prefix + name; Labels = labels; Value = value }) }

    [ family
          "relay_up"
          "1 when the relay takes picks, 0 when its health checks marked it down (always 1 while checks are off)."
          Gauge
          [ for r in s.Relays -> [ "server", r.Server ], (if r.Up then 1.0 else 0.0) ] ]
    @ (if s.HealthChecks then
           [ family
                 "health_checks_total"
                 "Health probes of each relay's next hop, by result (ok: 220, EHLO 250, QUIT in time)."
                 Counter
                 [ for r in s.Relays do
                       yield [ "server", r.Server; "result", "ok" ], float r.ChecksOk
                       yield [ "server", r.Server; "result", "fail" ], float r.ChecksFailed ]
             family
                 "group_fail_open"
                 "1 when no relay of the group is up and it answers as if all were (Postfix defers its mail)."
                 Gauge
                 [ for g in s.Groups -> [ "group", g.Group.Name ], (if List.contains g.Group.Name s.FailingOpen then 1.0 else 0.0) ] ]
       else
           [])

/// Every family the router serves, in a stable order.
let families (s: Snapshot) : Family list =
    [ { Name = Prefix + "build_info"
        Help = "Build information; the value is always 1."
        Kind = Gauge
        Samples = [ { Name = Prefix + "build_info"; Labels = [ "version", s.Version ]; Value = 1.0 } ] } ]
    @ decisions s.Groups
    @ [ { Name = Prefix + "lookups_total"
          Help = "Lookups answered, by reply code (200 found, 500 not found, 400 deferred)."
          Kind = Counter
          Samples =
            s.Lookups
            |> List.map (fun (code, n) ->
                { Name = Prefix + "lookups_total"
                  Labels = [ "code", string code ]
                  Value = float n }) }
        counter "repeats_total" "Lookups answered with the relay of the same key within the repeat window." s.Repeats
        counter "dns_queries_total" "MX queries sent to DNS." s.DnsQueries
        counter "dns_failures_total" "MX queries that failed (SERVFAIL, REFUSED, time-out, network error)." s.DnsFailures
        histogram "dns_query_duration_seconds" "Time an MX query took, failures included." s.DnsLatency
        counter "cache_hits_total" "MX lookups answered from a fresh cache entry." s.CacheHits
        counter "cache_misses_total" "MX lookups that waited for DNS (answered or failed)." s.CacheMisses
        counter "cache_stale_total" "MX lookups answered from an expired cache entry because DNS failed." s.CacheStale
        counter "cache_prefetches_total" "Background queries that refresh an entry before it expires." s.CachePrefetches
        gauge "cache_entries" "Domains in the MX cache." (float s.CacheEntries)
        gauge "open_connections" "Client connections open now." (float s.OpenConnections)
        { Name = Prefix + "reloads_total"
          Help = "Config reloads (SIGHUP), by result."
          Kind = Counter
          Samples =
            [ { Name = Prefix + "reloads_total"
                Labels = [ "result", "success" ]
                Value = float s.ReloadsSucceeded }
              { Name = Prefix + "reloads_total"
                Labels = [ "result", "failure" ]
                Value = float s.ReloadsFailed } ] }
        gauge
            "config_last_reload_successful"
            "1 when the last reload succeeded (or none was asked), 0 when the config on disk was rejected."
            (if s.LastReloadSucceeded then 1.0 else 0.0) ]
    @ health s
