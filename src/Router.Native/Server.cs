using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Router.Core;

namespace Router.Native;

/// <summary>
/// A listener and its connections: one async loop per persistent connection, lock-step (a
/// reply is written before the next request is read). The loop only feeds bytes to the
/// core's framer and writes the bytes the router returns; framing, parsing and encoding are
/// the core's. The same loop serves tcp_table lines and socketmap netstrings
/// (Server.Socketmap.cs).
///
/// What a peer can cost (issue 7): one slot of <see cref="Gate"/> (--max-connections,
/// --allow), one buffer of <see cref="BufferSize"/> bytes (a tcp_table line is refused past
/// 4096 bytes, a netstring past 10000), and its own loop. A peer that stops sending, or stops
/// reading replies, is dropped after the idle timeout; a slow one holds only itself up.
/// </summary>
public sealed partial class Server : IDisposable
{
    /// <summary>Longest request line, without its LF.</summary>
    public const int MaxRequest = TcpTable.MaxLine;
    /// <summary>The unread bytes a tcp_table connection may hold: a whole line needs MaxRequest + 2.</summary>
    private const int BufferSize = 2 * MaxRequest;
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(15);
    /// <summary>How long a closing connection keeps reading (and dropping) what the peer still sends.</summary>
    private static readonly TimeSpan LingerLimit = TimeSpan.FromSeconds(2);
    private const int LingerBytes = 1 << 20;

    private readonly Socket _listener;
    private readonly RouterService _router;
    private readonly ILogger _log;
    private readonly int _timeoutMs;
    private readonly LogThrottle _acceptErrors = new(TimeSpan.FromSeconds(10));
    private int _open;

    public EndPoint LocalEndPoint => _listener.LocalEndPoint!;

    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>
    /// Who may connect and how many at once. Share one gate between the listeners so that
    /// --max-connections counts both; set it before <see cref="RunAsync"/>.
    /// </summary>
    public ConnectionGate Gate { get; set; }

    private Server(Socket listener, RouterService router, int timeoutSeconds, ILogger log)
    {
        _listener = listener;
        _router = router;
        _timeoutMs = timeoutSeconds > 0 ? (int)Math.Min(timeoutSeconds * 1000L, int.MaxValue) : 0;
        _log = log;
        Gate = new ConnectionGate(Array.Empty<Allow.Network>(), Options.DefaultMaxConnections, log);
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

    private string Protocol => _socketmapName is null ? "tcp_table" : "socketmap";

    /// <summary>EMFILE and friends: the listener stays and tries again; one log line per 10 s.</summary>
    private void AcceptFailed(SocketException e)
    {
        long events = _acceptErrors.Count();
        if (events > 0) _log.LogError("accept failed: {Reason}{More}", Cli.Describe(e), LogThrottle.More(events));
    }

    /// <summary>Accepts until <paramref name="stop"/>, then lets open connections finish what they have read.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var gate = Gate;
        while (await Accepting.NextAsync(_listener, AcceptFailed, stop).ConfigureAwait(false) is { } client)
        {
            bool admitted;
            try
            {
                admitted = gate.TryAdmit(client, Protocol);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                admitted = false; // reset before we looked at it
            }
            if (!admitted)
            {
                client.Dispose();
                continue;
            }
            client.NoDelay = true;
            _ = ServeAsync(client, gate, stop);
        }
        _listener.Dispose();

        var deadline = DateTime.UtcNow + DrainLimit;
        while (Volatile.Read(ref _open) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10).ConfigureAwait(false);
    }

    /// <summary>What the framer made of the unread bytes: a request, a refusal, or "read more".</summary>
    private readonly struct Framed
    {
        /// <summary>The request: buffer[Start .. Start + Length - 1].</summary>
        public readonly int Start, Length;
        /// <summary>Bytes the request takes off the front; 0 for "read more" and for a refusal.</summary>
        public readonly int Consumed;
        /// <summary>The reply that ends the connection: the framing is lost.</summary>
        public readonly byte[]? Refusal;
        public readonly string? Reason;

        public Framed(int start, int length, int consumed) { Start = start; Length = length; Consumed = consumed; Refusal = null; Reason = null; }
        public Framed(byte[] refusal, string reason) { Start = Length = Consumed = 0; Refusal = refusal; Reason = reason; }
    }

    private static readonly byte[] LineTooLong =
        TcpTable.encode(TcpTable.Reply.NewTempFail("request line longer than " + MaxRequest + " bytes"));

    private Framed Frame(ReadOnlySpan<byte> unread)
    {
        if (_socketmapName is not null) return FrameNetstring(unread);
        var frame = TcpTable.frame(unread);
        if (frame.IsLine) return new Framed(0, frame.length, frame.length + 1);
        if (frame.IsTooLong) return new Framed(LineTooLong, "request line longer than " + MaxRequest + " bytes");
        return default;
    }

    private ValueTask<byte[]> Handle(ReadOnlySpan<byte> request, EndPoint? peer) =>
        _socketmapName is null ? _router.HandleAsync(request) : Answer(request, _socketmapName, peer);

