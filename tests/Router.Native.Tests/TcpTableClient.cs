using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Router.Native.Tests;

/// <summary>
/// A tcp_table client as Postfix uses one: one persistent connection, lock-step
/// `get KEY\n` / reply line. Bytes map to chars one to one (Latin-1), so a reply holding a
/// CR or a byte >= 0x80 shows up as such in the returned string.
/// </summary>
public sealed class TcpTableClient : IDisposable
{
    public static readonly TimeSpan DefaultReplyTimeout = TimeSpan.FromSeconds(30);

    private readonly Socket socket;
    private readonly List<byte> pending = new();

    private TcpTableClient(Socket socket) => this.socket = socket;

    public static TcpTableClient Connect(int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        s.Connect(IPAddress.Loopback, port);
        return new TcpTableClient(s);
    }

    /// <summary>Sends `get KEY\n` (KEY as given: encode it first, as Postfix does) and returns the reply line without its LF.</summary>
    public string Get(string key, TimeSpan? timeout = null)
    {
        Send("get " + key + "\n");
        return ReadLine(timeout);
    }

    public void Send(string text) => Send(Encoding.Latin1.GetBytes(text));

    public void Send(byte[] bytes)
    {
        var sent = 0;
        while (sent < bytes.Length) sent += socket.Send(bytes, sent, bytes.Length - sent, SocketFlags.None);
    }

    /// <summary>Sends FIN: the router sees the end of file after what was sent.</summary>
    public void ShutdownSend() => socket.Shutdown(SocketShutdown.Send);

    /// <summary>Reads one reply line and returns it without the final LF (a CR before it stays).</summary>
    public string ReadLine(TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultReplyTimeout;
        var sw = Stopwatch.StartNew();
        var buffer = new byte[8192];
        while (true)
        {
            var lf = pending.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                var line = Encoding.Latin1.GetString(pending.GetRange(0, lf).ToArray());
                pending.RemoveRange(0, lf + 1);
                return line;
            }
            var left = limit - sw.Elapsed;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException("No complete reply line within " + limit.TotalSeconds + " s; got so far: " + Show(pending));
            if (!socket.Poll(left, SelectMode.SelectRead))
                continue;
            int n;
            try
            {
                n = socket.Receive(buffer);
            }
            catch (SocketException e)
            {
                throw new IOException("Connection failed (" + e.SocketErrorCode + ") before a complete reply line; got so far: " + Show(pending), e);
            }
            if (n == 0)
                throw new EndOfStreamException("The router closed the connection before a complete reply line; got so far: " + Show(pending));
            pending.AddRange(buffer.AsSpan(0, n).ToArray());
        }
    }

    /// <summary>True when reply bytes have arrived that ReadLine has not returned yet.</summary>
    public bool HasData => pending.Count > 0 || socket.Available > 0;

    /// <summary>
    /// Waits until the router closes the connection (EOF or reset). Returns false if it is still
    /// open after the time-out. Data that arrives meanwhile is kept for ReadLine.
    /// </summary>
    public bool WaitForClose(TimeSpan timeout) => ClientSocket.WaitForClose(socket, pending, timeout);

    private static string Show(List<byte> bytes) =>
        "\"" + Encoding.Latin1.GetString(bytes.ToArray()).Replace("\r", "\\r").Replace("\n", "\\n") + "\"";

    public void Dispose() => socket.Dispose();

    /// <summary>Encodes a key the way Postfix's dict_tcp does: %XX for %, white space, controls and bytes >= 0x80.</summary>
    public static string PostfixEncode(string key)
    {
        var sb = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(key))
        {
            if (b == '%' || b <= 0x20 || b >= 0x7F)
                sb.Append('%').Append(b.ToString("X2"));
            else
                sb.Append((char)b);
        }
        return sb.ToString();
    }
}
