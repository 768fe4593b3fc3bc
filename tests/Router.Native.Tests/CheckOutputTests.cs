namespace Router.Native.Tests;

/// <summary>
/// <c>--check</c>'s exact output, through the binary's own YAML loader, for every config
/// error and warning the README lists (and the YAML syntax errors): each case is the shipped
/// example with one edit, or a whole small file, and its diagnostics to the column. Starting
/// the router on an erroneous file refuses it with the same lines.
/// </summary>
public class CheckOutputTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public sealed record Case(string Yaml, int Exit, params string[] Stderr);

    /// <summary>The shipped example with each (text, replacement), each text found exactly once.</summary>
    private static string Edit(params (string Text, string By)[] edits)
    {
        var yaml = Example.Shipped;
        foreach (var (text, by) in edits)
        {
            int at = yaml.IndexOf(text, StringComparison.Ordinal);
            if (at < 0 || yaml.IndexOf(text, at + 1, StringComparison.Ordinal) >= 0)
                throw new InvalidOperationException("the example must hold \"" + text + "\" exactly once");
            yaml = yaml[..at] + by + yaml[(at + text.Length)..];
        }
        return yaml;
    }

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["AnUnknownServerInAGroup"] = new(Edit(("good: [mx1, mx2, mx3]", "good: [mx1, mx2, mx9]")), 1,
            "router.yaml:71:20: error: group \"good\" names unknown server \"mx9\""),
        ["AnUnknownRelayAsRuleTarget"] = new(Edit(("vip@example.com: mx4", "vip@example.com: mx9")), 1,
            "router.yaml:95:20: error: rule \"vip@example.com\" targets unknown group or server \"mx9\""),
        ["AnUnknownGroupAsRuleTarget"] = new(Edit(("  john@example.com: bad\n", "  john@example.com: worst\n")), 1,
            "router.yaml:94:21: error: rule \"john@example.com\" targets unknown group or server \"worst\""),
        ["ARuleWithoutTarget"] = new(Edit(("vip@example.com: mx4", "vip@example.com:")), 1,
            "router.yaml:95:19: error: rule \"vip@example.com\" needs a target: a group, a server or NO RESULT"),
        ["ADuplicateRule"] = new(Edit(("  protection.outlook.com: good", "  vip@example.com: good\n  protection.outlook.com: good")), 1,
            "router.yaml:96:3: error: duplicate key \"vip@example.com\" in sender_rules (first on line 95)"),
        ["ADuplicateServerName"] = new(Edit(("    mx4:\n", "    mx1:\n")), 1,
            "router.yaml:63:5: error: duplicate key \"mx1\" in servers.names (first on line 54)",
            "router.yaml:72:14: error: group \"bad\" names unknown server \"mx4\"",
            "router.yaml:95:20: error: rule \"vip@example.com\" targets unknown group or server \"mx4\""),
        ["ADuplicateGroup"] = new(Edit(("  bad: [mx3, mx4]", "  bad: [mx3, mx4]\n  good: [mx4]")), 1,
            "router.yaml:73:3: error: duplicate key \"good\" in servers (first on line 71)"),
        ["ADuplicateTopLevelKey"] = new(Edit(("\n  example.com: good\n", "\n  example.com: good\nsender_rules:\n  other.test: good\n")), 1,
            "router.yaml:98:1: error: duplicate key \"sender_rules\" in the top level (first on line 90)"),
        ["AnEmptyGroup"] = new(Edit(("  bad: [mx3, mx4]", "  bad: []")), 1,
            "router.yaml:72:3: error: group \"bad\" is empty"),
        ["AGroupWhoseWeightsAreAll0"] = new(Edit(("      # no perc: 100", "      perc: 0"), ("  bad: [mx3, mx4]", "  bad: [mx4]")), 1,
            "router.yaml:72:3: error: every server of group \"bad\" has perc 0: it could never pick a relay"),
        ["APercAbove100"] = new(Edit(("perc: 20", "perc: 150")), 1,
            "router.yaml:62:13: error: server \"mx3\": perc must be an integer from 0 to 100, not \"150\""),
        ["ANegativePerc"] = new(Edit(("perc: 20", "perc: -1")), 1,
            "router.yaml:62:13: error: server \"mx3\": perc must be an integer from 0 to 100, not \"-1\""),
        ["APercThatIsAWord"] = new(Edit(("perc: 20", "perc: twenty")), 1,
            "router.yaml:62:13: error: server \"mx3\": perc must be an integer from 0 to 100, not \"twenty\""),
        ["APercWithAFraction"] = new(Edit(("perc: 20", "perc: 20.5")), 1,
            "router.yaml:62:13: error: server \"mx3\": perc must be an integer from 0 to 100, not \"20.5\""),
        ["AServerWithoutAddress"] = new(Edit(("      address: relay:[mx2.example.com]:25\n", "")), 1,
            "router.yaml:57:5: error: server \"mx2\" has no address"),
        ["AGroupNamedLikeAServer"] = new(Edit(("  bad: [mx3, mx4]", "  bad: [mx3, mx4]\n  mx1: [mx2]")), 1,
            "router.yaml:73:3: error: group \"mx1\" has the name of a server: a rule targeting \"mx1\" would be ambiguous"),
        ["ASyntaxError"] = new(Edit(("good: [mx1, mx2, mx3]", "good: [mx1, mx2, mx3")), 1,
            "router.yaml:71:9: error: the list opened here with [ is never closed with ]"),
        ["ABadSettingInTheConfigSection"] = new(Edit(("  # port: 10099", "  port: 70000")), 1,
            "router.yaml:12:9: error: config.port must be a port number from 1 to 65535, not \"70000\""),
        ["AnUnknownTopLevelKey"] = new(Edit(("servers:\n", "colour: blue\nservers:\n")), 0,
            "router.yaml:45:1: warning: unknown key \"colour\" at the top level (ignored)"),
        ["AnUnknownKeyInTheConfigSection"] = new(Edit(("  # port: 10099", "  prot: 10099")), 0,
            "router.yaml:12:3: warning: unknown key \"prot\" in config (ignored)"),
        ["AnUnknownKeyOfAServer"] = new(Edit(("      # no perc: 100", "      weight: 3")), 0,
            "router.yaml:65:7: warning: unknown key \"weight\" in server \"mx4\" (ignored)"),
        ["AReservedServerName"] = new(Edit(("    mx4:\n", "    NO RESULT:\n"), ("  bad: [mx3, mx4]", "  bad: [mx3]"), ("vip@example.com: mx4", "vip@example.com: mx3")), 1,
            "router.yaml:63:5: error: \"NO RESULT\" is reserved and cannot name a server"),
        ["AReservedGroupName"] = new(Edit(("  bad: [mx3, mx4]", "  bad: [mx3, mx4]\n  All Servers: [mx1]")), 1,
            "router.yaml:73:3: error: \"All Servers\" is reserved and cannot name a group"),
        ["AGroupThatIsNotAList"] = new(Edit(("  bad: [mx3, mx4]", "  bad: mx3")), 1,
            "router.yaml:72:8: error: group \"bad\" must be a list of server names, such as [mx1, mx2]"),
        ["AGroupListingAServerTwice"] = new(Edit(("  bad: [mx3, mx4]", "  bad: [mx3, mx4, mx3]")), 1,
            "router.yaml:72:19: error: group \"bad\" lists server \"mx3\" twice"),
        ["AGroupMemberThatIsNotAName"] = new(Edit(("  bad: [mx3, mx4]", "  bad: [mx3, [mx4]]")), 1,
            "router.yaml:72:14: error: group \"bad\": every member must be a server name"),
        ["AnEmptyAddress"] = new(Edit(("      address: smtp:[192.0.2.4]:587", "      address: \"\"")), 1,
            "router.yaml:64:16: error: server \"mx4\": address must be a transport:nexthop such as relay:[mx1.example.com]:25"),
        ["AServerThatIsNotAMapping"] = new(Edit(("    mx4:\n      address: smtp:[192.0.2.4]:587\n", "    mx4: smtp:[192.0.2.4]:587\n")), 1,
            "router.yaml:63:5: error: server \"mx4\" has no address",
            "router.yaml:63:10: error: server \"mx4\" must be a mapping with address and perc"),
        ["ARuleWithAnEmptyPattern"] = new(Edit(("  vip@example.com: mx4\n", "  vip@example.com: mx4\n  \"\": good\n")), 1,
            "router.yaml:96:3: error: a rule needs a pattern: an address, a domain or a part of an MX host name"),
        ["AKeyThatIsNotAName"] = new(Edit(("  vip@example.com: mx4\n", "  vip@example.com: mx4\n  [a, b]: good\n")), 1,
            "router.yaml:96:3: error: a key in sender_rules must be a plain name"),
        ["AllServersWithPerc0"] = new(Edit(("      perc: 40\n    mx2:", "      perc: 0\n    mx2:"), ("      perc: 40\n    mx3:", "      perc: 0\n    mx3:"), ("perc: 20", "perc: 0"), ("      # no perc: 100", "      perc: 0")), 1,
            "router.yaml:53:3: error: all servers have perc 0: no relay could ever be picked",
            "router.yaml:71:3: error: every server of group \"good\" has perc 0: it could never pick a relay",
            "router.yaml:72:3: error: every server of group \"bad\" has perc 0: it could never pick a relay"),
        ["ASecondDocument"] = new(Edit(("\n  example.com: good\n", "\n  example.com: good\n---\nservers: {}\n")), 1,
            "router.yaml:98:1: error: a second YAML document: the config must be a single document"),
        ["AnUnknownAlias"] = new(Edit(("  bad: [mx3, mx4]", "  bad: *worst")), 1,
            "router.yaml:72:8: error: unknown alias *worst"),
        ["ARuleThatCanNeverMatch"] = new(Edit(("\n  example.com: good\n", "\n  example.com: good\n  shop.example.com: bad\n")), 0,
            "router.yaml:98:3: warning: rule \"shop.example.com\" (line 98) can never match: the earlier rule \"example.com\" (line 97) matches every key and MX host it would match"),
        ["ServersMissing"] = new("sender_rules:\n  default: NO RESULT\n", 1,
            "router.yaml:1:1: error: the servers section is missing"),
        ["ServersNotAMapping"] = new("servers: [mx1]\nsender_rules:\n  default: NO RESULT\n", 1,
            "router.yaml:1:1: error: servers.names is missing: list every relay there",
            "router.yaml:1:10: error: servers must be a mapping with names and groups"),
        ["NamesNotAMapping"] = new("servers:\n  names: [mx1]\nsender_rules:\n  default: NO RESULT\n", 1,
            "router.yaml:2:10: error: servers.names must be a mapping of server names"),
        ["TheTopLevelNotAMapping"] = new("- servers\n", 1,
            "router.yaml:1:1: error: the config must be a mapping with servers and sender_rules"),
        ["SenderRulesNotAMapping"] = new("servers:\n  names:\n    mx1: {address: \"relay:[a.test]\"}\nsender_rules: [a]\n", 1,
            "router.yaml:4:15: error: sender_rules must be a mapping of pattern: target"),
        ["ConfigNotAMapping"] = new("config: 3\nservers:\n  names:\n    mx1: {address: \"relay:[a.test]\"}\n", 1,
            "router.yaml:1:9: error: config must be a mapping of option: value"),
        ["NamesMissing"] = new("servers:\n  good: [mx1]\nsender_rules:\n  default: good\n", 1,
            "router.yaml:1:1: error: servers.names is missing: list every relay there",
            "router.yaml:2:10: error: group \"good\" names unknown server \"mx1\""),
        ["NamesEmpty"] = new("servers:\n  names:\nsender_rules:\n  default: NO RESULT\n", 1,
            "router.yaml:2:3: error: servers.names is empty: list every relay there"),
        ["NamesAnEmptyMapping"] = new("servers:\n  names: {}\nsender_rules:\n  default: NO RESULT\n", 1,
            "router.yaml:2:3: error: servers.names is empty: list every relay there"),
        ["AnEmptyFile"] = new("", 1,
            "router.yaml:1:1: error: the config is empty: it needs a servers section with names"),

    };

    public static TheoryData<string> All => new(Cases.Keys);

    public static TheoryData<string> Errors => new(Cases.Where(c => c.Value.Exit != 0).Select(c => c.Key));

    private static string Expected(Case c) => string.Concat(c.Stderr.Select(l => l + "\n"));

    private static string Shown(CliResult r, string path) => r.Stderr.Replace("\r", "").Replace(path, "router.yaml");

    [Theory]
    [MemberData(nameof(All))]
    public void CheckPrintsExactlyTheseDiagnostics(string name)
    {
        var c = Cases[name];
        using var dir = new TempDir();
        var path = dir.Write("router.yaml", c.Yaml);
        var r = RouterProcess.Run(new[] { "--check", "-c", path }, Patience);
        Assert.True(r.ExitCode == c.Exit, "expected exit status " + c.Exit + "\n" + r);
        Assert.Equal(Expected(c), Shown(r, path));
    }

    [Theory]
    [MemberData(nameof(Errors))]
    public void StartingRefusesWithTheSameDiagnostics(string name)
    {
        var c = Cases[name];
        using var dir = new TempDir();
        using var dns = new FakeDns();
        var path = dir.Write("router.yaml", c.Yaml);
        var r = RouterProcess.Run(new[] { "-c", path, "-H", "127.0.0.1", "-p", RouterProcess.FreePort().ToString(), "--dns-server", dns.Endpoint }, Patience);
        Assert.True(r.ExitCode == 1, "expected exit status 1\n" + r);
        Assert.Equal(Expected(c), Shown(r, path));
        Assert.Equal(0, dns.TotalQueries);
    }

    [Fact]
    public void TheShippedExampleChecksWithThisSummary()
    {
        using var dir = new TempDir();
        var path = dir.Write("router.yaml", Example.Shipped);
        var r = RouterProcess.Run(new[] { "--check", "-c", path }, Patience);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
        Assert.Equal(
            path + ": OK\n"
            + "format: YAML\n"
            + "relays: 4\n"
            + "  mx1  perc  40  relay:[mx1.example.com]:25\n"
            + "  mx2  perc  40  relay:[mx2.example.com]:25\n"
            + "  mx3  perc  20  relay:[mx3.example.com]:25\n"
            + "  mx4  perc 100  smtp:[192.0.2.4]:587\n"
            + "groups: 2\n"
            + "  good: mx1 40.0%, mx2 40.0%, mx3 20.0%\n"
            + "  bad: mx3 16.67%, mx4 83.33%\n"
            + "rules: 4\n"
            + "default: NO RESULT\n",
            r.Stdout.Replace("\r", ""));
    }

    [Fact]
    public void AMissingFileIsNamedWithItsPath()
    {
        using var dir = new TempDir();
        var path = dir.File("no-such-dir/absent.yaml");
        var r = RouterProcess.Run(new[] { "--check", "-c", path }, Patience);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Equal("postfix-mx-smart-router: cannot read config file " + path + ": no such file or directory\n", r.Stderr.Replace("\r", ""));
    }
}
