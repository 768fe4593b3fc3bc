using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Router.Native.Tests;

/// <summary>SIGHUP from a test: rewrite the config, signal, wait until the router is done.</summary>
public static class Sighup
{
    public const int SIGHUP = 1;

    /// <summary>How many reloads the router has finished (either way) according to its log.</summary>
    private static int Reloads(RouterProcess router) =>
        Regex.Matches(router.Stderr, @"reloaded |error\(s\); still serving").Count;

    /// <summary>Rewrites the config, sends SIGHUP and waits until the router says it is done.</summary>
    public static void Reload(RouterProcess router, string yaml)
    {
        if (yaml.Length > 0) File.WriteAllText(router.ConfigPath, yaml);
        int before = Reloads(router);
        router.Signal(SIGHUP);
        var sw = Stopwatch.StartNew();
        while (Reloads(router) <= before)
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(20))
                throw new TimeoutException("no reload finished within 20 s after SIGHUP\n" + router.Describe());
            if (router.HasExited) throw new InvalidOperationException("the router exited on SIGHUP\n" + router.Describe());
            Thread.Sleep(2);
        }
    }
}

/// <summary>SIGHUP reload: against the real binary.</summary>
public class ReloadTests
{
    private const string A = "relay:[a.relay.test]:25";
    private const string B = "relay:[b.relay.test]:25";
    private const string C = "relay:[c.relay.test]:25";

    private const string SharesTemplate = """
        servers:
          names:
            a:
              address: relay:[a.relay.test]:25
              perc: 60
            b:
              address: relay:[b.relay.test]:25
              perc: 30
            c:
              address: C_ADDRESS
              perc: 10
          shares: [a, b, c]
        EXTRA_GROUPS
        sender_rules:
          default: NO RESULT
          wrr.test: shares
        EXTRA_RULES

        """;

    /// <summary>A 60/30/10 group for wrr.test, with optional extra groups and rules (indented lines).</summary>
    private static string Shares(string cAddress = C, string extraGroups = "", string extraRules = "") =>
        SharesTemplate.Replace("C_ADDRESS", cAddress).Replace("EXTRA_GROUPS", extraGroups).Replace("EXTRA_RULES", extraRules);

    private static FakeDns NewDns()
    {
        var dns = Example.Dns();
        dns.SetMx("wrr.test", (10, "mx.wrr.test"));
        return dns;
    }

    private static List<string> Picks(TcpTableClient c, int n, int from = 0) =>
        Enumerable.Range(from, n).Select(i => c.Get("user" + i + "@wrr.test")).ToList();

