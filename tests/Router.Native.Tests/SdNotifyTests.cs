using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// systemd: READY=1 once listening, RELOADING=1 with MONOTONIC_USEC then READY=1
/// around a SIGHUP (valid or not), STOPPING=1 on SIGTERM, as datagrams to $NOTIFY_SOCKET.
/// </summary>
public class SdNotifyTests
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGettime(int clock, out Timespec ts);

    /// <summary>CLOCK_MONOTONIC (1) in microseconds, read with libc, not with .NET's Stopwatch.</summary>
    private static long MonotonicMicroseconds()
    {
        Assert.Equal(0, ClockGettime(1, out var ts));
        return ts.Seconds * 1_000_000 + ts.Nanoseconds / 1000;
    }

    private sealed class NotifySocket : IDisposable
    {
        private readonly Socket socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        private readonly TempDir dir = new();
        public string Path { get; }

        public NotifySocket()
        {
            Path = dir.File("notify");
            socket.Bind(new UnixDomainSocketEndPoint(Path));
            socket.ReceiveTimeout = 20000;
        }

        public string Receive()
        {
            var buffer = new byte[4096];
            int n = socket.Receive(buffer);
            return Encoding.UTF8.GetString(buffer, 0, n);
        }

        public void Dispose()
        {
            socket.Dispose();
            dir.Dispose();
        }
    }

    [Fact]
    public void ReadyReloadingAndStoppingReachNotifySocket()
    {
        using var dns = Dns();
        using var notify = new NotifySocket();
        using var dir = new TempDir();
        var config = dir.Write("router.yaml", Config(DefaultAt.First));
        var port = RouterProcess.FreePort();
        var psi = new ProcessStartInfo(RouterBinary.Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-c", config, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--dns-server", dns.Endpoint })
            psi.ArgumentList.Add(a);
        psi.Environment["NOTIFY_SOCKET"] = notify.Path;
        psi.Environment.Remove("JOURNAL_STREAM");
        using var p = Process.Start(psi)!;
        var stderr = new StringBuilder();
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.Append(e.Data).Append('\n'); };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        try
        {
            Assert.Equal("READY=1", notify.Receive());
            using (var c = TcpTableClient.Connect(port))
                Assert.Equal("200 " + Mx4, c.Get("vip@example.com"));

            foreach (var yaml in new[] { Config(DefaultAt.Last), "servers: [" })
            {
                File.WriteAllText(config, yaml);
                long before = MonotonicMicroseconds();
                Assert.Equal(0, SysKill(p.Id, Sighup.SIGHUP));
                var reloading = notify.Receive();
                long after = MonotonicMicroseconds();
                var lines = reloading.Split('\n');
                Assert.Equal("RELOADING=1", lines[0]);
                Assert.StartsWith("MONOTONIC_USEC=", lines[1]);
                long usec = long.Parse(lines[1]["MONOTONIC_USEC=".Length..], System.Globalization.CultureInfo.InvariantCulture);
                Assert.InRange(usec, before, after);
                var ready = notify.Receive();
                Assert.StartsWith("READY=1", ready);
            }

            Assert.Equal(0, SysKill(p.Id, RouterProcess.SIGTERM));
            Assert.Equal("STOPPING=1", notify.Receive());
            Assert.True(p.WaitForExit(20000), "no exit after SIGTERM");
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
        }
        finally
        {
            if (!p.HasExited) p.Kill();
        }
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SysKill(int pid, int sig);
}
