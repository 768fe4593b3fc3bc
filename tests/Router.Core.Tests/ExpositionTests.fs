/// The Prometheus text format and the metrics endpoint's HTTP.
module Router.Core.Tests.ExpositionTests

open System
open System.Text
open System.Text.RegularExpressions
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.Tests.Tree

// ---- a reader of the format, independent of the writer ------------------------------

let private metricName = "[a-zA-Z_:][a-zA-Z0-9_:]*"
let private labelName = "[a-zA-Z_][a-zA-Z0-9_]*"
let private labelValue = "\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\""

let private sampleLine =
    Regex(
        "^(" + metricName + ")(?:\\{(" + labelName + "=" + labelValue + "(?:," + labelName + "=" + labelValue
        + ")*)?\\})? (\\S+)$"
    )

let private labelPair = Regex("(" + labelName + ")=(" + labelValue + ")")

let unescape (quoted: string) =
    let inner = quoted.Substring(1, quoted.Length - 2)
    let sb = StringBuilder()
    let mutable i = 0

    while i < inner.Length do
        if inner[i] = '\\' then
            sb.Append(if inner[i + 1] = 'n' then '\n' else inner[i + 1]) |> ignore
            i <- i + 2
        else
            sb.Append(inner[i]) |> ignore
            i <- i + 1

    sb.ToString()

type Parsed =
    { Types: Map<string, string>
      Samples: (string * (string * string) list * float) list }

/// Parses the text; fails on any line that is not HELP, TYPE or a sample of a declared family.
let parse (text: string) : Parsed =
    Assert.EndsWith("\n", text)
    let mutable types = Map.empty
    let samples = ResizeArray()

    for line in text.Substring(0, text.Length - 1).Split('\n') do
        if line.StartsWith "# HELP " then
            Assert.Matches("^# HELP " + metricName + " .*$", line)
        elif line.StartsWith "# TYPE " then
            let parts = line.Split(' ')
            Assert.Equal(4, parts.Length)
            Assert.Contains(parts[3], [ "counter"; "gauge"; "histogram"; "summary"; "untyped" ])
            Assert.False(types.ContainsKey parts[2], "TYPE twice for " + parts[2])
            types <- types.Add(parts[2], parts[3])
        else
            let m = sampleLine.Match line
            Assert.True(m.Success, "not a sample line: " + line)
            let name = m.Groups[1].Value

            let labels =
                [ for p in labelPair.Matches(m.Groups[2].Value) -> p.Groups[1].Value, unescape p.Groups[2].Value ]

            let family =
                [ name; Regex.Replace(name, "_(bucket|sum|count)$", "") ]
                |> List.tryFind (fun f -> types.ContainsKey f)

            Assert.True(family.IsSome, "sample before its TYPE line: " + line)

            let value =
                match m.Groups[3].Value with
                | "+Inf" -> Double.PositiveInfinity
                | "-Inf" -> Double.NegativeInfinity
                | "NaN" -> Double.NaN
                | v -> Double.Parse(v, Globalization.CultureInfo.InvariantCulture)

            samples.Add(name, labels, value)

    { Types = types
      Samples = List.ofSeq samples }

let value (p: Parsed) (name: string) (labels: (string * string) list) =
    p.Samples
    |> List.filter (fun (n, l, _) -> n = name && List.sort l = List.sort labels)
    |> List.exactlyOne
    |> fun (_, _, v) -> v

let P = Exposition.Prefix

let snapshot (groups: Stats.GroupCounts list) : Exposition.Snapshot =
    { Version = "1.2.3"
      Groups = groups
      Lookups = [ 200, 7L; 500, 2L; 400, 1L ]
      Repeats = 3L
      DnsQueries = 5L
      DnsFailures = 1L
      DnsLatency =
        { Bounds = [| 0.01; 0.1; 1.0 |]
          Counts = [| 2L; 2L; 0L; 1L |]
          Sum = 3.5 }
      CacheHits = 11L
      CacheMisses = 5L
      CacheStale = 1L
      CachePrefetches = 6L
      CacheEntries = 4L
      OpenConnections = 2L
      ReloadsSucceeded = 1L
      ReloadsFailed = 2L
      LastReloadSucceeded = false
      Relays = []
      HealthChecks = false
      FailingOpen = [] }

