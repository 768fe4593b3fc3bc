using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// Signals under load: SIGTERM leaves no reply truncated and answers every request
/// it read; a storm of SIGHUPs loses no request and leaves the answers right.
/// </summary>
public class SignalLoadTests
{
    private const int SIGHUP = 1;
    private const string Vip = "200 smtp:[192.0.2.4]:587";

    /// <summary>The three kinds of key the load mixes, and what each must get.</summary>
    private static string KeyFor(int n) => (n % 3) switch
    {
        0 => "vip@example.com",
        1 => "u" + n + "@other.test",
        _ => "u" + n + "@contoso.com",
    };

    private static bool Fits(int n, string reply) => (n % 3) switch
    {
        0 => reply == Vip,
        1 => reply == "500 NO%20RESULT",
        _ => Good.Any(g => reply == "200 " + g),
    };

    /// <summary>One client's view of the run.</summary>
    private sealed class Load
    {
        public int Sent, Rounds;
        public int Answered; // read while running
        public string? Error;
        public byte[] Leftover = Array.Empty<byte>();
        public bool ClosedByRouter;
        public readonly Dictionary<string, int> GoodRelays = new();
        public int GoodAnswers => GoodRelays.Values.Sum();
    }

    /// <summary>
    /// A client that pipelines 1 to 4 requests, reads their replies, and goes on until told to
    /// stop or the router closes. Every reply must fit its request, in order.
    /// </summary>
    private static void Run(Load load, int port, int seed, Func<bool> stop)
    {
        var random = new Random(seed);
        var n = seed * 1_000_000;
        try
        {
            using var peer = Peer.Connect(port);
            while (!stop())
            {
                var k = random.Next(1, 5);
                var first = n;
                var batch = string.Concat(Enumerable.Range(first, k).Select(i => "get " + KeyFor(i) + "\n"));
                n += k;
                var delivered = peer.Send(batch);
                load.Sent += k; // some may have gone out even when the send failed part-way
                for (var i = first; i < first + k; i++)
                {
                    var reply = peer.ReadLine(TimeSpan.FromSeconds(60));
                    if (reply == null)
                    {
                        // Closed: whatever came after the last LF would be a cut reply.
                        load.ClosedByRouter = true;
                        load.Leftover = peer.ReadToEnd(TimeSpan.FromSeconds(30));
                        return;
                    }
                    if (!Fits(i, reply))
                    {
                        load.Error = "request " + i + " (" + KeyFor(i) + ") got " + reply;
                        return;
                    }
                    Interlocked.Increment(ref load.Answered);
                    if (i % 3 == 2) load.GoodRelays[reply] = load.GoodRelays.GetValueOrDefault(reply) + 1;
                }
                if (!delivered)
                {
                    load.ClosedByRouter = true;
                    return;
                }
                load.Rounds++;
            }
        }
        catch (Exception e)
        {
            load.Error = e.GetType().Name + ": " + e.Message;
        }
    }

    private static (List<Load> Loads, Task All) Clients(int port, int count, Func<bool> stop)
    {
        var loads = Enumerable.Range(0, count).Select(_ => new Load()).ToList();
        var tasks = loads.Select((load, i) =>
            Task.Factory.StartNew(() => Run(load, port, i + 1, stop), TaskCreationOptions.LongRunning)).ToArray();
        return (loads, Task.WhenAll(tasks));
    }

    private static int Answered(List<Load> loads) => loads.Sum(l => Volatile.Read(ref l.Answered));

    [Fact]
    public async Task SigtermUnderLoadTruncatesNoReplyAndAnswersEveryRequestItRead()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        var (loads, all) = Clients(router.Port, 40, () => false);
        // Load first: answers flowing on every connection before the signal.
        Assert.True(Eventually.True(() => all.IsCompleted || loads.All(l => Volatile.Read(ref l.Answered) >= 50)),
            "no load built up\n" + router.Describe());
        Assert.False(all.IsCompleted, "the clients stopped before the signal: " + string.Join("; ", loads.Select(l => l.Error)));
        router.Signal(RouterProcess.SIGTERM);
        await all.WaitAsync(TimeSpan.FromSeconds(90)); // clients still running after SIGTERM: TimeoutException
        Assert.Equal(0, router.WaitForExit(TimeSpan.FromSeconds(30)));

        foreach (var l in loads)
        {
            Assert.True(l.Error == null, l.Error + "\n" + router.Describe());
            Assert.True(l.ClosedByRouter, "a client was never closed");
            Assert.True(l.Leftover.Length == 0, "a truncated reply: " + Peer.Show(l.Leftover));
            Assert.True(l.Answered <= l.Sent);
        }
        // Every pick the router made for group good reached a client whole: nothing it
        // answered was lost on the way out.
        var picked = StatsTable.Block(router.Stdout, "Group good").Sum(r => r.Sent);
        Assert.Equal(loads.Sum(l => l.GoodAnswers), picked);
    }

    [Fact]
    public async Task ASighupStormUnderLoadLosesNoRequestAndKeepsTheAnswersRight()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        var stop = false;
        var (loads, all) = Clients(router.Port, 20, () => Volatile.Read(ref stop));
        Assert.True(Eventually.True(() => all.IsCompleted || loads.All(l => Volatile.Read(ref l.Answered) >= 20)), router.Describe());
        for (var i = 0; i < 50; i++)
        {
            router.Signal(SIGHUP);
            Thread.Sleep(20);
        }
        // Load goes on after the storm too: a reload that broke something shows here.
        var after = Answered(loads);
        Assert.True(Eventually.True(() => all.IsCompleted || Answered(loads) >= after + 2000), router.Describe());
        Volatile.Write(ref stop, true);
        await all.WaitAsync(TimeSpan.FromSeconds(60));

        foreach (var l in loads)
        {
            Assert.True(l.Error == null, l.Error + "\n" + router.Describe());
            Assert.False(l.ClosedByRouter, "the router closed a connection during the SIGHUP storm\n" + router.Describe());
            Assert.Equal(l.Sent, l.Answered);
        }
        Assert.False(router.HasExited, "SIGHUP stopped the router\n" + router.Describe());
        using (var c = router.Connect()) Assert.Equal(Vip, c.Get("vip@example.com"));

        // Shares stay fair over the run: 40/40/20 within a few points, reloads or not.
        var good = new Dictionary<string, int>();
        foreach (var l in loads) foreach (var (k, v) in l.GoodRelays) good[k] = good.GetValueOrDefault(k) + v;
        var total = good.Values.Sum();
        Assert.True(total > 500, "too few picks to judge: " + total);
        foreach (var (relay, weight) in new[] { (Mx1, 40.0), (Mx2, 40.0), (Mx3, 20.0) })
        {
            var share = 100.0 * good.GetValueOrDefault("200 " + relay) / total;
            Assert.True(Math.Abs(share - weight) < 5, relay + " got " + share.ToString("F1") + "% of " + total + " picks, not " + weight + "%");
        }
        Assert.Equal(0, router.Terminate());
    }
}
