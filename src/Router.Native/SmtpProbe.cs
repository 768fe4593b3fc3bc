using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Router.Core;

namespace Router.Native;

/// <summary>
/// One health probe of one relay: connect (each address in turn until one connects, as
/// Postfix does), read the 220 greeting, send EHLO (LHLO for lmtp), expect 250, send QUIT
/// and close without waiting for its reply. Everything, DNS included, within one timeout.
/// Replies may be multi-line; a line is at most <see cref="LineLimit"/> bytes and a reply
/// at most <see cref="ReplyLineLimit"/> lines, so a hostile relay cannot grow memory: one
/// buffer of LineLimit bytes per probe. Never throws: the outcome is a
/// <see cref="Status.Probe"/>, its Detail "ok" or the reason it failed, naming the address
/// that failed ("127.0.0.1:2525: greeting 554 no service").
/// </summary>
public static class SmtpProbe
{
    /// <summary>The longest reply line read (RFC 5321 allows 512 bytes).</summary>
    public const int LineLimit = 2048;

    /// <summary>The most lines of one multi-line reply.</summary>
    public const int ReplyLineLimit = 100;

    /// <summary>The longest reply text a Detail quotes.</summary>
    private const int QuoteLimit = 200;

    /// <summary>
    /// The name sent with EHLO: the machine's host name (gethostname, as Postfix's myhostname
    /// defaults to), lower-cased; "localhost" when that is not a valid ASCII host name.
    /// </summary>
    public static string HeloName { get; } = MachineName();

    private static string MachineName()
    {
        try
        {
            string name = Dns.GetHostName().ToLowerInvariant();
            if (Ascii.IsValid(name) && Address.isHostName(name.AsSpan())) return name.TrimEnd('.');
        }
        catch (SocketException)
        {
        }
        return "localhost";
    }

    /// <summary>Probes a relay's next hop: finds its addresses (<see cref="ProbeAddresses"/>), then
    /// <see cref="ProbeAsync(IReadOnlyList{IPEndPoint}, bool, TimeSpan, CancellationToken)"/>.
    /// <paramref name="cancel"/> stops it early (Detail "cancelled").</summary>
    public static async Task<Status.Probe> ProbeAsync(NextHop.Endpoint target, DnsQuery dns, TimeSpan timeout, CancellationToken cancel)
    {
        var at = DateTimeOffset.UtcNow;
        long started = Stopwatch.GetTimestamp();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(timeout);
        ProbeEndpoints found;
        try
        {
            found = await ProbeAddresses.ResolveAsync(dns, target, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return Done(at, started, cancel.IsCancellationRequested
                ? "cancelled"
                : "timed out resolving " + HostText(target.Host) + " after " + Seconds(timeout));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Done(at, started, "probe failed: " + e.GetType().Name + ": " + e.Message);
        }
        if (found.Failure is not null) return Done(at, started, found.Failure);
        var left = timeout - Stopwatch.GetElapsedTime(started);
        var probe = await ProbeAsync(found.Endpoints, target.Lmtp, left > TimeSpan.Zero ? left : TimeSpan.Zero, cancel, timeout)
            .ConfigureAwait(false);
        return new Status.Probe(probe.Ok, at, Stopwatch.GetElapsedTime(started), probe.Detail);
    }

    /// <summary>Probes these addresses in order until one connects; the SMTP exchange is with that one only.</summary>
    public static Task<Status.Probe> ProbeAsync(IReadOnlyList<IPEndPoint> endpoints, bool lmtp, TimeSpan timeout, CancellationToken cancel) =>
        ProbeAsync(endpoints, lmtp, timeout, cancel, timeout);

    /// <summary><paramref name="total"/>: the timeout the Detail names (the whole probe's).</summary>
    private static async Task<Status.Probe> ProbeAsync(IReadOnlyList<IPEndPoint> endpoints, bool lmtp, TimeSpan timeout, CancellationToken cancel, TimeSpan total)
    {
        var at = DateTimeOffset.UtcNow;
        long started = Stopwatch.GetTimestamp();
        if (endpoints.Count == 0) return Done(at, started, "no address to probe");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(timeout);
        var failures = new List<string>();
        var phase = "connecting";
        IPEndPoint? current = null;
        try
        {
            foreach (var ep in endpoints)
            {
                current = ep;
                phase = "connecting";
                using var socket = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(ep, deadline.Token).ConfigureAwait(false);
                }
                catch (SocketException e)
                {
                    failures.Add(ep + ": " + Describe(e.SocketErrorCode));
                    continue;
                }
                var reader = new ReplyReader(socket);
                string verb = lmtp ? "LHLO" : "EHLO";
                phase = "waiting for the greeting";
                var greeting = await reader.ReadAsync("greeting", deadline.Token).ConfigureAwait(false);
                if (greeting.Failure is not null) return Done(at, started, ep + ": " + greeting.Failure);
                if (greeting.Code != 220) return Done(at, started, ep + ": greeting " + greeting.Quote);
                phase = "sending " + verb;
                await SendAsync(socket, verb + " " + HeloName + "\r\n", deadline.Token).ConfigureAwait(false);
                phase = "waiting for the " + verb + " reply";
                var hello = await reader.ReadAsync(verb + " reply", deadline.Token).ConfigureAwait(false);
                if (hello.Failure is not null) return Done(at, started, ep + ": " + hello.Failure);
                if (hello.Code != 250) return Done(at, started, ep + ": " + verb + " answered " + hello.Quote);
                try
                {
                    await SendAsync(socket, "QUIT\r\n", deadline.Token).ConfigureAwait(false);
                    socket.Shutdown(SocketShutdown.Send);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    // The relay answered EHLO: it is up, however it takes the goodbye.
                }
                return Done(at, started, "ok", ok: true);
            }
            return Done(at, started, string.Join("; ", failures));
        }
        catch (OperationCanceledException)
        {
            if (cancel.IsCancellationRequested) return Done(at, started, "cancelled");
            failures.Add(current + ": timed out " + phase + " after " + Seconds(total));
            return Done(at, started, string.Join("; ", failures));
        }
        catch (SocketException e)
        {
            failures.Add(current + ": " + Describe(e.SocketErrorCode) + " " + phase);
            return Done(at, started, string.Join("; ", failures));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Done(at, started, current + ": probe failed: " + e.GetType().Name + ": " + e.Message);
        }
    }

