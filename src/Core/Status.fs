/// The status page's figures: one snapshot value, taken by the shell, and the JSON that
/// GET /status.json serves. The HTML page is StatusPage's, from the same snapshot.
module Router.Core.Status

open System
open System.Buffers
open System.Text
open System.Text.Json

type HealthState =
    | Up
    | Down
    | Unchecked

type Probe =
    { Ok: bool
      At: DateTimeOffset
      Duration: TimeSpan
      Detail: string }

type RelayHealth =
    { State: HealthState
      LastProbe: Probe option }

type ReloadOutcome =
    { At: DateTimeOffset
      Succeeded: bool
      Message: string }

type Snapshot =
    { Metrics: Exposition.Snapshot
      Now: DateTimeOffset
      Started: DateTimeOffset
      ConfigFile: string
      LastReload: ReloadOutcome option
      Health: Map<string, RelayHealth> option }

let health (s: Snapshot) (relay: Model.Relay) : RelayHealth option =
    s.Health
    |> Option.map (fun m ->
        match Map.tryFind relay.Name m with
        | Some h -> h
        | None -> { State = Unchecked; LastProbe = None })

let stateText (state: HealthState) =
    match state with
    | Up -> "up"
    | Down -> "down"
    | Unchecked -> "unchecked"

let uptimeSeconds (s: Snapshot) =
    max 0L (int64 (s.Now - s.Started).TotalSeconds)

[<Literal>]
let JsonContentType = "application/json; charset=utf-8"

let private time (t: DateTimeOffset) =
    t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", Globalization.CultureInfo.InvariantCulture)

let json (s: Snapshot) : string =
    let buffer = ArrayBufferWriter<byte>(8192)
    // Relaxed escaping would pass <, > and & through; the default keeps the JSON safe to
    // paste into HTML too, and every reader decodes \u003C the same.
    use w = new Utf8JsonWriter(buffer, JsonWriterOptions(Indented = true))
    let m = s.Metrics
    w.WriteStartObject()
    w.WriteString("version", m.Version)
    w.WriteString("now", time s.Now)
    w.WriteString("started", time s.Started)
    w.WriteNumber("uptime_seconds", uptimeSeconds s)
    w.WriteString("config_file", s.ConfigFile)

    match s.LastReload with
    | None -> w.WriteNull("last_reload")
    | Some r ->
        w.WriteStartObject("last_reload")
        w.WriteString("at", time r.At)
        w.WriteBoolean("succeeded", r.Succeeded)
        w.WriteString("message", r.Message)
        w.WriteEndObject()

    w.WriteNumber("reloads_succeeded", m.ReloadsSucceeded)
    w.WriteNumber("reloads_failed", m.ReloadsFailed)
    w.WriteBoolean("health_checks", s.Health.IsSome)
    w.WriteStartObject("lookups")

    for (code, n) in m.Lookups do
        w.WriteNumber(string code, n)

    w.WriteEndObject()
    w.WriteNumber("repeats", m.Repeats)
    w.WriteStartObject("cache")
    w.WriteNumber("hits", m.CacheHits)
    w.WriteNumber("misses", m.CacheMisses)
    w.WriteNumber("stale", m.CacheStale)
    w.WriteNumber("prefetches", m.CachePrefetches)
    w.WriteNumber("entries", m.CacheEntries)
    w.WriteEndObject()
    w.WriteStartObject("dns")
    w.WriteNumber("queries", m.DnsQueries)
    w.WriteNumber("failures", m.DnsFailures)
    w.WriteNumber("seconds_total", m.DnsLatency.Sum)
    w.WriteEndObject()
    w.WriteStartObject("connections")
    w.WriteNumber("open", m.OpenConnections)
    w.WriteEndObject()
    w.WriteStartArray("groups")

    for g in m.Groups do
        let rs = Stats.rows g
        w.WriteStartObject()
        w.WriteString("name", g.Group.Name)
        w.WriteNumber("decisions", rs |> Array.sumBy (fun r -> r.Decisions))
        w.WriteNumber("repeats", rs |> Array.sumBy (fun r -> r.Repeats))
        w.WriteStartArray("relays")

        for r in rs do
            w.WriteStartObject()
            w.WriteString("name", r.Relay.Name)
            w.WriteString("address", r.Relay.Address)
            w.WriteNumber("weight", r.Relay.Weight)
            w.WriteNumber("target_share", r.TargetShare)
            w.WriteNumber("current_share", r.CurrentShare)
            w.WriteNumber("decisions", r.Decisions)
            w.WriteNumber("repeats", r.Repeats)

            match health s r.Relay with
            | None -> ()
            | Some h ->
                w.WriteStartObject("health")
                w.WriteString("state", stateText h.State)

                match h.LastProbe with
                | None -> w.WriteNull("last_probe")
                | Some p ->
                    w.WriteStartObject("last_probe")
                    w.WriteBoolean("ok", p.Ok)
                    w.WriteString("at", time p.At)
                    w.WriteNumber("seconds", p.Duration.TotalSeconds)
                    w.WriteString("detail", p.Detail)
                    w.WriteEndObject()

                w.WriteEndObject()

            w.WriteEndObject()

        w.WriteEndArray()
        w.WriteEndObject()

    w.WriteEndArray()
    w.WriteEndObject()
    w.Flush()
    Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n"
