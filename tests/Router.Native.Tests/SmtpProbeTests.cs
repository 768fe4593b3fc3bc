using System.Net;
using Router.Core;

namespace Router.Native.Tests;

/// <summary>One probe against fake SMTP servers on loopback: each way a relay can be up or
/// fail gives its own Ok and Detail; the hanging ones end at the timeout.</summary>
public class SmtpProbeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private static Task<Status.Probe> Probe(IPEndPoint ep, TimeSpan? timeout = null, bool lmtp = false) =>
        SmtpProbe.ProbeAsync(new[] { ep }, lmtp, timeout ?? Timeout, CancellationToken.None);

    [Fact]
    public async Task AGoodRelayIsOkAndHearsEhloAndQuit()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.Good);
        var p = await Probe(smtp.Endpoint);
        Assert.True(p.Ok, p.Detail);
        Assert.Equal("ok", p.Detail);
        Assert.Equal(new[] { "EHLO " + SmtpProbe.HeloName, "QUIT" }, await CommandsWhenClosed(smtp, 2));
    }

    [Fact]
    public async Task MultiLineGreetingAndEhloReplyAreRead()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.MultiLine);
        var p = await Probe(smtp.Endpoint);
        Assert.True(p.Ok, p.Detail);
        Assert.Equal("ok", p.Detail);
    }

    [Fact]
    public async Task LmtpGreetsWithLhlo()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.Good);
        var p = await Probe(smtp.Endpoint, lmtp: true);
        Assert.True(p.Ok, p.Detail);
        Assert.Equal("LHLO " + SmtpProbe.HeloName, (await CommandsWhenClosed(smtp, 2))[0]);
    }

    [Fact]
    public async Task ARefusedConnectionSaysSo()
    {
        int port = FakeSmtp.ClosedPort();
        var p = await Probe(new IPEndPoint(IPAddress.Loopback, port));
        Assert.False(p.Ok);
        Assert.Equal("127.0.0.1:" + port + ": connection refused", p.Detail);
    }

    [Fact]
    public async Task ARelayThatNeverGreetsTimesOutWaitingForTheGreeting()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.NeverGreets);
        var p = await Probe(smtp.Endpoint, TimeSpan.FromSeconds(0.5));
        Assert.False(p.Ok);
        Assert.Equal("127.0.0.1:" + smtp.Port + ": timed out waiting for the greeting after 0.5 s", p.Detail);
    }

    [Fact]
    public async Task ARelayThatClosesAtOnceSaysSo()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.ClosesAtOnce);
        var p = await Probe(smtp.Endpoint);
        Assert.False(p.Ok);
        Assert.Equal("127.0.0.1:" + smtp.Port + ": connection closed before the greeting", p.Detail);
    }

    [Fact]
    public async Task AGreeting554IsQuoted()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.Greets554);
        var p = await Probe(smtp.Endpoint);
        Assert.False(p.Ok);
        Assert.Equal("127.0.0.1:" + smtp.Port + ": greeting 554 no service here", p.Detail);
    }

    [Fact]
    public async Task AnEhloRejectedWith5xxIsQuoted()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.RejectsEhlo);
        var p = await Probe(smtp.Endpoint);
        Assert.False(p.Ok);
        Assert.Equal("127.0.0.1:" + smtp.Port + ": EHLO answered 550 go away", p.Detail);
    }

    [Fact]
    public async Task AnEndlessLineStopsAtTheLineLimit()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.EndlessLine);
        var p = await Probe(smtp.Endpoint);
        Assert.False(p.Ok);
        Assert.Equal("127.0.0.1:" + smtp.Port + ": greeting line longer than 2048 bytes", p.Detail);
    }

    [Fact]
    public async Task AnEndlessMultiLineReplyStopsAtTheLineCount()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.EndlessReply);
        var p = await Probe(smtp.Endpoint);
        Assert.False(p.Ok);
        Assert.Equal("127.0.0.1:" + smtp.Port + ": EHLO reply longer than 100 lines", p.Detail);
    }

    [Fact]
    public async Task AddressesAreTriedInOrderUntilOneConnects()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.Good);
        int closed = FakeSmtp.ClosedPort();
        var p = await SmtpProbe.ProbeAsync(
            new[] { new IPEndPoint(IPAddress.Loopback, closed), smtp.Endpoint }, false, Timeout, CancellationToken.None);
        Assert.True(p.Ok, p.Detail);
        Assert.Equal(1, smtp.Connections);
    }

    [Fact]
    public async Task EveryAddressRefusedNamesEach()
    {
        int a = FakeSmtp.ClosedPort(), b = FakeSmtp.ClosedPort();
        var p = await SmtpProbe.ProbeAsync(
            new[] { new IPEndPoint(IPAddress.Loopback, a), new IPEndPoint(IPAddress.Loopback, b) }, false, Timeout, CancellationToken.None);
        Assert.False(p.Ok);
        Assert.Equal("127.0.0.1:" + a + ": connection refused; 127.0.0.1:" + b + ": connection refused", p.Detail);
    }

    [Fact]
    public async Task ACancelledProbeEndsAsCancelled()
    {
        using var smtp = new FakeSmtp(SmtpBehavior.NeverGreets);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var p = await SmtpProbe.ProbeAsync(new[] { smtp.Endpoint }, false, TimeSpan.FromSeconds(60), cancel.Token);
        Assert.False(p.Ok);
        Assert.Equal("cancelled", p.Detail);
    }

    [Fact]
    public async Task NoAddressIsAFailureNotAnException()
    {
        var p = await SmtpProbe.ProbeAsync(Array.Empty<IPEndPoint>(), false, Timeout, CancellationToken.None);
        Assert.False(p.Ok);
        Assert.Equal("no address to probe", p.Detail);
    }

    /// <summary>The commands the server received, once it has that many (the probe closes
    /// without waiting for the server to read its QUIT).</summary>
    private static async Task<IReadOnlyList<string>> CommandsWhenClosed(FakeSmtp smtp, int count)
    {
        for (int i = 0; i < 500 && smtp.Commands.Count < count; i++) await Task.Delay(10);
        return smtp.Commands;
    }
}
