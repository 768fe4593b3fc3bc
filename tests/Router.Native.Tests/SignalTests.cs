using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>README "Stats and the routing log": SIGTERM prints the table and exits 0, SIGUSR1 prints it and goes on.</summary>
public class SignalTests
{
    private static void AssertExampleTable(string output, int goodPicks)
    {
        var all = StatsTable.Block(output, "All Servers");
        Assert.Equal(new[] { "mx1", "mx2", "mx3", "mx4" }, all.Select(r => r.Name));
        Assert.Equal(new[] { 40.0, 40.0, 20.0, 100.0 }.Select(w => Math.Round(100 * w / 200, 4)),
            all.Select(r => r.TargetPercent));

        var good = StatsTable.Block(output, "Group good");
        Assert.Equal(new[] { "mx1", "mx2", "mx3" }, good.Select(r => r.Name));
        Assert.Equal(new[] { 40.0, 40.0, 20.0 }, good.Select(r => r.TargetPercent));
        // 5 picks at 40/40/20 are 2/2/1 exactly.
        if (goodPicks == 5)
        {
            Assert.Equal(new long[] { 2, 2, 1 }, good.Select(r => r.Sent));
            Assert.Equal(new[] { 40.0, 40.0, 20.0 }, good.Select(r => r.CurrentPercent));
        }
        Assert.Equal(goodPicks, good.Sum(r => r.Sent));

        var bad = StatsTable.Block(output, "Group bad");
        Assert.Equal(new[] { "mx3", "mx4" }, bad.Select(r => r.Name));
    }

    [Fact]
    public void SigtermExitsZeroAndPrintsTheStatsTable()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using (var c = router.Connect())
        {
            for (var i = 0; i < 5; i++) Assert.StartsWith("200 ", c.Get("user" + i + "@contoso.com"));
        }
        var exit = router.Terminate();
        Assert.True(exit == 0, "exit status " + exit + "\n" + router.Describe());
        AssertExampleTable(router.Stdout, goodPicks: 5);
    }

    [Fact]
    public void SigtermStillAnswersTheRequestInFlight()
    {
        using var dns = Dns();
        dns.Set("slow.test", DnsBehavior.Timeout);
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        c.Send("get someone@slow.test\n");
        Thread.Sleep(300); // the lookup is waiting on DNS now
        router.Signal(RouterProcess.SIGTERM);
        // In flight: it still gets an answer (400 once DNS gives up), not a dropped connection.
        var reply = c.ReadLine(TimeSpan.FromSeconds(90));
        Assert.StartsWith("400 ", reply);
        Assert.Equal(0, router.WaitForExit(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public void Sigusr1PrintsTheTableAndGoesOnServing()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        for (var i = 0; i < 5; i++) Assert.StartsWith("200 ", c.Get("user" + i + "@contoso.com"));
        router.Signal(RouterProcess.SIGUSR1);
        Assert.True(router.WaitForOutput(o => o.Contains("Group bad") && StatsTable.Block(o, "Group bad").Count == 2,
            TimeSpan.FromSeconds(10)), "no stats table after SIGUSR1\n" + router.Describe());
        AssertExampleTable(router.Stdout, goodPicks: 5);
        Assert.False(router.HasExited, "SIGUSR1 stopped the router");
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("vip@example.com"));
        using var d = router.Connect();
        Assert.Equal("200 smtp:[192.0.2.4]:587", d.Get("vip@example.com"));
    }

    [Fact]
    public void SigtermWithNoTrafficStillExitsZero()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.None), dns);
        Assert.Equal(0, router.Terminate());
        Assert.Contains("All Servers", router.Stdout);
    }
}
