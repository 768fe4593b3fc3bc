using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Router.Native.Tests;

/// <summary>
/// A raw TCP peer for the robustness tests: any address family, any source
/// address, bytes as given, half-close, abort with a reset, and reads that report an end
/// of stream instead of throwing. Bytes map to chars one to one (Latin-1).
/// </summary>
public sealed class Peer : IDisposable
{
    private readonly Socket socket;
    private readonly List<byte> pending = new();

    public bool Closed { get; private set; }

    private Peer(Socket socket) => this.socket = socket;

    /// <summary>Connects to host:port, from <paramref name="from"/> when given (e.g. 127.0.0.2).</summary>
    public static Peer Connect(IPAddress host, int port, IPAddress? from = null)
    {
        var s = new Socket(host.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (from != null) s.Bind(new IPEndPoint(from, 0));
            s.Connect(host, port);
        }
        catch
        {
            s.Dispose();
            throw;
        }
        return new Peer(s);
    }

    public static Peer Connect(int port) => Connect(IPAddress.Loopback, port);

    public Socket Socket => socket;

    /// <summary>Sends every byte; false when the router has closed or reset the connection.</summary>
    public bool Send(byte[] bytes)
    {
        try
        {
            var sent = 0;
            while (sent < bytes.Length) sent += socket.Send(bytes, sent, bytes.Length - sent, SocketFlags.None);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    public bool Send(string latin1) => Send(Encoding.Latin1.GetBytes(latin1));

    /// <summary>Half-close: no more requests, replies still wanted.</summary>
    public void ShutdownSend()
    {
        try { socket.Shutdown(SocketShutdown.Send); } catch (SocketException) { }
    }

    /// <summary>Closes with a reset (SO_LINGER 0), as a crashing client would.</summary>
    public void Abort()
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        Closed = true;
    }

    /// <summary>Reads more bytes into the pending list; false on end of stream, reset or time-out.</summary>
    private bool Fill(TimeSpan timeout, out bool timedOut)
    {
        timedOut = false;
        if (Closed) return false;
        var buffer = new byte[16384];
        try
        {
            if (!socket.Poll(timeout, SelectMode.SelectRead))
            {
                timedOut = true;
                return false;
            }
            var n = socket.Receive(buffer);
            if (n == 0)
            {
                Closed = true;
                return false;
            }
            pending.AddRange(buffer.AsSpan(0, n).ToArray());
            return true;
        }
        catch (SocketException)
        {
            Closed = true;
            return false;
        }
        catch (ObjectDisposedException)
        {
            Closed = true;
            return false;
        }
    }

    /// <summary>One reply line without its LF; null when the connection ends first. Throws on time-out.</summary>
    public string? ReadLine(TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var lf = pending.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                var line = Encoding.Latin1.GetString(pending.GetRange(0, lf).ToArray());
                pending.RemoveRange(0, lf + 1);
                return line;
            }
            var left = limit - sw.Elapsed;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException("no reply line within " + limit.TotalSeconds + " s; got so far: " + Show(pending.ToArray()));
            if (!Fill(left, out var timedOut) && !timedOut) return null;
        }
    }

    /// <summary>Everything until the router closes; throws when it is still open after the time-out.</summary>
    public byte[] ReadToEnd(TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var sw = Stopwatch.StartNew();
        while (!Closed)
        {
            var left = limit - sw.Elapsed;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException("the router kept the connection open for " + limit.TotalSeconds + " s; got: " + Show(pending.ToArray()));
            Fill(left, out _);
        }
        var all = pending.ToArray();
        pending.Clear();
        return all;
    }

    /// <summary>True when the router closes (or resets) the connection within the time-out; data meanwhile is kept.</summary>
    public bool WaitForClose(TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!Closed)
        {
            var left = timeout - sw.Elapsed;
            if (left <= TimeSpan.Zero) return false;
            Fill(left, out _);
        }
        return true;
    }

    public static string Show(byte[] bytes)
    {
        var text = Encoding.Latin1.GetString(bytes.Length > 300 ? bytes.AsSpan(0, 300).ToArray() : bytes);
        var sb = new StringBuilder("\"");
        foreach (var c in text) sb.Append(c < 0x20 || c >= 0x7f ? "\\x" + ((int)c).ToString("X2") : c.ToString());
        if (bytes.Length > 300) sb.Append("...(" + bytes.Length + " bytes)");
        return sb.Append('"').ToString();
    }

    public void Dispose() => socket.Dispose();
}

