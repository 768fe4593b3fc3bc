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

    public const string Servers = """
        servers:
          names:
            mx1:
              address: relay:[mx1.example.com]:25
              perc: 40
            mx2:
              address: relay:[mx2.example.com]:25
              perc: 40
            mx3:
              address: relay:[mx3.example.com]:25
              perc: 20
            mx4:
              address: smtp:[192.0.2.4]:587
          good: [mx1, mx2, mx3]
          bad: [mx3, mx4]

        """;

    public const string Rules = """
          john@example.com: bad
          vip@example.com: mx4
          protection.outlook.com: good
          example.com: good

        """;

    public enum DefaultAt { First, Last, None }

    /// <summary>The example, with `default: NO RESULT` first, last or not at all.</summary>
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
