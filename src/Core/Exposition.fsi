/// The Prometheus text exposition format, version 0.0.4: what --metrics serves. The shell
/// takes a snapshot of its counters; everything about names, labels and text is here.
module Router.Core.Exposition

type Kind =
    | Counter
    | Gauge
    | Histogram

/// One sample line: `name{label="value",...} value`.
type Sample =
    {
      Name: string
      Labels: (string * string) list
      Value: float
    }

/// A metric family: `# HELP` and `# TYPE` lines, then its samples.
type Family =
    {
      Name: string
      Help: string
      Kind: Kind
      Samples: Sample list
    }

/// Counts of a histogram, per bucket (not cumulative): Counts has one more entry than
/// Bounds, the last one counting the observations above the highest bound.
type Buckets =
    {
      Bounds: float array
      Counts: int64 array
      Sum: float
    }

/// One relay's health for the metrics: up (always, while checks are off) and its probes.
type RelayHealth =
    {
      Server: string
      Up: bool
      ChecksOk: int64
      ChecksFailed: int64
    }

/// Everything the router reports, as read at one scrape.
type Snapshot =
    {
      Version: string

      /// Sent counters per group, as the stats table has them.
      Groups: Router.Core.Stats.GroupCounts list

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

      /// Every relay, in file order.
      Relays: RelayHealth list
      /// Health checks are on: the probe counters and the groups failing open are reported.
      HealthChecks: bool
      /// The groups with no member up, answering as if all were up.
      FailingOpen: string list
    }

[<Literal>]
val Prefix: string = "postfix_mx_smart_router_"

/// The Content-Type of the format.
[<Literal>]
val ContentType: string = "text/plain; version=0.0.4; charset=utf-8"

/// A label value: backslash, double quote and line feed escaped.
val escapeLabel: value: string -> string

/// HELP text: backslash and line feed escaped.
val escapeHelp: text: string -> string

/// A sample value as Go's ParseFloat reads it: integers without a fraction, +Inf, -Inf, NaN.
val number: value: float -> string

/// The families as text, each with its HELP and TYPE lines.
val render: families: Family list -> string

/// A histogram family: cumulative `_bucket{le}` samples ending with +Inf, `_sum`, `_count`.
val histogram: name: string -> help: string -> b: Buckets -> Family

/// Per group and relay: picks so far, the share the weights ask for, the share so far.
val decisions: groups: Router.Core.Stats.GroupCounts list -> Family list

/// relay_up for every relay; with health checks on, health_checks_total and group_fail_open.
val health: s: Snapshot -> Family list

/// Every family the router serves, in a stable order.
val families: s: Snapshot -> Family list
