using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Router.Core;

namespace Router.Native;

/// <summary>
/// A listener and its connections. It accepts (through .NET, <see cref="Accepting"/>) and hands
/// each admitted connection to an <see cref="EventLoop"/>, which serves it lock-step (a reply is
/// written before the next request is looked at) on the loop's thread: Server.Connection.cs.
/// The connection only feeds bytes to its <see cref="IProtocol"/> and writes the bytes it
/// returns; the same listener and connection serve tcp_table lines (<see cref="TcpTableProtocol"/>)
/// and socketmap netstrings (<see cref="SocketmapProtocol"/>).
///
/// What a peer can cost: one slot of <see cref="Gate"/> (--max-connections, --allow), one
/// buffer of <see cref="IProtocol.BufferSize"/> bytes (a tcp_table line is refused past
/// 4096 bytes, a netstring past 10000), and a slot in its event loop. A peer that stops
/// sending, or stops reading replies, is dropped after the idle timeout; a slow one holds
/// only itself up, and so does one whose lookup waits for DNS.
/// </summary>
public sealed partial class Server : IDisposable
{
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(15);
    /// <summary>How long a closing connection keeps reading (and dropping) what the peer still sends.</summary>
    private static readonly TimeSpan LingerLimit = TimeSpan.FromSeconds(2);
    private const int LingerBytes = 1 << 20;

    private readonly Socket _listener;
    private readonly IProtocol _protocol;
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

    private Server(Socket listener, IProtocol protocol, int timeoutSeconds, ILogger log)
    {
        _listener = listener;
        _protocol = protocol;
        _timeoutMs = timeoutSeconds > 0 ? (int)Math.Min(timeoutSeconds * 1000L, int.MaxValue) : 0;
        _log = log;
        Gate = new ConnectionGate(Array.Empty<Allow.Network>(), Options.DefaultMaxConnections, log);
    }

    /// <summary>Binds and listens; throws SocketException when the address cannot be had.</summary>
    public static Server Listen(IPAddress address, int port, IProtocol protocol, int timeoutSeconds, ILogger log)
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
        return new Server(socket, protocol, timeoutSeconds, log);
    }

    private string Protocol => _protocol.Name;

    /// <summary>EMFILE and friends: the listener stays and tries again; one log line per 10 s.</summary>
    private void AcceptFailed(SocketException e)
    {
        long events = _acceptErrors.Count();
        if (events > 0) _log.LogError("accept failed: {Reason}{More}", Cli.Describe(e), LogThrottle.More(events));
    }

    /// <summary>Set by <see cref="RunAsync"/> before the first connection is handed over.</summary>
    private CancellationToken _stop;

    /// <summary>The listener has stopped: connections answer what has arrived, then close.</summary>
    private bool Stopping => _stop.IsCancellationRequested;

    /// <summary>Accepts until <paramref name="stop"/>, then lets open connections finish what they have read.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        _stop = stop;
        var gate = Gate;
        while (await Accepting.NextAsync(_listener, AcceptFailed, stop).ConfigureAwait(false) is { } client)
        {
            Connection? connection = null;
            try
            {
                if (gate.TryAdmit(client, Protocol))
                {
                    try
                    {
                        client.NoDelay = true;
                        client.Blocking = false; // the loop reads and writes it with non-blocking recv/send
                        var loop = EventLoop.Next(_log);
                        var peer = client.RemoteEndPoint;
                        if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("{Protocol} connection from {Peer}", Protocol, peer);
                        connection = new Connection(this, loop, client, gate, peer);
                        Interlocked.Increment(ref _open);
                        if (connection.ReadEarly()) loop.Add(connection);
                        else connection.Close();
                    }
                    catch
                    {
                        if (connection is null) gate.Release();
                        throw;
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // reset before we looked at it
            }
            if (connection is null) client.Dispose();
        }
        _listener.Dispose();
        EventLoop.ForEach(loop => loop.Stop(this));

        var deadline = DateTime.UtcNow + DrainLimit;
        while (Volatile.Read(ref _open) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10).ConfigureAwait(false);
    }

    /// <summary>A connection has closed and given its gate slot back.</summary>
    private void Closed(EndPoint? peer)
    {
        Interlocked.Decrement(ref _open);
        if (_log.IsEnabled(LogLevel.Debug)) _log.LogDebug("{Protocol} connection from {Peer} closed", Protocol, peer);
    }

    public void Dispose() => _listener.Dispose();
}
