namespace Router.Native.Tests;

/// <summary>
/// Next-hop lists through the running router: a group pick is followed by the next distinct
/// members of the group in round-robin order that share its transport, a rule naming one
/// relay gets none, and the command line's --failover wins over the file's.
/// </summary>
public class FailoverTests
{
    /// <summary>
    /// Equal weights pick a, b, c, a, b, c ... (ties go to the earlier member); d has perc 0
    /// and is never picked, so never a backup; c alone has the smtp transport.
    /// </summary>
    private const string Yaml = """
        config:
          failover: 1
        servers:
          names:
            a:
              address: relay:[192.0.2.1]:25
              perc: 50
            b:
              address: relay:[192.0.2.2]:2525
              perc: 50
            c:
              address: smtp:[192.0.2.3]:25
              perc: 50
            d:
              address: relay:[192.0.2.4]:25
              perc: 0
          g: [a, b, c, d]
        sender_rules:
          vip@: b
          default: g
        """;

    private const string Key = "someone@[192.0.2.9]";

    [Fact]
    public void AGroupPickIsFollowedByTheNextMembersOfItsTransport()
    {
        using var dns = new FakeDns();
        using var router = RouterProcess.Start(Yaml, dns, "--failover", "2");
        using var c = router.Connect();
        string[] cycle =
        {
            "200 relay:[192.0.2.1]:25,%20[192.0.2.2]:2525",
            "200 relay:[192.0.2.2]:2525,%20[192.0.2.1]:25",
            "200 smtp:[192.0.2.3]:25",
        };
        for (int i = 0; i < 9; i++) Assert.Equal(cycle[i % 3], c.Get(Key));
    }

    [Fact]
    public void ARuleNamingOneRelayGetsNoBackups()
    {
        using var dns = new FakeDns();
        using var router = RouterProcess.Start(Yaml, dns, "--failover", "2");
        using var c = router.Connect();
        Assert.Equal("200 relay:[192.0.2.2]:2525", c.Get("vip@[192.0.2.9]"));
    }

    [Fact]
    public void TheFilesFailoverAppliesUnlessTheCommandLineSaysOtherwise()
    {
        using var dns = new FakeDns();
        using (var router = RouterProcess.Start(Yaml, dns))
        {
            using var c = router.Connect();
            Assert.Equal("200 relay:[192.0.2.1]:25,%20[192.0.2.2]:2525", c.Get(Key));
        }
        using (var router = RouterProcess.Start(Yaml, dns, "--failover", "0"))
        {
            using var c = router.Connect();
            Assert.Equal("200 relay:[192.0.2.1]:25", c.Get(Key));
            Assert.Equal("200 relay:[192.0.2.2]:2525", c.Get(Key));
            Assert.Equal("200 smtp:[192.0.2.3]:25", c.Get(Key));
        }
    }

    [Fact]
    public void ExplainShowsTheBackups()
    {
        using var dir = new TempDir();
        string path = dir.Write("router.yaml", Yaml);
        var result = RouterProcess.Run(new[] { "-c", path, "--explain", Key });
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("\nbackups:  b relay:[192.0.2.2]:2525\n", result.Stdout);
        Assert.Contains("\nreply:    200 relay:[192.0.2.1]:25,%20[192.0.2.2]:2525\n", result.Stdout);
    }

    [Fact]
    public void AnOutOfRangeFailoverIsAUsageError()
    {
        var result = RouterProcess.Run(new[] { "--failover", "5" });
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--failover: not a count from 0 to 4: \"5\"", result.Stderr);
    }
}