let exampleGroups () =
    let config = load (example 0)

    [ { Stats.GroupCounts.Group = config.AllServers
        Stats.GroupCounts.Sent = [| 5L; 5L; 2L; 0L |]
        Stats.GroupCounts.Repeats = [| 0L; 1L; 0L; 0L |] } ]
    @ (config.Groups
       |> List.map (fun g ->
           { Stats.GroupCounts.Group = g
             Stats.GroupCounts.Sent = Array.create g.Members.Length 1L
             Stats.GroupCounts.Repeats = Array.zeroCreate g.Members.Length }))

// ---- examples -----------------------------------------------------------------------

[<Fact>]
let ``numbers are written as Prometheus reads them`` () =
    Assert.Equal("1", Exposition.number 1.0)
    Assert.Equal("0", Exposition.number 0.0)
    Assert.Equal("0.6", Exposition.number 0.6)
    Assert.Equal("123456789012", Exposition.number 123456789012.0)
    Assert.Equal("+Inf", Exposition.number Double.PositiveInfinity)
    Assert.Equal("-Inf", Exposition.number Double.NegativeInfinity)
    Assert.Equal("NaN", Exposition.number Double.NaN)

[<Fact>]
let ``every family of a snapshot parses, with the values given`` () =
    let text = Exposition.render (Exposition.families (snapshot (exampleGroups ())))
    let p = parse text
    Assert.Equal(1.0, value p (P + "build_info") [ "version", "1.2.3" ])
    Assert.Equal(7.0, value p (P + "lookups_total") [ "code", "200" ])
    Assert.Equal(2.0, value p (P + "lookups_total") [ "code", "500" ])
    Assert.Equal(1.0, value p (P + "lookups_total") [ "code", "400" ])
    Assert.Equal(3.0, value p (P + "repeats_total") [])
    Assert.Equal(5.0, value p (P + "dns_queries_total") [])
    Assert.Equal(1.0, value p (P + "dns_failures_total") [])
    Assert.Equal(11.0, value p (P + "cache_hits_total") [])
    Assert.Equal(5.0, value p (P + "cache_misses_total") [])
    Assert.Equal(1.0, value p (P + "cache_stale_total") [])
    Assert.Equal(6.0, value p (P + "cache_prefetches_total") [])
    Assert.Equal(4.0, value p (P + "cache_entries") [])
    Assert.Equal(2.0, value p (P + "open_connections") [])
    Assert.Equal(1.0, value p (P + "reloads_total") [ "result", "success" ])
    Assert.Equal(2.0, value p (P + "reloads_total") [ "result", "failure" ])
    Assert.Equal(0.0, value p (P + "config_last_reload_successful") [])
    Assert.Equal(5.0, value p (P + "decisions_total") [ "group", "All Servers"; "server", "mx1" ])
    Assert.Equal(0.4, value p (P + "target_share") [ "group", "good"; "server", "mx1" ])
    Assert.Equal(1.0 / 3.0, value p (P + "current_share") [ "group", "good"; "server", "mx1" ])
    Assert.Equal(100.0 / 120.0, value p (P + "target_share") [ "group", "bad"; "server", "mx4" ])
    // Counters end in _total; every family has HELP and TYPE.
    for KeyValue(name, kind) in p.Types do
        Assert.Equal((kind = "counter"), name.EndsWith "_total")
        Assert.Contains("# HELP " + name + " ", text)

[<Fact>]
let ``the histogram is cumulative and ends with +Inf, sum and count`` () =
    let p = parse (Exposition.render (Exposition.families (snapshot [])))
    let h = P + "dns_query_duration_seconds"
    Assert.Equal("histogram", p.Types[h])
    Assert.Equal(2.0, value p (h + "_bucket") [ "le", "0.01" ])
    Assert.Equal(4.0, value p (h + "_bucket") [ "le", "0.1" ])
    Assert.Equal(4.0, value p (h + "_bucket") [ "le", "1" ])
    Assert.Equal(5.0, value p (h + "_bucket") [ "le", "+Inf" ])
    Assert.Equal(5.0, value p (h + "_count") [])
    Assert.Equal(3.5, value p (h + "_sum") [])

