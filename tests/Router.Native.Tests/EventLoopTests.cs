using System.Text;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// Connections are served by an event loop (src/Router.Native/EventLoop.cs). What it
/// must keep from the connection-per-task server it replaced, beyond the protocol tests: many
/// requests in one packet answered in order, and a lookup that waits for DNS holding up its
/// own connection only. The fake DNS holds one domain's answer back; the tests assert the
/// order in which replies arrive, never how long they took.
/// </summary>
public class EventLoopTests
{
    private const string Vip = "200 smtp:[192.0.2.4]:587";
    private const string NoResult = "500 NO%20RESULT";
    /// <summary>mx.slow.test: mx4, so slow.test's reply is Vip's.</summary>
    private static readonly string SlowConfig = Config(DefaultAt.First, extraRules: "  mx.slow.test: mx4\n");

    private static FakeDns SlowDns()
    {
        var dns = Dns();
        dns.SetMx("slow.test", (10, "mx.slow.test")).SetDelay("slow.test", TimeSpan.FromSeconds(3));
        return dns;
    }

    private static RouterProcess StartSlow(FakeDns dns, params string[] extra) =>
        RouterProcess.Start(SlowConfig, dns, new[] { "--dns-timeout", "10", "--dns-retries", "0" }.Concat(extra).ToArray());

    [Fact]
    public void HundredsOfRequestsInOnePacketAreAnsweredInOrder()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.Equal(Vip, c.Get("vip@example.com")); // example.com cached: the rest answer inline
        var expected = new List<string>();
        var packet = new StringBuilder();
        for (var i = 0; i < 300; i++)
        {
            switch (i % 3)
            {
                case 0: packet.Append("get vip@example.com\n"); expected.Add(Vip); break;
                case 1: packet.Append("get *\n"); expected.Add(NoResult); break;
                default: packet.Append("put x y\n"); expected.Add("400 "); break;
            }
        }
        c.Send(packet.ToString());
        foreach (var want in expected) Assert.StartsWith(want, c.ReadLine());
        Assert.False(c.HasData, "more replies than requests");
        Assert.Equal(Vip, c.Get("vip@example.com"));
    }

    [Fact]
    public void HundredsOfSocketmapRequestsInOnePacketAreAnsweredInOrder()
    {
        using var dns = Dns();
        var port = RouterProcess.FreePort();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--socketmap-port", port.ToString());
        using var c = SocketmapClient.Connect(port);
        Assert.Equal("OK smtp:[192.0.2.4]:587", c.Lookup("vip@example.com"));
        var packet = new List<byte>();
        var expected = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            if (i % 2 == 0)
            {
                packet.AddRange(SocketmapClient.Request("vip@example.com"));
                expected.Add("OK smtp:[192.0.2.4]:587");
            }
            else
            {
                packet.AddRange(SocketmapClient.Request("*"));
                expected.Add("NOTFOUND ");
            }
        }
        c.Send(packet.ToArray());
        foreach (var want in expected) Assert.Equal(want, c.ReadReply());
    }

    [Fact]
    public void ALookupWaitingForDnsHoldsUpNoOtherConnection()
    {
        using var dns = SlowDns();
        using var router = StartSlow(dns);
        using var slow = router.Connect();
        slow.Send("get user@slow.test\n");
        Assert.True(Wait.Until(() => dns.MxQueries("slow.test") == 1, TimeSpan.FromSeconds(30)), "the router never asked for slow.test");

        // While slow.test's answer is held back, other connections are served: a key with no
        // DNS, one whose lookup is a quick miss, then the same key from the cache. The loops
        // (one per two cores) take connections in turn: with 16 more, some share slow's loop.
        var others = Enumerable.Range(0, 16).Select(_ => router.Connect()).ToList();
        try
        {
            foreach (var other in others)
            {
                Assert.Equal(NoResult, other.Get("*"));
                Assert.Equal(Vip, other.Get("vip@example.com"));
                Assert.Equal(Vip, other.Get("vip@example.com"));
            }
        }
        finally
        {
            foreach (var other in others) other.Dispose();
        }
        Assert.False(slow.HasData, "slow.test was answered before the others: its lookup did not wait for DNS");

        Assert.Equal(Vip, slow.ReadLine());
        Assert.Equal(Vip, slow.Get("another@slow.test")); // now cached, answered inline
    }

    [Fact]
    public void RequestsPipelinedBehindAWaitingLookupAreAnsweredAfterItInOrder()
    {
        using var dns = SlowDns();
        using var router = StartSlow(dns);
        using var c = router.Connect();
        c.Send("get user@slow.test\nget *\nget vip@example.com\n");
        Assert.Equal(Vip, c.ReadLine());
        Assert.Equal(NoResult, c.ReadLine());
        Assert.Equal(Vip, c.ReadLine());
        Assert.False(c.HasData, "more replies than requests");
    }

    [Fact]
    public void SigtermAnswersALookupThatWaitsForDnsBeforeExiting()
    {
        using var dns = SlowDns();
        using var router = StartSlow(dns);
        using var c = router.Connect();
        c.Send("get user@slow.test\n");
        Assert.True(Wait.Until(() => dns.MxQueries("slow.test") == 1, TimeSpan.FromSeconds(30)), "the router never asked for slow.test");
        router.Signal(RouterProcess.SIGTERM);
        Assert.Equal(Vip, c.ReadLine());
        Assert.True(c.WaitForClose(TimeSpan.FromSeconds(30)), "the connection stayed open after the reply at shutdown");
        Assert.Equal(0, router.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void AHalfCloseRightAfterTheLastRequestClosesTheConnectionOnceAllAreAnswered()
    {
        // Requests sent one segment at a time, then the peer's FIN close behind the last: the
        // end of file can come with the edge of the last bytes, and the loop must read on to
        // it rather than wait for the idle timeout (600 s here) to close the connection.
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--timeout", "600");
        for (var round = 0; round < 20; round++)
        {
            using var c = router.Connect();
            for (var i = 0; i < 50; i++) c.Send("get *\n");
            c.ShutdownSend();
            for (var i = 0; i < 50; i++) Assert.Equal(NoResult, c.ReadLine());
            Assert.True(c.WaitForClose(TimeSpan.FromSeconds(30)),
                "round " + round + ": a half-closed connection stayed open after all its requests were answered");
        }
    }
}
