/// The status page and its JSON: every group and relay present with its figures, names
/// escaped, and no name or address able to leave its element.
module Router.Core.Tests.StatusTests

open System
open System.IO
open System.Text.Json
open System.Xml
open System.Xml.Linq
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core

let private relay index name address weight : Model.Relay =
    { Name = name
      Address = address
      Weight = weight
      Index = index }

let private group index name (members: Model.Relay list) : Model.Group =
    { Name = name
      Index = index
      Members = Array.ofList members
      Schedule = [||] }

let private counts g (sent: int64 list) (repeats: int64 list) : Stats.GroupCounts =
    { Group = g
      Sent = Array.ofList sent
      Repeats = Array.ofList repeats }

let private metrics (groups: Stats.GroupCounts list) : Exposition.Snapshot =
    { Version = "1.2.3"
      Groups = groups
      Lookups = [ 200, 12L; 500, 2L; 400, 1L ]
      Repeats = 4L
      DnsQueries = 5L
      DnsFailures = 1L
      DnsLatency = { Bounds = [| 0.01 |]; Counts = [| 5L; 0L |]; Sum = 0.02 }
      CacheHits = 11L
      CacheMisses = 5L
      CacheStale = 1L
      CachePrefetches = 6L
      CacheEntries = 3L
      OpenConnections = 2L
      ReloadsSucceeded = 1L
      ReloadsFailed = 0L
      LastReloadSucceeded = true
      Relays = []
      HealthChecks = false
      FailingOpen = [] }

let private t0 = DateTimeOffset(2026, 1, 31, 12, 0, 0, TimeSpan.Zero)

let private snapshot groups health : Status.Snapshot =
    { Metrics = metrics groups
      Now = t0.AddSeconds 3725.0
      Started = t0
      ConfigFile = "/etc/postfix/<router>.yaml"
      LastReload =
        Some
            { At = t0.AddSeconds 3600.0
              Succeeded = true
              Message = "2 groups, 3 rules" }
      Health = health }

let private mx1 = relay 0 "mx1" "relay:[mx1.example.com]:25" 40
let private mx2 = relay 1 "mx2" "relay:[mx2.example.com]:25" 40
let private odd = relay 2 "a<b>&\"c'" "smtp:[192.0.2.4]:587" 20

let private known health =
    let all = group 0 Model.AllServersName [ mx1; mx2; odd ]
    let good = group 1 "good & <co>" [ mx1; odd ]
    snapshot [ counts all [ 5L; 5L; 2L ] [ 1L; 0L; 0L ]; counts good [ 3L; 1L ] [ 0L; 3L ] ] health

// ---- an independent reader: the page parsed as XML ---------------------------------

let private parse (html: string) : XDocument =
    let settings = XmlReaderSettings(DtdProcessing = DtdProcessing.Ignore)
    use reader = XmlReader.Create(new StringReader(html), settings)
    XDocument.Load reader

let private cls (e: XElement) =
    match e.Attribute(XName.Get "class") with
    | null -> [||]
    | a -> a.Value.Split(' ')

let private withClass (c: string) (e: XElement) = cls e |> Array.contains c

let private attr (name: string) (e: XElement) =
    match e.Attribute(XName.Get name) with
    | null -> None
    | a -> Some a.Value

let private sections (doc: XDocument) =
    doc.Descendants(XName.Get "section") |> Seq.filter (withClass "group") |> List.ofSeq

let private relayRows (section: XElement) =
    section.Descendants(XName.Get "tr") |> Seq.filter (withClass "relay") |> List.ofSeq

let private cell (c: string) (row: XElement) =
    row.Elements(XName.Get "td") |> Seq.filter (withClass c) |> Seq.exactlyOne |> fun e -> e.Value

let private byId (doc: XDocument) (id: string) =
    doc.Descendants() |> Seq.filter (fun e -> attr "id" e = Some id) |> Seq.exactlyOne |> fun e -> e.Value

