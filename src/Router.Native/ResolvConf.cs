using System.Globalization;
using System.Net;

namespace Router.Native;

/// <summary>
/// What the router takes from /etc/resolv.conf when no --dns-server is given: the
/// `nameserver` lines (the first three, as the C library uses) and the `timeout:N` and
/// `attempts:N` options (the last value given wins; clamped to 1..30 and 1..5 like glibc).
/// Comments start with `#` or `;`. Other options are ignored.
/// </summary>
public sealed class ResolvConf
{
    public const string DefaultPath = "/etc/resolv.conf";

    /// <summary>Overrides <see cref="DefaultPath"/> (tests, chroots).</summary>
    public const string PathVariable = "POSTFIX_MX_SMART_ROUTER_RESOLV_CONF";

    /// <summary>glibc's MAXNS: servers after the third are not used.</summary>
    public const int MaxNameServers = 3;

    public string Path { get; }
    public List<IPEndPoint> NameServers { get; } = new();

    /// <summary>`options timeout:N`: seconds to wait for one answer.</summary>
    public int? Timeout { get; private set; }

    /// <summary>`options attempts:N`: tries per server (DnsClient's retries are N - 1).</summary>
    public int? Attempts { get; private set; }

    private ResolvConf(string path) => Path = path;

    /// <summary>The file the router reads: $POSTFIX_MX_SMART_ROUTER_RESOLV_CONF, else /etc/resolv.conf.</summary>
    public static string Location()
    {
        var fromEnv = Environment.GetEnvironmentVariable(PathVariable);
        return string.IsNullOrEmpty(fromEnv) ? DefaultPath : fromEnv;
    }

    /// <summary>Reads the file; a missing or unreadable file has no servers and no options.</summary>
    public static ResolvConf Read(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            lines = Array.Empty<string>();
        }
        return Parse(path, lines);
    }

    public static ResolvConf Parse(string path, IEnumerable<string> lines)
    {
        var conf = new ResolvConf(path);
        foreach (var raw in lines)
        {
            string line = raw;
            int comment = line.IndexOfAny(new[] { '#', ';' });
            if (comment >= 0) line = line.Substring(0, comment);
            var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 2) continue;
            if (words[0] == "nameserver")
            {
                if (conf.NameServers.Count < MaxNameServers && TryParseAddress(words[1], out var ip))
                    conf.NameServers.Add(new IPEndPoint(ip, 53));
            }
            else if (words[0] == "options")
            {
                for (int i = 1; i < words.Length; i++)
                {
                    if (TryOption(words[i], "timeout:", out int timeout)) conf.Timeout = Math.Clamp(timeout, 1, 30);
                    else if (TryOption(words[i], "attempts:", out int attempts)) conf.Attempts = Math.Clamp(attempts, 1, 5);
                }
            }
        }
        return conf;
    }

    private static bool TryOption(string word, string prefix, out int value)
    {
        value = 0;
        return word.StartsWith(prefix, StringComparison.Ordinal)
               && int.TryParse(word.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>An IPv4 or IPv6 address; an IPv6 zone (fe80::1%eth0) is kept.</summary>
    private static bool TryParseAddress(string text, out IPAddress ip)
    {
        if (IPAddress.TryParse(text, out var parsed))
        {
            ip = parsed;
            return true;
        }
        int scope = text.IndexOf('%');
        if (scope > 0 && IPAddress.TryParse(text.Substring(0, scope), out parsed))
        {
            ip = parsed;
            return true;
        }
        ip = IPAddress.None;
        return false;
    }
}
