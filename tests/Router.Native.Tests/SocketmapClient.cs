using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Router.Native.Tests;

/// <summary>
/// A socketmap client as Postfix's dict_sockmap is one: one persistent connection, lock-step
/// netstrings, `LEN:name SP key,` out and `LEN:reply,` back. Written from the protocol (man 5
/// socketmap_table), not from the router's code, so the two cannot share a mistake.
/// </summary>
public sealed class SocketmapClient : IDisposable
{
    public const string DefaultName = "transport";

    private readonly Socket socket;
    private readonly List<byte> pending = new();

    private SocketmapClient(Socket socket) => this.socket = socket;

    /// <summary>
    /// Connects to 127.0.0.1:port, retrying briefly: the router opens its socketmap listener
    /// just after the tcp_table one, which is what RouterProcess.Start waits for.
    /// </summary>
    public static SocketmapClient Connect(int port)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                s.Connect(IPAddress.Loopback, port);
                return new SocketmapClient(s);
            }
            catch (SocketException) when (sw.Elapsed < TimeSpan.FromSeconds(5))
            {
                s.Dispose();
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>A request as Postfix sends it: one netstring of `name SP key`, the key raw (UTF-8).</summary>
    public static byte[] Request(string key, string name = DefaultName) => Netstring(Encoding.UTF8.GetBytes(name + " " + key));

    public static byte[] Netstring(byte[] payload)
    {
        var prefix = Encoding.ASCII.GetBytes(payload.Length.ToString(CultureInfo.InvariantCulture) + ":");
        return prefix.Concat(payload).Append((byte)',').ToArray();
    }

    /// <summary>Sends one request and returns the reply's payload, e.g. "OK relay:[mx1.example.com]:25".</summary>
    public string Lookup(string key, string name = DefaultName, TimeSpan? timeout = null)
    {
        Send(Request(key, name));
        return ReadReply(timeout);
    }

    public void Send(string latin1) => Send(Encoding.Latin1.GetBytes(latin1));

    public void Send(byte[] bytes)
    {
        var sent = 0;
        while (sent < bytes.Length) sent += socket.Send(bytes, sent, bytes.Length - sent, SocketFlags.None);
    }

    /// <summary>
    /// Reads one reply netstring and returns its payload (UTF-8). Throws when the bytes are
    /// not a netstring, or the router closes the connection before a whole one arrived.
    /// </summary>
    public string ReadReply(TimeSpan? timeout = null)
    {
        var limit = timeout ?? TcpTableClient.DefaultReplyTimeout;
        var sw = Stopwatch.StartNew();
        var buffer = new byte[8192];
        while (true)
        {
            if (TryTakeNetstring(out var payload)) return Encoding.UTF8.GetString(payload);
            var left = limit - sw.Elapsed;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException("No complete reply netstring within " + limit.TotalSeconds + " s; got so far: " + Show(pending));
            if (!socket.Poll(left, SelectMode.SelectRead)) continue;
            int n;
            try
            {
                n = socket.Receive(buffer);
            }
            catch (SocketException e)
            {
                throw new IOException("Connection failed (" + e.SocketErrorCode + ") before a complete reply; got so far: " + Show(pending), e);
            }
            if (n == 0)
                throw new EndOfStreamException("The router closed the connection before a complete reply; got so far: " + Show(pending));
            pending.AddRange(buffer.AsSpan(0, n).ToArray());
        }
    }

    private bool TryTakeNetstring(out byte[] payload)
    {
        payload = Array.Empty<byte>();
        var colon = pending.IndexOf((byte)':');
        if (colon < 0)
        {
            if (pending.Any(b => b < '0' || b > '9'))
                throw new InvalidDataException("Reply is not a netstring: " + Show(pending));
            return false;
        }
        var digits = Encoding.ASCII.GetString(pending.GetRange(0, colon).ToArray());
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit) || (digits.Length > 1 && digits[0] == '0'))
            throw new InvalidDataException("Reply has a bad netstring length: " + Show(pending));
        var length = int.Parse(digits, CultureInfo.InvariantCulture);
        if (length > 100000)
            throw new InvalidDataException("Reply longer than Postfix's 100000-byte limit: " + length);
        if (pending.Count < colon + 1 + length + 1) return false;
        if (pending[colon + 1 + length] != ',')
            throw new InvalidDataException("Reply netstring does not end with a comma: " + Show(pending));
        payload = pending.GetRange(colon + 1, length).ToArray();
        pending.RemoveRange(0, colon + 1 + length + 1);
        return true;
    }

    /// <summary>
    /// Waits until the router closes the connection (EOF or reset). False if it is still open
    /// after the time-out. Data that arrives meanwhile is kept for ReadReply.
    /// </summary>
    public bool WaitForClose(TimeSpan timeout) => ClientSocket.WaitForClose(socket, pending, timeout);

    private static string Show(List<byte> bytes) =>
        "\"" + Encoding.Latin1.GetString(bytes.Take(300).ToArray()).Replace("\r", "\\r").Replace("\n", "\\n") + "\"";

    public void Dispose() => socket.Dispose();

    /// <summary>The socketmap answer that a tcp_table reply line stands for: 200 OK, 500 NOTFOUND, 400 TEMP.</summary>
    public static string FromTcpTable(string line)
    {
        var text = line.Length > 4 ? Uri.UnescapeDataString(line[4..]) : "";
        return line[..3] switch
        {
            "200" => "OK " + text,
            "500" => "NOTFOUND ",
            "400" => "TEMP " + text,
            _ => throw new InvalidDataException("Not a tcp_table reply: " + line),
        };
    }
}