[<Fact>]
let ``the page shows every group and relay with its figures, names escaped`` () =
    let html = StatusPage.render (known None)
    Assert.StartsWith("<!DOCTYPE html>\n", html)
    Assert.Contains("<meta http-equiv=\"refresh\" content=\"10\" />", html)
    Assert.DoesNotContain("<script", html)
    Assert.DoesNotContain("src=", html)
    Assert.DoesNotContain("a<b>", html)
    Assert.Contains("a&lt;b&gt;&amp;&quot;c&#39;", html)
    let doc = parse html
    let groups = sections doc
    Assert.Equal<string list>([ Model.AllServersName; "good & <co>" ], groups |> List.map (fun s -> (attr "data-group" s).Value))

    let rowsOf (s: XElement) =
        relayRows s
        |> List.map (fun r ->
            (attr "data-relay" r).Value, cell "name" r, cell "address" r, cell "weight" r, cell "target" r, cell "current" r,
            cell "decisions" r, cell "repeats" r)

    Assert.Equal<_ list>(
        [ "mx1", "mx1", "relay:[mx1.example.com]:25", "40", "40.0%", "41.7%", "5", "1"
          "mx2", "mx2", "relay:[mx2.example.com]:25", "40", "40.0%", "41.7%", "5", "0"
          "a<b>&\"c'", "a<b>&\"c'", "smtp:[192.0.2.4]:587", "20", "20.0%", "16.7%", "2", "0" ],
        rowsOf groups[0]
    )

    Assert.Equal<_ list>(
        [ "mx1", "mx1", "relay:[mx1.example.com]:25", "40", "66.7%", "75.0%", "3", "0"
          "a<b>&\"c'", "a<b>&\"c'", "smtp:[192.0.2.4]:587", "20", "33.3%", "25.0%", "1", "3" ],
        rowsOf groups[1]
    )

    // The bar: current share as the fill's width, target share as the mark's position.
    let bar = relayRows groups[1] |> List.head |> fun r -> r.Descendants(XName.Get "div") |> List.ofSeq
    Assert.Equal(Some "width:75%", bar |> List.find (withClass "fill") |> attr "style")
    Assert.Equal(Some "left:66.667%", bar |> List.find (withClass "mark") |> attr "style")
    // No health columns while checks are off.
    Assert.DoesNotContain("<th>State</th>", html)
    Assert.Equal("1.2.3", byId doc "version")
    Assert.Equal("1h 2m 5s (since 2026-01-31 12:00:00 UTC)", byId doc "uptime")
    Assert.Equal("/etc/postfix/<router>.yaml", byId doc "config-file")
    Assert.Equal("2026-01-31 13:00:00 UTC (2m 5s ago): succeeded: 2 groups, 3 rules", byId doc "last-reload")

    for id, n in
        [ "lookups-200", "12"; "lookups-500", "2"; "lookups-400", "1"; "repeats", "4"; "cache-hits", "11"
          "cache-misses", "5"; "cache-stale", "1"; "cache-prefetches", "6"; "cache-entries", "3"
          "dns-queries", "5"; "dns-failures", "1"; "open-connections", "2" ] do
        Assert.Equal(n, byId doc id)

[<Fact>]
let ``with health checks on, every relay gets its state and last probe`` () =
    let probe: Status.Probe =
        { Ok = false
          At = t0.AddSeconds 3720.0
          Duration = TimeSpan.FromMilliseconds 5000.0
          Detail = "no <220> greeting" }

    let health =
        Map.ofList
            [ "mx1", ({ State = Status.Up; LastProbe = None }: Status.RelayHealth)
              "mx2", ({ State = Status.Down; LastProbe = Some probe }: Status.RelayHealth) ]

    let doc = parse (StatusPage.render (known (Some health)))
    let rows = sections doc |> List.head |> relayRows
    Assert.Equal<string list>([ "up"; "down"; "unchecked" ], rows |> List.map (cell "state"))
    Assert.True(withClass "down" rows[1])
    Assert.Equal("failed, 5s ago, 5000 ms: no <220> greeting", cell "probe" rows[1])
    Assert.Equal("not yet", cell "probe" rows[0])

    let json = JsonDocument.Parse(Status.json (known (Some health))).RootElement
    let relays = json.GetProperty("groups").Item(0).GetProperty("relays")
    Assert.Equal("down", relays[1].GetProperty("health").GetProperty("state").GetString())
    Assert.Equal(5.0, relays[1].GetProperty("health").GetProperty("last_probe").GetProperty("seconds").GetDouble())
    Assert.Equal(JsonValueKind.Null, relays[0].GetProperty("health").GetProperty("last_probe").ValueKind)
    Assert.Equal("unchecked", relays[2].GetProperty("health").GetProperty("state").GetString())

[<Fact>]
let ``the JSON has the same figures, shares as numbers`` () =
    let json = JsonDocument.Parse(Status.json (known None)).RootElement
    Assert.Equal("1.2.3", json.GetProperty("version").GetString())
    Assert.Equal(3725L, json.GetProperty("uptime_seconds").GetInt64())
    Assert.Equal("/etc/postfix/<router>.yaml", json.GetProperty("config_file").GetString())
    Assert.True(json.GetProperty("last_reload").GetProperty("succeeded").GetBoolean())
    Assert.Equal("2026-01-31T13:00:00Z", json.GetProperty("last_reload").GetProperty("at").GetString())
    Assert.False(json.GetProperty("health_checks").GetBoolean())
    Assert.Equal(12L, json.GetProperty("lookups").GetProperty("200").GetInt64())
    Assert.Equal(11L, json.GetProperty("cache").GetProperty("hits").GetInt64())
    Assert.Equal(1L, json.GetProperty("dns").GetProperty("failures").GetInt64())
    Assert.Equal(2L, json.GetProperty("connections").GetProperty("open").GetInt64())
    let groups = json.GetProperty("groups")
    Assert.Equal(2, groups.GetArrayLength())
    let good = groups[1]
    Assert.Equal("good & <co>", good.GetProperty("name").GetString())
    Assert.Equal(4L, good.GetProperty("decisions").GetInt64())
    let r = good.GetProperty("relays")[1]
    Assert.Equal("a<b>&\"c'", r.GetProperty("name").GetString())
    Assert.Equal(JsonValueKind.Number, r.GetProperty("target_share").ValueKind)
    Assert.Equal(1.0 / 3.0, r.GetProperty("target_share").GetDouble(), 12)
    Assert.Equal(0.25, r.GetProperty("current_share").GetDouble())
    Assert.Equal(3L, r.GetProperty("repeats").GetInt64())
    Assert.False(r.TryGetProperty("health") |> fst)

