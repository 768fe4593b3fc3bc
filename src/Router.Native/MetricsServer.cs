using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Router.Core;

namespace Router.Native;

/// <summary>
/// --metrics ADDR:PORT: a deliberately small HTTP/1.1 responder for Prometheus (/metrics)
/// and for people (the status page at / and its figures at /status.json). One request
/// per connection, then close; the head must arrive within <see cref="RequestTimeout"/> and
/// <see cref="Http.MaxHead"/> bytes; at most <see cref="MaxClients"/> at once (more are
/// closed at once), whatever the path. Parsing and the pages are the core's (<see cref="Http"/>,
/// <see cref="Exposition"/>, <see cref="StatusPage"/>, <see cref="Status"/>). prometheus-net would have added about 4 MB to the binary
/// (HttpListener and its dependencies) for one GET.
/// </summary>
public sealed class MetricsServer : IDisposable
{
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    public const int MaxClients = 8;

    private readonly Socket _listener;
    private readonly Http.Pages _pages;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private int _clients;
    private Task? _loop;

    public EndPoint LocalEndPoint => _listener.LocalEndPoint!;

    private MetricsServer(Socket listener, Http.Pages pages, ILogger log)
    {
        _listener = listener;
        _pages = pages;
        _log = log;
    }

    /// <summary>Binds and starts serving; throws SocketException when the address cannot be had.</summary>
    public static MetricsServer Start(IPEndPoint endpoint, Http.Pages pages, ILogger log)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.Address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
            socket.Bind(endpoint);
            socket.Listen(16);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var server = new MetricsServer(socket, pages, log);
        server._loop = Task.Run(server.AcceptLoop);
        return server;
    }

    private async Task AcceptLoop()
    {
        var stop = _stop.Token;
        while (await Accepting.NextAsync(_listener, AcceptFailed, stop).ConfigureAwait(false) is { } client)
        {
            if (Interlocked.Increment(ref _clients) > MaxClients)
            {
                Interlocked.Decrement(ref _clients);
                client.Dispose();
                continue;
            }
            _ = ServeAsync(client, stop);
        }
    }

    private void AcceptFailed(SocketException e) => _log.LogError("metrics: accept failed: {Reason}", Cli.Describe(e));

    private async Task ServeAsync(Socket socket, CancellationToken stop)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
            timeout.CancelAfter(RequestTimeout);
            var buffer = new byte[Http.MaxHead];
            int length = 0, end = -1;
            while (end < 0 && length < buffer.Length)
            {
                int read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (read == 0) return;
                length += read;
                end = Http.headEnd(buffer.AsSpan(0, length));
            }
            var request = end < 0
                ? Http.Request.HeadTooLarge
                : Http.parse(System.Text.Encoding.ASCII.GetString(buffer, 0, end));
            var response = Http.encode(Http.respond(request, _pages));
            int sent = 0;
            while (sent < response.Length)
                sent += await socket.SendAsync(response.AsMemory(sent), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception e)
        {
            _log.LogError("metrics: {Type}: {Message}", e.GetType().Name, e.Message);
        }
        finally
        {
            socket.Dispose();
            Interlocked.Decrement(ref _clients);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        try { _loop?.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}
