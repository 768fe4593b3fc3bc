using System.Text;
using System.Text.RegularExpressions;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// Fuzzing over real sockets: random byte streams, random request lines, huge
/// lines, half-closed and reset connections, random netstrings, several at once, against one
/// running router. Every reply that comes back is one whole, well-formed line (netstring) and
/// fits what was sent; after each round an ordinary client still gets the right answers.
/// The seed is in the test name: a failure replays with the same seed.
/// </summary>
public class SocketFuzzTests
{
    private const string Vip = "200 smtp:[192.0.2.4]:587";
    private const int MaxLine = 4096;

    private static readonly Regex WellFormed = new(@"^[245]00 (?:[\x21-\x24\x26-\x7E]|%[0-9A-Fa-f]{2})+$");

    /// <summary>What the fuzzing did, so that a test that checked nothing cannot pass.</summary>
    public sealed class Counts
    {
        public int Replies, ExactReplies, TooLong, Netstrings;
    }

    /// <summary>What the router must make of one tcp_table stream (the core's framing law).</summary>
    private sealed record Expected(List<byte[]> Lines, bool TooLong);

    private static Expected Model(byte[] stream)
    {
        var lines = new List<byte[]>();
        var from = 0;
        while (true)
        {
            var lf = Array.IndexOf(stream, (byte)'\n', from);
            if (lf < 0) return new Expected(lines, stream.Length - from > MaxLine + 1);
            var line = stream[from..lf];
            var text = line.Length > 0 && line[^1] == '\r' ? line.Length - 1 : line.Length;
            if (text > MaxLine) return new Expected(lines, true);
            lines.Add(line);
            from = lf + 1;
        }
    }

    /// <summary>Known requests with their exact replies, and junk.</summary>
    private static byte[] RandomLine(Random r, out string? exact)
    {
        exact = null;
        var pick = r.Next(40);
        // Mostly requests with a known answer; the edge of the length limit rarely, as it ends the stream.
        switch (pick < 8 ? 0 : pick < 16 ? 1 : pick < 18 ? 2 : pick < 24 ? 3 : pick < 28 ? 4 : pick < 32 ? 5 : pick < 33 ? 6 : 7)
        {
            case 0:
                exact = Vip;
                return Encoding.ASCII.GetBytes("get vip@example.com");
            case 1:
                exact = "500 NO%20RESULT";
                return Encoding.ASCII.GetBytes("get u" + r.Next(1000) + "@other.test");
            case 2:
                exact = "500 NO%20RESULT";
                return Encoding.ASCII.GetBytes("get *");
            case 3:
            {
                // A random address: odd labels, empty labels, over-long labels, escapes.
                var parts = new[] { "a", "", "x--y", new string('l', 64), new string('m', 300), "%00", "%zz", "%c3%a9", "-", ".", "..", "%2e", "@", "[1.2.3.4]", "[::1]", "\"q q\"" };
                var sb = new StringBuilder("get ");
                for (var i = r.Next(1, 8); i > 0; i--) sb.Append(parts[r.Next(parts.Length)]).Append(r.Next(3) == 0 ? "@" : ".");
                return Encoding.ASCII.GetBytes(sb.ToString());
            }
            case 4:
            {
                var bytes = new byte[r.Next(0, 100)];
                r.NextBytes(bytes);
                return Encoding.ASCII.GetBytes("get ").Concat(bytes.Select(b => b == '\n' ? (byte)'n' : b)).ToArray();
            }
            case 5:
                return Encoding.ASCII.GetBytes(new[] { "put a b", "GET x", "get", "", "\r", "get \r", "quit" }[r.Next(7)]);
            case 6:
                // Right at the edge of the length limit.
                return Encoding.ASCII.GetBytes("get " + new string('e', MaxLine - 4 + r.Next(-2, 4)));
            default:
            {
                var bytes = new byte[r.Next(0, 300)];
                r.NextBytes(bytes);
                return bytes.Select(b => b == '\n' ? (byte)'n' : b).ToArray();
            }
        }
    }

    /// <summary>Sends in random chunks on one thread while reading everything on another.</summary>
    private static byte[] Exchange(Peer p, byte[] stream, Random r, bool halfClose, bool abort)
    {
        var reader = Task.Factory.StartNew(() => abort ? Array.Empty<byte>() : p.ReadToEnd(TimeSpan.FromSeconds(60)), TaskCreationOptions.LongRunning);
        var sent = 0;
        while (sent < stream.Length)
        {
            var n = Math.Min(stream.Length - sent, r.Next(1, 3) == 1 ? r.Next(1, 16) : r.Next(1, 20000));
            if (!p.Send(stream[sent..(sent + n)])) break;
            sent += n;
        }
        if (abort)
        {
            p.Abort();
            return Array.Empty<byte>();
        }
        if (halfClose) p.ShutdownSend();
        return reader.GetAwaiter().GetResult();
    }

