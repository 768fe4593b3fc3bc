using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>README "Command line": exit statuses, flag errors, --explain, --simulate, --help.</summary>
public class CliTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static void AssertRefused(CliResult r)
    {
        Assert.True(r.ExitCode == 1, "expected exit status 1\n" + r);
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
    }

    /// <summary>The README's "Command line" block is the --help text, every flag of it.</summary>
    [Fact]
    public void HelpIsTheReadmesOptionBlock()
    {
        var readme = File.ReadAllText(Path.Combine(Path.GetDirectoryName(Example.ShippedPath)!, "README.md")).Replace("\r", "");
        const string heading = "## Command line\n\n```\n";
        int start = readme.IndexOf(heading, StringComparison.Ordinal);
        Assert.True(start >= 0, "README has no \"## Command line\" section opening with a code block");
        start += heading.Length;
        var block = readme[start..readme.IndexOf("```\n", start, StringComparison.Ordinal)];

        var help = RouterProcess.Run(new[] { "--help" }, Patience);
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Equal(block, help.Stdout.Replace("\r", ""));
    }
}
