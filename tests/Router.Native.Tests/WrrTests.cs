namespace Router.Native.Tests;

/// <summary>Weighted round robin through the socket: exact shares, and no pick lost or taken twice under concurrency.</summary>
public class WrrTests
{
    private const string A = Shares.A;
    private const string B = Shares.B;
    private const string C = Shares.C;
    private const string Config = Shares.Config;

    private static FakeDns NewDns() => Shares.Dns();

    private static Dictionary<string, int> Tally(IEnumerable<string> replies)
    {
        var t = new Dictionary<string, int>();
        foreach (var r in replies) t[r] = t.GetValueOrDefault(r) + 1;
        return t;
    }

    [Fact]
    public void Weights60_30_10Give60_30_10Over100SequentialPicks()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Config, dns);
        using var c = router.Connect();
        var tally = Tally(Enumerable.Range(0, 100).Select(i => c.Get("user" + i + "@wrr.test")));
        Assert.Equal(60, tally.GetValueOrDefault("200 " + A));
        Assert.Equal(30, tally.GetValueOrDefault("200 " + B));
        Assert.Equal(10, tally.GetValueOrDefault("200 " + C));
        Assert.Equal(3, tally.Count);
    }

    [Fact]
    public void EveryPrefixOfThePickSequenceStaysWithinOneOfItsShare()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Config, dns);
        using var c = router.Connect();
        var counts = new Dictionary<string, int> { [A] = 0, [B] = 0, [C] = 0 };
        var weights = new Dictionary<string, double> { [A] = 0.6, [B] = 0.3, [C] = 0.1 };
        for (var n = 1; n <= 200; n++)
        {
            var reply = c.Get("user@wrr.test");
            Assert.StartsWith("200 ", reply);
            counts[reply[4..]]++;
            foreach (var (relay, w) in weights)
            {
                // Tijdeman's bound for k = 3 servers: 1 - 1/(2(k-1)) = 0.75.
                var lag = Math.Abs(counts[relay] - n * w);
                Assert.True(lag <= 0.75 + 1e-9, "after " + n + " picks " + relay + " has " + counts[relay] + " (share " + n * w + ")");
            }
        }
    }

    [Fact]
    public void AThousandPicksOverEightConcurrentConnectionsGive600_300_100()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Config, dns);
        const int connections = 8;
        const int total = 1000;
        var replies = new System.Collections.Concurrent.ConcurrentBag<string>();
        var start = new Barrier(connections);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var workers = Enumerable.Range(0, connections).Select(w => new Thread(() =>
        {
            try
            {
                using var c = router.Connect();
                start.SignalAndWait(TimeSpan.FromSeconds(30));
                // 1000 = 8 * 125
                for (var i = 0; i < total / connections; i++) replies.Add(c.Get("w" + w + "-" + i + "@wrr.test"));
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        foreach (var t in workers) Assert.True(t.Join(TimeSpan.FromSeconds(120)), "a worker did not finish");
        Assert.Empty(failures);
        var tally = Tally(replies);
        Assert.Equal(total, replies.Count);
        Assert.Equal(600, tally.GetValueOrDefault("200 " + A));
        Assert.Equal(300, tally.GetValueOrDefault("200 " + B));
        Assert.Equal(100, tally.GetValueOrDefault("200 " + C));
    }

    [Fact]
    public void AServerOfWeightZeroIsNeverPicked()
    {
        using var dns = NewDns();
        using var router = RouterProcess.Start(Config.Replace("perc: 10", "perc: 0"), dns);
        using var c = router.Connect();
        var tally = Tally(Enumerable.Range(0, 90).Select(_ => c.Get("user@wrr.test")));
        Assert.Equal(0, tally.GetValueOrDefault("200 " + C));
        Assert.Equal(60, tally.GetValueOrDefault("200 " + A));
        Assert.Equal(30, tally.GetValueOrDefault("200 " + B));
    }

    [Fact]
    public void ConcurrentPipelinedPicksOverSixteenEqualServersNeitherLoseNorRepeatAPick()
    {
        // With 60/30/10 a repeated pick can hide behind the pick it pushed out (both "a");
        // sixteen servers of equal weight make that a 1-in-16 chance per slip, so this one
        // sees a racy counter.
        var names = Enumerable.Range(0, 16).Select(i => "s" + i.ToString("D2")).ToList();
        var yaml = "servers:\n  names:\n"
            + string.Concat(names.Select(n => "    " + n + ":\n      address: relay:[" + n + ".relay.test]:25\n      perc: 5\n"))
            + "  sixteen: [" + string.Join(", ", names) + "]\n"
            + "sender_rules:\n  default: NO RESULT\n  wrr.test: sixteen\n";
        using var dns = NewDns();
        using var router = RouterProcess.Start(yaml, dns);
        const int connections = 8, perConnection = 504, batch = 21;
        var replies = new System.Collections.Concurrent.ConcurrentBag<string>();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var start = new Barrier(connections);
        var workers = Enumerable.Range(0, connections).Select(w => new Thread(() =>
        {
            try
            {
                using var c = router.Connect();
                replies.Add(c.Get("warm@wrr.test")); // one pick per connection first, 8 in all
                start.SignalAndWait(TimeSpan.FromSeconds(30));
                for (var b = 0; b < perConnection / batch; b++)
                {
                    // Several lines per write: the router reads them in one go, so picks
                    // on different connections really overlap.
                    c.Send(string.Concat(Enumerable.Range(0, batch).Select(i => "get w" + w + "-" + b + "-" + i + "@wrr.test\n")));
                    for (var i = 0; i < batch; i++) replies.Add(c.ReadLine());
                }
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        foreach (var t in workers) Assert.True(t.Join(TimeSpan.FromSeconds(120)), "a worker did not finish");
        Assert.Empty(failures);
        Assert.Equal(connections * (perConnection + 1), replies.Count);
        using (var c = router.Connect())
        {
            // 8 * 505 = 4040; 8 more make 4048 = 253 rounds of 16.
            for (var i = 0; i < 8; i++) replies.Add(c.Get("tail@wrr.test"));
        }
        var tally = Tally(replies);
        Assert.Equal(names.Select(n => "200 relay:[" + n + ".relay.test]:25").OrderBy(x => x), tally.Keys.OrderBy(x => x));
        Assert.All(tally, kv => Assert.True(kv.Value == 253, kv.Key + " was picked " + kv.Value + " times, not 253 of 4048"));
        // The stats table counted the same picks.
        Assert.Equal(0, router.Terminate());
        var sent = StatsTable.Sent(router.Stdout, "Group sixteen");
        Assert.Equal(names, sent.Keys.ToList());
        Assert.All(sent, kv => Assert.True(kv.Value == 253, "stats: " + kv.Key + " sent " + kv.Value + ", not 253"));
    }
}