    private static void CheckLines(byte[] stream, List<string?> exact, byte[] got, bool halfClosed, Counts counts)
    {
        var model = Model(stream);
        var text = Encoding.Latin1.GetString(got);
        Assert.True(text.Length == 0 || text.EndsWith('\n'), "a reply was cut: " + Peer.Show(got));
        var replies = text.Length == 0 ? new List<string>() : text[..^1].Split('\n').ToList();
        foreach (var reply in replies) Assert.True(WellFormed.IsMatch(reply), "badly formed reply " + Peer.Show(Encoding.Latin1.GetBytes(reply)));
        var expected = model.Lines.Count + (model.TooLong ? 1 : 0);
        Interlocked.Add(ref counts.Replies, replies.Count);
        if (model.TooLong) Interlocked.Increment(ref counts.TooLong);
        if (halfClosed || model.TooLong)
            Assert.True(replies.Count == expected, replies.Count + " replies for " + model.Lines.Count + " lines (too long: " + model.TooLong + ")");
        else
            Assert.True(replies.Count <= expected);
        for (var i = 0; i < Math.Min(replies.Count, model.Lines.Count); i++)
        {
            var line = model.Lines[i];
            if (i < exact.Count && exact[i] is { } want)
            {
                Assert.Equal(want, replies[i]);
                Interlocked.Increment(ref counts.ExactReplies);
            }
            var isGet = line.Length >= 4 && line[0] == 'g' && line[1] == 'e' && line[2] == 't' && line[3] == ' ';
            if (!isGet) Assert.True(replies[i].StartsWith("400 ", StringComparison.Ordinal), "no 400 for " + Peer.Show(line) + ": " + replies[i]);
        }
        if (model.TooLong && replies.Count == expected) Assert.StartsWith("400 request%20line%20longer", replies[^1]);
    }

    private static void LineStream(int port, Random r, Counts counts)
    {
        var lines = new List<byte[]>();
        var exact = new List<string?>();
        for (var i = r.Next(0, 60); i > 0; i--)
        {
            lines.Add(RandomLine(r, out var e));
            exact.Add(e);
        }
        var ending = r.Next(3) switch { 0 => "\r\n", _ => "\n" };
        var stream = lines.SelectMany(l => l.Concat(Encoding.ASCII.GetBytes(ending))).ToList();
        if (r.Next(3) == 0) stream.AddRange(RandomLine(r, out _)); // an unterminated tail
        var bytes = stream.ToArray();
        using var p = Peer.Connect(port);
        var got = Exchange(p, bytes, r, halfClose: true, abort: false);
        CheckLines(bytes, exact, got, halfClosed: true, counts);
    }

    private static void RandomBytes(int port, Random r, Counts counts)
    {
        var bytes = new byte[r.Next(0, 30000)];
        r.NextBytes(bytes);
        // LFs now and then, so that some lines end.
        for (var i = 0; i < bytes.Length; i++) if (r.Next(40) == 0) bytes[i] = (byte)'\n';
        using var p = Peer.Connect(port);
        var got = Exchange(p, bytes, r, halfClose: true, abort: false);
        CheckLines(bytes, new List<string?>(), got, halfClosed: true, counts);
    }

    private static void HugeLine(int port, Random r, Counts counts)
    {
        var bytes = new byte[r.Next(MaxLine + 2, 3_000_000)];
        Array.Fill(bytes, (byte)'h');
        using var p = Peer.Connect(port);
        var got = Exchange(p, bytes, r, halfClose: r.Next(2) == 0, abort: false);
        var text = Encoding.Latin1.GetString(got);
        Interlocked.Increment(ref counts.TooLong);
        // A reset may destroy the reply when the peer is still sending megabytes; what did come is one 400.
        Assert.True(text.Length == 0 || text == "400 request%20line%20longer%20than%204096%20bytes\n", Peer.Show(got));
    }

    private static void AbortMidway(int port, Random r, Counts counts)
    {
        var requests = Enumerable.Range(0, r.Next(1, 2000)).SelectMany(i => Encoding.ASCII.GetBytes("get u" + i + "@other.test\n")).ToArray();
        var cut = r.Next(requests.Length);
        using var p = Peer.Connect(port);
        Exchange(p, requests[..cut], r, halfClose: false, abort: true);
    }

    private static void ConnectAndLeave(int port, Random r, Counts counts)
    {
        for (var i = r.Next(1, 30); i > 0; i--)
        {
            using var p = Peer.Connect(port);
            switch (r.Next(3))
            {
                case 0: break;                                         // close at once
                case 1: p.Send("get vip@exa"); break;                  // close inside a request
                default: p.ShutdownSend(); Assert.Empty(p.ReadToEnd()); break; // half-close, nothing asked
            }
        }
    }

    private static readonly Regex Netstring = new(@"\G(\d+):(OK|NOTFOUND|TEMP|TIMEOUT|PERM) ", RegexOptions.CultureInvariant);

