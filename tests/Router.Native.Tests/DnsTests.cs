using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>README "DNS": temporary failures are 400, the cache honours --cache-ttl.</summary>
public class DnsTests
{
    // A DNS time-out takes as long as the router's resolver waits and retries.
    private static readonly TimeSpan SlowReply = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData(DnsBehavior.ServFail)]
    [InlineData(DnsBehavior.Refused)]
    [InlineData(DnsBehavior.Timeout)]
    [InlineData(DnsBehavior.Garbage)]
    public void ATemporaryDnsFailureReplies400AndKeepsTheConnection(DnsBehavior behavior)
    {
        using var dns = Dns();
        dns.Set("broken.test", behavior);
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        var reply = c.Get("someone@broken.test", SlowReply);
        Assert.StartsWith("400 ", reply);
        Assert.True(dns.MxQueries("broken.test") >= 1, "the router never asked the fake DNS: " + dns.DescribeQueries());
        // The failure was that domain's, not the connection's.
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("vip@example.com"));
    }

    [Fact]
    public void ASlowDnsLookupDoesNotHoldUpOtherConnections()
    {
        using var dns = Dns();
        dns.Set("slow.test", DnsBehavior.Timeout);
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var waiting = router.Connect();
        using var other = router.Connect();
        waiting.Send("get someone@slow.test\n");
        Thread.Sleep(200); // the router is waiting on DNS for slow.test now
        Assert.Equal("200 smtp:[192.0.2.4]:587", other.Get("vip@example.com"));
        Assert.Equal("500 NO%20RESULT", other.Get("someone@other.test"));
        Assert.False(waiting.HasData, "the slow lookup was answered first: the router serves one lookup at a time");
        Assert.StartsWith("400 ", waiting.ReadLine(SlowReply));
    }

    [Fact]
    public void ATemporaryDnsFailureIsNotCachedAsNoHosts()
    {
        using var dns = Dns();
        dns.Set("flaky.test", DnsBehavior.ServFail);
        using var router = RouterProcess.Start(
            Config(DefaultAt.First, extraRules: "  mx.flaky.test: mx4\n"), dns, "--cache-ttl", "3600");
        using var c = router.Connect();
        Assert.StartsWith("400 ", c.Get("someone@flaky.test", SlowReply));
        dns.SetMx("flaky.test", (10, "mx.flaky.test"));
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("someone@flaky.test"));
    }

    [Fact]
    public void ATruncatedUdpAnswerIsAskedAgainOverTcp()
    {
        using var dns = Dns();
        dns.SetTruncated("big.test", new MxRecord(10, "big-test.mail.protection.outlook.com"));
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        var reply = c.Get("someone@big.test", SlowReply);
        Assert.StartsWith("200 ", reply);
        Assert.Contains(reply[4..], Good);
        Assert.True(dns.MxQueries("big.test", DnsProtocol.Tcp) >= 1, "no TCP query: " + dns.DescribeQueries());
    }

    [Fact]
    public void TwoLookupsWithinTheCacheTtlMakeOneDnsQuery()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--cache-ttl", "3600");
        using var c = router.Connect();
        Assert.StartsWith("200 ", c.Get("a@contoso.com"));
        Assert.StartsWith("200 ", c.Get("b@contoso.com"));
        Assert.Equal(1, dns.MxQueries("contoso.com"));
    }

    [Fact]
    public void WithCacheTtlZeroEveryLookupAsksDns()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--cache-ttl", "0");
        using var c = router.Connect();
        Assert.StartsWith("200 ", c.Get("a@contoso.com"));
        Assert.StartsWith("200 ", c.Get("b@contoso.com"));
        Assert.Equal(2, dns.MxQueries("contoso.com"));
    }

    [Fact]
    public void ACachedAnswerExpiresAfterTheCacheTtl()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--cache-ttl", "1");
        using var c = router.Connect();
        Assert.StartsWith("200 ", c.Get("a@contoso.com"));
        Thread.Sleep(TimeSpan.FromSeconds(2.5));
        Assert.StartsWith("200 ", c.Get("b@contoso.com"));
        Assert.Equal(2, dns.MxQueries("contoso.com"));
    }

    [Fact]
    public void TheWildcardAndAddressLiteralsMakeNoDnsQuery()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.StartsWith("500 ", c.Get("*"));
        // No hosts, no rule on the address: the default, NO RESULT.
        Assert.Equal("500 NO%20RESULT", c.Get("someone@[192.0.2.1]"));
        Assert.Equal(0, dns.TotalQueries);
    }
}
