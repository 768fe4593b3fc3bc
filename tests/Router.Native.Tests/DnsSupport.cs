using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Router.Native.Tests;

/// <summary>The DNS counters of the -v stats line, as the router printed them last.</summary>
public sealed record DnsCounters(long Entries, long Hits, long Misses, long Stale, long Failures, long Prefetches)
{
    private static readonly Regex Line = new(
        @"(?<entries>\d+) cache entries, (?<hits>\d+) hits, (?<misses>\d+) misses, (?<stale>\d+) stale answers, (?<failures>\d+) DNS failures, (?<prefetches>\d+) prefetches",
        RegexOptions.CultureInvariant);

    private static long N(Match m, string group) => long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    public static int Count(string stderr) => Line.Matches(stderr).Count;

    /// <summary>
    /// Sends SIGUSR1 to a router started with -v and reads the stats line it logs (the
    /// periodic line, printed at once on SIGUSR1 with -v).
    /// </summary>
    public static DnsCounters Request(RouterProcess router)
    {
        var before = Count(router.Stderr);
        router.Signal(RouterProcess.SIGUSR1);
        var sw = Stopwatch.StartNew();
        while (Count(router.Stderr) <= before)
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(20))
                throw new Xunit.Sdk.XunitException("no stats line after SIGUSR1 (is -v given?)\n" + router.Describe());
            Thread.Sleep(20);
        }
        var matches = Line.Matches(router.Stderr);
        var m = matches[^1];
        return new DnsCounters(N(m, "entries"), N(m, "hits"), N(m, "misses"), N(m, "stale"), N(m, "failures"), N(m, "prefetches"));
    }
}

public static class Wait
{
    /// <summary>Polls until the condition holds; false when it still does not after the limit.</summary>
    public static bool Until(Func<bool> condition, TimeSpan limit)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < limit)
        {
            if (condition()) return true;
            Thread.Sleep(20);
        }
        return condition();
    }
}

/// <summary>
/// dnsmasq on 127.0.0.1 and a free port, serving only what it is given (--no-resolv, no
/// upstream: nothing reaches the system resolver), logging every query to a file.
/// dnsmasq-base must be installed: a missing dnsmasq fails the test, never skips it.
/// </summary>
public sealed class Dnsmasq : IDisposable
{
    private readonly Process process;
    private readonly TempDir dir = new();

    public int Port { get; }
    public string Endpoint => "127.0.0.1:" + Port;
    public string LogPath => dir.File("dnsmasq.log");

    public static string Binary()
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(new[] { "/usr/sbin", "/sbin", "/usr/local/sbin" })
            .Select(d => Path.Combine(d, "dnsmasq"))
            .FirstOrDefault(File.Exists);
        return path ?? throw new Xunit.Sdk.XunitException(
            "dnsmasq is not installed: the DNS tests need it (apt-get install dnsmasq-base; ./build.sh test installs it)");
    }

    public Dnsmasq(params string[] args)
    {
        var binary = Binary();
        Exception? last = null;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var port = FreeUdpPort();
            var psi = new ProcessStartInfo(binary)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[]
                     {
                         "--no-daemon", "--conf-file=/dev/null", "--pid-file=", "--port=" + port,
                         "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                         "--no-negcache", "--user=root", "--group=root", "--log-queries", "--log-facility=" + LogPath,
                     })
                psi.ArgumentList.Add(a);
            foreach (var a in args) psi.ArgumentList.Add(a);
            var p = Process.Start(psi)!;
            if (Wait.Until(() => p.HasExited || Answers(port), TimeSpan.FromSeconds(10)) && !p.HasExited)
            {
                process = p;
                Port = port;
                return;
            }
            last = new InvalidOperationException("dnsmasq did not start on port " + port + ": "
                + (p.HasExited ? p.StandardError.ReadToEnd() : "no answer"));
            try { p.Kill(); } catch (InvalidOperationException) { }
            p.Dispose();
        }
        throw last!;
    }

    /// <summary>
    /// The number of queries for a name (any type) dnsmasq logged, once the log has stopped
    /// growing for a moment (dnsmasq writes it in the background).
    /// </summary>
    public int Queries(string name)
    {
        var last = LoggedQueries(name);
        var stable = Stopwatch.StartNew();
        var limit = Stopwatch.StartNew();
        while (stable.Elapsed < TimeSpan.FromMilliseconds(300) && limit.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.Sleep(50);
            var now = LoggedQueries(name);
            if (now != last || now == 0) stable.Restart();
            last = now;
        }
        return last;
    }

    private int LoggedQueries(string name)
    {
        if (!File.Exists(LogPath)) return 0;
        string text;
        using (var f = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        using (var r = new StreamReader(f, Encoding.UTF8))
            text = r.ReadToEnd();
        return Regex.Matches(text, @"query\[\w+\] " + Regex.Escape(name) + " from ").Count;
    }

    private static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>dnsmasq answers a query (any answer) on the port.</summary>
    private static bool Answers(int port)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 200 };
        var q = new byte[] { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 5, (byte)'p', (byte)'r', (byte)'o', (byte)'b', (byte)'e', 0, 0, 15, 0, 1 };
        try
        {
            s.SendTo(q, new IPEndPoint(IPAddress.Loopback, port));
            var buf = new byte[512];
            return s.Receive(buf) >= 12;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException) { }
        process.Dispose();
        dir.Dispose();
    }
}

/// <summary>
/// The router with exactly the arguments given (RouterProcess.Start always adds its fake
/// DNS server first): on a free loopback port, waited for until it accepts.
/// </summary>
public sealed class BareRouter : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder stdout = new();
    private readonly StringBuilder stderr = new();
    private readonly TempDir dir = new();

    public int Port { get; }

    public BareRouter(string yaml, params string[] args)
    {
        var config = dir.Write("router.yaml", yaml);
        Port = RouterProcess.FreePort();
        process = RouterProcess.Spawn(
            new[] { "-c", config, "-H", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture) }.Concat(args),
            stdout, stderr);
        var accepting = Wait.Until(() =>
        {
            if (process.HasExited) return true;
            try
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.Connect(IPAddress.Loopback, Port);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30));
        if (!accepting || process.HasExited)
            throw new InvalidOperationException("the router did not start: " + Describe());
    }

    public string Describe()
    {
        lock (stderr) return "--- stderr ---\n" + stderr;
    }

    public TcpTableClient Connect() => TcpTableClient.Connect(Port);

    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException) { }
        process.Dispose();
        dir.Dispose();
    }
}
