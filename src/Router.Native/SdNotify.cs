using System.Net.Sockets;
using System.Text;

namespace Router.Native;

/// <summary>systemd's sd_notify: one datagram to $NOTIFY_SOCKET, best effort.</summary>
public static class SdNotify
{
    /// <summary>
    /// A reload begins: RELOADING=1 with the CLOCK_MONOTONIC time, as systemd 253 and later
    /// want it (older ones ignore the field). READY=1 ends the reload, whatever its result.
    /// </summary>
    public static void Reloading() => Send("RELOADING=1\nMONOTONIC_USEC=" + MonotonicMicroseconds());

    /// <summary>CLOCK_MONOTONIC in microseconds (.NET's Stopwatch reads CLOCK_MONOTONIC on Linux).</summary>
    public static long MonotonicMicroseconds()
    {
        long ticks = System.Diagnostics.Stopwatch.GetTimestamp();
        long frequency = System.Diagnostics.Stopwatch.Frequency;
        return ticks / frequency * 1_000_000 + ticks % frequency * 1_000_000 / frequency;
    }

    public static void Send(string state)
    {
        string? path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path)) return;
        try
        {
            if (path[0] == '@') path = "\0" + path.Substring(1);
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            socket.Send(Encoding.UTF8.GetBytes(state));
        }
        catch (Exception e) when (e is SocketException or ArgumentException or IOException)
        {
        }
    }
}
