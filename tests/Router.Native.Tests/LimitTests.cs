using System.Text.RegularExpressions;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// Limits: --max-connections over both listeners, the per-connection buffer cap, a
/// slow or stuck peer costing only its own connection.
/// </summary>
public class LimitTests
{
    private const string Vip = "200 smtp:[192.0.2.4]:587";

    private static int RefusalLines(string stderr) =>
        Regex.Matches(stderr, "refused a (tcp_table|socketmap) connection .*--max-connections").Count;

    [Fact]
    public void PastMaxConnectionsNewConnectionsAreClosedAtOnceAndTheOpenOnesKeepBeingServed()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--max-connections", "5");
        var open = Enumerable.Range(0, 5).Select(_ => router.Connect()).ToList();
        try
        {
            // Asked and answered: each of the five holds a slot.
            foreach (var c in open) Assert.Equal(Vip, c.Get("vip@example.com"));

            using (var sixth = Peer.Connect(router.Port))
            {
                sixth.Send("get vip@example.com\n");
                Assert.True(sixth.WaitForClose(TimeSpan.FromSeconds(10)), "the sixth connection was not closed");
                Assert.Null(sixth.ReadLine(TimeSpan.FromSeconds(1)));
            }
            Assert.True(Eventually.True(() => RefusalLines(router.Stderr) >= 1), "no log line for the refusal\n" + router.Describe());

            foreach (var c in open) Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));

            // A slot freed is a slot to have again.
            open[0].Dispose();
            open.RemoveAt(0);
            string? reply = null;
            Assert.True(Eventually.True(() =>
            {
                using var again = Peer.Connect(router.Port);
                again.Send("get vip@example.com\n");
                reply = again.ReadLine(TimeSpan.FromSeconds(10));
                return reply != null;
            }), "no connection admitted after one closed\n" + router.Describe());
            Assert.Equal(Vip, reply);
        }
        finally
        {
            foreach (var c in open) c.Dispose();
        }
    }

    [Fact]
    public void BothListenersShareTheLimit()
    {
        using var dns = Dns();
        var socketmapPort = RouterProcess.FreePort();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns,
            "--max-connections", "4", "--socketmap-port", socketmapPort.ToString());
        using var t1 = router.Connect();
        using var t2 = router.Connect();
        using var s1 = SocketmapClient.Connect(socketmapPort);
        using var s2 = SocketmapClient.Connect(socketmapPort);
        Assert.Equal(Vip, t1.Get("vip@example.com"));
        Assert.Equal(Vip, t2.Get("vip@example.com"));
        Assert.Equal("OK smtp:[192.0.2.4]:587", s1.Lookup("vip@example.com"));
        Assert.Equal("OK smtp:[192.0.2.4]:587", s2.Lookup("vip@example.com"));
        using (var fifth = Peer.Connect(socketmapPort))
            Assert.True(fifth.WaitForClose(TimeSpan.FromSeconds(10)), "a fifth (socketmap) connection was admitted");
        using (var sixth = Peer.Connect(router.Port))
            Assert.True(sixth.WaitForClose(TimeSpan.FromSeconds(10)), "a sixth (tcp_table) connection was admitted");
        Assert.Equal(Vip, t1.Get("vip@example.com"));
        Assert.Equal("OK smtp:[192.0.2.4]:587", s2.Lookup("vip@example.com"));
    }

    [Fact]
    public void AFloodOfRefusedConnectionsCostsAFewLogLinesNotOneEach()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--max-connections", "1");
        using var held = router.Connect();
        Assert.Equal(Vip, held.Get("vip@example.com"));
        for (var i = 0; i < 300; i++)
        {
            using var p = Peer.Connect(router.Port);
            Assert.True(p.WaitForClose(TimeSpan.FromSeconds(10)), "connection " + i + " past the limit was admitted");
        }
        Assert.True(Eventually.True(() => RefusalLines(router.Stderr) >= 1), router.Describe());
        // One line per 10 s: 300 refusals take far less than a minute here.
        var lines = RefusalLines(router.Stderr);
        Assert.True(lines <= 6, lines + " log lines for 300 refusals\n" + router.Describe());
        Assert.Equal(Vip, held.Get("vip@example.com"));
    }

    [Fact]
    public void TheDefaultLimitIsAThousandAndTwentyFourAndBadValuesAreRefused()
    {
        Assert.Contains("--max-connections N", RouterProcess.Run(new[] { "--help" }).Stdout);
        Assert.Contains("default 1024", RouterProcess.Run(new[] { "--help" }).Stdout);
        foreach (var bad in new[] { "0", "-1", "x", "" })
        {
            var r = RouterProcess.Run(new[] { "--max-connections", bad, "--check" });
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.Contains("--max-connections", r.Stderr);
        }
        using var dir = new TempDir();
        var path = dir.Write("r.yaml", "config:\n  max_connections: 0\n" + Config(DefaultAt.First));
        var file = RouterProcess.Run(new[] { "-c", path, "--check" });
        Assert.True(file.ExitCode == 1, file.ToString());
        Assert.Equal(path + ":2:20: error: config.max_connections must be a whole number, 1 or more, not \"0\"\n", file.Stderr);
    }

    [Fact]
    public void AConnectionHoldsAtMostOneLineOfUnreadBytes()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        // 4097 bytes without LF: a 4096-byte line and its CR may still come. Held, not refused.
        using var c = Peer.Connect(router.Port);
        c.Send("get " + new string('a', 4093));
        Assert.False(c.WaitForClose(TimeSpan.FromSeconds(1)), "closed while the line could still end in time");
        // One byte more cannot be a request any more: 400 and close, without waiting for an LF.
        c.Send("a");
        Assert.StartsWith("400 ", c.ReadLine(TimeSpan.FromSeconds(10)));
        Assert.True(c.WaitForClose(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task ASlowClientCostsOnlyItsOwnConnection()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        // Ten peers trickling one byte a second each, for as long as the fast client works.
        const string request = "get someone@other.test\n";
        var slow = Enumerable.Range(0, 10).Select(_ => Peer.Connect(router.Port)).ToList();
        var sent = 0;
        using var stop = new CancellationTokenSource();
        var trickle = Task.Run(async () =>
        {
            while (sent < request.Length - 1 && !stop.IsCancellationRequested)
            {
                foreach (var p in slow) Assert.True(p.Send(request[sent].ToString()), "a slow peer was cut off");
                Interlocked.Increment(ref sent);
                try { await Task.Delay(1000, stop.Token); } catch (OperationCanceledException) { }
            }
        });
        try
        {
            using var fast = router.Connect();
            for (var i = 0; i < 3000; i++)
                Assert.Equal(i % 2 == 0 ? Vip : "500 NO%20RESULT", fast.Get(i % 2 == 0 ? "vip@example.com" : "u" + i + "@other.test"));
            // And a second fast client, connected while the slow ones are mid-line.
            using var late = router.Connect();
            Assert.Equal(Vip, late.Get("vip@example.com"));
        }
        finally
        {
            stop.Cancel();
            await trickle;
        }
        Assert.True(sent >= 1, "the slow peers sent nothing");
        // The slow ones were kept, and their requests are answered once whole.
        foreach (var p in slow)
        {
            Assert.True(p.Send(request.Substring(sent)), "a slow peer was cut off");
            Assert.Equal("500 NO%20RESULT", p.ReadLine(TimeSpan.FromSeconds(10)));
            p.Dispose();
        }
    }

    [Fact]
    public async Task APeerThatStopsReadingIsDroppedAfterTheTimeoutAndOthersAreServedMeanwhile()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--timeout", "2");
        using var stuck = Peer.Connect(router.Port);
        stuck.Socket.ReceiveBufferSize = 4096;
        // Requests enough for megabytes of replies, never read: the router's writes block.
        var burst = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("get vip@example.com\n", 200000)));
        var writer = Task.Run(() => stuck.Send(burst));
        using var other = router.Connect();
        for (var i = 0; i < 200; i++) Assert.Equal(Vip, other.Get("vip@example.com"));
        // The stuck peer is closed by the router: its send ends (reset) or completes, and
        // reading now finds the end of the stream after the replies that fit.
        await writer.WaitAsync(TimeSpan.FromSeconds(60)); // throws when the stuck peer's send never ends
        var got = stuck.ReadToEnd(TimeSpan.FromSeconds(60));
        Assert.True(got.Length < burst.Length * 2, "every reply was delivered to a peer that did not read");
        // (The other connection has been idle for longer than --timeout by now: a new one.)
        using var later = router.Connect();
        Assert.Equal(Vip, later.Get("vip@example.com"));
    }

    private static (long Soft, long Hard) OpenFiles(int pid)
    {
        var line = File.ReadAllLines("/proc/" + pid + "/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var fields = line.Substring("Max open files".Length).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (long.Parse(fields[0]), long.Parse(fields[1]));
    }

    [Fact]
    public void TheRouterRaisesItsOpenFileLimitAndWarnsWhenTheHardLimitIsBelowMaxConnections()
    {
        using var dns = Dns();
        using var dir = new TempDir();
        var config = dir.Write("r.yaml", Config(DefaultAt.First));
        // Started as many init systems start services: a soft limit of 256 under a higher hard one.
        var port = RouterProcess.FreePort();
        var args = new[] { "-c", config, "-H", "127.0.0.1", "-p", port.ToString(), "--dns-server", dns.Endpoint };
        using (var router = new LaunchedRouter(args, System.Net.IPAddress.Loopback, port,
                   new[] { "sh", "-c", "ulimit -Sn 256 && exec \"$0\" \"$@\"" }))
        {
            var (soft, hard) = OpenFiles(router.Pid);
            Assert.True(hard > 256, "the test needs a hard limit above 256, have " + hard);
            Assert.Equal(hard, soft);
            Assert.DoesNotContain("open-file limit", router.Stderr);
        }
        // A hard limit too low for --max-connections: said at start.
        port = RouterProcess.FreePort();
        args = new[] { "-c", config, "-H", "127.0.0.1", "-p", port.ToString(), "--dns-server", dns.Endpoint, "--max-connections", "1000" };
        using (var router = new LaunchedRouter(args, System.Net.IPAddress.Loopback, port,
                   new[] { "sh", "-c", "ulimit -n 300 && exec \"$0\" \"$@\"" }))
        {
            Assert.True(Eventually.True(() => router.Stderr.Contains("open-file limit 300")), router.Describe());
            using var c = router.Connect();
            Assert.Equal(Vip, c.Get("vip@example.com"));
        }
    }
}
