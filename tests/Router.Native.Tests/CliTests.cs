using System.Text.RegularExpressions;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>README "Command line" and the config errors of "Configuration".</summary>
public class CliTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>1-based number of the only line of text that contains marker.</summary>
    private static int LineOf(string text, string marker)
    {
        var lines = text.Split('\n');
        var hits = Enumerable.Range(0, lines.Length).Where(i => lines[i].Contains(marker)).ToList();
        Assert.True(hits.Count == 1, "marker \"" + marker + "\" is on " + hits.Count + " lines");
        return hits[0] + 1;
    }

    /// <summary>Starts the router (not --check) on a config that must be refused at start.</summary>
    private static CliResult StartWith(TempDir dir, string yaml, FakeDns dns, params string[] extra)
    {
        var path = dir.Write("router.yaml", yaml);
        var args = new List<string> { "-c", path, "-H", "127.0.0.1", "-p", RouterProcess.FreePort().ToString(), "--dns-server", dns.Endpoint };
        args.AddRange(extra);
        return RouterProcess.Run(args, Patience);
    }

    private static void AssertNamesLine(CliResult r, params int[] lines)
    {
        var pattern = @"router\.yaml:(" + string.Join("|", lines) + @")\b";
        Assert.True(Regex.IsMatch(r.Stderr, pattern), "stderr does not name router.yaml:" + string.Join(" or :", lines) + "\n" + r);
    }

    private static void AssertRefused(CliResult r)
    {
        Assert.True(r.ExitCode == 1, "expected exit status 1\n" + r);
    }

    [Fact]
    public void AnUnknownServerInAGroupIsFatalAndNamesFileAndLine()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var yaml = Config(DefaultAt.First).Replace("good: [mx1, mx2, mx3]", "good: [mx1, mx2, mx9]");
        var r = StartWith(dir, yaml, dns);
        AssertRefused(r);
        AssertNamesLine(r, LineOf(yaml, "mx9"));
        Assert.Contains("mx9", r.Stderr);
    }

    [Fact]
    public void AnUnknownRuleTargetIsFatalAndNamesFileAndLine()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var yaml = Config(DefaultAt.First).Replace("vip@example.com: mx4", "vip@example.com: mx9");
        var r = StartWith(dir, yaml, dns);
        AssertRefused(r);
        AssertNamesLine(r, LineOf(yaml, "mx9"));
        Assert.Contains("mx9", r.Stderr);
    }

    [Fact]
    public void APercOf150IsFatalAndNamesFileAndLine()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var yaml = Config(DefaultAt.First).Replace("perc: 20", "perc: 150");
        var r = StartWith(dir, yaml, dns);
        AssertRefused(r);
        AssertNamesLine(r, LineOf(yaml, "perc: 150"));
        Assert.Contains("150", r.Stderr);
    }

    [Fact]
    public void APercThatIsNotAnIntegerIsFatal()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var yaml = Config(DefaultAt.First).Replace("perc: 20", "perc: twenty");
        var r = StartWith(dir, yaml, dns);
        AssertRefused(r);
        AssertNamesLine(r, LineOf(yaml, "perc: twenty"));
    }

    [Fact]
    public void AServerWithoutAddressIsFatalAndNamesFileAndLine()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var yaml = Config(DefaultAt.First).Replace("      address: relay:[mx2.example.com]:25\n", "");
        var r = StartWith(dir, yaml, dns);
        AssertRefused(r);
        // The server's key line, or the first line of its (address-less) mapping.
        var key = LineOf(yaml, "mx2:");
        AssertNamesLine(r, key, key + 1);
        Assert.Contains("address", r.Stderr);
    }

    [Fact]
    public void ADuplicateRuleKeyIsFatalAndNamesFileAndLine()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var yaml = Config(DefaultAt.First, extraRules: "  john@example.com: good\n");
        var r = StartWith(dir, yaml, dns);
        AssertRefused(r);
        var lines = yaml.Split('\n');
        var dups = Enumerable.Range(0, lines.Length).Where(i => lines[i].StartsWith("  john@example.com:")).Select(i => i + 1).ToArray();
        Assert.Equal(2, dups.Length);
        AssertNamesLine(r, dups);
    }

    [Fact]
    public void ADuplicateServerNameIsFatal()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var yaml = Config(DefaultAt.First).Replace("    mx4:\n", "    mx1:\n");
        var r = StartWith(dir, yaml, dns);
        AssertRefused(r);
        Assert.Matches(@"router\.yaml:\d+", r.Stderr);
    }

    [Fact]
    public void AnEmptyGroupIsFatal()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var yaml = Config(DefaultAt.First).Replace("bad: [mx3, mx4]", "bad: []");
        var r = StartWith(dir, yaml, dns);
        AssertRefused(r);
        AssertNamesLine(r, LineOf(yaml, "bad: []"));
    }

    [Fact]
    public void AGroupWhoseWeightsAreAllZeroIsFatal()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var yaml = Config(DefaultAt.First).Replace("perc: 20", "perc: 0").Replace("bad: [mx3, mx4]", "bad: [mx3, mx4]\n  idle: [mx3]");
        var r = StartWith(dir, yaml, dns);
        AssertRefused(r);
        AssertNamesLine(r, LineOf(yaml, "idle: [mx3]"));
    }

    [Fact]
    public void AnUnknownKeyIsAWarningNotAnError()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var yaml = "colour: blue\n" + Config(DefaultAt.First).Replace("      perc: 20\n", "      perc: 20\n      weight: 3\n");
        var path = dir.Write("router.yaml", yaml);
        var r = RouterProcess.Run(new[] { "-c", path, "--dns-server", dns.Endpoint, "--check" }, Patience);
        Assert.True(r.ExitCode == 0, "an unknown key must not be fatal\n" + r);
        Assert.Contains("colour", r.Stderr);
        Assert.Contains("weight", r.Stderr);
        AssertNamesLine(r, LineOf(yaml, "colour"));
        AssertNamesLine(r, LineOf(yaml, "weight: 3"));
    }

    [Fact]
    public void ARuleThatCanNeverMatchIsAWarningNamingBothRules()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        // example.com before john@example.com: the earlier rule always wins.
        var yaml = Servers + "sender_rules:\n  example.com: good\n  john@example.com: bad\n";
        var path = dir.Write("router.yaml", yaml);
        var r = RouterProcess.Run(new[] { "-c", path, "--dns-server", dns.Endpoint, "--check" }, Patience);
        Assert.True(r.ExitCode == 0, "a shadowed rule is a warning, not an error\n" + r);
        var warning = r.Stderr.Split('\n').FirstOrDefault(l => l.Contains("john@example.com"));
        Assert.True(warning is not null, "no warning names the shadowed rule\n" + r);
        Assert.Contains("example.com", warning!.Replace("john@example.com", ""));
    }

    [Fact]
    public void MissingNamesIsFatal()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        const string yaml = "servers:\n  good: [mx1]\nsender_rules:\n  example.com: good\n";
        var r = StartWith(dir, yaml, dns);
        AssertRefused(r);
        Assert.Contains("names", r.Stderr);
    }

    [Fact]
    public void AMissingConfigFileExits1NamingThePath()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var path = dir.File("no-such-dir/absent.yaml");
        var r = RouterProcess.Run(new[] { "-c", path, "-p", RouterProcess.FreePort().ToString(), "--dns-server", dns.Endpoint }, Patience);
        AssertRefused(r);
        Assert.Contains(path, r.Stderr);
    }

    [Theory]
    [InlineData("--no-such-flag", "--no-such-flag")]
    [InlineData("--port notaport", "--port")]
    [InlineData("--port 70000", "--port")]
    [InlineData("--cache-ttl soon", "--cache-ttl")]
    [InlineData("--timeout -3", "--timeout")]
    [InlineData("--simulate many", "--simulate")]
    public void ABadFlagOrValueExits2WithAOneLineErrorNamingTheFlag(string flags, string named)
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var path = dir.Write("router.yaml", Config(DefaultAt.First));
        // A port of its own, in case the router takes the bad value and starts serving.
        var args = new List<string> { "-c", path, "-p", RouterProcess.FreePort().ToString(), "--dns-server", dns.Endpoint };
        args.AddRange(flags.Split(' '));
        var r = RouterProcess.Run(args, Patience);
        Assert.True(r.ExitCode == 2, "expected exit status 2\n" + r);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, "expected a one-line error\n" + r);
        Assert.Contains(named, lines[0]);
    }

    [Fact]
    public void CheckExits0OnAGoodConfig()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var path = dir.Write("router.yaml", Config(DefaultAt.First));
        var r = RouterProcess.Run(new[] { "-c", path, "--dns-server", dns.Endpoint, "--check" }, Patience);
        Assert.True(r.ExitCode == 0, "expected exit status 0\n" + r);
        Assert.False(string.IsNullOrWhiteSpace(r.Stdout), "--check printed no summary\n" + r);
        Assert.Equal(0, dns.TotalQueries);
    }

    [Fact]
    public void CheckExits1OnABadConfigNamingFileAndLine()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var yaml = Config(DefaultAt.First).Replace("perc: 20", "perc: 150");
        var path = dir.Write("router.yaml", yaml);
        var r = RouterProcess.Run(new[] { "-c", path, "--dns-server", dns.Endpoint, "--check" }, Patience);
        AssertRefused(r);
        AssertNamesLine(r, LineOf(yaml, "perc: 150"));
    }

    [Theory]
    [InlineData(DefaultAt.First)]
    [InlineData(DefaultAt.Last)]
    public void ExplainPrintsTheReplyLine(DefaultAt at)
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var path = dir.Write("router.yaml", Config(at));
        CliResult Explain(string address) =>
            RouterProcess.Run(new[] { "-c", path, "--dns-server", dns.Endpoint, "--explain", address }, Patience);

        var vip = Explain("vip@example.com");
        Assert.True(vip.ExitCode == 0, vip.ToString());
        Assert.Contains("200 smtp:[192.0.2.4]:587", vip.Stdout);

        var other = Explain("someone@other.test");
        Assert.True(other.ExitCode == 0, other.ToString());
        Assert.Contains("500 NO%20RESULT", other.Stdout);
        Assert.Contains("mx.other.test", other.Stdout);

        var outlook = Explain("someone@contoso.com");
        Assert.True(outlook.ExitCode == 0, outlook.ToString());
        Assert.Contains("contoso-com.mail.protection.outlook.com", outlook.Stdout);
        Assert.Contains("protection.outlook.com", outlook.Stdout);
        Assert.Matches(@"200 relay:\[mx[123]\.example\.com\]:25", outlook.Stdout);
    }

    [Fact]
    public void SimulatePrintsTheTableWithExactShares()
    {
        using var dir = new TempDir();
        using var dns = Dns();
        var path = dir.Write("router.yaml", Config(DefaultAt.First));
        // 600 picks in every group: a multiple of each group's weight sum (200, 100, 120).
        var r = RouterProcess.Run(new[] { "-c", path, "--dns-server", dns.Endpoint, "--simulate", "600" }, Patience);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(0, dns.TotalQueries);
        Assert.Equal(new Dictionary<string, long> { ["mx1"] = 120, ["mx2"] = 120, ["mx3"] = 60, ["mx4"] = 300 },
            StatsTable.Sent(r.Stdout, "All Servers"));
        Assert.Equal(new Dictionary<string, long> { ["mx1"] = 240, ["mx2"] = 240, ["mx3"] = 120 },
            StatsTable.Sent(r.Stdout, "Group good"));
        Assert.Equal(new Dictionary<string, long> { ["mx3"] = 100, ["mx4"] = 500 },
            StatsTable.Sent(r.Stdout, "Group bad"));
    }

    [Fact]
    public void VersionAndHelpExit0()
    {
        var version = RouterProcess.Run(new[] { "--version" }, Patience);
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.Matches(@"\d+\.\d+", version.Stdout);

        var help = RouterProcess.Run(new[] { "--help" }, Patience);
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("--dns-server", help.Stdout);
        Assert.Contains("--cache-ttl", help.Stdout);
    }
}
