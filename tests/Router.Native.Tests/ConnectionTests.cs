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
}
