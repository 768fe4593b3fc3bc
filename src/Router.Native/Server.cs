using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Router.Core;

namespace Router.Native;

/// <summary>
/// The tcp_table listener: one async loop per persistent connection, lock-step (a reply is
/// written before the next line is read). The loop only frames bytes into lines and writes
/// the bytes the router returns; parsing and encoding are the core's.
/// </summary>
public sealed partial class Server : IDisposable
{
    /// <summary>Longest request line, without its LF.</summary>
    public const int MaxRequest = TcpTable.MaxLine;
    private const int BufferSize = 2 * MaxRequest;
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(15);

    private readonly Socket _listener;
    private readonly RouterService _router;
    private readonly ILogger _log;
    private readonly int _timeoutMs;
    private int _open;

    public EndPoint LocalEndPoint => _listener.LocalEndPoint!;

    public int OpenConnections => Volatile.Read(ref _open);

    private Server(Socket listener, RouterService router, int timeoutSeconds, ILogger log)
    {
        _listener = listener;
        _router = router;
        _timeoutMs = timeoutSeconds > 0 ? (int)Math.Min(timeoutSeconds * 1000L, int.MaxValue) : 0;
        _log = log;
    }

    /// <summary>Binds and listens; throws SocketException when the address cannot be had.</summary>
    public static Server Listen(IPAddress address, int port, RouterService router, int timeoutSeconds, ILogger log)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
            // No ReuseAddress: on Linux .NET maps it to SO_REUSEPORT too, which would let a
            // second router share the port instead of failing. .NET sets SO_REUSEADDR itself.
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(512);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new Server(socket, router, timeoutSeconds, log);
    }

    /// <summary>Accepts until <paramref name="stop"/>, then lets open connections finish what they have read.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException e)
            {
                // EMFILE and friends: keep the listener, try again shortly.
                _log.LogError("accept failed: {Reason}", Cli.Describe(e));
                try { await Task.Delay(100, stop).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                continue;
            }
            client.NoDelay = true;
            _ = _socketmapName is null ? ServeAsync(client, stop) : ServeSocketmapAsync(client, _socketmapName, stop);
        }
        _listener.Dispose();

        var deadline = DateTime.UtcNow + DrainLimit;
        while (Volatile.Read(ref _open) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10).ConfigureAwait(false);
    }

    private async Task ServeAsync(Socket socket, CancellationToken stop)
    {
        Interlocked.Increment(ref _open);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        var idle = CancellationTokenSource.CreateLinkedTokenSource(stop);
        EndPoint? peer = null;
        try
        {
            peer = socket.RemoteEndPoint;
            if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("connection from {Peer}", peer);
            int start = 0, end = 0, scanned = 0;
            while (true)
            {
                int newline = buffer.AsSpan(scanned, end - scanned).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    int lineEnd = scanned + newline;
                    int length = lineEnd - start;
                    if (length > 0 && buffer[lineEnd - 1] == (byte)'\r') length--; // CRLF tolerated
                    if (length > MaxRequest)
                    {
                        await RefuseLongLine(socket).ConfigureAwait(false);
                        break;
                    }
                    var pending = _router.HandleAsync(buffer.AsSpan(start, lineEnd - start));
                    byte[] reply = pending.IsCompletedSuccessfully ? pending.Result : await pending.ConfigureAwait(false);
                    await SendAllAsync(socket, reply).ConfigureAwait(false);
                    start = scanned = lineEnd + 1;
                    continue;
                }
                scanned = end;
                if (end - start > MaxRequest + 1) // + 1: room for the CR of a CRLF
                {
                    await RefuseLongLine(socket).ConfigureAwait(false);
                    break;
                }
                if (stop.IsCancellationRequested) break;
                if (start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    scanned -= start;
                    start = 0;
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
                    read = await socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    if (!stop.IsCancellationRequested && _log.IsEnabled(LogLevel.Debug))
                        _log.LogDebug("closing idle connection from {Peer}", peer);
                    break;
                }
                if (_timeoutMs > 0) idle.CancelAfter(Timeout.Infinite);
                if (read == 0)
                {
                    if (end > start && _log.IsEnabled(LogLevel.Debug))
                        _log.LogDebug("connection from {Peer} closed with an unterminated line", peer);
                    break;
                }
                end += read;
            }
        }
        catch (SocketException e)
        {
            if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("connection from {Peer}: {Reason}", peer, Cli.Describe(e));
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception e)
        {
            _log.LogError("connection from {Peer} failed: {Type}: {Message}", peer, e.GetType().Name, e.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            idle.Dispose();
            try { socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
            socket.Dispose();
            Interlocked.Decrement(ref _open);
            if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("connection from {Peer} closed", peer);
        }
    }

    private static readonly byte[] LineTooLong =
        TcpTable.encode(TcpTable.Reply.NewTempFail("request line longer than " + MaxRequest + " bytes"));

    private async Task RefuseLongLine(Socket socket)
    {
        _log.LogWarning("request line longer than {Max} bytes from {Peer}: closing", MaxRequest, socket.RemoteEndPoint);
        await SendAllAsync(socket, LineTooLong).ConfigureAwait(false);
    }

    private static async ValueTask SendAllAsync(Socket socket, byte[] bytes)
    {
        int sent = 0;
        while (sent < bytes.Length)
            sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None).ConfigureAwait(false);
    }

    public void Dispose() => _listener.Dispose();
}
