using System.Net;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// --allow: tcp_table has no authentication, so the router only answers the client
/// networks it is given, and will not listen beyond loopback without them.
/// </summary>
public class AllowListTests
{
    private const string Vip = "200 smtp:[192.0.2.4]:587";

    private static List<string> Args(string config, FakeDns dns, string host, int port, params string[] extra)
    {
        var args = new List<string> { "-c", config, "-H", host, "-p", port.ToString(), "--dns-server", dns.Endpoint };
        args.AddRange(extra);
        return args;
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    [InlineData("192.0.2.1")]
    public void ANonLoopbackHostWithoutAllowRefusesToStart(string host)
    {
        using var dir = new TempDir();
        var config = dir.Write("r.yaml", Config(DefaultAt.First));
        var r = RouterProcess.Run(new[] { "-c", config, "-H", host, "-p", RouterProcess.FreePort().ToString() });
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("--host", r.Stderr);
        Assert.Contains("--allow", r.Stderr);
        Assert.Contains("not a loopback address", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void AHostFromTheConfigFileIsCheckedTooAndTheErrorNamesItsLine()
    {
        using var dir = new TempDir();
        var config = dir.Write("r.yaml", "config:\n  port: 10099\n  host: 0.0.0.0\n" + Config(DefaultAt.First));
        var r = RouterProcess.Run(new[] { "-c", config, "--check" });
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Equal(config + ":3:9: error: config.host 0.0.0.0: not a loopback address, and tcp_table has no authentication: "
            + "name the client networks that may connect with --allow CIDR (or config.allow), e.g. --allow 192.0.2.0/24\n", r.Stderr);

        var allowed = dir.Write("ok.yaml", "config:\n  host: 0.0.0.0\n  allow: [192.0.2.0/24, \"2001:db8::/32\"]\n" + Config(DefaultAt.First));
        var ok = RouterProcess.Run(new[] { "-c", allowed, "--check" });
        Assert.True(ok.ExitCode == 0, ok.ToString());
    }

    [Fact]
    public void BadNetworksAreRefused()
    {
        using var dir = new TempDir();
        var config = dir.Write("r.yaml", Config(DefaultAt.First));
        foreach (var bad in new[] { "10.0.0.1/8", "300.0.0.0/8", "example.com", "10.0.0.0/33", "" })
        {
            var r = RouterProcess.Run(new[] { "-c", config, "--allow", bad, "--check" });
            Assert.True(r.ExitCode == 2, bad + ": " + r);
            Assert.StartsWith("postfix-mx-smart-router: --allow: ", r.Stderr);
        }
        var inFile = dir.Write("bad.yaml", "config:\n  allow:\n    - 192.0.2.0/24\n    - 10.1.2.3/8\n" + Config(DefaultAt.First));
        var f = RouterProcess.Run(new[] { "-c", inFile, "--check" });
        Assert.True(f.ExitCode == 1, f.ToString());
        Assert.Contains("bad.yaml:4:7: error: config.allow must be a network such as 192.0.2.0/24 or 2001:db8::/32, not \"10.1.2.3/8\": ", f.Stderr);
        Assert.Matches(@"did you mean 10\.0\.0\.0/8\?", f.Stderr);
    }

    [Fact]
    public void ConnectionsFromOutsideTheListAreClosedAtOnceAndLogged()
    {
        using var dns = Dns();
        // 127.0.0.2 may connect, 127.0.0.1 may not: both are loopback, so the test needs no network.
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--allow", "127.0.0.2/32");
        using (var outsider = Peer.Connect(IPAddress.Loopback, router.Port))
        {
            outsider.Send("get vip@example.com\n");
            Assert.True(outsider.WaitForClose(TimeSpan.FromSeconds(10)), "an outsider's connection stayed open");
            Assert.Null(outsider.ReadLine(TimeSpan.FromSeconds(1)));
        }
        Assert.True(Eventually.True(() => router.Stderr.Contains("not in --allow")), router.Describe());
        Assert.Contains("127.0.0.1", router.Stderr);

        using var insider = Peer.Connect(IPAddress.Loopback, router.Port, from: IPAddress.Parse("127.0.0.2"));
        insider.Send("get vip@example.com\n");
        Assert.Equal(Vip, insider.ReadLine());
    }

    [Fact]
    public void TheSocketmapListenerHonoursTheListToo()
    {
        using var dns = Dns();
        var socketmapPort = RouterProcess.FreePort();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns,
            "--allow", "127.0.0.2", "--socketmap-port", socketmapPort.ToString());
        using (var outsider = Peer.Connect(IPAddress.Loopback, socketmapPort))
            Assert.True(outsider.WaitForClose(TimeSpan.FromSeconds(10)), "an outsider's socketmap connection stayed open");
        using var insider = Peer.Connect(IPAddress.Loopback, socketmapPort, from: IPAddress.Parse("127.0.0.2"));
        insider.Send(SocketmapClient.Request("vip@example.com"));
        Assert.True(Eventually.True(() => insider.Socket.Available > 0, TimeSpan.FromSeconds(10)), "no socketmap reply");
        var buffer = new byte[256];
        var n = insider.Socket.Receive(buffer);
        Assert.Equal("23:OK smtp:[192.0.2.4]:587,", System.Text.Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public void AWildcardHostWithAnAllowListServesTheListedClientsOverIPv4AndIPv6()
    {
        using var dns = Dns();
        using var dir = new TempDir();
        var config = dir.Write("r.yaml", Config(DefaultAt.First));
        var port = RouterProcess.FreePort();
        // "::" listens dual-stack: an IPv4 peer shows up as ::ffff:127.0.0.1 and must match 127.0.0.1/32.
        using var router = new LaunchedRouter(Args(config, dns, "::", port, "--allow", "127.0.0.1/32", "--allow", "::1/128"),
            IPAddress.IPv6Loopback, port);
        using (var v4 = Peer.Connect(IPAddress.Loopback, port))
        {
            v4.Send("get vip@example.com\n");
            Assert.Equal(Vip, v4.ReadLine());
        }
        using (var v6 = Peer.Connect(IPAddress.IPv6Loopback, port))
        {
            v6.Send("get vip@example.com\n");
            Assert.Equal(Vip, v6.ReadLine());
        }
        using (var other = Peer.Connect(IPAddress.Loopback, port, from: IPAddress.Parse("127.0.0.3")))
            Assert.True(other.WaitForClose(TimeSpan.FromSeconds(10)), "127.0.0.3 is not in the list but was served");
    }

    [Fact]
    public void AnIPv6ListRefusesAnIPv6PeerOutsideIt()
    {
        using var dns = Dns();
        using var dir = new TempDir();
        var config = dir.Write("r.yaml", Config(DefaultAt.First));
        var port = RouterProcess.FreePort();
        using var router = new LaunchedRouter(Args(config, dns, "::1", port, "--allow", "2001:db8::/32"), IPAddress.IPv6Loopback, port);
        using var peer = Peer.Connect(IPAddress.IPv6Loopback, port);
        peer.Send("get vip@example.com\n");
        Assert.True(peer.WaitForClose(TimeSpan.FromSeconds(10)), "::1 is not in 2001:db8::/32 but was served");
        Assert.True(Eventually.True(() => router.Stderr.Contains("not in --allow")), router.Describe());
    }
}
