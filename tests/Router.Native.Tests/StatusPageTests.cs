using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Xml;
using System.Xml.Linq;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>The status page (GET /) and its figures (GET /status.json) on the --metrics listener.</summary>
public class StatusPageTests
{
    /// <summary>One HTTP/1.0 GET over a plain socket: the status line, the headers and the body.</summary>
    private static (string Head, string Body) Get(int port, string path, string extraHeaders = "")
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Connect(System.Net.IPAddress.Loopback, port);
        s.ReceiveTimeout = 10000;
        s.Send(Encoding.ASCII.GetBytes("GET " + path + " HTTP/1.0\r\n" + extraHeaders + "\r\n"));
        var all = new MemoryStream();
        var buffer = new byte[65536];
        int n;
        while ((n = s.Receive(buffer)) > 0) all.Write(buffer, 0, n);
        var text = Encoding.UTF8.GetString(all.ToArray());
        int split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(split > 0, "no head: " + text);
        return (text[..(split + 2)], text[(split + 4)..]);
    }

    private static RouterProcess StartWithMetrics(FakeDns dns, out int port)
    {
        port = RouterProcess.FreePort();
        var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--metrics", "127.0.0.1:" + port);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!router.Stderr.Contains("status page on /", StringComparison.Ordinal))
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException("no metrics listener\n" + router.Describe());
            Thread.Sleep(20);
        }
        return router;
    }

    private static XDocument Parse(string html)
    {
        using var reader = XmlReader.Create(new StringReader(html), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore });
        return XDocument.Load(reader);
    }

    private static bool HasClass(XElement e, string c) =>
        (e.Attribute("class")?.Value ?? "").Split(' ').Contains(c);

    private static string Cell(XElement row, string c) => row.Elements("td").Single(td => HasClass(td, c)).Value;

    [Fact]
    public void ThePageAndTheJsonShowEveryGroupAndRelayWithItsCounts()
    {
        using var dns = Dns();
        using var router = StartWithMetrics(dns, out var port);
        using (var c = router.Connect())
        {
            for (var i = 0; i < 5; i++) Assert.StartsWith("200 ", c.Get("user" + i + "@contoso.com"));
            Assert.Equal("200 " + Mx4, c.Get("vip@example.com"));
            Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));
        }

        var (head, body) = Get(port, "/");
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", head);
        Assert.Contains("Content-Type: text/html; charset=utf-8\r\n", head);
        Assert.Contains("<meta http-equiv=\"refresh\" content=\"10\" />", body);
        var doc = Parse(body);
        var groups = doc.Descendants("section").Where(s => HasClass(s, "group"))
            .ToDictionary(s => s.Attribute("data-group")!.Value, s => s.Descendants("tr").Where(r => HasClass(r, "relay")).ToList());
        Assert.Equal(new[] { "All Servers", "good", "bad" }, groups.Keys);
        Assert.Equal(new[] { "mx1", "mx2", "mx3", "mx4" }, groups["All Servers"].Select(r => Cell(r, "name")));
        Assert.Equal(new[] { "mx1", "mx2", "mx3" }, groups["good"].Select(r => Cell(r, "name")));
        Assert.Equal(new[] { "mx3", "mx4" }, groups["bad"].Select(r => Cell(r, "name")));
        Assert.Equal(new[] { "0", "0", "0", "1" }, groups["All Servers"].Select(r => Cell(r, "decisions")));
        Assert.Equal(new[] { "2", "2", "1" }, groups["good"].Select(r => Cell(r, "decisions")));
        Assert.Equal(new[] { "40.0%", "40.0%", "20.0%" }, groups["good"].Select(r => Cell(r, "target")));
        Assert.Equal(new[] { "40.0%", "40.0%", "20.0%" }, groups["good"].Select(r => Cell(r, "current")));
        Assert.Equal(Mx4, Cell(groups["bad"][1], "address"));
        string ById(string id) => doc.Descendants().Single(e => e.Attribute("id")?.Value == id).Value;
        Assert.Equal("6", ById("lookups-200"));
        Assert.Equal("1", ById("lookups-500"));
        Assert.Equal(router.ConfigPath, ById("config-file"));
        Assert.Equal("none since start", ById("last-reload"));
        Assert.Equal("off", ById("health-checks"));

        var (jsonHead, jsonBody) = Get(port, "/status.json");
        Assert.Contains("Content-Type: application/json; charset=utf-8\r\n", jsonHead);
        var json = JsonDocument.Parse(jsonBody).RootElement;
        Assert.Equal(router.ConfigPath, json.GetProperty("config_file").GetString());
        Assert.Equal(6, json.GetProperty("lookups").GetProperty("200").GetInt64());
        Assert.Equal(3, json.GetProperty("dns").GetProperty("queries").GetInt64());
        Assert.Equal(4, json.GetProperty("cache").GetProperty("hits").GetInt64());
        var good = json.GetProperty("groups").EnumerateArray().Single(g => g.GetProperty("name").GetString() == "good");
        Assert.Equal(5, good.GetProperty("decisions").GetInt64());
        var mx3 = good.GetProperty("relays")[2];
        Assert.Equal("mx3", mx3.GetProperty("name").GetString());
        Assert.Equal(0.2, mx3.GetProperty("target_share").GetDouble(), 9);
        Assert.Equal(0.2, mx3.GetProperty("current_share").GetDouble(), 9);
        Assert.Equal(1, mx3.GetProperty("decisions").GetInt64());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("last_reload").ValueKind);

        Sighup.Reload(router, "servers: [");
        var failed = JsonDocument.Parse(Get(port, "/status.json").Body).RootElement.GetProperty("last_reload");
        Assert.False(failed.GetProperty("succeeded").GetBoolean());
        Assert.Contains("error(s)", failed.GetProperty("message").GetString());
        Sighup.Reload(router, Config(DefaultAt.First));
        var page = Parse(Get(port, "/").Body);
        var reload = page.Descendants().Single(e => e.Attribute("id")?.Value == "last-reload");
        Assert.Equal("ok", reload.Attribute("class")?.Value);
        Assert.EndsWith(": succeeded: " + router.ConfigPath + ": 2 groups, 4 rules", reload.Value);
    }

    [Fact]
    public void EveryPathKeepsTheListenersLimits()
    {
        using var dns = Dns();
        using var router = StartWithMetrics(dns, out var port);
        foreach (var path in new[] { "/", "/status.json", "/metrics" })
        {
            using var big = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            big.Connect(System.Net.IPAddress.Loopback, port);
            big.Send(Encoding.ASCII.GetBytes("GET " + path + " HTTP/1.1\r\nX-Filler: " + new string('x', 9000) + "\r\n\r\n"));
            big.ReceiveTimeout = 10000;
            var reply = new StringBuilder();
            var buffer = new byte[4096];
            int n;
            while ((n = big.Receive(buffer)) > 0) reply.Append(Encoding.ASCII.GetString(buffer, 0, n));
            Assert.StartsWith("HTTP/1.1 431 ", reply.ToString());
        }
        Assert.StartsWith("HTTP/1.1 200 ", Get(port, "/").Head);
    }
}
