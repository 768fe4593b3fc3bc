using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>One sample of a scrape: name, labels, value.</summary>
public sealed record MetricSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>
/// Reads the Prometheus text format 0.0.4 strictly: every line is `# HELP`, `# TYPE` or a
/// sample `name{label="value",...} value` of a family whose TYPE came before it.
/// </summary>
public sealed class Scrape
{
    private const string Name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
    private const string LabelValue = "\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"";
    private static readonly Regex Sample = new(
        "^(" + Name + ")(?:\\{((?:[a-zA-Z_][a-zA-Z0-9_]*=" + LabelValue + ")(?:,[a-zA-Z_][a-zA-Z0-9_]*=" + LabelValue + ")*)?\\})? (\\S+)$");
    private static readonly Regex Label = new("([a-zA-Z_][a-zA-Z0-9_]*)=(" + LabelValue + ")");

    public Dictionary<string, string> Types { get; } = new();
    public HashSet<string> Helps { get; } = new();
    public List<MetricSample> Samples { get; } = new();
    public string Text { get; }

    public Scrape(string text)
    {
        Text = text;
        Assert.EndsWith("\n", text);
        foreach (var line in text[..^1].Split('\n'))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ', 4);
                Assert.Matches("^" + Name + "$", parts[2]);
                Assert.True(Helps.Add(parts[2]), "HELP twice for " + parts[2]);
                continue;
            }
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                Assert.Equal(4, parts.Length);
                Assert.Contains(parts[3], new[] { "counter", "gauge", "histogram", "summary", "untyped" });
                Assert.True(Types.TryAdd(parts[2], parts[3]), "TYPE twice for " + parts[2]);
                continue;
            }
            var m = Sample.Match(line);
            Assert.True(m.Success, "not a sample line: \"" + line + "\"");
            var name = m.Groups[1].Value;
            var family = Types.ContainsKey(name) ? name : Regex.Replace(name, "_(bucket|sum|count)$", "");
            Assert.True(Types.ContainsKey(family), "sample before its TYPE line: " + line);
            var labels = new Dictionary<string, string>();
            foreach (Match l in Label.Matches(m.Groups[2].Value))
            {
                var quoted = l.Groups[2].Value;
                labels.Add(l.Groups[1].Value, quoted[1..^1].Replace("\\n", "\n").Replace("\\\"", "\"").Replace("\\\\", "\\"));
            }
            var v = m.Groups[3].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var s => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            Samples.Add(new MetricSample(name, labels, v));
        }
        foreach (var (family, type) in Types)
        {
            Assert.True(Helps.Contains(family), "no HELP for " + family);
            Assert.Equal(type == "counter", family.EndsWith("_total", StringComparison.Ordinal));
        }
    }

    public double Value(string name, params (string Key, string Value)[] labels)
    {
        var found = Samples.Where(s => s.Name == name && s.Labels.Count == labels.Length
            && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value)).ToList();
        Assert.True(found.Count == 1, "expected one sample " + name + " " + string.Join(",", labels) + ", found " + found.Count + "\n" + Text);
        return found[0].Value;
    }

    public double Sum(string name, string label, string value) =>
        Samples.Where(s => s.Name == name && s.Labels.TryGetValue(label, out var v) && v == value).Sum(s => s.Value);

    /// <summary>Key of a sample that identifies it across scrapes.</summary>
    public static string Key(MetricSample s) =>
        s.Name + "{" + string.Join(",", s.Labels.OrderBy(l => l.Key).Select(l => l.Key + "=" + l.Value)) + "}";

    /// <summary>Samples of counters and histograms: those may only grow.</summary>
    public IEnumerable<MetricSample> Monotonic() => Samples.Where(s =>
    {
        var family = Types.ContainsKey(s.Name) ? s.Name : Regex.Replace(s.Name, "_(bucket|sum|count)$", "");
        return Types[family] is "counter" or "histogram";
    });
}

/// <summary>Metrics: --metrics ADDR:PORT serves the Prometheus text format; scraped with curl.</summary>
public class MetricsTests
{
    private const string P = "postfix_mx_smart_router_";

