/// GET /: the status page for a person, rendered from a Status.Snapshot. One document,
/// inline CSS, no script, no outside assets, refreshing itself every 10 s. It is also
/// well-formed XML (every element closed, attributes quoted, no named entities but the
/// XML ones), so tools and tests can read it with any XML parser.
module Router.Core.StatusPage

open System
open System.Globalization
open System.Text
open Router.Core.Status

let escape (text: string) : string =
    let sb = StringBuilder(text.Length + 16)
    let mutable i = 0

    while i < text.Length do
        let c = text[i]

        match c with
        | '&' -> sb.Append("&amp;") |> ignore
        | '<' -> sb.Append("&lt;") |> ignore
        | '>' -> sb.Append("&gt;") |> ignore
        | '"' -> sb.Append("&quot;") |> ignore
        | '\'' -> sb.Append("&#39;") |> ignore
        | _ when Char.IsHighSurrogate c && i + 1 < text.Length && Char.IsLowSurrogate text[i + 1] ->
            sb.Append(c).Append(text[i + 1]) |> ignore
            i <- i + 1
        | _ when c < ' ' || (c >= '\u007f' && c < '\u00a0') || Char.IsSurrogate c || c = '\uFFFE' || c = '\uFFFF' ->
            sb.Append('\uFFFD') |> ignore
        | _ -> sb.Append(c) |> ignore

        i <- i + 1

    sb.ToString()

[<Literal>]
let ContentType = "text/html; charset=utf-8"

[<Literal>]
let RefreshSeconds = 10

let private inv = CultureInfo.InvariantCulture

let private count (n: int64) = n.ToString("N0", inv)

/// 0..1 as "41.7%".
let private percent (share: float) = (share * 100.0).ToString("F1", inv) + "%"

let private time (t: DateTimeOffset) =
    t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", inv)

let private duration (seconds: int64) =
    let d, h, m, s = seconds / 86400L, seconds / 3600L % 24L, seconds / 60L % 60L, seconds % 60L

    let parts = [ d, "d"; h, "h"; m, "m"; s, "s" ] |> List.skipWhile (fun (n, u) -> n = 0L && u <> "s")
    String.Join(" ", parts |> List.map (fun (n, u) -> string n + u))

let private ago (now: DateTimeOffset) (t: DateTimeOffset) =
    duration (max 0L (int64 (now - t).TotalSeconds)) + " ago"

let private style =
    """
body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 .5em}h1 small{font-weight:normal;color:#666}
h2{font-size:16px;margin:1.2em 0 .3em}h2 small{font-weight:normal;color:#666}
table{border-collapse:collapse;background:#fff}
th,td{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:middle}
th{background:#eef1f5;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.summary{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
.summary caption{text-align:left;font-weight:600;padding:2px 0}
.ok{color:#17692d}.failed{color:#b00020;font-weight:600}
tr.down td{background:#fde2e2}tr.up td.state{color:#17692d;font-weight:600}
tr.down td.state{color:#b00020;font-weight:600}tr.unchecked td.state{color:#666}
.track{position:relative;width:200px;height:12px;background:#e6e6e6;border-radius:2px}
.fill{position:absolute;left:0;top:0;bottom:0;background:#4a7bd0;border-radius:2px}
.mark{position:absolute;top:-3px;bottom:-3px;width:2px;margin-left:-1px;background:#111}
tfoot td,tfoot th{background:#f3f3f3}
address{margin-top:1.5em;font-style:normal;color:#666;font-size:12px}
"""

let private td (sb: StringBuilder) (cls: string) (text: string) =
    sb.Append("<td class=\"").Append(cls).Append("\">").Append(escape text).Append("</td>") |> ignore

let private pair (sb: StringBuilder) (id: string) (label: string) (value: string) =
    sb.Append("<tr><th>").Append(escape label).Append("</th><td class=\"num\" id=\"").Append(id).Append("\">")
        .Append(escape value).Append("</td></tr>")
    |> ignore

let private counters (sb: StringBuilder) (caption: string) (items: (string * string * int64) list) =
    sb.Append("<table><caption>").Append(caption).Append("</caption>") |> ignore

    for (id, label, n) in items do
        pair sb id label (count n)

    sb.Append("</table>") |> ignore

let private info (sb: StringBuilder) (s: Snapshot) =
    let m = s.Metrics
    sb.Append("<table><caption>Router</caption>") |> ignore
    let row (id: string) (label: string) (cls: string) (value: string) =
        sb.Append("<tr><th>").Append(label).Append("</th><td id=\"").Append(id).Append("\"") |> ignore
        if cls <> "" then sb.Append(" class=\"").Append(cls).Append("\"") |> ignore
        sb.Append(">").Append(escape value).Append("</td></tr>") |> ignore

    row "version" "Version" "" m.Version
    row "uptime" "Uptime" "" (duration (uptimeSeconds s) + " (since " + time s.Started + ")")
    row "config-file" "Config file" "" s.ConfigFile

    match s.LastReload with
    | None -> row "last-reload" "Last reload" "" "none since start"
    | Some r ->
        let outcome = if r.Succeeded then "succeeded" else "failed"
        row "last-reload" "Last reload" (if r.Succeeded then "ok" else "failed")
            (time r.At + " (" + ago s.Now r.At + "): " + outcome + ": " + r.Message)

    row "reloads" "Reloads" "" (count m.ReloadsSucceeded + " succeeded, " + count m.ReloadsFailed + " failed")
    row "health-checks" "Health checks" "" (if s.Health.IsSome then "on" else "off")
    sb.Append("</table>") |> ignore

