using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Router.Core;

namespace Router.Native.Tests;

/// <summary>The probes' schedule, with a 0.2 s interval against fake SMTP servers: every
/// relay probed again and again, a removed one no more, unprobeable ones listed, one probe
/// at a time per address. Waits are for events (so many reports), bounded only so that a
/// broken schedule fails instead of hanging.</summary>
public class HealthProbesTests : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(0.2);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private readonly FakeDns _dns = new();
    private readonly DnsQuery _query;
    private readonly ConcurrentQueue<(string Relay, Status.Probe Probe)> _reports = new();

    public HealthProbesTests()
    {
        _query = new DnsQuery(new DnsSettings
        {
            Servers = new[] { new IPEndPoint(_dns.Address, _dns.Port) },
            Timeout = 1,
            Retries = 0,
        });
    }

    public void Dispose() => _dns.Dispose();

    private HealthProbes Probes(TimeSpan? timeout = null) =>
        new(Interval, timeout ?? TimeSpan.FromSeconds(2), _query, NullLogger.Instance, (r, p) => _reports.Enqueue((r.Name, p)));

    private static Model.Relay Relay(string name, string address, int index = 0) =>
        new(name, address, 100, index);

    private int Count(string relay) => _reports.Count(x => x.Relay == relay);

    private async Task Until(Func<bool> condition, string what)
    {
        var bound = Task.Delay(Bound);
        while (!condition())
        {
            if (bound.IsCompleted) Assert.Fail("not within " + Bound.TotalSeconds + " s: " + what);
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task TwoRelaysAreBothProbedAgainAndAgain()
    {
        using var a = new FakeSmtp(SmtpBehavior.Good);
        using var b = new FakeSmtp(SmtpBehavior.Good);
        await using var probes = Probes();
        probes.Watch(new[] { Relay("a", "smtp:[127.0.0.1]:" + a.Port), Relay("b", "smtp:[127.0.0.1]:" + b.Port, 1) });
        await Until(() => Count("a") >= 3 && Count("b") >= 3, "three probes of each");
        Assert.All(_reports, r => Assert.True(r.Probe.Ok, r.Probe.Detail));
        Assert.Empty(probes.Unprobeable);
    }

    [Fact]
    public async Task ARemovedRelayIsProbedNoMore()
    {
        using var a = new FakeSmtp(SmtpBehavior.Good);
        using var b = new FakeSmtp(SmtpBehavior.Good);
        await using var probes = Probes();
        var ra = Relay("a", "smtp:[127.0.0.1]:" + a.Port);
        probes.Watch(new[] { ra, Relay("b", "smtp:[127.0.0.1]:" + b.Port, 1) });
        await Until(() => Count("b") >= 2, "two probes of b");

        probes.Watch(new[] { ra });
        int reportsOfB = Count("b");
        int seen = Count("a");
        await Until(() => Count("a") >= seen + 1, "a probe of a after the removal");
        int connectionsToB = b.Connections;
        seen = Count("a");
        await Until(() => Count("a") >= seen + 3, "three more probes of a");
        Assert.Equal(reportsOfB, Count("b"));
        Assert.Equal(connectionsToB, b.Connections);
        Assert.Equal(new[] { ra.Address }, probes.Addresses);
    }

    [Fact]
    public async Task UnprobeableRelaysAreListedAndNeverReported()
    {
        using var a = new FakeSmtp(SmtpBehavior.Good);
        await using var probes = Probes();
        var discard = Relay("bin", "discard:", 1);
        var socket = Relay("local-lmtp", "lmtp:unix:/var/run/x", 2);
        probes.Watch(new[] { Relay("a", "smtp:[127.0.0.1]:" + a.Port), discard, socket });
        Assert.Equal(
            new[] { ("bin", "the discard transport connects to no next hop"), ("local-lmtp", "a UNIX-domain socket") },
            probes.Unprobeable.Select(u => (u.Relay.Name, u.Reason)));
        await Until(() => Count("a") >= 3, "three probes of a");
        Assert.Equal(0, Count("bin") + Count("local-lmtp"));
    }

    [Fact]
    public async Task OneProbeAtATimePerAddressEvenWhenAProbeOutlastsTheInterval()
    {
        using var slow = new FakeSmtp(SmtpBehavior.SlowGreeting) { GreetingDelay = TimeSpan.FromSeconds(0.5) };
        await using var probes = Probes();
        var relays = new[] { Relay("s1", "smtp:[127.0.0.1]:" + slow.Port), Relay("s2", "smtp:[127.0.0.1]:" + slow.Port, 1) };
        probes.Watch(relays);
        probes.Watch(relays);
        await Until(() => Count("s1") >= 3, "three probes of the slow relay");
        probes.Watch(relays);
        await Until(() => Count("s1") >= 4, "a fourth probe");
        Assert.Equal(1, slow.MaxOpen);
        Assert.Equal(Count("s1"), Count("s2"));
        Assert.All(_reports, r => Assert.True(r.Probe.Ok, r.Probe.Detail));
    }

    [Fact]
    public async Task AFailingRelayIsReportedWithItsReason()
    {
        using var bad = new FakeSmtp(SmtpBehavior.Greets554);
        await using var probes = Probes();
        probes.Watch(new[] { Relay("bad", "relay:[127.0.0.1]:" + bad.Port) });
        await Until(() => Count("bad") >= 2, "two probes");
        Assert.All(_reports, r =>
        {
            Assert.False(r.Probe.Ok);
            Assert.Equal("127.0.0.1:" + bad.Port + ": greeting 554 no service here", r.Probe.Detail);
        });
    }

    [Fact]
    public async Task AnUnbracketedHostIsProbedThroughItsMxHostsAddresses()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.Good);
        _dns.SetMx("relay.test", (10, "mx.relay.test"));
        _dns.SetAddresses("mx.relay.test", IPAddress.Loopback);
        _dns.SetAddresses("relay.test", IPAddress.Parse("127.0.0.2"));
        await using var probes = Probes();
        probes.Watch(new[] { Relay("mx", "smtp:relay.test:" + smtp.Port) });
        await Until(() => Count("mx") >= 2, "two probes");
        Assert.All(_reports, r => Assert.True(r.Probe.Ok, r.Probe.Detail));
        Assert.True(smtp.Connections >= 2);
        Assert.True(_dns.MxQueries("relay.test") >= 2);
        Assert.True(_dns.Queries("mx.relay.test", FakeDns.TypeA) >= 2);
        Assert.Equal(0, _dns.Queries("relay.test", FakeDns.TypeA));
    }

    [Fact]
    public async Task AHangingRelayIsReportedAtTheTimeout()
    {
        using var hang = new FakeSmtp(SmtpBehavior.NeverGreets);
        await using var probes = Probes(TimeSpan.FromSeconds(0.3));
        probes.Watch(new[] { Relay("hang", "smtp:[127.0.0.1]:" + hang.Port) });
        await Until(() => Count("hang") >= 2, "two probes");
        Assert.All(_reports, r => Assert.Equal("127.0.0.1:" + hang.Port + ": timed out waiting for the greeting after 0.3 s", r.Probe.Detail));
        Assert.Equal(1, hang.MaxOpen);
    }

    [Fact]
    public async Task AfterDisposeNothingIsReported()
    {
        using var a = new FakeSmtp(SmtpBehavior.Good);
        var probes = Probes();
        probes.Watch(new[] { Relay("a", "smtp:[127.0.0.1]:" + a.Port) });
        await Until(() => Count("a") >= 1, "a probe");
        await probes.DisposeAsync();
        int reports = Count("a");
        await Task.Delay(50); // a connection the server has not accepted yet
        int connections = a.Connections;
        await Task.Delay(Interval * 3);
        Assert.Equal(reports, Count("a"));
        Assert.Equal(connections, a.Connections);
        Assert.Throws<ObjectDisposedException>(() => probes.Watch(Array.Empty<Model.Relay>()));
    }
}
