using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Router.Native.Tests;

/// <summary>
/// --repeat-window answers a key's next lookup within the window
/// with the same relay and no new pick (once); with the window off the router warns when
/// Postfix asks twice per message; the stats table and the routing log count repeats apart.
/// </summary>
public class RepeatWindowTests
{
    private const string P1 = "relay:[p1.relay.test]:25";
    private const string P2 = "relay:[p2.relay.test]:25";
    private const string Vip = "smtp:[192.0.2.9]:587";

    private const string Servers = """
        servers:
          names:
            a:
              address: relay:[a.relay.test]:25
              perc: 60
            b:
              address: relay:[b.relay.test]:25
              perc: 30
            c:
              address: relay:[c.relay.test]:25
              perc: 10
            p1:
              address: relay:[p1.relay.test]:25
              perc: 50
            p2:
              address: relay:[p2.relay.test]:25
              perc: 50
            vip:
              address: smtp:[192.0.2.9]:587
          shares: [a, b, c]
          pair: [p1, p2]
        sender_rules:
          default: NO RESULT
          vip@pair.test: vip
          wrr.test: shares
          pair.test: pair

        """;

    private static string Config(string settings = "") => settings + Servers;

    private static FakeDns NewDns()
    {
        var dns = new FakeDns();
        dns.SetMx("wrr.test", (10, "mx.wrr.test"));
        dns.SetMx("pair.test", (10, "mx.pair.test"));
        return dns;
    }

    /// <summary>The replies a router without the window gives for `count` distinct keys of the domain.</summary>
    private static string[] Reference(FakeDns dns, string domain, int count)
    {
        using var router = RouterProcess.Start(Config(), dns);
        using var c = router.Connect();
        return Enumerable.Range(0, count).Select(i => c.Get("ref" + i + "@" + domain)).ToArray();
    }

