using System.Globalization;
using System.Text.RegularExpressions;

namespace Router.Native.Tests;

/// <summary>The example config and the relays it names.</summary>
public static class Example
{
    public const string Mx1 = "relay:[mx1.example.com]:25";
    public const string Mx2 = "relay:[mx2.example.com]:25";
    public const string Mx3 = "relay:[mx3.example.com]:25";
    public const string Mx4 = "smtp:[192.0.2.4]:587";

    public static readonly string[] Good = { Mx1, Mx2, Mx3 };
    public static readonly string[] Bad = { Mx3, Mx4 };
    public static readonly string[] All = { Mx1, Mx2, Mx3, Mx4 };

    /// <summary>The shipped postfix-mx-smart-router.yaml.example, found above the test assembly.</summary>
    public static readonly string ShippedPath = FindShipped();

    /// <summary>The shipped example's text.</summary>
    public static readonly string Shipped = File.ReadAllText(ShippedPath).Replace("\r", "");

    /// <summary>
    /// The shipped example's servers section, its comments included; without the config
    /// section (all comments there), so that tests can give one of their own.
    /// </summary>
    public static readonly string Servers = Section("servers:\n", "sender_rules:\n");

    /// <summary>The shipped example's rules, in order, without its default.</summary>
    public static readonly string Rules = string.Concat(
        Shipped[(Shipped.IndexOf("\nsender_rules:\n", StringComparison.Ordinal) + "\nsender_rules:\n".Length)..].Split('\n')
            .Where(l => l.StartsWith("  ", StringComparison.Ordinal) && !l.TrimStart().StartsWith('#') && !l.StartsWith("  default:", StringComparison.Ordinal))
            .Select(l => l + "\n"));

    /// <summary>From the line that is `first` to the line before the one that is `next`.</summary>
    private static string Section(string first, string next)
    {
        int from = Shipped.IndexOf("\n" + first, StringComparison.Ordinal) + 1;
        int to = Shipped.IndexOf("\n" + next, from, StringComparison.Ordinal) + 1;
        return Shipped[from..to];
    }

    private static string FindShipped()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "postfix-mx-smart-router.yaml.example");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("postfix-mx-smart-router.yaml.example not found above the test assembly");
    }

    public enum DefaultAt { First, Last, None }

    /// <summary>The shipped example, with `default: NO RESULT` first (as shipped), last or not at all.</summary>
    public static string Config(DefaultAt at, string defaultTarget = "NO RESULT", string extraRules = "") =>
        Servers + "sender_rules:\n"
        + (at == DefaultAt.First ? "  default: " + defaultTarget + "\n" : "")
        + Rules + extraRules
        + (at == DefaultAt.Last ? "  default: " + defaultTarget + "\n" : "");

    /// <summary>The DNS the example's tests expect.</summary>
    public static FakeDns Dns()
    {
        var dns = new FakeDns();
        dns.SetMx("example.com", (10, "mail.example.com"));
        dns.SetMx("contoso.com", (0, "contoso-com.mail.protection.outlook.com"));
        dns.SetMx("other.test", (10, "mx.other.test"));
        return dns;
    }
}

/// <summary>One row of the stats table (Repeats: the repeat window's column, 0 when absent).</summary>
public sealed record StatsRow(string Name, long Sent, double CurrentPercent, double TargetPercent, long Repeats = 0);

/// <summary>A 60/30/10 group `shares` that takes wrr.test (by its MX host); everything else NO RESULT.</summary>
public static class Shares
{
    public const string A = "relay:[a.relay.test]:25";
    public const string B = "relay:[b.relay.test]:25";
    public const string C = "relay:[c.relay.test]:25";

    public const string Config = """
        servers:
          names:
            a:
              address: relay:[a.relay.test]:25
              perc: 60
            b:
              address: relay:[b.relay.test]:25
              perc: 30
            c:
              address: relay:[c.relay.test]:25
              perc: 10
          shares: [a, b, c]
        sender_rules:
          default: NO RESULT
          wrr.test: shares

        """;

    /// <summary>A fake DNS that gives wrr.test its MX host.</summary>
    public static FakeDns Dns()
    {
        var dns = new FakeDns();
        dns.SetMx("wrr.test", (10, "mx.wrr.test"));
        return dns;
    }
}

/// <summary>Reads the stats table (README "Stats and the routing log") out of the router's standard output.</summary>
public static class StatsTable
{
    private static readonly Regex Row = new(
        @"^\s+(?<name>\S+)\s+(?<sent>[\d,]+)\s*\|\s*(?<curr>[\d.]+)\s*/\s*(?<target>[\d.]+)(\s*\|\s*(?<repeats>[\d,]+))?\s*$",
        RegexOptions.CultureInvariant);

    /// <summary>The rows of the last block whose title line is exactly `title` ("All Servers", "Group good").</summary>
    public static IReadOnlyList<StatsRow> Block(string output, string title)
    {
        var lines = output.Replace("\r", "").Split('\n');
        var start = Array.FindLastIndex(lines, l => l.Trim() == title);
        if (start < 0)
            throw new Xunit.Sdk.XunitException("No stats block titled \"" + title + "\" in output:\n" + output);
        var rows = new List<StatsRow>();
        for (var i = start + 1; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Contains("# Sent")) continue;
            var m = Row.Match(line);
            if (!m.Success) break;
            rows.Add(new StatsRow(
                m.Groups["name"].Value,
                long.Parse(m.Groups["sent"].Value.Replace(",", ""), CultureInfo.InvariantCulture),
                double.Parse(m.Groups["curr"].Value, CultureInfo.InvariantCulture),
                double.Parse(m.Groups["target"].Value, CultureInfo.InvariantCulture),
                m.Groups["repeats"].Success ? long.Parse(m.Groups["repeats"].Value.Replace(",", ""), CultureInfo.InvariantCulture) : 0));
        }
        return rows;
    }

    public static Dictionary<string, long> Sent(string output, string title) =>
        Block(output, title).ToDictionary(r => r.Name, r => r.Sent);

    public static Dictionary<string, long> Repeats(string output, string title) =>
        Block(output, title).ToDictionary(r => r.Name, r => r.Repeats);
}