[<Fact>]
let ``characters HTML and XML reject become U+FFFD; pairs stay`` () =
    Assert.Equal("a\uFFFDb\uFFFD\uFFFDc", StatusPage.escape "a\u0001b\u007f\uD800c")
    Assert.Equal("x😀y", StatusPage.escape "x😀y")

// ---- no name or address can break out of its element --------------------------------

let private pieces =
    [ "a"; "Z"; "9"; " "; "<"; ">"; "&"; "\""; "'"; "/"; "="; "</td>"; "<script>"; "&amp;"; "&#60;"; "]]>"
      "<!--"; "-->"; "é"; "😀"; "\t"; "\u0000"; "\n" ]

/// What the page shows of a text: characters HTML and XML reject as U+FFFD (defined on
/// its own, from the pieces the generator uses).
let private shown (text: string) =
    text.Replace("\t", "\uFFFD").Replace("\u0000", "\uFFFD").Replace("\n", "\uFFFD")

let private text =
    Gen.listOf (Gen.elements pieces) |> Gen.map (fun ps -> "r" + String.Join("", ps))

type Names = Names of (string * string) list * string

type NameGen =
    static member Names() =
        Gen.map2 (fun rs g -> Names(rs, g)) (Gen.nonEmptyListOf (Gen.zip text text)) text |> Arb.fromGen

[<Property(Arbitrary = [| typeof<NameGen> |], MaxTest = 200)>]
let ``names and addresses round-trip through an XML parser and the JSON`` (Names(named, groupName)) =
    let relays = named |> List.mapi (fun i (n, a) -> relay i n a 1)
    let g = group 1 groupName relays
    let s = snapshot [ counts g (relays |> List.map (fun _ -> 1L)) [] ] (Some Map.empty)
    let doc = parse (StatusPage.render s)
    let section = sections doc |> List.exactlyOne
    let rows = relayRows section
    let json = JsonDocument.Parse(Status.json s).RootElement.GetProperty("groups").Item(0)

    (attr "data-group" section).Value = shown groupName
    && json.GetProperty("name").GetString() = groupName
    && rows.Length = relays.Length
    && List.forall2
        (fun (row: XElement) (n, a) ->
            (attr "data-relay" row).Value = shown n
            && cell "name" row = shown n
            && cell "address" row = shown a
            && Seq.length (row.Elements(XName.Get "td")) = 10)
        rows
        named
    && (json.GetProperty("relays").EnumerateArray()
        |> Seq.map (fun r -> r.GetProperty("name").GetString(), r.GetProperty("address").GetString())
        |> List.ofSeq) = named

// ---- the endpoint's paths -----------------------------------------------------------

[<Fact>]
let ``/ and /status.json are the status page; other paths 404`` () =
    let head = Http.parse
    Assert.Equal(Http.HtmlStatus false, head "GET / HTTP/1.1\r\n\r\n")
    Assert.Equal(Http.HtmlStatus true, head "HEAD /?x=1 HTTP/1.1\r\n\r\n")
    Assert.Equal(Http.HtmlStatus false, head "GET /index.html HTTP/1.0\r\n\r\n")
    Assert.Equal(Http.JsonStatus false, head "GET /status.json HTTP/1.1\r\n\r\n")
    Assert.Equal(Http.NotFound false, head "GET /status HTTP/1.1\r\n\r\n")

    let pages: Http.Pages =
        { Metrics = fun () -> failwith "not asked"
          Html = fun () -> "<p>é</p>"
          Json = fun () -> "{}" }

    let text r = Text.Encoding.UTF8.GetString(Http.encode (Http.respond r pages))
    let html = text (Http.HtmlStatus false)
    Assert.Contains("\r\nContent-Type: text/html; charset=utf-8\r\n", html)
    Assert.Contains("\r\nContent-Length: 9\r\n", html)
    Assert.EndsWith("\r\n\r\n<p>é</p>", html)
    Assert.Contains("\r\nContent-Type: application/json; charset=utf-8\r\n", text (Http.JsonStatus false))
    Assert.EndsWith("\r\n\r\n", text (Http.JsonStatus true))