    private static CliResult Curl(params string[] args)
    {
        var psi = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("--silent");
        psi.ArgumentList.Add("--show-error");
        psi.ArgumentList.Add("--max-time");
        psi.ArgumentList.Add("10");
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("curl is needed for the metrics tests (apt-get install curl): " + e.Message, e);
        }
        using (p)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(20000), "curl hung");
            p.WaitForExit();
            return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
        }
    }

    private static Scrape ScrapeWithCurl(int port)
    {
        var r = Curl("--fail", "http://127.0.0.1:" + port + "/metrics");
        Assert.True(r.ExitCode == 0, "curl: " + r);
        return new Scrape(r.Stdout);
    }

    private static (RouterProcess Router, int Port) StartWithMetrics(FakeDns dns, string? yaml = null)
    {
        var port = RouterProcess.FreePort();
        var router = RouterProcess.Start(yaml ?? Config(DefaultAt.First), dns, "--metrics", "127.0.0.1:" + port);
        WaitForPort(port, router);
        return (router, port);
    }

    private static void WaitForPort(int port, RouterProcess router)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.Connect(System.Net.IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (sw.Elapsed < TimeSpan.FromSeconds(10))
            {
                Thread.Sleep(50);
            }
            catch (SocketException)
            {
                throw new TimeoutException("no metrics endpoint on port " + port + "\n" + router.Describe());
            }
        }
    }

    [Fact]
    public void AScrapeParsesAndCountsWhatHappened()
    {
        using var dns = Dns();
        var (router, port) = StartWithMetrics(dns);
        using var _ = router;
        using var c = router.Connect();
        for (var i = 0; i < 5; i++) Assert.StartsWith("200 ", c.Get("user" + i + "@contoso.com"));
        Assert.Equal("200 " + Mx4, c.Get("vip@example.com"));
        Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));
        Assert.Equal("500 NO%20RESULT", c.Get("*"));
        c.Send("put something\n");
        Assert.StartsWith("400 ", c.ReadLine());

        var s = ScrapeWithCurl(port);
        var version = RouterProcess.Run(new[] { "--version" }).Stdout.Trim().Split(' ')[1];
        Assert.Equal(1, s.Value(P + "build_info", ("version", version)));
        Assert.Equal(6, s.Value(P + "lookups_total", ("code", "200")));
        Assert.Equal(2, s.Value(P + "lookups_total", ("code", "500")));
        Assert.Equal(1, s.Value(P + "lookups_total", ("code", "400")));
        Assert.Equal(5, s.Sum(P + "decisions_total", "group", "good"));
        Assert.Equal(1, s.Value(P + "decisions_total", ("group", "All Servers"), ("server", "mx4")));
        Assert.Equal(0.4, s.Value(P + "target_share", ("group", "good"), ("server", "mx1")), 9);
        Assert.Equal(1.0, s.Sum(P + "target_share", "group", "bad"), 9);
        Assert.Equal(1.0, s.Sum(P + "current_share", "group", "good"), 9);
        Assert.Equal(0, s.Sum(P + "current_share", "group", "bad"));
        Assert.Equal(0, s.Value(P + "repeats_total"));
        // contoso.com, example.com, other.test: three queries; the other four contoso lookups hit the cache.
        Assert.Equal(3, s.Value(P + "dns_queries_total"));
        Assert.Equal(0, s.Value(P + "dns_failures_total"));
        Assert.Equal(3, s.Value(P + "dns_query_duration_seconds_count"));
        Assert.Equal(3, s.Value(P + "dns_query_duration_seconds_bucket", ("le", "+Inf")));
        Assert.True(s.Value(P + "dns_query_duration_seconds_sum") > 0);
        Assert.Equal(4, s.Value(P + "cache_hits_total"));
        Assert.Equal(3, s.Value(P + "cache_misses_total"));
        Assert.Equal(0, s.Value(P + "cache_stale_total"));
        Assert.Equal(3, s.Value(P + "cache_entries"));
        Assert.Equal(1, s.Value(P + "open_connections"));
        Assert.Equal(0, s.Value(P + "reloads_total", ("result", "success")));
        Assert.Equal(0, s.Value(P + "reloads_total", ("result", "failure")));
        Assert.Equal(1, s.Value(P + "config_last_reload_successful"));
    }

    [Fact]
    public void CountersOnlyGrowAcrossScrapesAndReloads()
    {
        using var dns = Dns();
        dns.Set("broken.test", DnsBehavior.ServFail);
        var (router, port) = StartWithMetrics(dns);
        using var _ = router;
        using var c = router.Connect();
        for (var i = 0; i < 3; i++) c.Get("user" + i + "@contoso.com");
        var first = ScrapeWithCurl(port);

        for (var i = 0; i < 7; i++) c.Get("user" + i + "@contoso.com");
        Assert.StartsWith("400 ", c.Get("someone@broken.test"));
        Sighup.Reload(router, Config(DefaultAt.First, extraRules: "  other.test: good\n"));
        Sighup.Reload(router, "servers: [");
        for (var i = 0; i < 2; i++) c.Get("again" + i + "@other.test");
        var second = ScrapeWithCurl(port);

        var before = first.Monotonic().ToDictionary(Scrape.Key, s => s.Value);
        foreach (var s in second.Monotonic())
        {
            if (before.TryGetValue(Scrape.Key(s), out var old))
                Assert.True(s.Value >= old, Scrape.Key(s) + " went from " + old + " to " + s.Value);
        }
        Assert.Equal(12, second.Sum(P + "decisions_total", "group", "good"));
        Assert.Equal(1, second.Value(P + "dns_failures_total"));
        Assert.Equal(1, second.Value(P + "reloads_total", ("result", "success")));
        Assert.Equal(1, second.Value(P + "reloads_total", ("result", "failure")));
        Assert.Equal(0, second.Value(P + "config_last_reload_successful"));
        Assert.Equal(1, second.Value(P + "lookups_total", ("code", "400")));
    }

    [Fact]
    public void HeadOtherPathsAndOtherMethods()
    {
        using var dns = Dns();
        var (router, port) = StartWithMetrics(dns);
        using var _ = router;
        var url = "http://127.0.0.1:" + port;

        var head = Curl("--head", url + "/metrics");
        Assert.Equal(0, head.ExitCode);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", head.Stdout);
        Assert.Contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", head.Stdout);
        Assert.Contains("Connection: close\r\n", head.Stdout);
        var length = int.Parse(Regex.Match(head.Stdout, @"Content-Length: (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(length > 1000, head.Stdout);

        Assert.Equal("404", Curl("--output", "/dev/null", "--write-out", "%{http_code}", url + "/status").Stdout);
        Assert.Equal("404", Curl("--output", "/dev/null", "--write-out", "%{http_code}", url + "/metricsx").Stdout);
        Assert.Equal("200", Curl("--output", "/dev/null", "--write-out", "%{http_code}", url + "/metrics?x=1").Stdout);
        Assert.Equal("405", Curl("--output", "/dev/null", "--write-out", "%{http_code}", "--data", "x", url + "/metrics").Stdout);
        Assert.Equal("200", Curl("--output", "/dev/null", "--write-out", "%{http_code}", "--http1.0", url + "/metrics").Stdout);
    }

    [Fact]
    public void AnOversizedOrSilentRequestIsClosedAndDoesNotBlockScrapes()
    {
        using var dns = Dns();
        var (router, port) = StartWithMetrics(dns);
        using var _ = router;

        // A client that connects and says nothing: the endpoint still answers others.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Connect(System.Net.IPAddress.Loopback, port);
        ScrapeWithCurl(port);

        // A head longer than 8 KiB: 431, then close.
        using var big = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        big.Connect(System.Net.IPAddress.Loopback, port);
        big.Send(Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nX-Filler: " + new string('x', 9000) + "\r\n\r\n"));
        big.ReceiveTimeout = 10000;
        var reply = ReadToClose(big);
        Assert.StartsWith("HTTP/1.1 431 ", reply);

        // The silent one is closed by the router after its request time-out (5 s): the read
        // ends with the peer's close, and a Receive still waiting after 15 s would throw.
        silent.ReceiveTimeout = 15000;
        Assert.Equal("", ReadToClose(silent));
    }

    private static bool WaitForStderr(RouterProcess router, string text)
    {
        var sw = Stopwatch.StartNew();
        while (!router.Stderr.Contains(text, StringComparison.Ordinal))
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(10)) return false;
            Thread.Sleep(20);
        }
        return true;
    }

    private static string ReadToClose(Socket s)
    {
        var buffer = new byte[65536];
        var text = new StringBuilder();
        int n;
        while ((n = s.Receive(buffer)) > 0) text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        return text.ToString();
    }

    [Fact]
    public void RepeatsOfTheRepeatWindowAreCounted()
    {
        using var dns = Dns();
        var port = RouterProcess.FreePort();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--metrics", "127.0.0.1:" + port, "--repeat-window", "60");
        WaitForPort(port, router);
        using var c = router.Connect();
        var first = c.Get("someone@contoso.com");
        Assert.Equal(first, c.Get("someone@contoso.com"));
        var s = ScrapeWithCurl(port);
        Assert.Equal(1, s.Value(P + "repeats_total"));
        Assert.Equal(1, s.Sum(P + "decisions_total", "group", "good"));
        Assert.Equal(2, s.Value(P + "lookups_total", ("code", "200")));
    }

    [Fact]
    public void TheConfigSectionCanTurnMetricsOn()
    {
        using var dns = Dns();
        var port = RouterProcess.FreePort();
        using var router = RouterProcess.Start("config:\n  metrics: 127.0.0.1:" + port + "\n" + Config(DefaultAt.First), dns);
        WaitForPort(port, router);
        ScrapeWithCurl(port);
        Assert.True(WaitForStderr(router, "metrics on http://127.0.0.1:" + port + "/metrics"), router.Describe());
    }

    [Fact]
    public void MetricsAreOffByDefault()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        Assert.True(WaitForStderr(router, "listening on"), router.Describe());
        Assert.Equal(0, router.Terminate());
        Assert.DoesNotContain("metrics", router.Stderr);
    }

    [Theory]
    [InlineData("9120")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("::1:9120")]
    [InlineData("example.com:9120")]
    public void ABadMetricsAddressIsAUsageError(string value)
    {
        var r = RouterProcess.Run(new[] { "--metrics", value, "--check", "-c", "/nonexistent" });
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--metrics", r.Stderr);
    }

    [Fact]
    public void AMetricsPortInUseIsAStartError()
    {
        using var dns = Dns();
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        using var dir = new TempDir();
        var config = dir.Write("router.yaml", Config(DefaultAt.First));
        var r = RouterProcess.Run(new[]
        {
            "-c", config, "-p", RouterProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            "--dns-server", dns.Endpoint, "--metrics", "127.0.0.1:" + port,
        });
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cannot listen for metrics on 127.0.0.1:" + port, r.Stderr);
    }
}