    private static Status.Probe Done(DateTimeOffset at, long started, string detail, bool ok = false) =>
        new(ok, at, Stopwatch.GetElapsedTime(started), detail);

    private static async Task SendAsync(Socket socket, string line, CancellationToken cancel)
    {
        var bytes = Encoding.ASCII.GetBytes(line);
        int sent = 0;
        while (sent < bytes.Length)
            sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, cancel).ConfigureAwait(false);
    }

    private static string HostText(NextHop.Host host) => host switch
    {
        NextHop.Host.Literal l => l.ip,
        NextHop.Host.Name n => n.name,
        NextHop.Host.MxName m => m.name,
        _ => "the next hop",
    };

    /// <summary>"5 s", "0.5 s".</summary>
    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    public static string Describe(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.ConnectionReset => "connection reset",
        SocketError.ConnectionAborted => "connection aborted",
        SocketError.TimedOut => "timed out",
        SocketError.HostUnreachable => "host unreachable",
        SocketError.NetworkUnreachable => "network unreachable",
        SocketError.NetworkDown => "network down",
        SocketError.AddressNotAvailable => "address not available",
        SocketError.AddressFamilyNotSupported => "address family not supported",
        SocketError.Shutdown => "connection shut down",
        _ => "socket error " + ((int)error).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>A reply: its code and first line, or why it could not be read.</summary>
    private readonly record struct Reply(int Code, string Quote, string? Failure);

    /// <summary>Reads SMTP replies line by line through one buffer of <see cref="LineLimit"/> bytes.</summary>
    private sealed class ReplyReader(Socket socket)
    {
        private readonly byte[] _buffer = new byte[LineLimit];
        private int _start;
        private int _end;

        public async Task<Reply> ReadAsync(string what, CancellationToken cancel)
        {
            int code = -1;
            string quote = "";
            for (int lines = 0; lines < ReplyLineLimit; lines++)
            {
                string? line = await LineAsync(cancel).ConfigureAwait(false);
                if (line is null)
                    return Fail(_start == 0 && _end == _buffer.Length
                        ? what + " line longer than " + LineLimit.ToString(CultureInfo.InvariantCulture) + " bytes"
                        : "connection closed " + (what == "greeting" ? "before the greeting" : "waiting for the " + what));
                if (line.Length < 3 || !char.IsAsciiDigit(line[0]) || !char.IsAsciiDigit(line[1]) || !char.IsAsciiDigit(line[2])
                    || (line.Length > 3 && line[3] != ' ' && line[3] != '-'))
                    return Fail("malformed " + what + ": " + Clean(line));
                int c = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
                if (code < 0)
                {
                    code = c;
                    quote = Clean(line.Length > 4 ? line[..3] + " " + line[4..] : line[..3]);
                }
                else if (c != code)
                {
                    return Fail("malformed " + what + ": code " + c.ToString(CultureInfo.InvariantCulture)
                        + " after " + code.ToString(CultureInfo.InvariantCulture));
                }
                if (line.Length == 3 || line[3] == ' ') return new Reply(code, quote, null);
            }
            return Fail(what + " longer than " + ReplyLineLimit.ToString(CultureInfo.InvariantCulture) + " lines");
        }

        private static Reply Fail(string why) => new(-1, "", why);

        /// <summary>The next line without its CR LF; null at the end of the stream or when a line
        /// fills the buffer (then _start is 0 and _end the buffer's length).</summary>
        private async Task<string?> LineAsync(CancellationToken cancel)
        {
            while (true)
            {
                int lf = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (lf >= 0)
                {
                    int stop = lf > _start && _buffer[lf - 1] == '\r' ? lf - 1 : lf;
                    string line = Encoding.Latin1.GetString(_buffer, _start, stop - _start);
                    _start = lf + 1;
                    return line;
                }
                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                if (_end == _buffer.Length) return null;
                int n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancel).ConfigureAwait(false);
                if (n == 0) return null;
                _end += n;
            }
        }

        /// <summary>Reply text fit for a log line: printable ASCII, at most <see cref="QuoteLimit"/> characters.</summary>
        private static string Clean(string text)
        {
            var sb = new StringBuilder(Math.Min(text.Length, QuoteLimit));
            foreach (char ch in text)
            {
                if (sb.Length >= QuoteLimit) break;
                sb.Append(ch >= ' ' && ch < 0x7f ? ch : '?');
            }
            return sb.ToString().TrimEnd();
        }
    }
}
