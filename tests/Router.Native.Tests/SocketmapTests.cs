using System.Diagnostics;
using System.Text;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// The socketmap listener beside tcp_table. Same answers as tcp_table for the same
/// keys, NOTFOUND / TEMP / PERM where the protocol wants them, netstrings split or packed any
/// way across reads, and one WRR state for both listeners.
/// </summary>
public partial class SocketmapTests
{
    private const string Vip = "OK smtp:[192.0.2.4]:587";
    private const string NotFound = "NOTFOUND ";

    /// <summary>A router with the socketmap listener on a port of its own.</summary>
    private sealed class SocketmapRouter : IDisposable
    {
        public RouterProcess Process { get; }
        public int SocketmapPort { get; }

        public SocketmapRouter(string yaml, FakeDns dns, TempDir? dir = null, params string[] extra)
        {
            SocketmapPort = RouterProcess.FreePort();
            Process = RouterProcess.Start(yaml, dns, dir, new[] { "--socketmap-port", SocketmapPort.ToString() }.Concat(extra).ToArray());
        }

        public SocketmapClient Connect() => SocketmapClient.Connect(SocketmapPort);

        public void Dispose() => Process.Dispose();
    }

    private static FakeDns ExampleDns()
    {
        var dns = Dns();
        dns.Set("servfail.test", DnsBehavior.ServFail);
        return dns;
    }

    /// <summary>Keys covering every rule of the example, the default, the wildcard, raw spaces and UTF-8, DNS failure.</summary>
    private static readonly string[] ExampleKeys =
    {
        "john@example.com", "john@example.com", "john@example.com", "john@example.com", "john@example.com", "john@example.com",
        "vip@example.com", "VIP@Example.COM",
        "someone@contoso.com", "someone@contoso.com", "someone@contoso.com", "someone@contoso.com", "someone@contoso.com",
        "mary@example.com", "a@sub.example.com", "\"john doe\"@example.com", "jöhn@example.com", "a%b@example.com",
        "someone@other.test", "user@nxdomain.test", "*", "[192.0.2.1]", "user@[192.0.2.1]", "user@servfail.test",
        "mary@example.com", "someone@contoso.com",
    };

    [Theory]
    [InlineData(DefaultAt.First)]
    [InlineData(DefaultAt.Last)]
    [InlineData(DefaultAt.None)]
    public void SocketmapGivesTheSameAnswersAsTcpTableForTheSameKeys(DefaultAt at)
    {
        // Two routers with fresh WRR state: one asked over tcp_table, one over socketmap,
        // the same keys in the same order. Round robin is deterministic, so the answers must
        // be the same, pick for pick.
        using var dns = ExampleDns();
        using var tcpRouter = RouterProcess.Start(Config(at), dns);
        using var smRouter = new SocketmapRouter(Config(at), dns);
        using var tcp = tcpRouter.Connect();
        using var sm = smRouter.Connect();
        var tcpAnswers = ExampleKeys.Select(k => SocketmapClient.FromTcpTable(tcp.Get(TcpTableClient.PostfixEncode(k)))).ToList();
        var smAnswers = ExampleKeys.Select(k => sm.Lookup(k)).ToList();
        for (var i = 0; i < ExampleKeys.Length; i++)
            Assert.True(tcpAnswers[i] == smAnswers[i],
                "key " + ExampleKeys[i] + ": tcp_table " + tcpAnswers[i] + ", socketmap " + smAnswers[i]);
        // And the answers are the documented ones, not merely equal.
        Assert.Equal(Vip, smAnswers[ExampleKeys.ToList().IndexOf("vip@example.com")]);
        Assert.Equal(Vip, smAnswers[ExampleKeys.ToList().IndexOf("VIP@Example.COM")]);
        Assert.Equal(NotFound, smAnswers[ExampleKeys.ToList().IndexOf("*")]);
        Assert.StartsWith("TEMP ", smAnswers[ExampleKeys.ToList().IndexOf("user@servfail.test")]);
        Assert.Equal(at == DefaultAt.None, smAnswers[ExampleKeys.ToList().IndexOf("someone@other.test")].StartsWith("OK "));
    }

