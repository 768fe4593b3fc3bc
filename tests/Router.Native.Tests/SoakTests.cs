using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>Runs alone: it holds a thousand connections and measures the router's memory.</summary>
[CollectionDefinition("soak", DisableParallelization = true)]
public sealed class SoakCollection
{
}

/// <summary>
/// Soak: a thousand connections under steady load for a bounded time. Zero errors,
/// every connection still open at the end, and the resident memory at the end within 10% of
/// its level after warm-up (a leak per request or per connection would show).
/// </summary>
[Collection("soak")]
public class SoakTests
{
    private const int Connections = 1000;
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(12);
    /// <summary>
    /// Warm-up also lasts until this many requests: a cache hit allocates one small string,
    /// so the GC's young generation (4 MB) fills only every ~60 000 requests, and the heap
    /// reaches its working size only after a few collections, however long that takes on a
    /// slow machine. Measured from there, growth is a leak, not the heap settling.
    /// </summary>
    private const long WarmUpRequests = 250_000;
    private static readonly TimeSpan Steady = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Sampling = TimeSpan.FromSeconds(6);

    private sealed class Totals
    {
        public long Requests, Errors;
        public string? FirstError;

        public void Fail(string what)
        {
            if (Interlocked.Increment(ref Errors) == 1) FirstError = what;
        }
    }

    /// <summary>One connection: ask, check the reply, pause 50 to 150 ms, again, until stopped.</summary>
    private static async Task Client(int port, int id, Totals totals, CancellationToken stop)
    {
        var random = new Random(id);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, port);
        }
        catch (SocketException e)
        {
            totals.Fail("connect " + id + ": " + e.SocketErrorCode);
            return;
        }
        var buffer = new byte[512];
        var n = 0L;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var kind = random.Next(3);
                var key = kind switch
                {
                    0 => "vip@example.com",
                    1 => "u" + id + "-" + n + "@other.test",
                    _ => "u" + id + "-" + n + "@contoso.com",
                };
                n++;
                await socket.SendAsync(Encoding.ASCII.GetBytes("get " + key + "\n"), SocketFlags.None);
                var got = 0;
                while (got == 0 || buffer[got - 1] != '\n')
                {
                    var r = await socket.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None);
                    if (r == 0)
                    {
                        totals.Fail("connection " + id + " closed by the router");
                        return;
                    }
                    got += r;
                }
                var reply = Encoding.ASCII.GetString(buffer, 0, got - 1);
                var right = kind switch
                {
                    0 => reply == "200 smtp:[192.0.2.4]:587",
                    1 => reply == "500 NO%20RESULT",
                    _ => Good.Any(g => reply == "200 " + g),
                };
                if (!right) totals.Fail(key + " got " + reply);
                Interlocked.Increment(ref totals.Requests);
                try { await Task.Delay(random.Next(50, 150), stop); } catch (OperationCanceledException) { }
            }
        }
        catch (SocketException e)
        {
            totals.Fail("connection " + id + ": " + e.SocketErrorCode);
        }
    }

    /// <summary>The highest resident size seen over a few seconds: one sample can catch the GC mid-cycle.</summary>
    private static long PeakResidentKiB(int pid, TimeSpan over)
    {
        var sw = Stopwatch.StartNew();
        long peak = 0;
        while (sw.Elapsed < over)
        {
            peak = Math.Max(peak, Eventually.ResidentKiB(pid));
            Thread.Sleep(200);
        }
        return peak;
    }

    [Fact]
    public async Task AThousandConnectionsUnderSteadyLoadEndWithoutErrorsAndWithoutGrowingMemory()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        var totals = new Totals();
        using var stop = new CancellationTokenSource();
        var clients = new List<Task>();
        for (var i = 0; i < Connections; i++) clients.Add(Client(router.Port, i, totals, stop.Token));

        var sw = Stopwatch.StartNew();
        await Task.Delay(WarmUp - Sampling);
        var limit = Stopwatch.StartNew();
        while (Interlocked.Read(ref totals.Requests) < WarmUpRequests && limit.Elapsed < TimeSpan.FromMinutes(3) && Interlocked.Read(ref totals.Errors) == 0)
            await Task.Delay(200);
        var afterWarmUp = PeakResidentKiB(router.Pid, Sampling);
        var requestsAfterWarmUp = Interlocked.Read(ref totals.Requests);
        await Task.Delay(Steady - Sampling);
        var atEnd = PeakResidentKiB(router.Pid, Sampling);
        var requests = Interlocked.Read(ref totals.Requests);
        stop.Cancel();
        await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(60));

        var summary = Connections + " connections, " + requests + " requests (" + (requests - requestsAfterWarmUp) + " after warm-up) in " +
            sw.Elapsed.TotalSeconds.ToString("F0") + " s; resident " + afterWarmUp + " KiB after warm-up, " + atEnd + " KiB at the end";
        Console.WriteLine("soak: " + summary);
        Assert.True(totals.Errors == 0, totals.Errors + " errors, the first: " + totals.FirstError + "\n" + summary);
        Assert.True(requests - requestsAfterWarmUp > Connections * 10L, "too little load to judge: " + summary);
        Assert.True(atEnd <= afterWarmUp * 1.10, "resident memory grew more than 10%: " + summary);
        Assert.False(router.HasExited);
        Assert.Equal(0, router.Terminate());
    }
}
