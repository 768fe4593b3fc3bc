using System.Net.Http;
using System.Text.Json;

namespace Router.Native.Tests;

/// <summary>
/// Health checks through the running router, against fake SMTP relays on loopback: a relay
/// that never greets is marked down, logged, shown in the metrics and the status figures,
/// and takes no picks while the others share by their weights; it comes back and the full
/// weights apply again; every relay down fails open; a reload keeps the states; a next hop
/// that cannot be probed is named at start.
/// </summary>
public class HealthCheckTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private const string Key = "someone@[192.0.2.9]";

    private static string Yaml(int a, int b, int c, string rules = "") => $$"""
        servers:
          names:
            a:
              address: relay:[127.0.0.1]:{{a}}
              perc: 60
            b:
              address: relay:[127.0.0.1]:{{b}}
              perc: 30
            c:
              address: relay:[127.0.0.1]:{{c}}
              perc: 10
          g: [a, b, c]
        sender_rules:
        {{rules}}  default: g
        """;

    private static RouterProcess Start(string yaml, FakeDns dns, TempDir? dir, int metrics) =>
        RouterProcess.Start(yaml, dns, dir, "--health-interval", "1", "--health-timeout", "1",
            "--metrics", "127.0.0.1:" + metrics);

    /// <summary>Waits until the router's log (standard error) holds <paramref name="text"/>.</summary>
    private static void AwaitLog(RouterProcess router, string text)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!router.Stderr.Contains(text) && sw.Elapsed < Patience) Thread.Sleep(50);
        Assert.True(router.Stderr.Contains(text), "no \"" + text + "\" in the log:\n" + router.Describe());
    }

    private static string Get(int port, string path)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return http.GetStringAsync("http://127.0.0.1:" + port + path).GetAwaiter().GetResult();
    }

    /// <summary>How many of <paramref name="n"/> lookups each relay port got.</summary>
    private static Dictionary<int, int> Picks(RouterProcess router, int n)
    {
        using var client = router.Connect();
        var counts = new Dictionary<int, int>();
        for (int i = 0; i < n; i++)
        {
            string reply = client.Get(Key);
            Assert.StartsWith("200 relay:[127.0.0.1]:", reply);
            int port = int.Parse(reply["200 relay:[127.0.0.1]:".Length..]);
            counts[port] = counts.GetValueOrDefault(port) + 1;
        }
        return counts;
    }

    [Fact]
    public void ARelayThatNeverGreetsIsMarkedDownTakesNoPicksAndComesBack()
    {
        using var a = new FakeSmtp(SmtpBehavior.Good);
        using var b = new FakeSmtp(SmtpBehavior.NeverGreets);
        using var c = new FakeSmtp(SmtpBehavior.Good);
        using var dns = new FakeDns();
        int metrics = RouterProcess.FreePort();
        using var router = Start(Yaml(a.Port, b.Port, c.Port), dns, null, metrics);

        string down = "relay b (relay:[127.0.0.1]:" + b.Port + ") is down: ";
        AwaitLog(router, down);
        Assert.Contains("postfix_mx_smart_router_relay_up{server=\"b\"} 0\n", Get(metrics, "/metrics"));
        Assert.Contains("postfix_mx_smart_router_relay_up{server=\"a\"} 1\n", Get(metrics, "/metrics"));
        using (var status = JsonDocument.Parse(Get(metrics, "/status.json")))
            Assert.True(status.RootElement.GetProperty("health_checks").GetBoolean());

        // One whole cycle of the up members' schedule: 60 to a, 10 to c, none to b.
        var whileDown = Picks(router, 70);
        Assert.Equal(60, whileDown.GetValueOrDefault(a.Port));
        Assert.Equal(10, whileDown.GetValueOrDefault(c.Port));
        Assert.Equal(0, whileDown.GetValueOrDefault(b.Port));

        b.Behavior = SmtpBehavior.Good;
        string up = "relay b (relay:[127.0.0.1]:" + b.Port + ") is up";
        AwaitLog(router, up);
        var whenBack = Picks(router, 100);
        Assert.Equal(60, whenBack.GetValueOrDefault(a.Port));
        Assert.Equal(30, whenBack.GetValueOrDefault(b.Port));
        Assert.Equal(10, whenBack.GetValueOrDefault(c.Port));
        Assert.Contains("postfix_mx_smart_router_relay_up{server=\"b\"} 1\n", Get(metrics, "/metrics"));
    }

    [Fact]
    public void AGroupWithNoRelayUpAnswersAsIfAllWereUp()
    {
        int a = FakeSmtp.ClosedPort(), b = FakeSmtp.ClosedPort(), c = FakeSmtp.ClosedPort();
        using var dns = new FakeDns();
        int metrics = RouterProcess.FreePort();
        using var router = Start(Yaml(a, b, c), dns, null, metrics);

        AwaitLog(router, "group g has no relay up");
        Assert.Contains("postfix_mx_smart_router_group_fail_open{group=\"g\"} 1\n", Get(metrics, "/metrics"));
        var picks = Picks(router, 100);
        Assert.Equal(60, picks.GetValueOrDefault(a));
        Assert.Equal(30, picks.GetValueOrDefault(b));
        Assert.Equal(10, picks.GetValueOrDefault(c));
    }

    [Fact]
    public void AReloadKeepsTheStateOfRelaysWhoseAddressDidNotChange()
    {
        using var a = new FakeSmtp(SmtpBehavior.Good);
        using var b = new FakeSmtp(SmtpBehavior.NeverGreets);
        using var c = new FakeSmtp(SmtpBehavior.Good);
        using var dns = new FakeDns();
        using var dir = new TempDir();
        int metrics = RouterProcess.FreePort();
        using var router = Start(Yaml(a.Port, b.Port, c.Port), dns, dir, metrics);
        AwaitLog(router, "relay b (relay:[127.0.0.1]:" + b.Port + ") is down: ");

        File.WriteAllText(router.ConfigPath, Yaml(a.Port, b.Port, c.Port, "  nobody@example.com: NO RESULT\n"));
        router.Signal(1);
        AwaitLog(router, "reloaded ");
        // Still down at once, without waiting for new probes: none of 70 picks goes to b.
        var picks = Picks(router, 70);
        Assert.Equal(0, picks.GetValueOrDefault(b.Port));
        Assert.Equal(60, picks.GetValueOrDefault(a.Port));
        Assert.Contains("postfix_mx_smart_router_relay_up{server=\"b\"} 0\n", Get(metrics, "/metrics"));
    }

    [Fact]
    public void ANextHopThatCannotBeProbedIsNamedAtStartAndStaysUp()
    {
        using var a = new FakeSmtp(SmtpBehavior.Good);
        using var dns = new FakeDns();
        string yaml = """
            servers:
              names:
                a:
                  address: relay:[127.0.0.1]:PORT
                  perc: 50
                l:
                  address: lmtp:unix:/var/run/lmtp.sock
                  perc: 50
              g: [a, l]
            sender_rules:
              default: g
            """.Replace("PORT", a.Port.ToString());
        int metrics = RouterProcess.FreePort();
        using var router = Start(yaml, dns, null, metrics);
        AwaitLog(router, "relay l (lmtp:unix:/var/run/lmtp.sock) cannot be probed: ");
        var wait = System.Diagnostics.Stopwatch.StartNew();
        while (a.Connections < 2 && wait.Elapsed < Patience) Thread.Sleep(50);
        Assert.True(a.Connections >= 2, router.Describe());
        Assert.Contains("postfix_mx_smart_router_relay_up{server=\"l\"} 1\n", Get(metrics, "/metrics"));
        using var client = router.Connect();
        Assert.Equal("200 relay:[127.0.0.1]:" + a.Port, client.Get(Key));
        Assert.Equal("200 lmtp:unix:/var/run/lmtp.sock", client.Get(Key));
    }
}
