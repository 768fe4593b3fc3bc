using System.Net;
using Microsoft.Extensions.Logging;
using Router.Core;

namespace Router.Native;

/// <summary>
/// Postfix's socketmap: netstring requests `name key`, netstring replies `OK relay` (the core's
/// <see cref="Socketmap"/>). Same router as tcp_table: rules, WRR state, stats and the routing
/// log are shared.
/// </summary>
public sealed class SocketmapProtocol(RouterService router, string mapName, ILogger log) : IProtocol
{
    private readonly byte[] mapNameBytes = Socketmap.mapNameBytes(mapName);

    public string Name => "socketmap";

    /// <summary>Room for the longest netstring the framer accepts (5 digits, colon, payload, comma), twice.</summary>
    public int BufferSize => 2 * (Socketmap.MaxRequest + 16);

    public Framed Frame(ReadOnlySpan<byte> unread)
    {
        var frame = Socketmap.frame(Socketmap.MaxRequest, unread);
        if (frame.IsComplete) return new Framed(frame.start, frame.length, Socketmap.consumed(frame.start, frame.length));
        // Not a netstring: nothing after this point can be trusted to be a request.
        if (frame.IsMalformed)
            return new Framed(Socketmap.encode(Socketmap.Reply.NewPerm(frame.reason)), "malformed socketmap request: " + frame.reason);
        return default;
    }

    public ValueTask<byte[]> Answer(ReadOnlySpan<byte> payload, EndPoint? peer)
    {
        var asked = Socketmap.ask(mapNameBytes, payload);
        if (asked.IsRefused)
        {
            // Misuse (unknown map name, no key): PERM, but the framing is intact, so keep going.
            var refusal = asked.refusal;
            log.LogWarning("socketmap request from {Peer} refused: {Reply}", peer, Printable(Socketmap.render(refusal)));
            return new ValueTask<byte[]>(Socketmap.encode(refusal));
        }
        var pending = router.LookupAsync(Address.ofLowered(asked.key!));
        if (pending.IsCompletedSuccessfully) return new ValueTask<byte[]>(Encode(pending.Result));
        return EncodeLater(pending);
    }

    private static byte[] Encode(Answered answered) => Socketmap.bytes(answered.State.Socketmap, answered.Reply);

    private static async ValueTask<byte[]> EncodeLater(ValueTask<Answered> pending) =>
        Encode(await pending.ConfigureAwait(false));

    /// <summary>A client's text for one log line: controls shown as '?', at most 200 characters.</summary>
    private static string Printable(string text)
    {
        var chars = text.Length > 200 ? text.Substring(0, 200).ToCharArray() : text.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
            if (char.IsControl(chars[i])) chars[i] = '?';
        return new string(chars);
    }
}
