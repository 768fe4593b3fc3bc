using System.Net.Sockets;
using System.Text;

namespace Router.Native;

/// <summary>systemd's sd_notify: one datagram to $NOTIFY_SOCKET, best effort.</summary>
public static class SdNotify
{
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
