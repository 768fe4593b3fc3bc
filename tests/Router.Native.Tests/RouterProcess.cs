using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Router.Native.Tests;

/// <summary>Where the published binary is: ROUTER_BIN, else &lt;repo&gt;/out/postfix-mx-smart-router.</summary>
public static class RouterBinary
{
    private static readonly Lazy<string> path = new(Find);

    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "build.sh")))
                dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException(
                "Cannot find the repository root (a folder with build.sh) above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The binary's path; throws (the test fails, never skips) when it is missing.</summary>
    public static string Path => path.Value;

    private static string Find()
    {
        var fromEnv = Environment.GetEnvironmentVariable("ROUTER_BIN");
        var candidate = string.IsNullOrEmpty(fromEnv)
            ? System.IO.Path.Combine(RepoRoot, "out", "postfix-mx-smart-router")
            : System.IO.Path.GetFullPath(fromEnv);
        if (!File.Exists(candidate))
            throw new FileNotFoundException(
                "The router binary is missing: " + candidate + ". Publish it first with ./build.sh " +
                "(dotnet publish src/Router.Native -c Release -o out) or point ROUTER_BIN at it.", candidate);
        return candidate;
    }
}

/// <summary>A temporary folder for one test's config, routing log and such; deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "pmsr-test-" + Guid.NewGuid().ToString("N")[..12]);

    public TempDir() => Directory.CreateDirectory(Path);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string text)
    {
        var p = File(name);
        System.IO.File.WriteAllText(p, text);
        return p;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() =>
        "exit " + ExitCode + "\n--- stdout ---\n" + Stdout + "\n--- stderr ---\n" + Stderr;
}

/// <summary>The router binary as a child process, with its output captured.</summary>
public sealed class RouterProcess : IDisposable
{
    public const int SIGTERM = 15;
    public const int SIGUSR1 = 10;

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SysKill(int pid, int sig);

    private readonly Process process;
    private readonly StringBuilder stdout;
    private readonly StringBuilder stderr;
    private readonly TempDir? ownedDir;

    public int Port { get; }
    public string ConfigPath { get; }
    public IReadOnlyList<string> Arguments { get; }

    public string Stdout { get { lock (stdout) return stdout.ToString(); } }
    public string Stderr { get { lock (stderr) return stderr.ToString(); } }
    public bool HasExited => process.HasExited;
    public int Pid => process.Id;

    private RouterProcess(Process process, int port, string configPath, IReadOnlyList<string> args, TempDir? ownedDir,
        StringBuilder stdout, StringBuilder stderr)
    {
        this.process = process;
        this.stdout = stdout;
        this.stderr = stderr;
        Port = port;
        ConfigPath = configPath;
        Arguments = args;
        this.ownedDir = ownedDir;
    }

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>Starts a process of the binary with these exact arguments and captures its output.</summary>
    public static Process Spawn(IEnumerable<string> args, StringBuilder stdout, StringBuilder stderr)
    {
        var psi = new ProcessStartInfo(RouterBinary.Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Plain console logging: a JOURNAL_STREAM inherited from a systemd session would switch it.
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

    /// <summary>
    /// Writes the config, starts the router on a free loopback port with --dns-server pointing
    /// at the fake DNS, and waits until the port accepts connections.
    /// </summary>
    public static RouterProcess Start(string yaml, FakeDns dns, params string[] extraArgs) =>
        Start(yaml, dns, null, extraArgs);

    public static RouterProcess Start(string yaml, FakeDns dns, TempDir? dir, params string[] extraArgs)
    {
        var owned = dir is null ? new TempDir() : null;
        var d = dir ?? owned!;
        var configPath = d.Write("router.yaml", yaml);
        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var port = FreePort();
            var args = new List<string>
            {
                "-c", configPath, "-H", "127.0.0.1", "-p", port.ToString(), "--dns-server", dns.Endpoint,
            };
            args.AddRange(extraArgs);
            var so = new StringBuilder();
            var se = new StringBuilder();
            var p = Spawn(args, so, se);
            var r = new RouterProcess(p, port, configPath, args, owned, so, se);
            var ready = r.WaitUntilAccepting(TimeSpan.FromSeconds(30));
            if (ready is null) return r;
            last = ready;
            r.KillQuietly();
            // A clash on the port we picked is the one failure worth a retry.
            if (!(se.ToString().Contains("in use", StringComparison.OrdinalIgnoreCase)
                  || se.ToString().Contains("EADDRINUSE", StringComparison.OrdinalIgnoreCase)))
                break;
        }
        owned?.Dispose();
        throw last!;
    }

    private Exception? WaitUntilAccepting(TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (process.HasExited)
            {
                process.WaitForExit();
                return new InvalidOperationException(
                    "The router exited with status " + process.ExitCode + " before accepting on port " + Port +
                    "\nargs: " + string.Join(' ', Arguments) + "\n--- stdout ---\n" + Stdout + "\n--- stderr ---\n" + Stderr);
            }
            try
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.Connect(IPAddress.Loopback, Port);
                return null;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }
        return new TimeoutException("The router did not accept on port " + Port + " within " + timeout.TotalSeconds +
            " s\nargs: " + string.Join(' ', Arguments) + "\n--- stdout ---\n" + Stdout + "\n--- stderr ---\n" + Stderr);
    }

    private static string Snap(StringBuilder b) { lock (b) return b.ToString(); }

    public TcpTableClient Connect() => TcpTableClient.Connect(Port);

    public void Signal(int sig)
    {
        if (SysKill(process.Id, sig) != 0)
            throw new InvalidOperationException("kill(" + process.Id + ", " + sig + ") failed: errno " + Marshal.GetLastPInvokeError());
    }

    /// <summary>Sends SIGTERM and waits for the exit status (fails the test on a hang).</summary>
    public int Terminate(TimeSpan? timeout = null)
    {
        Signal(SIGTERM);
        return WaitForExit(timeout ?? TimeSpan.FromSeconds(20));
    }

    public int WaitForExit(TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout))
            throw new TimeoutException("The router did not exit within " + timeout.TotalSeconds + " s\n" + Describe());
        process.WaitForExit(); // drains the redirected output
        return process.ExitCode;
    }

    /// <summary>Polls standard output until it satisfies the predicate; false on time-out.</summary>
    public bool WaitForOutput(Func<string, bool> predicate, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (predicate(Stdout)) return true;
            Thread.Sleep(50);
        }
        return predicate(Stdout);
    }

    public string Describe() =>
        "args: " + string.Join(' ', Arguments) + "\n--- stdout ---\n" + Stdout + "\n--- stderr ---\n" + Stderr;

    private void KillQuietly()
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
        catch (System.ComponentModel.Win32Exception) { }
    }

    public void Dispose()
    {
        KillQuietly();
        process.Dispose();
        ownedDir?.Dispose();
    }

    /// <summary>Runs the binary to completion (for --check, --explain, --simulate, bad flags ...).</summary>
    public static CliResult Run(IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var so = new StringBuilder();
        var se = new StringBuilder();
        using var p = Spawn(args, so, se);
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        if (!p.WaitForExit(limit))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit(5000);
            throw new TimeoutException("The router did not exit within " + limit.TotalSeconds + " s; args: " +
                string.Join(' ', args) + "\n--- stdout ---\n" + Snap(so) + "\n--- stderr ---\n" + Snap(se));
        }
        p.WaitForExit();
        return new CliResult(p.ExitCode, Snap(so), Snap(se));
    }
}
