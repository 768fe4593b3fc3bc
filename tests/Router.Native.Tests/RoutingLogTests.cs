using System.Text.RegularExpressions;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>README "Stats and the routing log": one appended line per answered lookup.</summary>
public class RoutingLogTests
{
    private static readonly Regex Line = new(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO +(?<key>[^\t]*)\t(?<target>[^\t]*)\t(?<relay>[^\t]*)$");

    private static string ConfigWithLog(string logPath) =>
        "config:\n  log_file: " + logPath + "\n" + Config(DefaultAt.First);

    /// <summary>Runs the lookups, stops the router (which must flush), and returns the log's lines.</summary>
    private static string[] LogAfter(TempDir dir, string logPath, Action<TcpTableClient> lookups)
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(ConfigWithLog(logPath), dns, dir);
        using (var c = router.Connect()) lookups(c);
        Assert.Equal(0, router.Terminate());
        Assert.True(File.Exists(logPath), "no routing log at " + logPath + "\n" + router.Describe());
        var text = File.ReadAllText(logPath);
        Assert.EndsWith("\n", text);
        return text[..^1].Split('\n');
    }

    [Fact]
    public void EachLookupAppendsOneTabSeparatedLine()
    {
        using var dir = new TempDir();
        var log = dir.File("routing.log");
        var lines = LogAfter(dir, log, c =>
        {
            Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("vip@example.com"));
            Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));
            Assert.StartsWith("200 ", c.Get("someone@contoso.com"));
        });
        Assert.Equal(3, lines.Length);
        var m = lines.Select(l => Line.Match(l)).ToArray();
        Assert.All(m.Zip(lines), p => Assert.True(p.First.Success, "not a routing log line: " + p.Second));

        Assert.Contains("vip@example.com", m[0].Groups["key"].Value);
        Assert.Equal("mx4", m[0].Groups["target"].Value);
        Assert.Equal("smtp:[192.0.2.4]:587", m[0].Groups["relay"].Value);

        Assert.Contains("someone@other.test", m[1].Groups["key"].Value);
        Assert.Equal("NO RESULT", m[1].Groups["target"].Value);
        Assert.Equal("n/a", m[1].Groups["relay"].Value);

        Assert.Contains("someone@contoso.com", m[2].Groups["key"].Value);
        Assert.Equal("good", m[2].Groups["target"].Value);
        Assert.Contains(m[2].Groups["relay"].Value, Good);
    }

    [Fact]
    public void AKeyWithANewlineStaysOnOneLine()
    {
        using var dir = new TempDir();
        var log = dir.File("routing.log");
        var lines = LogAfter(dir, log, c =>
        {
            Assert.Equal("500 NO%20RESULT", c.Get("evil%0AINFO%09forged%0D@other.test"));
            Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("vip@example.com"));
        });
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Matches(Line, l));
        Assert.DoesNotContain('\r', lines[0]);
        Assert.Contains("evil", lines[0]);
        Assert.Contains("forged", lines[0]);
        Assert.Contains("vip@example.com", lines[1]);
    }

    [Fact]
    public void ExistingLogContentIsKept()
    {
        using var dir = new TempDir();
        var log = dir.File("routing.log");
        const string before = "2025-01-01 00:00:00 INFO     old@example.com\tgood\trelay:[mx1.example.com]:25\n";
        File.WriteAllText(log, before);
        var lines = LogAfter(dir, log, c => Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("vip@example.com")));
        Assert.Equal(2, lines.Length);
        Assert.Equal(before.TrimEnd('\n'), lines[0]);
        Assert.Contains("vip@example.com", lines[1]);
    }

    [Fact]
    public void TheLogIsWrittenWhileTheRouterRuns()
    {
        using var dir = new TempDir();
        var log = dir.File("routing.log");
        using var dns = Dns();
        using var router = RouterProcess.Start(ConfigWithLog(log), dns, dir);
        using var c = router.Connect();
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("vip@example.com"));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string text = "";
        while (DateTime.UtcNow < deadline)
        {
            text = File.Exists(log) ? File.ReadAllText(log) : "";
            if (text.Contains("vip@example.com")) break;
            Thread.Sleep(100);
        }
        Assert.Contains("vip@example.com", text);
    }
}
