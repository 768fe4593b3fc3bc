using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>README "Configuration": the example config answers as documented.</summary>
public class RoutingTests
{
    private static void AssertRelayOf(string[] relays, string reply)
    {
        Assert.StartsWith("200 ", reply);
        Assert.Contains(reply[4..], relays);
    }

    [Theory]
    [InlineData(DefaultAt.First)]
    [InlineData(DefaultAt.Last)]
    public void AnAddressRuleRoutesJohnToTheBadGroup(DefaultAt at)
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(at), dns);
        using var c = router.Connect();
        // Six picks in bad (mx3 20, mx4 100): mx3 once, mx4 five times.
        var replies = Enumerable.Range(0, 6).Select(_ => c.Get("john@example.com")).ToList();
        foreach (var r in replies) AssertRelayOf(Bad, r);
        Assert.Equal(1, replies.Count(r => r == "200 " + Mx3));
        Assert.Equal(5, replies.Count(r => r == "200 " + Mx4));
    }

    [Theory]
    [InlineData(DefaultAt.First)]
    [InlineData(DefaultAt.Last)]
    public void AServerTargetRoutesVipStraightToMx4(DefaultAt at)
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(at), dns);
        using var c = router.Connect();
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("vip@example.com"));
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("vip@example.com"));
    }

    [Theory]
    [InlineData(DefaultAt.First)]
    [InlineData(DefaultAt.Last)]
    public void AnMxHostUnderProtectionOutlookComGoesToTheGoodGroup(DefaultAt at)
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(at), dns);
        using var c = router.Connect();
        // Five picks in good (40/40/20): mx1 twice, mx2 twice, mx3 once.
        var replies = Enumerable.Range(0, 5).Select(_ => c.Get("someone@contoso.com")).ToList();
        foreach (var r in replies) AssertRelayOf(Good, r);
        Assert.Equal(2, replies.Count(r => r == "200 " + Mx1));
        Assert.Equal(2, replies.Count(r => r == "200 " + Mx2));
        Assert.Equal(1, replies.Count(r => r == "200 " + Mx3));
    }

    [Theory]
    [InlineData(DefaultAt.First)]
    [InlineData(DefaultAt.Last)]
    public void ADomainRuleCatchesOtherAddressesOfExampleCom(DefaultAt at)
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(at), dns);
        using var c = router.Connect();
        AssertRelayOf(Good, c.Get("mary@example.com"));
    }

    [Theory]
    [InlineData(DefaultAt.First)]
    [InlineData(DefaultAt.Last)]
    public void NoMatchingRuleWithDefaultNoResultReplies500(DefaultAt at)
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(at), dns);
        using var c = router.Connect();
        Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));
        Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));
    }

    [Theory]
    [InlineData(DefaultAt.First)]
    [InlineData(DefaultAt.Last)]
    [InlineData(DefaultAt.None)]
    public void TheWildcardKeyIsNeverFound(DefaultAt at)
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(at), dns);
        using var c = router.Connect();
        Assert.StartsWith("500 ", c.Get("*"));
        // The connection goes on serving after it (Postfix asks `get *` first on every connection).
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("vip@example.com"));
        Assert.Equal(0, dns.Queries("*"));
    }

    [Fact]
    public void WithoutADefaultAnUnmatchedKeyUsesAllServers()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.None), dns);
        using var c = router.Connect();
        // All servers: mx1 40, mx2 40, mx3 20, mx4 100 (no perc means 100); W = 200.
        var replies = Enumerable.Range(0, 200).Select(_ => c.Get("someone@other.test")).ToList();
        foreach (var r in replies) AssertRelayOf(All, r);
        Assert.Equal(40, replies.Count(r => r == "200 " + Mx1));
        Assert.Equal(40, replies.Count(r => r == "200 " + Mx2));
        Assert.Equal(20, replies.Count(r => r == "200 " + Mx3));
        Assert.Equal(100, replies.Count(r => r == "200 " + Mx4));
    }

    [Fact]
    public void ADefaultGroupCatchesUnmatchedKeys()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.Last, defaultTarget: "bad"), dns);
        using var c = router.Connect();
        AssertRelayOf(Bad, c.Get("someone@other.test"));
    }

    [Theory]
    [InlineData(DnsBehavior.NxDomain)]
    [InlineData(DnsBehavior.NoData)]
    public void AddressRulesApplyWhenTheDomainHasNoMxHosts(DnsBehavior behavior)
    {
        using var dns = new FakeDns();
        dns.Set("example.com", behavior);
        dns.Set("other.test", behavior);
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("vip@example.com"));
        AssertRelayOf(Bad, c.Get("john@example.com"));
        AssertRelayOf(Good, c.Get("mary@example.com"));
        Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));
    }

    [Fact]
    public void DefaultIsNotAPatternEvenWhenItStandsFirst()
    {
        using var dns = Dns();
        dns.SetMx("default.test", (10, "mx.default.test"));
        using var router = RouterProcess.Start(
            Config(DefaultAt.First, extraRules: "  default.test: mx4\n"), dns);
        using var c = router.Connect();
        // "default" is a substring of the key and of its MX host, but it is never a pattern.
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("someone@default.test"));
    }

    [Fact]
    public void MxHostsAreTriedInPreferenceOrderEachAgainstEveryRule()
    {
        using var dns = new FakeDns();
        // The answer lists the outlook host first, but mail.hosta.test is preferred.
        dns.SetMx("order.test",
            new MxRecord(20, "x.protection.outlook.com"),
            new MxRecord(10, "mail.hosta.test"));
        var config = Servers + """
            sender_rules:
              default: NO RESULT
              protection.outlook.com: good
              hosta.test: mx4

            """;
        using var router = RouterProcess.Start(config, dns);
        using var c = router.Connect();
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("someone@order.test"));
    }

    [Fact]
    public void MxHostsOfEqualPreferenceAreTriedInNameOrder()
    {
        using var dns = new FakeDns();
        dns.SetMx("tie.test",
            new MxRecord(10, "Z.Protection.Outlook.COM."),
            new MxRecord(10, "A.HostA.Test."));
        var config = Servers + """
            sender_rules:
              default: NO RESULT
              protection.outlook.com: good
              hosta.test: mx4

            """;
        using var router = RouterProcess.Start(config, dns);
        using var c = router.Connect();
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("someone@tie.test"));
    }

    [Fact]
    public void ARuleTargetOfNoResultReplies500()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(
            Config(DefaultAt.None, extraRules: "  other.test: NO RESULT\n"), dns);
        using var c = router.Connect();
        Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));
        AssertRelayOf(All, c.Get("someone@elsewhere.test"));
    }

    [Fact]
    public void KeysAreDecodedAndLowerCasedBeforeMatching()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("VIP%40Example.COM"));
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("%56%49%50@example.com"));
    }
}
