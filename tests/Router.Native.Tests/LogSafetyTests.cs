using System.Text.RegularExpressions;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// Log safety: a key holding control characters never splits or forges a line, in
/// the console log (-v prints every key) or the routing log.
/// </summary>
public class LogSafetyTests
{
    /// <summary>"2026-01-31 12:00:00 dbug: category[0] message", the console logger's single-line form.</summary>
    private static readonly Regex ConsoleLine = new(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (trce|dbug|info|warn|fail|crit): \S+\[\d+\] ");

    private static readonly Regex RoutingLine = new(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO +[^\t]*\t[^\t]*\t[^\t]*$");

    /// <summary>Keys as Postfix encodes them: CR, LF, VT, FF, ESC, TAB, DEL, NEL (U+0085), U+2028, U+2029.</summary>
    private static readonly string[] EvilKeys =
    {
        "a%0Ab@other.test",
        "a%0D%0A2026-01-01%2000:00:00%20info:%20router[0]%20forged@other.test",
        "a%0B%0C%1B[31mred%09tab%7Fdel@other.test",
        "a%C2%85nel@other.test",
        "a%E2%80%A8ls%E2%80%A9ps@other.test",
        "a%0D@example.com",
    };

    [Fact]
    public void TheConsoleLogStaysOneLinePerMessage()
    {
        using var dns = Dns();
        using var dir = new TempDir();
        using var router = RouterProcess.Start("config:\n  log_file: " + dir.File("routing.log") + "\n" + Config(DefaultAt.First), dns, dir, "-v");
        using (var c = router.Connect())
        {
            foreach (var key in EvilKeys) Assert.Matches("^[25]00 ", c.Get(key));
            // Unparsable requests are logged too (with their reason, not their bytes).
            c.Send("get a%zz\r\n");
            Assert.StartsWith("400 ", c.ReadLine());
        }
        Assert.Equal(0, router.Terminate());
        // The capture splits on CR as well as LF: a raw CR or LF in a message shows up as a stray line.
        var lines = router.Stderr.Split('\n').Where(l => l.Length > 0).ToList();
        Assert.NotEmpty(lines);
        foreach (var line in lines)
            Assert.True(ConsoleLine.IsMatch(line), "not a log line: " + Peer.Show(System.Text.Encoding.UTF8.GetBytes(line)));
        var all = router.Stderr;
        foreach (var c in new[] { '\u000b', '\u000c', '\u001b', '\u007f', '\u0085', '\u2028', '\u2029', '\t' })
            Assert.DoesNotContain(c, all);
        // The keys are there, escaped, each on the line of its lookup.
        Assert.Contains(@"a\x0D\x0A2026-01-01 00:00:00 info: router[0] forged@other.test", all);
        Assert.Contains(@"a\x0Ab@other.test", all);
        Assert.Contains(@"a\u2028ls\u2029ps@other.test", all);
    }

    [Fact]
    public void TheRoutingLogHasOneLinePerLookupWhateverTheKeyHolds()
    {
        using var dns = Dns();
        using var dir = new TempDir();
        var log = dir.File("routing.log");
        var socketmapPort = RouterProcess.FreePort();
        using var router = RouterProcess.Start("config:\n  log_file: " + log + "\n" + Config(DefaultAt.First), dns, dir,
            "--socketmap-port", socketmapPort.ToString());
        using (var c = router.Connect())
            foreach (var key in EvilKeys) Assert.Matches("^[25]00 ", c.Get(key));
        // socketmap keys arrive raw: the control characters themselves, not %XX.
        using (var s = SocketmapClient.Connect(socketmapPort))
        {
            Assert.Equal("NOTFOUND ", s.Lookup("raw\r\nline\u2028break\u0085\t@other.test"));
            Assert.StartsWith("OK ", s.Lookup("raw\n\u001b@example.com"));
        }
        Assert.Equal(0, router.Terminate());
        var text = File.ReadAllText(log);
        var lines = text.TrimEnd('\n').Split('\n');
        Assert.Equal(EvilKeys.Length + 2, lines.Length);
        foreach (var line in lines) Assert.Matches(RoutingLine, line);
        foreach (var c in new[] { '\r', '\u000b', '\u000c', '\u001b', '\u007f', '\u0085', '\u2028', '\u2029' })
            Assert.DoesNotContain(c, text);
        Assert.Contains("raw%0D%0Aline%E2%80%A8break%C2%85%09@other.test", text);
    }
}