    private static bool WaitForStderr(RouterProcess router, Func<string, bool> predicate, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (predicate(router.Stderr)) return true;
            Thread.Sleep(50);
        }
        return predicate(router.Stderr);
    }

    [Fact]
    public void EachKeyAskedTwiceMakesOnePickAndTheSharesStayExact()
    {
        using var dns = NewDns();
        var reference = Reference(dns, "wrr.test", 100);
        using var router = RouterProcess.Start(Config(), dns, "--repeat-window", "60");
        using var c = router.Connect();
        var first = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            var key = "user" + i + "@wrr.test";
            var pick = c.Get(key);
            Assert.Equal(pick, c.Get(key)); // qmgr's lookup after smtpd's
            first.Add(pick);
        }
        // The repeats did not advance the round robin: the picks are those of 100 distinct keys.
        Assert.Equal(reference, first);
        Assert.Equal(60, first.Count(r => r == "200 relay:[a.relay.test]:25"));
        Assert.Equal(30, first.Count(r => r == "200 relay:[b.relay.test]:25"));
        Assert.Equal(10, first.Count(r => r == "200 relay:[c.relay.test]:25"));
    }

    [Fact]
    public void ARepeatDoesNotAdvanceTheRoundRobinAndOnlyTheFirstRepeatIsAnswered()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Config(), dns, "--repeat-window", "60");
        using var c = router.Connect();
        Assert.Equal("200 " + P1, c.Get("u@pair.test"));
        Assert.Equal("200 " + P1, c.Get("u@pair.test"));   // repeat: same relay, no pick
        Assert.Equal("200 " + P2, c.Get("v@pair.test"));   // the next key gets the next relay
        Assert.Equal("200 " + P1, c.Get("U@Pair.TEST"));   // third lookup of u (lower-cased): a new pick
        Assert.Equal("200 " + P1, c.Get("u@pair.test"));   // which is repeated once
        Assert.Equal("200 " + P2, c.Get("u@pair.test"));   // and then picks again
    }

    [Fact]
    public void AfterTheWindowTheKeyGetsANewPick()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Config(), dns, "--repeat-window", "1");
        using var c = router.Connect();
        Assert.Equal("200 " + P1, c.Get("u@pair.test"));
        Thread.Sleep(1300);
        Assert.Equal("200 " + P2, c.Get("u@pair.test"));
        Assert.Equal("200 " + P2, c.Get("u@pair.test"));   // within the window of the new pick
    }

    [Fact]
    public void OffByDefaultEveryLookupPicks()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Config(), dns);
        using var c = router.Connect();
        Assert.Equal("200 " + P1, c.Get("u@pair.test"));
        Assert.Equal("200 " + P2, c.Get("u@pair.test"));
        Assert.Equal("200 " + P1, c.Get("u@pair.test"));
        Assert.Equal(0, router.Terminate());
        Assert.Equal(new Dictionary<string, long> { ["p1"] = 2, ["p2"] = 1 }, StatsTable.Sent(router.Stdout, "Group pair"));
        Assert.DoesNotContain("Repeats", router.Stdout);
    }

    [Fact]
    public void TheConfigSectionSetsTheWindowAndTheCommandLineWins()
    {
        using var dns = NewDns();
        using (var router = RouterProcess.Start(Config("config:\n  repeat_window: 60\n"), dns))
        using (var c = router.Connect())
        {
            Assert.Equal("200 " + P1, c.Get("u@pair.test"));
            Assert.Equal("200 " + P1, c.Get("u@pair.test"));
        }
        using (var router = RouterProcess.Start(Config("config:\n  repeat_window: 60\n"), dns, "--repeat-window", "0"))
        using (var c = router.Connect())
        {
            Assert.Equal("200 " + P1, c.Get("u@pair.test"));
            Assert.Equal("200 " + P2, c.Get("u@pair.test"));
        }
    }

    [Fact]
    public void TheStatsTableAndTheRoutingLogCountDecisionsAndRepeatsApart()
    {
        using var dir = new TempDir();
        var log = dir.File("routing.log");
        using var dns = NewDns();
        using var router = RouterProcess.Start(Config("config:\n  log_file: " + log + "\n"), dns, dir, "--repeat-window", "60");
        using (var c = router.Connect())
        {
            for (var i = 0; i < 10; i++)
            {
                c.Get("user" + i + "@pair.test");
                c.Get("user" + i + "@pair.test");
            }
            Assert.Equal("200 " + Vip, c.Get("vip@pair.test"));
            Assert.Equal("200 " + Vip, c.Get("vip@pair.test"));
            Assert.Equal("500 NO%20RESULT", c.Get("x@nowhere.test"));
            Assert.Equal("500 NO%20RESULT", c.Get("x@nowhere.test"));
        }
        Assert.Equal(0, router.Terminate());

        var pair = StatsTable.Block(router.Stdout, "Group pair");
        Assert.Equal(new long[] { 5, 5 }, pair.Select(r => r.Sent));
        Assert.Equal(new long[] { 5, 5 }, pair.Select(r => r.Repeats));
        Assert.Equal(new[] { 50.0, 50.0 }, pair.Select(r => r.CurrentPercent));
        var all = StatsTable.Block(router.Stdout, "All Servers").Single(r => r.Name == "vip");
        Assert.Equal((1L, 1L), (all.Sent, all.Repeats));
        Assert.Contains("  Name          # Sent |  curr. % / target % | Repeats\n", router.Stdout);

        var targets = File.ReadAllLines(log).Select(l => l.Split('\t')[1]).ToArray();
        var expected = Enumerable.Range(0, 10).SelectMany(_ => new[] { "pair", "pair (repeat)" })
            .Concat(new[] { "vip", "vip (repeat)", "NO RESULT", "NO RESULT" });
        Assert.Equal(expected, targets);
    }

    [Fact]
    public void SocketmapAndTcpTableShareTheWindow()
    {
        using var dns = NewDns();
        var socketmapPort = RouterProcess.FreePort();
        using var router = RouterProcess.Start(Config(), dns, "--repeat-window", "60", "--socketmap-port", socketmapPort.ToString());
        using var tcp = router.Connect();
        using var sm = SocketmapClient.Connect(socketmapPort);
        Assert.Equal("200 " + P1, tcp.Get("u@pair.test"));
        Assert.Equal("OK " + P1, sm.Lookup("u@pair.test"));
        Assert.Equal("OK " + P2, sm.Lookup("v@pair.test"));
        Assert.Equal("200 " + P2, tcp.Get("v@pair.test"));
    }

    private static readonly Regex Warning = new("looked up twice.*\"Recommended: one lookup per message\".*--repeat-window");

    [Fact]
    public void WithTheWindowOffKeysAskedTwiceGetOneWarning()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Config(), dns);
        using var c = router.Connect();
        // Two batches of doubled lookups: one warning, not two (at most one an hour).
        for (var i = 0; i < 200; i++)
        {
            Assert.StartsWith("200 ", c.Get("user" + i + "@wrr.test"));
            Assert.StartsWith("200 ", c.Get("user" + i + "@wrr.test"));
        }
        Assert.True(WaitForStderr(router, e => Warning.IsMatch(e), TimeSpan.FromSeconds(10)), router.Describe());
        Assert.Equal(0, router.Terminate());
        Assert.Single(Warning.Matches(router.Stderr));
    }

    [Fact]
    public void KeysAskedOnceGetNoWarning()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Config(), dns);
        using (var c = router.Connect())
        {
            for (var i = 0; i < 400; i++) Assert.StartsWith("200 ", c.Get("user" + i + "@wrr.test"));
        }
        Assert.Equal(0, router.Terminate());
        Assert.DoesNotMatch(Warning, router.Stderr);
    }

    [Fact]
    public void WithTheWindowOnThereIsNoWarning()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Config(), dns, "--repeat-window", "60");
        using (var c = router.Connect())
        {
            for (var i = 0; i < 200; i++)
            {
                c.Get("user" + i + "@wrr.test");
                c.Get("user" + i + "@wrr.test");
            }
        }
        Assert.Equal(0, router.Terminate());
        Assert.DoesNotMatch(Warning, router.Stderr);
        Assert.Contains("repeat window 60 s", router.Stderr);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-1")]
    [InlineData("")]
    public void ABadWindowExits2NamingTheFlag(string value)
    {
        using var dir = new TempDir();
        var path = dir.Write("router.yaml", Config());
        var r = RouterProcess.Run(new[] { "-c", path, "--repeat-window", value }, TimeSpan.FromSeconds(30));
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("--repeat-window", r.Stderr);
    }

    [Fact]
    public void HelpListsTheFlag()
    {
        var r = RouterProcess.Run(new[] { "--help" }, TimeSpan.FromSeconds(30));
        Assert.Contains("--repeat-window SEC", r.Stdout);
    }
}