    /// <summary>
    /// One connection, lock-step. Every request read is answered, shutdown included: on stop
    /// the loop answers what has arrived, reads no more, and closes only between replies.
    /// </summary>
    private async Task ServeAsync(Socket socket, ConnectionGate gate, CancellationToken stop)
    {
        Interlocked.Increment(ref _open);
        int size = _socketmapName is null ? BufferSize : SocketmapBufferSize;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(size);
        var idle = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var sending = new SendGuard(_timeoutMs);
        EndPoint? peer = null;
        bool linger = false; // we close first: drain the peer's bytes so the close does not reset
        string protocol = Protocol;
        try
        {
            peer = socket.RemoteEndPoint;
            if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("{Protocol} connection from {Peer}", protocol, peer);
            int start = 0, end = 0;
            bool lastRead = false;
            while (true)
            {
                var framed = Frame(buffer.AsSpan(start, end - start));
                if (framed.Consumed > 0)
                {
                    var pending = Handle(buffer.AsSpan(start + framed.Start, framed.Length), peer);
                    byte[] reply = pending.IsCompletedSuccessfully ? pending.Result : await pending.ConfigureAwait(false);
                    await sending.SendAllAsync(socket, reply).ConfigureAwait(false);
                    start += framed.Consumed;
                    continue;
                }
                if (framed.Refusal is { } refusal)
                {
                    _log.LogWarning("{Protocol} connection from {Peer}: {Reason}; closing", protocol, peer, framed.Reason);
                    await sending.SendAllAsync(socket, refusal).ConfigureAwait(false);
                    linger = true;
                    break;
                }

                if (start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }
                if (end == buffer.Length)
                {
                    // Cannot happen: the framers decide within far fewer bytes than the buffer holds.
                    _log.LogWarning("{Protocol} request from {Peer} overflows the buffer; closing", protocol, peer);
                    linger = true;
                    break;
                }

                int read;
                if (stop.IsCancellationRequested)
                {
                    // Shutting down: answer what already arrived (one last read of what the
                    // kernel holds), then close between two replies.
                    if (lastRead || socket.Available == 0)
                    {
                        linger = true;
                        break;
                    }
                    lastRead = true;
                    read = socket.Receive(buffer, end, Math.Min(socket.Available, buffer.Length - end), SocketFlags.None);
                }
                else
                {
                    if (!idle.TryReset())
                    {
                        // The idle timer fired while a request was being answered: not idle.
                        idle.Dispose();
                        idle = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    }
                    if (_timeoutMs > 0) idle.CancelAfter(_timeoutMs);
                    try
                    {
                        read = await socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, idle.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        if (stop.IsCancellationRequested) continue; // answer what is here, then close
                        if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("closing idle {Protocol} connection from {Peer}", protocol, peer);
                        linger = true;
                        break;
                    }
                    if (_timeoutMs > 0) idle.CancelAfter(Timeout.Infinite);
                }
                if (read == 0)
                {
                    if (end > start && _log.IsEnabled(LogLevel.Debug))
                        _log.LogDebug("{Protocol} connection from {Peer} closed inside a request", protocol, peer);
                    break;
                }
                end += read;
            }
        }
        catch (OperationCanceledException)
        {
            // Only the send guard cancels here: the peer stopped reading its replies.
            if (_log.IsEnabled(LogLevel.Debug))
                _log.LogDebug("{Protocol} connection from {Peer} read no reply for the idle timeout; closing", protocol, peer);
        }
        catch (SocketException e)
        {
            if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("{Protocol} connection from {Peer}: {Reason}", protocol, peer, Cli.Describe(e));
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception e)
        {
            _log.LogError("{Protocol} connection from {Peer} failed: {Type}: {Message}", protocol, peer, e.GetType().Name, e.Message);
        }
        finally
        {
            idle.Dispose();
            sending.Dispose();
            if (linger) await LingerAsync(socket, buffer).ConfigureAwait(false);
            ArrayPool<byte>.Shared.Return(buffer);
            try { socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
            socket.Dispose();
            gate.Release();
            Interlocked.Decrement(ref _open);
            if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("{Protocol} connection from {Peer} closed", protocol, peer);
        }
    }

    /// <summary>
    /// Closing first: send FIN, then read and drop what the peer still sends for a moment.
    /// Closing a socket with unread bytes sends a reset, and a reset can destroy replies the
    /// peer has not read yet (the 400 for a line too long, the last answers at shutdown).
    /// </summary>
    private static async Task LingerAsync(Socket socket, byte[] scratch)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
            using var limit = new CancellationTokenSource(LingerLimit);
            int dropped = 0;
            while (dropped < LingerBytes)
            {
                int n = await socket.ReceiveAsync(scratch.AsMemory(), SocketFlags.None, limit.Token).ConfigureAwait(false);
                if (n == 0) break;
                dropped += n;
            }
        }
        catch (OperationCanceledException) { }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
    }

    /// <summary>
    /// Writes replies; a send that does not complete at once (the peer's window is full) may
    /// wait for the idle timeout, then throws OperationCanceledException. Not linked to the
    /// stop token: a reply being written at shutdown is written whole.
    /// </summary>
    private sealed class SendGuard(int timeoutMs) : IDisposable
    {
        private CancellationTokenSource? _timer;

        public async ValueTask SendAllAsync(Socket socket, byte[] bytes)
        {
            int sent = 0;
            while (sent < bytes.Length)
            {
                var token = timeoutMs > 0 ? (_timer ??= new CancellationTokenSource()).Token : CancellationToken.None;
                var pending = socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, token);
                if (pending.IsCompletedSuccessfully)
                {
                    sent += pending.Result;
                    continue;
                }
                if (timeoutMs > 0) _timer!.CancelAfter(timeoutMs);
                sent += await pending.ConfigureAwait(false);
                if (timeoutMs > 0 && !_timer!.TryReset())
                {
                    _timer.Dispose();
                    _timer = null;
                }
            }
        }

        public void Dispose() => _timer?.Dispose();
    }

    public void Dispose() => _listener.Dispose();
}
