using System.Buffers;
using System.Net;
using Microsoft.Extensions.Logging;
using Router.Core;

namespace Router.Native;

/// <summary>
/// The socketmap listener (issue 8): the same accept loop, idle timeout and drain as the
/// tcp_table listener, with a netstring connection loop in place of the line loop. Framing,
/// parsing and encoding are the core's (<see cref="Socketmap"/>); lookups go through the
/// same <see cref="RouterService"/>, so rules, WRR state, stats and the routing log are shared.
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

    private async Task ServeSocketmapAsync(System.Net.Sockets.Socket socket, string mapName, CancellationToken stop)
    {
        Interlocked.Increment(ref _open);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(SocketmapBufferSize);
        var idle = CancellationTokenSource.CreateLinkedTokenSource(stop);
        EndPoint? peer = null;
        try
        {
            peer = socket.RemoteEndPoint;
            if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("socketmap connection from {Peer}", peer);
            int start = 0, end = 0;
            while (true)
            {
                var frame = Socketmap.frame(MaxSocketmapRequest, buffer.AsSpan(start, end - start));
                if (frame.IsComplete)
                {
                    var payload = buffer.AsSpan(start + frame.start, frame.length);
                    var pending = Answer(payload, mapName, peer);
                    byte[] reply = pending.IsCompletedSuccessfully ? pending.Result : await pending.ConfigureAwait(false);
                    await SendAllAsync(socket, reply).ConfigureAwait(false);
                    start += Socketmap.consumed(frame.start, frame.length);
                    continue;
                }
                if (frame.IsMalformed)
                {
                    // The framing is lost: nothing after this point can be trusted to be a request.
                    _log.LogWarning("malformed socketmap request from {Peer}: {Reason}; closing", peer, frame.reason);
                    await SendAllAsync(socket, Socketmap.encode(Socketmap.Reply.NewPerm(frame.reason))).ConfigureAwait(false);
                    break;
                }
                if (stop.IsCancellationRequested) break;
                if (start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }
                if (end == buffer.Length)
                {
                    // Cannot happen: the framer refuses a netstring longer than the buffer holds.
                    _log.LogWarning("socketmap request from {Peer} overflows the buffer; closing", peer);
                    break;
                }

                if (!idle.TryReset())
                {
                    // The idle timer fired while a request was being answered: not idle.
                    idle.Dispose();
                    idle = CancellationTokenSource.CreateLinkedTokenSource(stop);
                }
                if (_timeoutMs > 0) idle.CancelAfter(_timeoutMs);
                int read;
                try
                {
                    read = await socket.ReceiveAsync(buffer.AsMemory(end), System.Net.Sockets.SocketFlags.None, idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    if (!stop.IsCancellationRequested && _log.IsEnabled(LogLevel.Debug))
                        _log.LogDebug("closing idle socketmap connection from {Peer}", peer);
                    break;
                }
                if (_timeoutMs > 0) idle.CancelAfter(Timeout.Infinite);
                if (read == 0)
                {
                    if (end > start && _log.IsEnabled(LogLevel.Debug))
                        _log.LogDebug("socketmap connection from {Peer} closed inside a netstring", peer);
                    break;
                }
                end += read;
            }
        }
        catch (System.Net.Sockets.SocketException e)
        {
            if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("socketmap connection from {Peer}: {Reason}", peer, Cli.Describe(e));
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception e)
        {
            _log.LogError("socketmap connection from {Peer} failed: {Type}: {Message}", peer, e.GetType().Name, e.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            idle.Dispose();
            try { socket.Shutdown(System.Net.Sockets.SocketShutdown.Both); }
            catch (System.Net.Sockets.SocketException) { }
            catch (ObjectDisposedException) { }
            socket.Dispose();
            Interlocked.Decrement(ref _open);
            if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("socketmap connection from {Peer} closed", peer);
        }
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