/// <summary>
/// The router started with exactly the arguments given (any --host), ready once the given
/// address accepts. For the tests that RouterProcess's fixed "-H 127.0.0.1" does not fit.
/// </summary>
public sealed class LaunchedRouter : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder stdout = new();
    private readonly StringBuilder stderr = new();

    public IReadOnlyList<string> Arguments { get; }
    public int Port { get; }
    public string Stdout { get { lock (stdout) return stdout.ToString(); } }
    public string Stderr { get { lock (stderr) return stderr.ToString(); } }
    public int Pid => process.Id;
    public bool HasExited => process.HasExited;

    /// <param name="wrapper">A command that runs the binary, e.g. setpriv to drop root; null runs it directly.</param>
    public LaunchedRouter(IReadOnlyList<string> args, IPAddress probe, int port, IReadOnlyList<string>? wrapper = null)
    {
        Arguments = args;
        Port = port;
        process = wrapper == null ? RouterProcess.Spawn(args, stdout, stderr) : SpawnWrapped(wrapper, args);
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                process.WaitForExit();
                throw new InvalidOperationException("the router exited with " + process.ExitCode + " before accepting\n" + Describe());
            }
            try
            {
                using var s = new Socket(probe.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                s.Connect(probe, port);
                return;
            }
            catch (SocketException) when (sw.Elapsed < TimeSpan.FromSeconds(30))
            {
                Thread.Sleep(50);
            }
        }
    }

    private Process SpawnWrapped(IReadOnlyList<string> wrapper, IReadOnlyList<string> args)
    {
        var psi = new ProcessStartInfo(wrapper[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in wrapper.Skip(1)) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(RouterBinary.Path);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("JOURNAL_STREAM");
        psi.Environment.Remove("NOTIFY_SOCKET");
        var p = new Process { StartInfo = psi, EnableRaisingEvents = true };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.Append(e.Data).Append('\n'); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.Append(e.Data).Append('\n'); };
        p.Start();
        p.StandardInput.Close();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    public TcpTableClient Connect() => TcpTableClient.Connect(Port);

    public string Describe() =>
        "args: " + string.Join(' ', Arguments) + "\n--- stdout ---\n" + Stdout + "\n--- stderr ---\n" + Stderr;

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SysKill(int pid, int sig);

    public int Terminate()
    {
        SysKill(process.Id, RouterProcess.SIGTERM);
        if (!process.WaitForExit(TimeSpan.FromSeconds(30))) throw new TimeoutException("no exit after SIGTERM\n" + Describe());
        process.WaitForExit();
        return process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException) { }
        process.Dispose();
    }
}

/// <summary>Waiting for something the router does in its own time, without timing it.</summary>
public static class Eventually
{
    /// <summary>Polls until the condition holds; false when it still does not after the limit.</summary>
    public static bool True(Func<bool> condition, TimeSpan? limit = null)
    {
        var sw = Stopwatch.StartNew();
        var max = limit ?? TimeSpan.FromSeconds(30);
        while (sw.Elapsed < max)
        {
            if (condition()) return true;
            Thread.Sleep(50);
        }
        return condition();
    }

    /// <summary>/proc/PID/status VmRSS in KiB.</summary>
    public static long ResidentKiB(int pid)
    {
        foreach (var line in File.ReadAllLines("/proc/" + pid + "/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Substring(6).Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        throw new InvalidOperationException("no VmRSS for " + pid);
    }
}
