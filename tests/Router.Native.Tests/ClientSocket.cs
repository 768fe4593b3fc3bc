using System.Diagnostics;
using System.Net.Sockets;

namespace Router.Native.Tests;

/// <summary>What the tcp_table and socketmap test clients do alike with their socket.</summary>
internal static class ClientSocket
{
    /// <summary>
    /// Waits until the router closes the connection (EOF or reset). False if it is still open
    /// after the time-out. Bytes that arrive meanwhile are added to <paramref name="pending"/>,
    /// for the client's own reply reader.
    /// </summary>
    public static bool WaitForClose(Socket socket, List<byte> pending, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        var buffer = new byte[8192];
        while (true)
        {
            var left = timeout - sw.Elapsed;
            if (left <= TimeSpan.Zero) return false;
            if (!socket.Poll(left, SelectMode.SelectRead)) continue;
            try
            {
                var n = socket.Receive(buffer);
                if (n == 0) return true;
                pending.AddRange(buffer.AsSpan(0, n).ToArray());
            }
            catch (SocketException)
            {
                return true;
            }
        }
    }
}