    private static void SocketmapStream(int port, Random r, Counts counts)
    {
        var stream = new List<byte>();
        for (var i = r.Next(0, 40); i > 0; i--)
        {
            byte[] payload = r.Next(4) switch
            {
                0 => Encoding.UTF8.GetBytes("transport vip@example.com"),
                1 => Encoding.UTF8.GetBytes("transport u" + r.Next(100) + "@other.test"),
                2 => Encoding.UTF8.GetBytes(new[] { "other x", "transport", "transport ", " x" }[r.Next(4)]),
                _ => RandomPayload(r),
            };
            if (r.Next(15) == 0) stream.AddRange(RandomPayload(r)); // junk outside any netstring
            else stream.AddRange(SocketmapClient.Netstring(payload));
        }
        using var p = Peer.Connect(port);
        CheckNetstrings(Exchange(p, stream.ToArray(), r, halfClose: true, abort: false), counts);
    }

    private static void SocketmapBytes(int port, Random r, Counts counts)
    {
        var bytes = new byte[r.Next(0, 30000)];
        r.NextBytes(bytes);
        using var p = Peer.Connect(port);
        var got = Exchange(p, bytes, r, halfClose: true, abort: false);
        CheckNetstrings(got, counts);
    }

    /// <summary>Replies: whole netstrings, one after another, each with a known word.</summary>
    private static void CheckNetstrings(byte[] got, Counts counts)
    {
        var at = 0;
        var text = Encoding.Latin1.GetString(got);
        while (at < got.Length)
        {
            var m = Netstring.Match(text, at);
            Assert.True(m.Success && m.Index == at, "not a reply netstring at " + at + ": " + Peer.Show(got[at..]));
            var length = int.Parse(m.Groups[1].Value);
            var end = at + m.Groups[1].Length + 1 + length;
            Assert.True(end < got.Length && got[end] == ',', "a reply netstring was cut: " + Peer.Show(got[at..]));
            at = end + 1;
            Interlocked.Increment(ref counts.Netstrings);
        }
    }

    private static byte[] RandomPayload(Random r)
    {
        var b = new byte[r.Next(0, 200)];
        r.NextBytes(b);
        return b;
    }

    private static void AssertStillRight(RouterProcess router, int socketmapPort, string round)
    {
        Assert.False(router.HasExited, "the router died in " + round + "\n" + router.Describe());
        using (var c = router.Connect())
        {
            Assert.Equal(Vip, c.Get("vip@example.com"));
            Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));
            Assert.StartsWith("200 relay:[mx", c.Get("someone@contoso.com"));
        }
        using var s = SocketmapClient.Connect(socketmapPort);
        Assert.Equal("OK smtp:[192.0.2.4]:587", s.Lookup("vip@example.com"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task RandomTrafficNeverBreaksTheRouter(int seed)
    {
        using var dns = Dns();
        var socketmapPort = RouterProcess.FreePort();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns,
            "--socketmap-port", socketmapPort.ToString(), "--timeout", "5");
        var counts = new Counts();
        var scenarios = new (string Name, Action<int, Random, Counts> Run, bool Socketmap)[]
        {
            ("lines", LineStream, false),
            ("bytes", RandomBytes, false),
            ("huge line", HugeLine, false),
            ("abort", AbortMidway, false),
            ("connect and leave", ConnectAndLeave, false),
            ("netstrings", SocketmapStream, true),
            ("socketmap bytes", SocketmapBytes, true),
            ("socketmap abort", AbortMidway, true),
        };
        var master = new Random(seed);
        for (var round = 0; round < 30; round++)
        {
            // Several scenarios at once, each with a seed of its own.
            var picks = Enumerable.Range(0, 5).Select(_ => (Scenario: scenarios[master.Next(scenarios.Length)], Seed: master.Next())).ToList();
            var tasks = picks.Select(pick => Task.Factory.StartNew(() =>
            {
                try
                {
                    pick.Scenario.Run(pick.Scenario.Socketmap ? socketmapPort : router.Port, new Random(pick.Seed), counts);
                }
                catch (Exception e)
                {
                    throw new Xunit.Sdk.XunitException("scenario " + pick.Scenario.Name + " (seed " + pick.Seed + "): " + e.Message, e);
                }
            }, TaskCreationOptions.LongRunning)).ToArray();
            await Task.WhenAll(tasks);
            AssertStillRight(router, socketmapPort, "round " + round + " (" + string.Join(", ", picks.Select(p => p.Scenario.Name)) + ")");
        }
        // The fuzzing really got answers back to check.
        Assert.True(counts.Replies > 500 && counts.ExactReplies > 100 && counts.TooLong > 5 && counts.Netstrings > 50,
            "too little checked: " + counts.Replies + " replies, " + counts.ExactReplies + " exact, " + counts.TooLong + " too long, " + counts.Netstrings + " netstrings");
        Assert.Equal(0, router.Terminate());
        // No connection ended in an unexpected exception.
        Assert.DoesNotContain(" failed: ", router.Stderr);
    }
}
