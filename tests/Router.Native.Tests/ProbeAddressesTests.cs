using System.Net;
using Router.Core;

namespace Router.Native.Tests;

/// <summary>A next hop's addresses through the router's resolver, asking FakeDns: MX first,
/// then A/AAAA, for an unbracketed name; A/AAAA only for a bracketed one; no DNS for a literal.</summary>
public class ProbeAddressesTests : IDisposable
{
    private readonly FakeDns _dns = new();
    private readonly DnsQuery _query;

    public ProbeAddressesTests()
    {
        _query = new DnsQuery(new DnsSettings
        {
            Servers = new[] { new IPEndPoint(_dns.Address, _dns.Port) },
            Timeout = 1,
            Retries = 0,
        });
    }

    public void Dispose() => _dns.Dispose();

    private static NextHop.Endpoint Target(string address) =>
        NextHop.parse(address) is NextHop.Target.Probeable p ? p.Item : throw new ArgumentException(address);

    private Task<ProbeEndpoints> Resolve(string address) =>
        ProbeAddresses.ResolveAsync(_query, Target(address), CancellationToken.None);

    private static string Show(ProbeEndpoints e) =>
        e.Failure ?? string.Join(" ", e.Endpoints.Select(x => x.ToString()));

    [Fact]
    public async Task AnUnbracketedNameGoesToItsMxHostsLowestPreferenceFirst()
    {
        _dns.SetMx("mail.test", (20, "b.mx.test"), (10, "a.mx.test"));
        _dns.SetAddresses("a.mx.test", IPAddress.Parse("127.0.0.2"), IPAddress.Parse("::1"));
        _dns.SetAddresses("b.mx.test", IPAddress.Parse("127.0.0.3"));
        _dns.SetAddresses("mail.test", IPAddress.Parse("127.0.0.9"));
        Assert.Equal("127.0.0.2:2525 [::1]:2525 127.0.0.3:2525", Show(await Resolve("smtp:mail.test:2525")));
        Assert.Equal(0, _dns.Queries("mail.test", FakeDns.TypeA));
    }

    [Fact]
    public async Task AnUnbracketedNameWithoutMxGoesToItsOwnAddresses()
    {
        _dns.SetAddresses("plain.test", IPAddress.Parse("127.0.0.4"));
        Assert.Equal("127.0.0.4:25", Show(await Resolve("relay:plain.test")));
        Assert.Equal(1, _dns.MxQueries("plain.test"));
    }

    [Fact]
    public async Task ABracketedNameAsksForAddressesOnly()
    {
        _dns.SetMx("mail.test", (10, "a.mx.test"));
        _dns.SetAddresses("mail.test", IPAddress.Parse("127.0.0.5"));
        Assert.Equal("127.0.0.5:25", Show(await Resolve("relay:[mail.test]:25")));
        Assert.Equal(0, _dns.MxQueries("mail.test"));
    }

    [Fact]
    public async Task ALiteralAsksNothing()
    {
        Assert.Equal("[2001:db8::1]:26", Show(await Resolve("smtp:[ipv6:2001:db8::1]:26")));
        Assert.Equal("192.0.2.1:25", Show(await Resolve("smtp:[192.0.2.1]")));
        Assert.Equal(0, _dns.TotalQueries);
    }

    [Fact]
    public async Task ANameWithNoAddressSaysSo()
    {
        Assert.Equal("no address for host nowhere.test", Show(await Resolve("smtp:[nowhere.test]")));
        Assert.Equal("no address for host nowhere.test", Show(await Resolve("smtp:nowhere.test")));
    }

    [Fact]
    public async Task MxHostsWithNoAddressAreNamed()
    {
        _dns.SetMx("mail.test", (10, "a.mx.test"), (20, "b.mx.test"));
        Assert.Equal("no address for the MX hosts of mail.test (a.mx.test, b.mx.test)", Show(await Resolve("smtp:mail.test")));
    }

    [Fact]
    public async Task AFailingMxQueryFailsTheProbeWithoutFallingBackToAddresses()
    {
        _dns.Set("mail.test", DnsBehavior.ServFail);
        Assert.Equal("DNS failure: SERVFAIL for mail.test", Show(await Resolve("smtp:mail.test")));
        Assert.Equal(0, _dns.Queries("mail.test", FakeDns.TypeA));
    }

    [Fact]
    public async Task ANullMxTakesNoMail()
    {
        _dns.SetMx("mail.test", (0, "."));
        Assert.Equal("DNS failure: null MX for mail.test", Show(await Resolve("smtp:mail.test")));
    }

    [Fact]
    public async Task AtMostFiveAddresses()
    {
        _dns.SetMx("mail.test", (10, "a.mx.test"), (20, "b.mx.test"), (30, "c.mx.test"));
        _dns.SetAddresses("a.mx.test", IPAddress.Parse("127.0.0.1"), IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3"));
        _dns.SetAddresses("b.mx.test", IPAddress.Parse("127.0.0.4"), IPAddress.Parse("127.0.0.5"), IPAddress.Parse("127.0.0.6"));
        _dns.SetAddresses("c.mx.test", IPAddress.Parse("127.0.0.7"));
        Assert.Equal("127.0.0.1:25 127.0.0.2:25 127.0.0.3:25 127.0.0.4:25 127.0.0.5:25", Show(await Resolve("smtp:mail.test")));
        Assert.Equal(0, _dns.Queries("c.mx.test"));
    }

    [Fact]
    public async Task AProbeOfAnMxNameReachesTheServerOfItsMxHost()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.Good);
        _dns.SetMx("mail.test", (10, "mx.test"));
        _dns.SetAddresses("mx.test", IPAddress.Loopback);
        var p = await SmtpProbe.ProbeAsync(Target("smtp:mail.test:" + smtp.Port), _query, TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.True(p.Ok, p.Detail);
        Assert.Equal(1, smtp.Connections);
    }

    [Fact]
    public async Task ADnsTimeoutEndsTheProbeAtItsTimeout()
    {
        _dns.Set("slow.test", DnsBehavior.Timeout);
        var query = new DnsQuery(new DnsSettings { Servers = new[] { new IPEndPoint(_dns.Address, _dns.Port) }, Timeout = 30, Retries = 0 });
        var p = await SmtpProbe.ProbeAsync(Target("smtp:[slow.test]"), query, TimeSpan.FromSeconds(0.5), CancellationToken.None);
        Assert.False(p.Ok);
        Assert.Equal("timed out resolving slow.test after 0.5 s", p.Detail);
    }
}
