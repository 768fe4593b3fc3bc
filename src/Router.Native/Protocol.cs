using System.Net;

namespace Router.Native;

/// <summary>
/// What a listener's connections speak: how requests are framed in the unread bytes, and
/// the reply bytes for one request. The listener and its connections (Server.cs,
/// Server.Connection.cs) only move bytes; framing, parsing and encoding are the core's,
/// reached through the protocol.
/// </summary>
public interface IProtocol
{
    /// <summary>For log lines: "tcp_table", "socketmap".</summary>
    string Name { get; }

    /// <summary>The unread bytes a connection may hold: room for the longest request the framer accepts.</summary>
    int BufferSize { get; }

    /// <summary>The first request in the unread bytes, a refusal, or "read more".</summary>
    Framed Frame(ReadOnlySpan<byte> unread);

    /// <summary>The reply to one framed request. Completes synchronously on a cache hit.</summary>
    ValueTask<byte[]> Answer(ReadOnlySpan<byte> request, EndPoint? peer);
}

/// <summary>What a framer made of the unread bytes: a request, a refusal, or "read more".</summary>
public readonly struct Framed
{
    /// <summary>The request: buffer[Start .. Start + Length - 1].</summary>
    public readonly int Start, Length;
    /// <summary>Bytes the request takes off the front; 0 for "read more" and for a refusal.</summary>
    public readonly int Consumed;
    /// <summary>The reply that ends the connection: the framing is lost.</summary>
    public readonly byte[]? Refusal;
    public readonly string? Reason;

    public Framed(int start, int length, int consumed)
    {
        Start = start;
        Length = length;
        Consumed = consumed;
        Refusal = null;
        Reason = null;
    }

    public Framed(byte[] refusal, string reason)
    {
        Start = Length = Consumed = 0;
        Refusal = refusal;
        Reason = reason;
    }
}