    /// <summary>The first n replies of a fresh router on this config.</summary>
    private static List<string> FreshPicks(string yaml, int n)
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(yaml, dns);
        using var c = router.Connect();
        return Picks(c, n);
    }

    [Fact]
    public void AValidChangeTakesEffectOnTheSameConnection()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Example.Config(Example.DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));

        Sighup.Reload(router, Example.Config(Example.DefaultAt.First, extraRules: "  other.test: mx4\n"));

        Assert.Contains("reloaded ", router.Stderr);
        Assert.Equal("200 " + Example.Mx4, c.Get("someone@other.test"));
        using var d = router.Connect();
        Assert.Equal("200 " + Example.Mx4, d.Get("someone@other.test"));
        Assert.Equal(0, router.Terminate());
    }

    [Fact]
    public void AnInvalidChangeIsLoggedWithItsLinesAndTheOldConfigKeepsAnswering()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Example.Config(Example.DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.Equal("200 " + Example.Mx4, c.Get("vip@example.com"));

        // Line 12: perc 150; line 16: unknown server in group good; line 21: unknown target.
        var broken = Example.Config(Example.DefaultAt.First, extraRules: "  other.test: nosuchgroup\n")
            .Replace("perc: 20", "perc: 150")
            .Replace("good: [mx1, mx2, mx3]", "good: [mx1, mx2, mx9]");
        var lines = broken.Split('\n');
        int LineOf(string text) => Array.FindIndex(lines, l => l.Contains(text)) + 1;
        Sighup.Reload(router, broken);

        var err = router.Stderr;
        Assert.Contains("error(s); still serving", err);
        foreach (var (text, what) in new[] { ("perc: 150", "perc"), ("mx9", "mx9"), ("nosuchgroup", "nosuchgroup") })
        {
            var at = router.ConfigPath + ":" + LineOf(text) + ":";
            Assert.True(err.Split('\n').Any(l => l.Contains(at) && l.Contains(what)),
                "no error line with " + at + " about " + what + "\n" + router.Describe());
        }
        Assert.DoesNotContain("reloaded ", err);

        // The old config still answers, on the old connection and on a new one.
        Assert.Equal("200 " + Example.Mx4, c.Get("vip@example.com"));
        Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));
        using var d = router.Connect();
        Assert.Contains(d.Get("someone@contoso.com")[4..], Example.Good);

        // A corrected file is taken at the next SIGHUP.
        Sighup.Reload(router, Example.Config(Example.DefaultAt.First, extraRules: "  other.test: bad\n"));
        Assert.Contains(c.Get("someone@other.test")[4..], Example.Bad);
        Assert.Equal(0, router.Terminate());
    }

    [Fact]
    public void AMissingFileIsAFailedReloadNotAStop()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Example.Config(Example.DefaultAt.First), dns);
        File.Delete(router.ConfigPath);
        Sighup.Reload(router, "");
        Assert.Contains("cannot read config file " + router.ConfigPath, router.Stderr);
        using var c = router.Connect();
        Assert.Equal("200 " + Example.Mx4, c.Get("vip@example.com"));
    }

    [Fact]
    public void AnUnchangedGroupContinuesItsCycleAcrossAReload()
    {
        var config = Shares();
        var expected = FreshPicks(config, 10);
        // Restarting would repeat the first five picks: the test could not tell otherwise.
        Assert.NotEqual(expected.Take(5), expected.Skip(5));

        using var dns = NewDns();
        using var router = RouterProcess.Start(config, dns);
        using var c = router.Connect();
        Assert.Equal(expected.Take(5), Picks(c, 5));

        // Unrelated changes: a new group and a new rule.
        Sighup.Reload(router, Shares(extraGroups: "  spare: [c]", extraRules: "  other.test: spare"));
        Assert.Contains("WRR position kept: All Servers, shares; restarted: none", router.Stderr);
        Assert.Equal(expected.Skip(5), Picks(c, 5, from: 5));
        Assert.Equal("200 " + C, c.Get("x@other.test"));

        // The counters carried over too: 10 picks in the group, 6/3/1.
        router.Signal(RouterProcess.SIGUSR1);
        Assert.True(router.WaitForOutput(o => o.Contains("Group spare"), TimeSpan.FromSeconds(10)), router.Describe());
        var sent = StatsTable.Sent(router.Stdout, "Group shares");
        Assert.Equal(new Dictionary<string, long> { ["a"] = 6, ["b"] = 3, ["c"] = 1 }, sent);
    }

    [Fact]
    public void AChangedGroupStartsItsCycleAgainAndKeepsItsCounters()
    {
        var changed = Shares(cAddress: "relay:[c2.relay.test]:25");
        var fresh = FreshPicks(changed, 10);
        Assert.NotEqual(fresh.Take(5), fresh.Skip(5));

        using var dns = NewDns();
        using var router = RouterProcess.Start(Shares(), dns);
        using var c = router.Connect();
        Picks(c, 5);
        Sighup.Reload(router, changed);
        Assert.Contains("restarted: All Servers, shares", router.Stderr);
        Assert.Equal(fresh.Take(5), Picks(c, 5, from: 5));

        Assert.Equal(0, router.Terminate());
        var sent = StatsTable.Sent(router.Stdout, "Group shares");
        Assert.Equal(10, sent.Values.Sum());
        Assert.Equal(6, sent["a"]);
    }

    [Fact]
    public void ReloadsDuringConcurrentLookupsLoseAndDoubleNoPick()
    {
        var config = Shares();
        using var dns = NewDns();
        using var router = RouterProcess.Start(config, dns);
        const int clients = 8, each = 500; // 4000 picks: forty whole cycles of 100
        var replies = new System.Collections.Concurrent.ConcurrentBag<string>();
        var start = new Barrier(clients + 1);
        var threads = Enumerable.Range(0, clients).Select(t => new Thread(() =>
        {
            using var c = router.Connect();
            start.SignalAndWait();
            for (int i = 0; i < each; i++) replies.Add(c.Get("t" + t + "-" + i + "@wrr.test"));
        })).ToList();
        threads.ForEach(t => t.Start());
        start.SignalAndWait();
        // Reload back to back while the clients pick: SIGHUPs that arrive during a reload
        // make one more, so the router reloads continuously until the clients are done.
        while (threads.Any(t => t.IsAlive))
        {
            router.Signal(Sighup.SIGHUP);
            Thread.Sleep(1);
        }
        threads.ForEach(t => t.Join());
        Sighup.Reload(router, "");

        var tally = replies.GroupBy(r => r).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(2400, tally.GetValueOrDefault("200 " + A));
        Assert.Equal(1200, tally.GetValueOrDefault("200 " + B));
        Assert.Equal(400, tally.GetValueOrDefault("200 " + C));
        Assert.Equal(0, router.Terminate());
        Assert.Contains("reloaded ", router.Stderr);
        Assert.Equal(new Dictionary<string, long> { ["a"] = 2400, ["b"] = 1200, ["c"] = 400 },
            StatsTable.Sent(router.Stdout, "Group shares"));
    }

    [Fact]
    public void TheRoutingLogIsReopenedAfterLogrotateRenamedIt()
    {
        using var dir = new TempDir();
        var log = dir.File("routing.log");
        var config = "config:\n  log_file: " + log + "\n" + Example.Config(Example.DefaultAt.First);
        using var dns = NewDns();
        using var router = RouterProcess.Start(config, dns, dir);
        using var c = router.Connect();
        Assert.Equal("200 " + Example.Mx4, c.Get("vip@example.com"));
        Assert.Equal("500 NO%20RESULT", c.Get("before@other.test"));
        WaitFor(() => File.Exists(log) && File.ReadAllText(log).Contains("before@other.test"), router);

        File.Move(log, log + ".1");
        Sighup.Reload(router, "");
        Assert.Equal("500 NO%20RESULT", c.Get("after@other.test"));
        Assert.Equal(0, router.Terminate());

        var rotated = File.ReadAllText(log + ".1");
        Assert.Contains("vip@example.com", rotated);
        Assert.Contains("before@other.test", rotated);
        Assert.DoesNotContain("after@other.test", rotated);
        Assert.True(File.Exists(log), "no new routing log after SIGHUP\n" + router.Describe());
        var fresh = File.ReadAllText(log);
        Assert.Contains("after@other.test", fresh);
        Assert.DoesNotContain("before@other.test", fresh);
    }

    [Fact]
    public void AMovedRoutingLogFollowsTheConfig()
    {
        using var dir = new TempDir();
        var first = dir.File("first.log");
        var second = dir.File("second.log");
        using var dns = NewDns();
        using var router = RouterProcess.Start("config:\n  log_file: " + first + "\n" + Example.Config(Example.DefaultAt.First), dns, dir);
        using var c = router.Connect();
        c.Get("one@other.test");
        Sighup.Reload(router, "config:\n  log_file: " + second + "\n" + Example.Config(Example.DefaultAt.First));
        c.Get("two@other.test");
        Assert.Equal(0, router.Terminate());
        Assert.Contains("one@other.test", File.ReadAllText(first));
        Assert.DoesNotContain("two@other.test", File.ReadAllText(first));
        Assert.Contains("two@other.test", File.ReadAllText(second));
    }

    private static void WaitFor(Func<bool> condition, RouterProcess router)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException("condition not met\n" + router.Describe());
            Thread.Sleep(50);
        }
    }
}