let private lookupCount (m: Exposition.Snapshot) code =
    m.Lookups |> List.tryFind (fun (c, _) -> c = code) |> Option.map snd |> Option.defaultValue 0L

let private summary (sb: StringBuilder) (s: Snapshot) =
    let m = s.Metrics
    sb.Append("<div class=\"summary\">") |> ignore
    info sb s

    counters sb "Lookups"
        [ "lookups-200", "200 found", lookupCount m 200
          "lookups-500", "500 not found", lookupCount m 500
          "lookups-400", "400 deferred", lookupCount m 400
          "repeats", "repeats", m.Repeats ]

    counters sb "MX cache"
        [ "cache-hits", "hits", m.CacheHits
          "cache-misses", "misses", m.CacheMisses
          "cache-stale", "stale answers", m.CacheStale
          "cache-prefetches", "prefetches", m.CachePrefetches
          "cache-entries", "entries", m.CacheEntries ]

    counters sb "DNS"
        [ "dns-queries", "queries", m.DnsQueries
          "dns-failures", "failures", m.DnsFailures ]

    counters sb "Connections" [ "open-connections", "open", m.OpenConnections ]
    sb.Append("</div>") |> ignore

let private bar (sb: StringBuilder) (r: Stats.Row) =
    let pct (share: float) = (share * 100.0).ToString("0.###", inv)

    sb.Append("<td class=\"bar\"><div class=\"track\"><div class=\"fill\" style=\"width:")
        .Append(pct r.CurrentShare).Append("%\"></div><div class=\"mark\" style=\"left:")
        .Append(pct r.TargetShare).Append("%\"></div></div></td>")
    |> ignore

let private probeText (now: DateTimeOffset) (p: Probe option) =
    match p with
    | None -> "not yet"
    | Some p ->
        (if p.Ok then "ok" else "failed") + ", " + ago now p.At + ", "
        + p.Duration.TotalMilliseconds.ToString("0.#", inv) + " ms"
        + (if p.Detail = "" then "" else ": " + p.Detail)

let private group (sb: StringBuilder) (s: Snapshot) (g: Stats.GroupCounts) =
    let rs = Stats.rows g
    let checks = s.Health.IsSome
    let decisions = rs |> Array.sumBy (fun r -> r.Decisions)
    let repeats = rs |> Array.sumBy (fun r -> r.Repeats)
    let name = escape g.Group.Name
    let title = if g.Group.Name = Model.AllServersName then name else "Group " + name

    sb.Append("<section class=\"group\" data-group=\"").Append(name).Append("\"><h2>").Append(title)
        .Append(" <small>").Append(count decisions).Append(if decisions = 1L then " decision" else " decisions")
        .Append("</small></h2>")
        .Append("<table class=\"relays\"><thead><tr><th>Relay</th><th>Address</th><th>Weight</th>")
        .Append("<th>Target</th><th>Current</th><th>Current share beside target</th>")
        .Append("<th>Decisions</th><th>Repeats</th>")
    |> ignore

    if checks then sb.Append("<th>State</th><th>Last probe</th>") |> ignore
    sb.Append("</tr></thead><tbody>") |> ignore

    for r in rs do
        let h = health s r.Relay
        let state = h |> Option.map (fun h -> stateText h.State)

        sb.Append("<tr class=\"relay").Append(match state with Some st -> " " + st | None -> "")
            .Append("\" data-relay=\"").Append(escape r.Relay.Name).Append("\">")
        |> ignore

        td sb "name" r.Relay.Name
        td sb "address" r.Relay.Address
        td sb "weight num" (string r.Relay.Weight)
        td sb "target num" (percent r.TargetShare)
        td sb "current num" (percent r.CurrentShare)
        bar sb r
        td sb "decisions num" (count r.Decisions)
        td sb "repeats num" (count r.Repeats)

        match h with
        | Some h ->
            td sb "state" (stateText h.State)
            td sb "probe" (probeText s.Now h.LastProbe)
        | None -> ()

        sb.Append("</tr>") |> ignore

    sb.Append("</tbody><tfoot><tr><th colspan=\"2\">Total</th>") |> ignore
    td sb "weight num" (string (rs |> Array.sumBy (fun r -> r.Relay.Weight)))
    sb.Append("<td></td><td></td><td></td>") |> ignore
    td sb "decisions num" (count decisions)
    td sb "repeats num" (count repeats)
    if checks then sb.Append("<td></td><td></td>") |> ignore
    sb.Append("</tr></tfoot></table></section>\n") |> ignore

let render (s: Snapshot) : string =
    let m = s.Metrics
    let sb = StringBuilder(16384)

    sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\" />")
        .Append("<meta http-equiv=\"refresh\" content=\"").Append(RefreshSeconds).Append("\" />")
        .Append("<title>postfix-mx-smart-router ").Append(escape m.Version).Append("</title>")
        .Append("<style>").Append(style).Append("</style></head>\n<body>")
        .Append("<h1>postfix-mx-smart-router <small>").Append(escape m.Version).Append(", ")
        .Append(time s.Now).Append("</small></h1>\n")
    |> ignore

    summary sb s
    sb.Append('\n') |> ignore

    let allFirst =
        (m.Groups |> List.filter (fun g -> g.Group.Name = Model.AllServersName))
        @ (m.Groups |> List.filter (fun g -> g.Group.Name <> Model.AllServersName))

    for g in allFirst do
        group sb s g

    sb.Append("<address>Refreshes every ").Append(RefreshSeconds)
        .Append(" s. The same figures: <a href=\"status.json\">status.json</a>, <a href=\"metrics\">metrics</a>.</address>")
        .Append("</body></html>\n")
    |> ignore

    sb.ToString()