    [Fact]
    public void TheBadGroupGivesItsSharesOverSocketmap()
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        // Six picks in bad (mx3 20, mx4 100): mx3 once, mx4 five times.
        var replies = Enumerable.Range(0, 6).Select(_ => c.Lookup("john@example.com")).ToList();
        Assert.Equal(1, replies.Count(r => r == "OK " + Mx3));
        Assert.Equal(5, replies.Count(r => r == "OK " + Mx4));
    }

    [Fact]
    public void NoResultAndTheWildcardAreNotFoundOnTheWire()
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        c.Send(SocketmapClient.Request("someone@other.test"));
        c.Send(SocketmapClient.Request("*"));
        c.Send(SocketmapClient.Request("user@nxdomain.test"));
        Assert.Equal(NotFound, c.ReadReply());
        Assert.Equal(NotFound, c.ReadReply());
        Assert.Equal(NotFound, c.ReadReply());
        c.Send(SocketmapClient.Request("vip@example.com"));
        Assert.Equal(Vip, c.ReadReply());
    }

    [Theory]
    [InlineData(DnsBehavior.ServFail)]
    [InlineData(DnsBehavior.Refused)]
    public void ADnsFailureIsTemp(DnsBehavior behavior)
    {
        using var dns = Dns();
        dns.Set("broken.test", behavior);
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns, null, "--cache-ttl", "0");
        using var c = router.Connect();
        var reply = c.Lookup("user@broken.test");
        Assert.StartsWith("TEMP ", reply);
        Assert.True(reply.Length > "TEMP ".Length, "a TEMP reply without a reason");
        // The connection goes on.
        Assert.Equal(Vip, c.Lookup("vip@example.com"));
    }

    [Fact]
    public void AnUnknownMapNameIsPermAndTheConnectionGoesOn()
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.Equal("PERM unknown map name \"relay\"", c.Lookup("vip@example.com", "relay"));
        Assert.Equal("PERM unknown map name \"Transport\"", c.Lookup("vip@example.com", "Transport"));
        Assert.Equal(Vip, c.Lookup("vip@example.com"));
        Assert.False(c.WaitForClose(TimeSpan.FromMilliseconds(300)), "the router closed the connection after a PERM for a well-framed request");
    }

    [Fact]
    public void TheMapNameIsConfigurable()
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns, null, "--socketmap-name", "relayhost");
        using var c = router.Connect();
        Assert.Equal(Vip, c.Lookup("vip@example.com", "relayhost"));
        Assert.Equal("PERM unknown map name \"transport\"", c.Lookup("vip@example.com", "transport"));
    }

    [Fact]
    public void PortAndNameCanComeFromTheConfigSection()
    {
        using var dns = ExampleDns();
        var port = RouterProcess.FreePort();
        var yaml = "config:\n  socketmap_port: " + port + "\n  socketmap_name: smart\n" + Config(DefaultAt.First);
        using var router = RouterProcess.Start(yaml, dns);
        using var c = SocketmapClient.Connect(port);
        Assert.Equal(Vip, c.Lookup("vip@example.com", "smart"));
        Assert.StartsWith("PERM ", c.Lookup("vip@example.com"));
    }

    [Fact]
    public void TheCommandLineNameOverridesTheConfigSection()
    {
        using var dns = ExampleDns();
        var yaml = "config:\n  socketmap_name: smart\n" + Config(DefaultAt.First);
        using var router = new SocketmapRouter(yaml, dns, null, "--socketmap-name", "transport");
        using var c = router.Connect();
        Assert.Equal(Vip, c.Lookup("vip@example.com"));
    }

    private const string SharesConfig = Shares.Config;

    private static FakeDns SharesDns() => Shares.Dns();

    /// <summary>The relays one tcp_table client gets from a fresh router: the WRR sequence itself.</summary>
    private static List<string> ReferenceSequence(FakeDns dns, int picks)
    {
        using var reference = RouterProcess.Start(SharesConfig, dns);
        using var c = reference.Connect();
        return Enumerable.Range(0, picks).Select(i => c.Get("ref" + i + "@wrr.test")[4..]).ToList();
    }

    [Fact]
    public void BothListenersShareOneWrrState()
    {
        using var dns = SharesDns();
        var expected = ReferenceSequence(dns, 100);
        using var router = new SocketmapRouter(SharesConfig, dns);
        using var tcp = router.Process.Connect();
        using var sm = router.Connect();
        // 100 picks of one 60/30/10 group, alternating between the two protocols. With one
        // shared position they are the group's sequence itself; with a position per listener
        // each pick would come twice (s0 s0 s1 s1 ...).
        var got = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            if (i % 2 == 0)
            {
                var line = tcp.Get("user" + i + "@wrr.test");
                Assert.StartsWith("200 ", line);
                got.Add(line[4..]);
            }
            else
            {
                var reply = sm.Lookup("user" + i + "@wrr.test");
                Assert.StartsWith("OK ", reply);
                got.Add(reply[3..]);
            }
        }
        var first = Enumerable.Range(0, 100).FirstOrDefault(i => got[i] != expected[i], -1);
        Assert.True(first < 0, "pick " + first + ": " + got[Math.Max(first, 0)] + ", the WRR sequence has " +
            expected[Math.Max(first, 0)] + "\ngot:      " + string.Join(" ", got.Take(12)) +
            "\nsequence: " + string.Join(" ", expected.Take(12)));
        Assert.Equal(60, got.Count(r => r == "relay:[a.relay.test]:25"));
        Assert.Equal(30, got.Count(r => r == "relay:[b.relay.test]:25"));
        Assert.Equal(10, got.Count(r => r == "relay:[c.relay.test]:25"));

        // One stats table counts both.
        Assert.Equal(0, router.Process.Terminate());
        var sent = StatsTable.Sent(router.Process.Stdout, "Group shares");
        Assert.Equal(60, sent["a"]);
        Assert.Equal(30, sent["b"]);
        Assert.Equal(10, sent["c"]);
    }

    [Fact]
    public async Task BothListenersShareOneWrrStateUnderConcurrency()
    {
        using var dns = SharesDns();
        // 8 clients, half on each protocol, 51 lookups each: 408 picks. Interleaving is up to
        // the scheduler, but the tally of one shared sequence is that of its first picks;
        // two sequences of 204 would tally differently (the fairness bound rules it out).
        // One lookup first, so that the domain is cached before the clients race: the test is
        // about the shared position, not about 8 lookups waiting on one DNS query (a query lost
        // on a loaded machine would defer them all, and a 400 makes no pick).
        const int clients = 8, each = 51, picks = 1 + clients * each;
        var expected = ReferenceSequence(dns, picks).GroupBy(r => r).ToDictionary(g => g.Key, g => g.Count());
        using var router = new SocketmapRouter(SharesConfig, dns);
        var relays = new System.Collections.Concurrent.ConcurrentBag<string>();
        using (var first = router.Process.Connect()) relays.Add(first.Get("first@wrr.test")[4..]);
        var workers = Enumerable.Range(0, clients).Select(w => Task.Run(() =>
        {
            if (w % 2 == 0)
            {
                using var c = router.Process.Connect();
                for (var i = 0; i < each; i++) relays.Add(c.Get("u" + w + "x" + i + "@wrr.test")[4..]);
            }
            else
            {
                using var c = router.Connect();
                for (var i = 0; i < each; i++) relays.Add(c.Lookup("u" + w + "x" + i + "@wrr.test")[3..]);
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
        var tally = relays.GroupBy(r => r).ToDictionary(g => g.Key, g => g.Count());
        foreach (var relay in expected.Keys.Concat(tally.Keys).Distinct())
            Assert.True(expected.GetValueOrDefault(relay) == tally.GetValueOrDefault(relay),
                relay + ": " + tally.GetValueOrDefault(relay) + " picks, the first " + picks +
                " of the sequence have " + expected.GetValueOrDefault(relay) + "; all replies: " +
                string.Join(", ", tally.Select(t => t.Key + " x" + t.Value)));
    }

    [Fact]
    public void SocketmapLookupsGoToTheRoutingLog()
    {
        using var dir = new TempDir();
        using var dns = ExampleDns();
        var logPath = dir.File("routing.log");
        using var router = new SocketmapRouter("config:\n  log_file: " + logPath + "\n" + Config(DefaultAt.First), dns, dir);
        using (var c = router.Connect())
        {
            Assert.Equal(Vip, c.Lookup("VIP@example.com"));
            Assert.Equal(NotFound, c.Lookup("someone@other.test"));
        }
        Assert.Equal(0, router.Process.Terminate());
        var lines = File.ReadAllText(logPath).TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.EndsWith("vip@example.com\tmx4\tsmtp:[192.0.2.4]:587", lines[0]);
        Assert.EndsWith("someone@other.test\tNO RESULT\tn/a", lines[1]);
    }

    [Fact]
    public void AnIdleSocketmapConnectionIsClosedAfterTheTimeout()
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns, null, "--timeout", "1");
        using var c = router.Connect();
        Assert.Equal(Vip, c.Lookup("vip@example.com"));
        var idle = Stopwatch.StartNew();
        Assert.True(c.WaitForClose(TimeSpan.FromSeconds(15)), "an idle socketmap connection stayed open with --timeout 1");
        Assert.True(idle.Elapsed >= TimeSpan.FromSeconds(0.5), "closed after " + idle.Elapsed.TotalMilliseconds + " ms");
    }

    [Fact]
    public void ABehavingSocketmapConnectionServesManyRequests()
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        for (var i = 0; i < 2000; i++)
        {
            var expected = i % 2 == 0 ? Vip : NotFound;
            var key = i % 2 == 0 ? "vip@example.com" : "user" + i + "@other.test";
            Assert.Equal(expected, c.Lookup(key));
        }
        Assert.False(c.WaitForClose(TimeSpan.FromMilliseconds(300)), "the router closed a socketmap connection that behaved");
    }

    [Fact]
    public void SigtermAnswersInFlightSocketmapRequestsAndExits0()
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.Equal(Vip, c.Lookup("vip@example.com"));
        Assert.Equal(0, router.Process.Terminate());
        Assert.Contains("All Servers", router.Process.Stdout);
    }

    [Theory]
    [InlineData("--socketmap-port 0", "--socketmap-port")]
    [InlineData("--socketmap-port port", "--socketmap-port")]
    [InlineData("--socketmap-port", "--socketmap-port")]
    [InlineData("--socketmap-name a:b", "--socketmap-name")]
    [InlineData("--socketmap-name=", "--socketmap-name")]
    public void ABadSocketmapFlagExits2NamingIt(string flags, string named)
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var path = dir.Write("router.yaml", Config(DefaultAt.First));
        var args = new List<string> { "-c", path, "-p", RouterProcess.FreePort().ToString(), "--dns-server", dns.Endpoint };
        args.AddRange(flags.Split(' '));
        var r = RouterProcess.Run(args, TimeSpan.FromSeconds(20));
        Assert.True(r.ExitCode == 2, "expected exit status 2\n" + r);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, "expected a one-line error\n" + r);
        Assert.Contains(named, lines[0]);
    }

    [Fact]
    public void ASocketmapPortEqualToTheTcpTablePortIsRefused()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var path = dir.Write("router.yaml", Config(DefaultAt.First));
        var port = RouterProcess.FreePort().ToString();
        var r = RouterProcess.Run(new[] { "-c", path, "-p", port, "--socketmap-port", port, "--dns-server", dns.Endpoint },
            TimeSpan.FromSeconds(20));
        Assert.True(r.ExitCode == 1, "expected exit status 1\n" + r);
        Assert.Contains("--socketmap-port", r.Stderr);
    }

    [Fact]
    public void ABadSocketmapNameInTheConfigSectionIsFatalNamingTheFile()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var path = dir.Write("router.yaml", "config:\n  socketmap_name: \"two words\"\n" + Config(DefaultAt.First));
        var r = RouterProcess.Run(new[] { "-c", path, "-p", RouterProcess.FreePort().ToString(), "--dns-server", dns.Endpoint },
            TimeSpan.FromSeconds(20));
        Assert.True(r.ExitCode == 1, "expected exit status 1\n" + r);
        Assert.Contains(path, r.Stderr);
        Assert.Contains("socketmap_name", r.Stderr);
    }
}
