using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// The routing log becomes unwritable (its directory deleted, the disk full, the
/// permission taken): the router logs the error (rate-limited), keeps answering, keeps the
/// lines it could not write, and writes them once the file can be written again.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class RoutingLogFaultTests
{
    private const string Vip = "200 smtp:[192.0.2.4]:587";

    private static readonly Regex Line = new(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO +[^\t]*\t[^\t]*\t[^\t]*|WARNING +routing log full: \d+ lines dropped)$");

    [DllImport("libc", SetLastError = true)]
    private static extern uint geteuid();

    [DllImport("libc", SetLastError = true, EntryPoint = "chown")]
    private static extern int Chown(string path, int owner, int group);

    private static bool IsRoot => geteuid() == 0;

    private static string Text(string path) => File.Exists(path) ? File.ReadAllText(path) : "";

    private static void AssertWholeLines(string text)
    {
        Assert.True(text.Length == 0 || text.EndsWith('\n'), "the log ends inside a line: " + Peer.Show(System.Text.Encoding.UTF8.GetBytes(text[^Math.Min(200, text.Length)..])));
        foreach (var l in text.TrimEnd('\n').Split('\n').Where(l => l.Length > 0))
            Assert.True(Line.IsMatch(l), "not a whole routing log line: " + Peer.Show(System.Text.Encoding.UTF8.GetBytes(l)));
    }

    private static int ErrorLines(string stderr) => Regex.Matches(stderr, @"fail: routing-log\[0\] routing log ").Count;

    private static LaunchedRouter Start(TempDir dir, FakeDns dns, string logPath, out int port, IReadOnlyList<string>? wrapper = null)
    {
        var config = dir.Write("router.yaml", "config:\n  log_file: " + logPath + "\n" + Config(DefaultAt.First));
        port = RouterProcess.FreePort();
        return new LaunchedRouter(new[] { "-c", config, "-H", "127.0.0.1", "-p", port.ToString(), "--dns-server", dns.Endpoint },
            IPAddress.Loopback, port, wrapper);
    }

    [Fact]
    public void ADeletedDirectoryIsReportedAndTheLinesMeanwhileAreWrittenOnceItIsBack()
    {
        using var dns = Dns();
        using var dir = new TempDir();
        var logs = Path.Combine(dir.Path, "logs");
        Directory.CreateDirectory(logs);
        var log = Path.Combine(logs, "routing.log");
        using var router = Start(dir, dns, log, out var port);
        using var c = Peer.Connect(port);
        string Get(string key) { c.Send("get " + key + "\n"); return c.ReadLine() ?? "closed"; }

        Assert.Equal(Vip, Get("vip@example.com"));
        Assert.True(Eventually.True(() => Text(log).Contains("vip@example.com")), router.Describe());

        Directory.Delete(logs, recursive: true);
        // Lines written in the moment before the router notices go to the deleted file; it
        // notices within a second and says so.
        var gap = 0;
        Assert.True(Eventually.True(() =>
        {
            Assert.Equal("500 NO%20RESULT", Get("gap" + gap++ + "@other.test"));
            return ErrorLines(router.Stderr) >= 1;
        }), "no error after the log's directory was deleted\n" + router.Describe());
        Assert.Contains("no such file or directory", router.Stderr);

        // Still answering, for seconds: the lines wait.
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal("500 NO%20RESULT", Get("during" + i + "@other.test"));
            Thread.Sleep(100);
        }
        Assert.True(ErrorLines(router.Stderr) <= 2, "the error is not rate-limited:\n" + router.Stderr);

        Directory.CreateDirectory(logs);
        Assert.StartsWith("200 relay:", Get("after@example.com"));
        Assert.True(Eventually.True(() => Text(log).Contains("after@example.com")), "the log did not resume\n" + router.Describe());
        var text = Text(log);
        for (var i = 0; i < 30; i++) Assert.Contains("during" + i + "@other.test\t", text);
        AssertWholeLines(text);
        Assert.True(Eventually.True(() => router.Stderr.Contains("is written again")), router.Describe());
        Assert.False(router.HasExited);
    }

    [Fact]
    public void AFullDiskIsReportedAndNothingIsLostOrCutOnceThereIsRoomAgain()
    {
        using var dns = Dns();
        using var dir = new TempDir();
        var disk = Path.Combine(dir.Path, "disk");
        Directory.CreateDirectory(disk);
        // A real full file system where we may mount one (root): a 64 KiB tmpfs. Elsewhere
        // the log is a symlink to /dev/full, where every write fails with ENOSPC.
        var mounted = IsRoot && Run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", disk) == 0;
        var log = Path.Combine(disk, "routing.log");
        var filler = Path.Combine(disk, "filler");
        try
        {
            if (!mounted) File.CreateSymbolicLink(log, "/dev/full");
            using var router = Start(dir, dns, log, out var port);
            using var c = Peer.Connect(port);
            string Get(string key) { c.Send("get " + key + "\n"); return c.ReadLine() ?? "closed"; }

            if (mounted)
            {
                Assert.StartsWith("200 relay:", Get("before@example.com"));
                Assert.True(Eventually.True(() => Text(log).Contains("before@example.com")), router.Describe());
                // Fill the disk to the last byte, then give back a few pages: some lines fit,
                // then one is cut by the full disk, and the rest fail.
                using (var f = new FileStream(filler, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
                {
                    var chunk = new byte[1024];
                    try { while (true) { f.Write(chunk); f.Flush(); } }
                    catch (IOException) { }
                    f.SetLength(Math.Max(0, f.Length - 6144));
                }
            }
            for (var i = 0; i < 200; i++)
                Assert.Equal("500 NO%20RESULT", Get("full" + i + "-" + new string('x', 100) + "@other.test"));
            Assert.True(Eventually.True(() => ErrorLines(router.Stderr) >= 1), "no error for a full disk\n" + router.Describe());
            Assert.Contains("no space left on device", router.Stderr);
            Assert.Equal(Vip, Get("vip@example.com"));

            // Room again.
            if (mounted) File.Delete(filler);
            else
            {
                File.Delete(log);
                File.WriteAllText(log, "");
            }
            Assert.StartsWith("200 relay:", Get("after@example.com"));
            Assert.True(Eventually.True(() => Text(log).Contains("after@example.com")), "the log did not resume\n" + router.Describe());
            var text = Text(log);
            // Each lookup exactly once: what a failed write left was taken back before the batch went again.
            for (var i = 0; i < 200; i++)
                Assert.True(Regex.Matches(text, "\\tfull" + i + "-|INFO +full" + i + "-").Count == 1, "full" + i + " is not in the log exactly once");
            if (mounted) Assert.Single(Regex.Matches(text, "before@example\\.com"));
            AssertWholeLines(text);
            Assert.Equal(0, router.Terminate());
        }
        finally
        {
            if (mounted) Run("umount", "-l", disk);
        }
    }

    [Fact]
    public void ARemovedPermissionIsReportedAndTheLogResumesWhenItIsBack()
    {
        using var dns = Dns();
        using var dir = new TempDir();
        var logs = Path.Combine(dir.Path, "logs");
        Directory.CreateDirectory(logs);
        var log = Path.Combine(logs, "routing.log");
        // Root ignores file permissions: run the router as nobody then.
        string[]? wrapper = null;
        if (IsRoot)
        {
            Assert.True(File.Exists("/usr/bin/setpriv") || File.Exists("/bin/setpriv"),
                "running as root, the test needs setpriv (util-linux) to run the router as nobody");
            wrapper = new[] { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups" };
            Assert.Equal(0, Chown(logs, 65534, 65534));
        }
        using var router = Start(dir, dns, log, out var port, wrapper);
        using var c = Peer.Connect(port);
        string Get(string key) { c.Send("get " + key + "\n"); return c.ReadLine() ?? "closed"; }
        Assert.StartsWith("200 relay:", Get("before@example.com"));
        Assert.True(Eventually.True(() => Text(log).Contains("before@example.com")), router.Describe());

        // Rotated away, and the directory made read-only: the new file cannot be created.
        File.Move(log, log + ".1");
        File.SetUnixFileMode(logs, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var n = 0;
        Assert.True(Eventually.True(() =>
        {
            Assert.Equal("500 NO%20RESULT", Get("denied" + n++ + "@other.test"));
            return ErrorLines(router.Stderr) >= 1;
        }), "no error after the permission was removed\n" + router.Describe());
        Assert.Contains("permission denied", router.Stderr);

        File.SetUnixFileMode(logs, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        Assert.StartsWith("200 relay:", Get("after@example.com"));
        Assert.True(Eventually.True(() => Text(log).Contains("after@example.com")), "the log did not resume\n" + router.Describe());
        // Whatever went to the rotated file before the router noticed stays there; the rest is in the new one.
        var both = Text(log + ".1") + Text(log);
        for (var i = 0; i < n; i++) Assert.Contains("denied" + i + "@other.test\t", both);
        AssertWholeLines(Text(log));
        AssertWholeLines(Text(log + ".1"));
    }

    private static int Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            p.WaitForExit(30000);
            return p.HasExited ? p.ExitCode : -1;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }
}
