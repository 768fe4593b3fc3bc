using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// Every DNS outcome ends in a documented reply. With nothing cached, a DNS
/// failure (SERVFAIL, REFUSED, time-out, garbage) is 400 under --dns-failure-policy defer
/// and the default target under default; NXDOMAIN, no data and a null MX are "no hosts";
/// a truncated answer is asked again over TCP.
/// </summary>
public class DnsFailureReplyTests
{
    // The example config with `default: mx4`: the default target is one exact reply.
    private const string ToDefault = "200 smtp:[192.0.2.4]:587";

    private static readonly string[] Fast = { "--dns-timeout", "1", "--dns-retries", "0" };

    public static IEnumerable<object[]> Outcomes()
    {
        foreach (var policy in new[] { "defer", "default" })
        {
            foreach (var failure in new[] { DnsBehavior.ServFail, DnsBehavior.Refused, DnsBehavior.Timeout, DnsBehavior.Garbage })
                yield return new object[] { failure, policy, policy == "defer" ? "400 " : ToDefault };
            // Answers, not failures: the policy plays no part.
            yield return new object[] { DnsBehavior.NxDomain, policy, ToDefault };
            yield return new object[] { DnsBehavior.NoData, policy, ToDefault };
            yield return new object[] { DnsBehavior.Truncated, policy, "good" };
        }
    }

    [Theory]
    [MemberData(nameof(Outcomes))]
    public void EveryDnsOutcomeEndsInADocumentedReply(DnsBehavior behavior, string policy, string expected)
    {
        using var dns = Dns();
        if (behavior == DnsBehavior.Truncated)
            dns.SetTruncated("broken.test", new MxRecord(10, "broken-test.mail.protection.outlook.com"));
        else
            dns.Set("broken.test", behavior);
        using var router = RouterProcess.Start(Config(DefaultAt.First, "mx4"), dns,
            Fast.Concat(new[] { "--dns-failure-policy", policy }).ToArray());
        using var c = router.Connect();

        var reply = c.Get("someone@broken.test");

        if (expected == "good")
        {
            Assert.StartsWith("200 ", reply);
            Assert.Contains(reply[4..], Good);
            Assert.True(dns.MxQueries("broken.test", DnsProtocol.Udp) >= 1, dns.DescribeQueries());
            Assert.True(dns.MxQueries("broken.test", DnsProtocol.Tcp) >= 1, "no retry over TCP: " + dns.DescribeQueries());
        }
        else if (expected == "400 ")
        {
            Assert.StartsWith("400 ", reply);
            Assert.Contains("broken.test", reply);
        }
        else
        {
            Assert.Equal(expected, reply);
        }
        Assert.True(dns.MxQueries("broken.test") >= 1, "the router never asked: " + dns.DescribeQueries());
        // The connection goes on.
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("vip@example.com"));
    }

    [Theory]
    [InlineData("defer")]
    [InlineData("default")]
    public void UnderEitherPolicyARuleOnTheAddressStillNeedsNoDns(string policy)
    {
        using var dns = Dns();
        dns.Set("example.com", DnsBehavior.ServFail);
        using var router = RouterProcess.Start(Config(DefaultAt.First, "mx1"), dns,
            Fast.Concat(new[] { "--dns-failure-policy", policy }).ToArray());
        using var c = router.Connect();

        var reply = c.Get("john@example.com");

        if (policy == "defer")
        {
            Assert.StartsWith("400 ", reply);
        }
        else
        {
            // john@example.com: bad, not the default mx1.
            Assert.StartsWith("200 ", reply);
            Assert.Contains(reply[4..], Bad);
        }
    }

    [Fact]
    public void TheDefaultPolicyWithANoResultDefaultReplies500()
    {
        using var dns = Dns();
        dns.Set("broken.test", DnsBehavior.ServFail);
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns,
            Fast.Concat(new[] { "--dns-failure-policy", "default" }).ToArray());
        using var c = router.Connect();
        Assert.Equal("500 NO%20RESULT", c.Get("someone@broken.test"));
    }

    [Fact]
    public void TheDefaultPolicyWithoutADefaultPicksFromAllServers()
    {
        using var dns = Dns();
        dns.Set("broken.test", DnsBehavior.Refused);
        using var router = RouterProcess.Start(Config(DefaultAt.None), dns,
            Fast.Concat(new[] { "--dns-failure-policy", "default" }).ToArray());
        using var c = router.Connect();
        var reply = c.Get("someone@broken.test");
        Assert.StartsWith("200 ", reply);
        Assert.Contains(reply[4..], All);
    }

    [Fact]
    public void ANullMxIsNoHosts()
    {
        using var dns = Dns();
        dns.SetMx("null.test", (0, "."));
        using var dir = new TempDir();
        var config = dir.Write("router.yaml", Config(DefaultAt.First, "mx4"));
        var r = RouterProcess.Run(new[] { "-c", config, "--dns-server", dns.Endpoint, "--explain", "someone@null.test" });
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("MX hosts: none\n", r.Stdout);
        Assert.Contains("reply:    " + ToDefault, r.Stdout);
        Assert.Equal(1, dns.MxQueries("null.test"));
    }

    [Fact]
    public void ANullMxRoutesLikeADomainWithoutMxRecords()
    {
        using var dns = Dns();
        dns.SetMx("null.test", (0, "."));
        dns.Set("empty.test", DnsBehavior.NoData);
        using var router = RouterProcess.Start(Config(DefaultAt.First, "mx4"), dns);
        using var c = router.Connect();
        Assert.Equal(ToDefault, c.Get("someone@null.test"));
        Assert.Equal(ToDefault, c.Get("someone@empty.test"));
        Assert.Equal(1, dns.MxQueries("null.test"));
    }

    [Fact]
    public void AnInternationalDomainIsAskedForAsItsALabel()
    {
        using var dns = Dns();
        dns.SetMx("xn--bcher-kva.test", (10, "mx.idn.test"));
        using var router = RouterProcess.Start(Config(DefaultAt.First, extraRules: "  mx.idn.test: mx1\n"), dns);
        using var c = router.Connect();
        // Postfix %XX-encodes the UTF-8 bytes of bücher.test.
        Assert.Equal("200 relay:[mx1.example.com]:25", c.Get("someone@b%C3%BCcher.test"));
        Assert.Equal("200 relay:[mx1.example.com]:25", c.Get("other@B%C3%9CCHER.test"));
        Assert.Equal(1, dns.MxQueries("xn--bcher-kva.test"));
    }

    [Fact]
    public void MxHostsAreTriedByPreferenceThenByNameNotInAnswerOrder()
    {
        using var dns = Dns();
        // Answer order puts the host of the first rule first; preference and name do not.
        dns.SetMx("pref.test", (20, "a.mx.late.test"), (10, "z.mx.early.test"));
        dns.SetMx("tie.test", (10, "b.mx.late.test"), (10, "a.mx.early.test"));
        using var router = RouterProcess.Start(
            Config(DefaultAt.First, extraRules: "  mx.late.test: mx1\n  mx.early.test: mx4\n"), dns);
        using var c = router.Connect();
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("someone@pref.test"));
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("someone@tie.test"));
    }
}