[<Fact>]
let ``a group with no picks yet has current share 0, not NaN`` () =
    let config = load (example 0)
    let groups =
        [ { Stats.GroupCounts.Group = config.AllServers
            Stats.GroupCounts.Sent = [| 0L; 0L; 0L; 0L |]
            Stats.GroupCounts.Repeats = [||] } ]
    let p = parse (Exposition.render (Exposition.decisions groups))
    Assert.Equal(0.0, value p (P + "current_share") [ "group", "All Servers"; "server", "mx1" ])

[<Fact>]
let ``HELP text and label values are escaped`` () =
    Assert.Equal("a\\\\b\\\"c\\nd", Exposition.escapeLabel "a\\b\"c\nd")
    Assert.Equal("a\\\\b\"c\\nd", Exposition.escapeHelp "a\\b\"c\nd")

// ---- properties ---------------------------------------------------------------------

let private texts =
    Gen.elements [ "a"; "\\"; "\""; "\n"; "x y"; "é"; "{"; "}"; ","; "="; "#" ]
    |> Gen.listOf
    |> Gen.map (fun parts -> String.Concat(parts: string list))

type Texts =
    static member Text() = Arb.fromGen texts

[<Properties(Arbitrary = [| typeof<Texts> |], MaxTest = 500)>]
module Laws =

    [<Property>]
    let ``any group and server name reads back from the rendered text`` (group: string) (server: string) =
        let family =
            { Exposition.Family.Name = "x_total"
              Exposition.Family.Help = group
              Exposition.Family.Kind = Exposition.Counter
              Exposition.Family.Samples =
                [ { Exposition.Sample.Name = "x_total"
                    Exposition.Sample.Labels = [ "group", group; "server", server ]
                    Exposition.Sample.Value = 1.0 } ] }

        let p = parse (Exposition.render [ family ])
        p.Samples = [ "x_total", [ "group", group; "server", server ], 1.0 ]

    [<Property>]
    let ``the shares of a group sum to 1 (current: once it has picked)`` (sent: uint16 list) =
        let config = load (example 0)
        let sent = (sent @ [ 0us; 0us; 0us; 0us ]) |> List.take 4 |> List.map int64 |> Array.ofList
        let counts =
            { Stats.GroupCounts.Group = config.AllServers
              Stats.GroupCounts.Sent = sent
              Stats.GroupCounts.Repeats = [||] }

        let p = parse (Exposition.render (Exposition.decisions [ counts ]))

        let sum name =
            p.Samples |> List.filter (fun (n, _, _) -> n = P + name) |> List.sumBy (fun (_, _, v) -> v)

        let picked = if Array.sum sent > 0L then 1.0 else 0.0
        abs (sum "target_share" - 1.0) < 1e-9 && abs (sum "current_share" - picked) < 1e-9

// ---- the HTTP of the endpoint -------------------------------------------------------

let private head (s: string) = Http.parse s

