using System.Net;
using Router.Core;

namespace Router.Native;

/// <summary>Postfix's tcp_table: `get key` lines, `200 relay` replies (the core's <see cref="TcpTable"/>).</summary>
public sealed class TcpTableProtocol(RouterService router) : IProtocol
{
    private static readonly string TooLongReason = "request line longer than " + TcpTable.MaxLine + " bytes";
    private static readonly byte[] LineTooLong = TcpTable.encode(Reply.Reply.NewDefer(TooLongReason));

    public string Name => "tcp_table";

    /// <summary>A whole line needs MaxLine + 2 bytes; twice that lets a read take several pipelined lines.</summary>
    public int BufferSize => 2 * TcpTable.MaxLine;

    public Framed Frame(ReadOnlySpan<byte> unread)
    {
        var frame = TcpTable.frame(unread);
        if (frame.IsLine) return new Framed(0, frame.length, frame.length + 1);
        if (frame.IsTooLong) return new Framed(LineTooLong, TooLongReason);
        return default;
    }

    public ValueTask<byte[]> Answer(ReadOnlySpan<byte> line, EndPoint? peer)
    {
        var request = TcpTable.parse(line);
        if (!request.IsGet)
        {
            router.Malformed(request.reason!);
            return new ValueTask<byte[]>(TcpTable.encode(Reply.Reply.NewDefer(request.reason!)));
        }
        var pending = router.LookupAsync(Address.ofLowered(request.key));
        if (pending.IsCompletedSuccessfully) return new ValueTask<byte[]>(Encode(pending.Result));
        return EncodeLater(pending);
    }

    private static byte[] Encode(Answered answered) => TcpTable.bytes(answered.State.TcpTable, answered.Reply);

    private static async ValueTask<byte[]> EncodeLater(ValueTask<Answered> pending) =>
        Encode(await pending.ConfigureAwait(false));
}
