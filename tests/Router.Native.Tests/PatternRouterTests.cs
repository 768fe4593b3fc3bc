using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// postfix-mx-pattern-router's files, served unchanged, and --recipient-delimiter: --check's
/// exact output for both formats and for a malformed line, and lookups over the socket.
/// </summary>
public class PatternRouterTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>The upstream tool's example file.</summary>
    public const string Upstream =
        "protection.outlook.com    relay:[office365-relay.example.com]:587\n" +
        "mx.microsoft              relay:[office365-relay.example.com]:587\n" +
        "icloud.com                relay:[icloud-relay.example.com]:587\n";

    private const string Office = "relay:[office365-relay.example.com]:587";
    private const string Icloud = "relay:[icloud-relay.example.com]:587";

    private static CliResult Check(TempDir dir, string name, string text) =>
        RouterProcess.Run(new[] { "-c", dir.Write(name, text), "--check" }, Patience);

    [Fact]
    public void CheckReadsTheUpstreamFormatAndSaysSo()
    {
        using var dir = new TempDir();
        var r = Check(dir, "pattern.conf", Upstream);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
        Assert.Equal(
            dir.File("pattern.conf") + ": OK\n" +
            "format: postfix-mx-pattern-router\n" +
            "relays: 2\n" +
            "  relay:[office365-relay.example.com]:587  perc 100\n" +
            "  relay:[icloud-relay.example.com]:587     perc 100\n" +
            "groups: 0\n" +
            "rules: 3\n" +
            "default: NO RESULT\n",
            r.Stdout);
    }

    [Fact]
    public void CheckNamesEveryMalformedLineWithFileLineAndColumn()
    {
        using var dir = new TempDir();
        var text = "# relays\n" + Upstream + "\nicloud.com\nmx.example   relay:[x]:25   extra\n";
        var r = Check(dir, "pattern.conf", text);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Equal("", r.Stdout);
        var file = dir.File("pattern.conf");
        Assert.Equal(
            file + ":6:1: error: a line must be PATTERN TRANSPORT:NEXTHOP, such as protection.outlook.com " +
            "relay:[office365-relay.example.com]:587: \"icloud.com\" has no relay\n" +
            file + ":7:29: error: a line must be PATTERN TRANSPORT:NEXTHOP: unexpected \"extra\" after the relay " +
            "(a comment needs a line of its own, starting with #)\n",
            r.Stderr);
    }

    [Fact]
    public void CheckSaysYamlForTheYamlFormat()
    {
        using var dir = new TempDir();
        var r = Check(dir, "router.yaml", Config(DefaultAt.First));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith(dir.File("router.yaml") + ": OK\nformat: YAML\nrelays: 4\n", r.Stdout);
    }

    [Fact]
    public void TheUpstreamFileIsServedWithItsOwnSemantics()
    {
        using var dns = new FakeDns();
        // The icloud.com host comes first by preference, though its pattern is the last line.
        dns.SetMx("both.test", (20, "both-test.mail.protection.outlook.com"), (5, "mx01.icloud.com"));
        dns.SetMx("contoso.test", (10, "contoso-test.mail.protection.outlook.com"));
        dns.SetMx("unmatched.test", (10, "mx.unmatched.test"));
        using var router = RouterProcess.Start(Upstream, dns);
        using var c = router.Connect();
        Assert.Equal("200 " + Icloud, c.Get("user@both.test"));
        Assert.Equal("200 " + Office, c.Get("User@Contoso.Test"));
        Assert.Equal("500 NO%20RESULT", c.Get("user@unmatched.test"));
        Assert.Equal("500 NO%20RESULT", c.Get("user@nomx.test"));
        Assert.Equal("500 NO%20RESULT", c.Get("someone@protection.outlook.com"));
        Assert.Equal("500 NO%20RESULT", c.Get("*"));
        Assert.Equal("500 NO%20RESULT", c.Get("user@[192.0.2.1]"));
    }

    [Fact]
    public void AReloadReadsTheFileAgainInEitherFormat()
    {
        using var dns = new FakeDns();
        dns.SetMx("apple.test", (10, "mx01.icloud.com"));
        dns.SetMx("example.com", (10, "mail.example.com"));
        using var router = RouterProcess.Start(Upstream, dns);
        using var c = router.Connect();
        Assert.Equal("200 " + Icloud, c.Get("user@apple.test"));

        Sighup.Reload(router, Upstream.Replace("relay:[icloud-relay.example.com]:587", "smtp:[192.0.2.9]:25"));
        Assert.Equal("200 smtp:[192.0.2.9]:25", c.Get("user@apple.test"));

        // From the pattern format to YAML with a recipient delimiter, and back.
        Sighup.Reload(router, "config:\n  recipient_delimiter: \"+\"\n" + Config(DefaultAt.First));
        Assert.Equal("200 " + Mx4, c.Get("vip+news@example.com"));
        Assert.Equal("500 NO%20RESULT", c.Get("user@apple.test"));
        Sighup.Reload(router, Upstream);
        Assert.Equal("200 " + Icloud, c.Get("user@apple.test"));
        Assert.Equal("500 NO%20RESULT", c.Get("vip+news@example.com"));
    }

    [Theory]
    [InlineData("--recipient-delimiter", "+-")]
    [InlineData("--recipient-delimiter=+-", null)]
    public void TheRecipientDelimiterLetsAnAddressRuleMatchTheAddressWithAnExtension(string flag, string? value)
    {
        using var dns = Dns();
        var args = value is null ? new[] { flag } : new[] { flag, value };
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, args);
        using var c = router.Connect();
        Assert.Equal("200 " + Mx4, c.Get("vip+news@example.com"));
        Assert.Equal("200 " + Mx4, c.Get("vip-news@example.com"));
        Assert.Equal("200 " + Mx4, c.Get("vip@example.com"));
    }

    [Fact]
    public void WithoutTheDelimiterTheExtendedAddressIsAnotherAddress()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        // Not vip@example.com's rule: the domain rule example.com (group good) matches.
        Assert.Contains(c.Get("vip+news@example.com")[4..], Good);
    }

    [Fact]
    public void TheCommandLineWinsOverTheConfigSection()
    {
        using var dns = Dns();
        var yaml = "config:\n  recipient_delimiter: \"+\"\n" + Config(DefaultAt.First);
        using (var router = RouterProcess.Start(yaml, dns))
        using (var c = router.Connect())
            Assert.Equal("200 " + Mx4, c.Get("vip+news@example.com"));
        using (var off = RouterProcess.Start(yaml, dns, "--recipient-delimiter", ""))
        using (var c = off.Connect())
            Assert.Contains(c.Get("vip+news@example.com")[4..], Good);
    }

    [Fact]
    public void ABadDelimiterIsAUsageError()
    {
        var r = RouterProcess.Run(new[] { "--recipient-delimiter", "+@", "--check" }, Patience);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("postfix-mx-smart-router: --recipient-delimiter: not a set of delimiter characters such as + or +- " +
                     "(no @, white space or control characters): \"+@\"\n", r.Stderr);
    }
}