[<Fact>]
let ``GET and HEAD of /metrics, with or without a query`` () =
    Assert.Equal(Http.Metrics false, head "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    Assert.Equal(Http.Metrics true, head "HEAD /metrics HTTP/1.1\r\n\r\n")
    Assert.Equal(Http.Metrics false, head "GET /metrics?name[]=x HTTP/1.0\r\n\r\n")
    Assert.Equal(Http.NotFound false, head "GET /metrics/ HTTP/1.1\r\n\r\n")
    Assert.Equal(Http.NotFound true, head "HEAD /x HTTP/1.1\r\n\r\n")

[<Fact>]
let ``other methods get 405, what is not HTTP/1 gets 400`` () =
    Assert.Equal(Http.MethodNotAllowed, head "POST /metrics HTTP/1.1\r\n\r\n")
    Assert.Equal(Http.MethodNotAllowed, head "DELETE /metrics HTTP/1.1\r\n\r\n")
    Assert.Equal(Http.BadRequest, head "get u@example.com\n\n")
    Assert.Equal(Http.BadRequest, head "PRI * HTTP/2.0\r\n\r\n")
    Assert.Equal(Http.BadRequest, head "GET  /metrics HTTP/1.1\r\n\r\n")
    Assert.Equal(Http.BadRequest, head "GET metrics HTTP/1.1\r\n\r\n")
    Assert.Equal(Http.BadRequest, head "\r\n\r\n")

[<Fact>]
let ``the head ends at the first blank line`` () =
    let endOf (s: string) = Http.headEnd (ReadOnlySpan(Encoding.ASCII.GetBytes s))
    Assert.Equal(-1, endOf "GET /metrics HTTP/1.1\r\nHost: x\r\n")
    Assert.Equal(-1, endOf "GET /metrics HTTP/1.1\r\n\r")
    Assert.Equal(25, endOf "GET /metrics HTTP/1.1\r\n\r\nrest")
    Assert.Equal(23, endOf "GET /metrics HTTP/1.1\n\nrest")

[<Fact>]
let ``responses carry the length in bytes and close; HEAD has no body`` () =
    let page = "é\n"
    let text (r: Http.Response) = Encoding.UTF8.GetString(Http.encode r)
    let serve (metrics: unit -> string) : Http.Pages =
        { Metrics = metrics
          Html = fun () -> failwith "not asked"
          Json = fun () -> failwith "not asked" }
    let get = text (Http.respond (Http.Metrics false) (serve (fun () -> page)))
    Assert.StartsWith("HTTP/1.1 200 OK\r\n", get)
    Assert.Contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n", get)
    Assert.Contains("\r\nContent-Length: 3\r\n", get)
    Assert.Contains("\r\nConnection: close\r\n", get)
    Assert.EndsWith("\r\n\r\n" + page, get)
    let headOnly = text (Http.respond (Http.Metrics true) (serve (fun () -> page)))
    Assert.Contains("\r\nContent-Length: 3\r\n", headOnly)
    Assert.EndsWith("\r\n\r\n", headOnly)
    Assert.StartsWith("HTTP/1.1 404 ", text (Http.respond (Http.NotFound false) (serve (fun () -> failwith "not asked"))))
    let refused = text (Http.respond Http.MethodNotAllowed (serve (fun () -> failwith "not asked")))
    Assert.StartsWith("HTTP/1.1 405 ", refused)
    Assert.Contains("\r\nAllow: GET, HEAD\r\n", refused)
    Assert.StartsWith("HTTP/1.1 431 ", text (Http.respond Http.HeadTooLarge (serve (fun () -> ""))))

[<Fact>]
let ``relay_up is 1 for every relay while checks are off, and no probe counters are served`` () =
    let s =
        { snapshot (exampleGroups ()) with
            Relays = [ { Server = "mx1"; Up = true; ChecksOk = 0L; ChecksFailed = 0L }; { Server = "mx\"2"; Up = true; ChecksOk = 0L; ChecksFailed = 0L } ] }

    let text = Exposition.render (Exposition.families s)
    Assert.Contains("\n" + P + "relay_up{server=\"mx1\"} 1\n", text)
    Assert.Contains("\n" + P + "relay_up{server=\"mx\\\"2\"} 1\n", text)
    Assert.DoesNotContain("health_checks_total", text)
    Assert.DoesNotContain("group_fail_open", text)

[<Fact>]
let ``with checks on, relay_up, the probes by result and the groups failing open`` () =
    let groups = exampleGroups ()

    let s =
        { snapshot groups with
            Relays = [ { Server = "mx1"; Up = false; ChecksOk = 4L; ChecksFailed = 3L } ]
            HealthChecks = true
            FailingOpen = [ groups[1].Group.Name ] }

    let text = Exposition.render (Exposition.families s)
    Assert.Contains("\n" + P + "relay_up{server=\"mx1\"} 0\n", text)
    Assert.Contains("\n" + P + "health_checks_total{server=\"mx1\",result=\"ok\"} 4\n", text)
    Assert.Contains("\n" + P + "health_checks_total{server=\"mx1\",result=\"fail\"} 3\n", text)
    Assert.Contains("\n" + P + "group_fail_open{group=\"" + groups[1].Group.Name + "\"} 1\n", text)
    Assert.Contains("\n" + P + "group_fail_open{group=\"" + groups[0].Group.Name + "\"} 0\n", text)
