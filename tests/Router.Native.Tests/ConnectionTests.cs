using System.Diagnostics;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>Persistent connections: --timeout closes idle ones, behaving ones stay open.</summary>
public class ConnectionTests
{
    private const string Vip = "200 smtp:[192.0.2.4]:587";

    [Fact]
    public void AnIdleConnectionIsClosedAfterTheTimeout()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--timeout", "1");
        using var c = router.Connect();
        Assert.Equal(Vip, c.Get("vip@example.com"));
        var idle = Stopwatch.StartNew();
        Assert.True(c.WaitForClose(TimeSpan.FromSeconds(15)), "an idle connection stayed open with --timeout 1");
        // Closed for being idle, not at once: the timeout is one second.
        Assert.True(idle.Elapsed >= TimeSpan.FromSeconds(0.5), "closed after " + idle.Elapsed.TotalMilliseconds + " ms");
    }

    [Fact]
    public void AConnectionThatNeverSpeaksIsClosedAfterTheTimeout()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--timeout", "1");
        using var c = router.Connect();
        Assert.True(c.WaitForClose(TimeSpan.FromSeconds(15)), "a silent connection stayed open with --timeout 1");
    }

    [Fact]
    public void AConnectionThatKeepsAskingWithinTheTimeoutStaysOpen()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--timeout", "2");
        using var c = router.Connect();
        // 4 s of traffic, one request every 0.4 s: twice the timeout, never idle for it.
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(Vip, c.Get("vip@example.com"));
            Thread.Sleep(400);
        }
        Assert.Equal(Vip, c.Get("vip@example.com"));
    }

    [Fact]
    public void ABehavingConnectionServesManyRequests()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        for (var i = 0; i < 2000; i++)
        {
            var expected = i % 2 == 0 ? Vip : "500 NO%20RESULT";
            var key = i % 2 == 0 ? "vip@example.com" : "user" + i + "@other.test";
            Assert.Equal(expected, c.Get(key));
        }
        Assert.False(c.WaitForClose(TimeSpan.FromMilliseconds(300)), "the router closed a connection that behaved");
    }

    [Fact]
    public void WithTimeoutZeroAnIdleConnectionStaysOpen()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--timeout", "0");
        using var c = router.Connect();
        Assert.Equal(Vip, c.Get("vip@example.com"));
        Assert.False(c.WaitForClose(TimeSpan.FromSeconds(2.5)), "--timeout 0 closed an idle connection");
        Assert.Equal(Vip, c.Get("vip@example.com"));
    }

    [Fact]
    public void TheLongFormsOfConfigHostAndPortWork()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var path = dir.Write("router.yaml", Config(DefaultAt.First));
        var port = RouterProcess.FreePort();
        var so = new System.Text.StringBuilder();
        var se = new System.Text.StringBuilder();
        using var p = RouterProcess.Spawn(new[] { "--config", path, "--host", "127.0.0.1", "--port", port.ToString(), "--dns-server", dns.Endpoint }, so, se);
        try
        {
            var sw = Stopwatch.StartNew();
            TcpTableClient? c = null;
            while (c is null && sw.Elapsed < TimeSpan.FromSeconds(30) && !p.HasExited)
            {
                try { c = TcpTableClient.Connect(port); }
                catch (System.Net.Sockets.SocketException) { Thread.Sleep(50); }
            }
            Assert.True(c is not null, "the router never accepted on --port " + port + "\n" + se);
            using (c) Assert.Equal(Vip, c!.Get("vip@example.com"));
        }
        finally
        {
            if (!p.HasExited) p.Kill();
        }
    }

    [Fact]
    public void TheRouterListensOnlyOnTheHostItIsGiven()
    {
        using var dns = Dns();
        var port = RouterProcess.FreePort();
        // 127.0.0.2 is loopback too; a router bound there does not answer on 127.0.0.1.
        using var dir = new TempDir();
        var path = dir.Write("router.yaml", Config(DefaultAt.First));
        var so = new System.Text.StringBuilder();
        var se = new System.Text.StringBuilder();
        using var p = RouterProcess.Spawn(new[] { "-c", path, "-H", "127.0.0.2", "-p", port.ToString(), "--dns-server", dns.Endpoint }, so, se);
        try
        {
            var sw = Stopwatch.StartNew();
            System.Net.Sockets.Socket? s = null;
            while (s is null && sw.Elapsed < TimeSpan.FromSeconds(30) && !p.HasExited)
            {
                var t = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                try { t.Connect(System.Net.IPAddress.Parse("127.0.0.2"), port); s = t; }
                catch (System.Net.Sockets.SocketException) { t.Dispose(); Thread.Sleep(50); }
            }
            Assert.True(s is not null, "the router never accepted on 127.0.0.2:" + port + "\n" + se);
            s!.Dispose();
            Assert.Throws<System.Net.Sockets.SocketException>(() => TcpTableClient.Connect(port).Dispose());
        }
        finally
        {
            if (!p.HasExited) p.Kill();
        }
    }

    [Fact]
    public void QuietLogsNothingWhenAllIsWellAndVerboseLogsMore()
    {
        using var dns = Dns();
        // Logs may go to either stream; the stats table (stdout, at exit) is not a log.
        string LogsOf(string flag)
        {
            using var router = RouterProcess.Start(Config(DefaultAt.First), dns, flag);
            using (var c = router.Connect()) Assert.Equal(Vip, c.Get("vip@example.com"));
            Assert.Equal(0, router.Terminate());
            var table = new System.Text.RegularExpressions.Regex(@"^(All Servers|Group \S+|\s+Name\s+# Sent.*|\s+\S+\s+[\d,]+\s*\|.*|\s*)$");
            return string.Join("\n", (router.Stdout + router.Stderr).Split('\n').Where(l => !table.IsMatch(l)));
        }
        var quiet = LogsOf("-q");
        var verbose = LogsOf("-v");
        Assert.True(quiet.Length == 0, "-q logged:\n" + quiet);
        Assert.True(verbose.Length > 0, "-v logged nothing");
    }

    [Fact]
    public void TheNullSenderMakesNoDnsQueryAndFallsToTheDefault()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.Equal("500 NO%20RESULT", c.Get("\"<>\""));
        Assert.Equal(0, dns.TotalQueries);
    }
}
