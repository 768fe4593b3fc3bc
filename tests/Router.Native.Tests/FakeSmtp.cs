using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Router.Native.Tests;

/// <summary>What a fake SMTP server does with each connection.</summary>
public enum SmtpBehavior
{
    /// <summary>220 greeting, 250 to EHLO or LHLO, 221 to QUIT.</summary>
    Good,
    /// <summary>As Good, with multi-line 220- greeting and 250- EHLO reply.</summary>
    MultiLine,
    /// <summary>Accepts and never sends a byte (reads until the client closes).</summary>
    NeverGreets,
    /// <summary>Greets 554.</summary>
    Greets554,
    /// <summary>Greets 220, answers EHLO 550.</summary>
    RejectsEhlo,
    /// <summary>Sends one line that never ends.</summary>
    EndlessLine,
    /// <summary>Greets 220, then answers EHLO with 250- lines that never end.</summary>
    EndlessReply,
    /// <summary>Closes the connection at once.</summary>
    ClosesAtOnce,
    /// <summary>Greets 220 after a delay (<see cref="FakeSmtp.GreetingDelay"/>), then as Good.</summary>
    SlowGreeting,
}

/// <summary>
/// An SMTP server for tests on 127.0.0.1 and an ephemeral port, written by hand: each
/// connection gets the programmed behaviour. It counts connections (and the most open at
/// once) and keeps the command lines it received.
/// </summary>
public sealed class FakeSmtp : IDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _commands = new();
    private readonly List<Socket> _clients = new();
    private int _connections;
    private int _open;
    private int _maxOpen;

    public SmtpBehavior Behavior { get; set; }

    public TimeSpan GreetingDelay { get; set; } = TimeSpan.FromMilliseconds(300);

    public int Port { get; }

    public IPEndPoint Endpoint => new(IPAddress.Loopback, Port);

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>The most connections that were open at the same time.</summary>
    public int MaxOpen => Volatile.Read(ref _maxOpen);

    /// <summary>The command lines received, in order (without CR LF).</summary>
    public IReadOnlyList<string> Commands => _commands.ToArray();

    public FakeSmtp(SmtpBehavior behavior)
    {
        Behavior = behavior;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = Task.Run(AcceptLoop);
    }

    /// <summary>A loopback port nothing listens on: connections to it are refused.</summary>
    public static int ClosedPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            Interlocked.Increment(ref _connections);
            lock (_clients) _clients.Add(client);
            _ = Task.Run(() => Serve(client));
        }
    }

    private async Task Serve(Socket client)
    {
        int open = Interlocked.Increment(ref _open);
        int seen;
        while (open > (seen = Volatile.Read(ref _maxOpen)) && Interlocked.CompareExchange(ref _maxOpen, open, seen) != seen) { }
        var token = _stop.Token;
        try
        {
            var behavior = Behavior;
            switch (behavior)
            {
                case SmtpBehavior.ClosesAtOnce:
                    return;
                case SmtpBehavior.NeverGreets:
                    await foreach (var _ in Lines(client, token)) { }
                    return;
                case SmtpBehavior.Greets554:
                    await Send(client, "554 no service here\r\n", token);
                    await foreach (var _ in Lines(client, token)) { }
                    return;
                case SmtpBehavior.EndlessLine:
                    var junk = Encoding.ASCII.GetBytes(new string('x', 1024));
                    await Send(client, "220 ", token);
                    while (true) await client.SendAsync(junk, SocketFlags.None, token);
                case SmtpBehavior.SlowGreeting:
                    await Task.Delay(GreetingDelay, token);
                    break;
            }
            await Send(client, behavior == SmtpBehavior.MultiLine
                ? "220-fake.test ESMTP\r\n220-second line\r\n220 ready\r\n"
                : "220 fake.test ESMTP\r\n", token);
            await foreach (var line in Lines(client, token))
            {
                _commands.Enqueue(line);
                var verb = line.Split(' ')[0].ToUpperInvariant();
                if (verb is "EHLO" or "LHLO")
                {
                    switch (behavior)
                    {
                        case SmtpBehavior.RejectsEhlo:
                            await Send(client, "550 go away\r\n", token);
                            break;
                        case SmtpBehavior.EndlessReply:
                            while (true) await Send(client, "250-PIPELINING\r\n", token);
                        case SmtpBehavior.MultiLine:
                            await Send(client, "250-fake.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n", token);
                            break;
                        default:
                            await Send(client, "250 fake.test\r\n", token);
                            break;
                    }
                }
                else if (verb == "QUIT")
                {
                    await Send(client, "221 bye\r\n", token);
                    return;
                }
                else
                {
                    await Send(client, "502 not here\r\n", token);
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            Interlocked.Decrement(ref _open);
            client.Dispose();
        }
    }

    private static async Task Send(Socket s, string text, CancellationToken token)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        int sent = 0;
        while (sent < bytes.Length) sent += await s.SendAsync(bytes.AsMemory(sent), SocketFlags.None, token);
    }

    private static async IAsyncEnumerable<string> Lines(Socket s, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken token)
    {
        var buffer = new byte[4096];
        var pending = new StringBuilder();
        while (true)
        {
            int n = await s.ReceiveAsync(buffer, SocketFlags.None, token);
            if (n == 0) yield break;
            pending.Append(Encoding.ASCII.GetString(buffer, 0, n));
            string text = pending.ToString();
            int lf;
            while ((lf = text.IndexOf('\n')) >= 0)
            {
                yield return text[..lf].TrimEnd('\r');
                text = text[(lf + 1)..];
            }
            pending.Clear().Append(text);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_clients)
        {
            foreach (var c in _clients) c.Dispose();
        }
    }
}
