using System.Net;
using System.Net.Sockets;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// DNS faults mid-run: the DNS server dies (its port closed), goes silent, or
/// answers garbage for every name, and later comes back. Meanwhile the router answers 400
/// (or from its cache), never anything else and never hangs; afterwards it recovers by itself.
/// </summary>
public class DnsFaultTests
{
    private static readonly TimeSpan SlowReply = TimeSpan.FromSeconds(90);
    private const string Good = "200 relay:[mx";

    /// <summary>
    /// A UDP relay in front of the fake DNS, on a port of its own that can be closed and
    /// opened again: the router is pointed at it, so the "server" can die and come back.
    /// </summary>
    public sealed class DnsProxy : IDisposable
    {
        public enum Mode { Forward, Silent, Garbage }

        private readonly IPEndPoint upstream;
        private Socket? socket;
        private volatile Mode mode = Mode.Forward;

        public int Port { get; }
        public string Endpoint => "127.0.0.1:" + Port;

        public DnsProxy(FakeDns dns)
        {
            upstream = new IPEndPoint(IPAddress.Loopback, dns.Port);
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            Port = ((IPEndPoint)s.LocalEndPoint!).Port;
            Start(s);
        }

        public void Set(Mode m) => mode = m;

        /// <summary>The server dies: its port is closed, queries get ICMP port unreachable.</summary>
        public void Die()
        {
            socket?.Dispose();
            socket = null;
        }

        /// <summary>The server is back on the same port.</summary>
        public void Revive()
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, Port));
            Start(s);
        }

        private void Start(Socket s)
        {
            socket = s;
            _ = Task.Run(async () =>
            {
                var buffer = new byte[4096];
                while (true)
                {
                    SocketReceiveFromResult got;
                    try
                    {
                        got = await s.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0));
                    }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException)
                    {
                        if (e is ObjectDisposedException || !ReferenceEquals(socket, s)) return;
                        continue;
                    }
                    var query = buffer.AsSpan(0, got.ReceivedBytes).ToArray();
                    var client = got.RemoteEndPoint;
                    switch (mode)
                    {
                        case Mode.Silent:
                            break;
                        case Mode.Garbage:
                            var junk = new byte[40];
                            Random.Shared.NextBytes(junk);
                            junk[0] = query[0];
                            junk[1] = query[1];
                            junk[2] |= 0x80; // QR: a response, of a kind
                            Reply(s, junk, client);
                            break;
                        default:
                            _ = Task.Run(() => Forward(s, query, client));
                            break;
                    }
                }
            });
        }

        private static void Reply(Socket s, byte[] bytes, EndPoint client)
        {
            try { s.SendTo(bytes, client); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }

        private async Task Forward(Socket s, byte[] query, EndPoint client)
        {
            using var up = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            await up.SendToAsync(query, SocketFlags.None, upstream);
            var answer = new byte[4096];
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                var n = await up.ReceiveAsync(answer, SocketFlags.None, limit.Token);
                Reply(s, answer.AsSpan(0, n).ToArray(), client);
            }
            catch (OperationCanceledException) { }
        }

        public void Dispose() => Die();
    }

    private static FakeDns DomainsDns()
    {
        var dns = Dns();
        // dN.test: MX mail.example.com, so rule example.com (good) matches on the MX host only.
        for (var i = 0; i < 10; i++) dns.SetMx("d" + i + ".test", (10, "mail.example.com"));
        return dns;
    }

    [Theory]
    [InlineData(DnsProxy.Mode.Forward, "dies")]   // port closed
    [InlineData(DnsProxy.Mode.Silent, "goes silent")]
    [InlineData(DnsProxy.Mode.Garbage, "answers garbage")]
    public void WhenDnsFailsMidRunTheRouterAnswers400AndRecoversByItself(DnsProxy.Mode failure, string what)
    {
        using var dns = DomainsDns();
        using var proxy = new DnsProxy(dns);
        using var dir = new TempDir();
        var config = dir.Write("r.yaml", Config(DefaultAt.First));
        var port = RouterProcess.FreePort();
        using var router = new LaunchedRouter(new[] { "-c", config, "-H", "127.0.0.1", "-p", port.ToString(), "--dns-server", proxy.Endpoint },
            IPAddress.Loopback, port);
        using var c = Peer.Connect(port);
        string Get(string key)
        {
            Assert.True(c.Send("get " + key + "\n"), "the router closed the connection");
            return c.ReadLine(SlowReply) ?? throw new Xunit.Sdk.XunitException("the router closed the connection (" + what + ")\n" + router.Describe());
        }

        Assert.StartsWith(Good, Get("user@d0.test"));

        if (failure == DnsProxy.Mode.Forward) proxy.Die();
        else proxy.Set(failure);

        // Never asked before: nothing cached can cover it.
        Assert.StartsWith("400 ", Get("user@d1.test"));
        Assert.StartsWith("400 ", Get("other@d2.test"));
        // Asked before: the cached MX answer (TTL 3600) is fresh, so it routes as before.
        Assert.StartsWith(Good, Get("again@d0.test"));
        // Lookups that need no DNS answer go on ("*" is never looked up).
        Assert.Equal("500 NO%20RESULT", Get("*"));

        if (failure == DnsProxy.Mode.Forward) proxy.Revive();
        else proxy.Set(DnsProxy.Mode.Forward);

        string reply = "";
        Assert.True(Eventually.True(() => (reply = Get("user@d1.test")).StartsWith(Good, StringComparison.Ordinal), TimeSpan.FromSeconds(120)),
            "no recovery after DNS came back (" + what + "): " + reply + "\n" + router.Describe());
        Assert.StartsWith(Good, Get("user@d3.test"));
        // The same connection served it all.
        Assert.False(c.Closed);
        Assert.False(router.HasExited);
    }

    [Fact]
    public void ADnsServerThatDiesWhileLookupsWaitStillGetsThemAnswered()
    {
        using var dns = DomainsDns();
        using var proxy = new DnsProxy(dns);
        using var dir = new TempDir();
        var config = dir.Write("r.yaml", Config(DefaultAt.First));
        var port = RouterProcess.FreePort();
        using var router = new LaunchedRouter(new[] { "-c", config, "-H", "127.0.0.1", "-p", port.ToString(), "--dns-server", proxy.Endpoint },
            IPAddress.Loopback, port);
        proxy.Set(DnsProxy.Mode.Silent);
        var peers = Enumerable.Range(0, 8).Select(_ => Peer.Connect(port)).ToList();
        for (var i = 0; i < peers.Count; i++) peers[i].Send("get u@d" + i + ".test\n");
        Thread.Sleep(300); // the lookups are waiting on the silent server now
        proxy.Die();
        foreach (var p in peers)
        {
            Assert.StartsWith("400 ", p.ReadLine(SlowReply));
            p.Dispose();
        }
        proxy.Set(DnsProxy.Mode.Forward);
        proxy.Revive();
        using var c = Peer.Connect(port);
        Assert.True(Eventually.True(() =>
        {
            c.Send("get u@d9.test\n");
            return (c.ReadLine(SlowReply) ?? "").StartsWith(Good, StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(120)), router.Describe());
    }
}
