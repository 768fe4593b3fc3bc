using System.Net;
using Microsoft.Extensions.Logging;
using Router.Core;

namespace Router.Native;

/// <summary>
/// The socketmap listener (issue 8): the same accept loop, event loop and connection code,
/// limits, idle timeout and drain as the tcp_table listener (Server.cs,
/// Server.Connection.cs), with netstrings in place of lines.
/// Framing, parsing and encoding are the core's (<see cref="Socketmap"/>); lookups go through
/// the same <see cref="RouterService"/>, so rules, WRR state, stats and the routing log are shared.
/// </summary>
public sealed partial class Server
{
    /// <summary>Longest socketmap request payload (`name SP key`).</summary>
    public const int MaxSocketmapRequest = Socketmap.MaxRequest;

    // Room for the longest netstring the framer accepts (5 digits, colon, payload, comma),
    // and then some, so that a read usually takes several pipelined requests at once.
    private const int SocketmapBufferSize = 2 * (MaxSocketmapRequest + 16);

    /// <summary>Null for a tcp_table listener; the map name this socketmap listener serves.</summary>
    private string? _socketmapName;

    /// <summary>Binds a socketmap listener that answers requests for <paramref name="mapName"/>.</summary>
    public static Server ListenSocketmap(IPAddress address, int port, string mapName, RouterService router, int timeoutSeconds, ILogger log)
    {
        var server = Listen(address, port, router, timeoutSeconds, log);
        server._socketmapName = mapName;
        return server;
    }

    private static Framed FrameNetstring(ReadOnlySpan<byte> unread)
    {
        var frame = Socketmap.frame(MaxSocketmapRequest, unread);
        if (frame.IsComplete) return new Framed(frame.start, frame.length, Socketmap.consumed(frame.start, frame.length));
        // Not a netstring: nothing after this point can be trusted to be a request.
        if (frame.IsMalformed)
            return new Framed(Socketmap.encode(Socketmap.Reply.NewPerm(frame.reason)), "malformed socketmap request: " + frame.reason);
        return default;
    }

    /// <summary>One request payload to reply bytes. Completes synchronously on a cache hit.</summary>
    private ValueTask<byte[]> Answer(ReadOnlySpan<byte> payload, string mapName, EndPoint? peer)
    {
        var key = Socketmap.keyFor(mapName, Socketmap.parse(payload));
        if (key.IsError)
        {
            // Misuse (unknown map name, no key): PERM, but the framing is intact, so keep going.
            var refusal = key.ErrorValue;
            _log.LogWarning("socketmap request from {Peer} refused: {Reply}", peer, Printable(Socketmap.render(refusal)));
            return new ValueTask<byte[]>(Socketmap.encode(refusal));
        }
        var pending = _router.LookupAsync(key.ResultValue);
        if (pending.IsCompletedSuccessfully)
            return new ValueTask<byte[]>(Socketmap.encode(Socketmap.ofTcpTable(pending.Result)));
        return EncodeLater(pending);
    }

    private static async ValueTask<byte[]> EncodeLater(ValueTask<TcpTable.Reply> pending) =>
        Socketmap.encode(Socketmap.ofTcpTable(await pending.ConfigureAwait(false)));

    /// <summary>A client's text for one log line: controls shown as '?', at most 200 characters.</summary>
    private static string Printable(string text)
    {
        var chars = text.Length > 200 ? text.Substring(0, 200).ToCharArray() : text.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
            if (char.IsControl(chars[i])) chars[i] = '?';
        return new string(chars);
    }
}
