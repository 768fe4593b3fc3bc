using System.Globalization;
using System.Net;

namespace Router.Native;

/// <summary>A bad flag or value: one line on stderr, exit status 2.</summary>
public sealed class UsageException(string flag, string message) : Exception(flag + ": " + message)
{
    public string Flag { get; } = flag;
}

/// <summary>
/// The command line as given. Values the user did not give stay null, so that the
/// config file's <c>config:</c> section can supply them (the command line wins).
/// </summary>
public sealed class Options
{
    public const string DefaultConfig = "/etc/postfix/postfix-mx-smart-router.yaml";
    public const int DefaultPort = 10099;
    public const string DefaultHost = "127.0.0.1";
    public const int DefaultCacheTtl = 3600;
    public const int DefaultTimeout = 600;
    public const string DefaultSocketmapName = "transport";
    public const int DefaultMaxConnections = 1024;

    public string ConfigPath { get; private set; } = DefaultConfig;
    public int? Port { get; private set; }
    public string? Host { get; private set; }
    public int? CacheTtl { get; private set; }
    public int? Timeout { get; private set; }
    public bool Verbose { get; private set; }
    public bool Quiet { get; private set; }
    public List<IPEndPoint> DnsServers { get; } = new();
    public int? DnsTimeout { get; private set; }
    public int? DnsRetries { get; private set; }
    public int? CacheSize { get; private set; }
    public int? StaleLimit { get; private set; }
    public Router.Core.Config.DnsFailurePolicy? DnsFailurePolicy { get; private set; }
    public bool Check { get; private set; }
    public string? Explain { get; private set; }
    public int? Simulate { get; private set; }
    public IPEndPoint? Metrics { get; private set; }
    public bool Version { get; private set; }
    public bool Help { get; private set; }
    public int? SocketmapPort { get; private set; }
    public string? SocketmapName { get; private set; }
    /// <summary>--allow networks, in the order given; empty when none was given.</summary>
    public List<Router.Core.Allow.Network> Allow { get; } = new();
    public int? MaxConnections { get; private set; }
    public int? RepeatWindow { get; private set; }
    /// <summary>--recipient-delimiter; null when not given, "" when turned off.</summary>
    public string? RecipientDelimiter { get; private set; }

    public const string Usage =
        "usage: postfix-mx-smart-router [options]\n" +
        "  -c, --config FILE        config file (default /etc/postfix/postfix-mx-smart-router.yaml)\n" +
        "  -p, --port PORT          tcp_table port (default 10099)\n" +
        "  -H, --host HOST          address to bind (default 127.0.0.1)\n" +
        "  --cache-ttl SEC          MX cache lifetime, 0 disables (default 3600)\n" +
        "  --timeout SEC            idle client timeout, 0 disables (default 600)\n" +
        "  -v, --verbose            debug logging\n" +
        "  -q, --quiet              errors only\n" +
        "  --dns-server ADDR[:PORT] DNS server to ask (repeatable); default: /etc/resolv.conf\n" +
        "  --dns-timeout SEC        wait for one DNS answer (default: resolv.conf's timeout, else 2)\n" +
        "  --dns-retries N          tries after the first, per server (default: resolv.conf's\n" +
        "                           attempts - 1, else 2)\n" +
        "  --cache-size N           most domains cached, 0 disables (default 100000)\n" +
        "  --stale-limit SEC        how long past expiry a cached answer covers DNS failures,\n" +
        "                           0 disables (default 86400)\n" +
        "  --dns-failure-policy P   DNS failed, nothing cached: defer (400, the default) or\n" +
        "                           default (rules on the address, else the default target)\n" +
        "  --check                  validate the config, print a summary, exit 0 or 1\n" +
        "  --explain ADDRESS        print how ADDRESS would be routed (domain, MX hosts, the rule\n" +
        "                           that matched, target, relay, the exact reply line); no server\n" +
        "  --simulate N             make N picks in every group and print the stats table\n" +
        "  --repeat-window SEC      answer a key asked again within SEC once more with the same relay,\n" +
        "                           without a new pick (Postfix asking twice per message; 0 = off,\n" +
        "                           the default)\n" +
        "  --recipient-delimiter CHARS\n" +
        "                           a rule naming an address also matches it with an extension:\n" +
        "                           from any one of CHARS to the @, as Postfix's\n" +
        "                           recipient_delimiter (e.g. + or +-; empty = off, the default)\n" +
        "  --socketmap-port PORT    also serve Postfix's socketmap protocol on PORT (default off)\n" +
        "  --socketmap-name NAME    the socketmap name to answer (default transport)\n" +
        "  --metrics ADDR:PORT      serve Prometheus metrics on http://ADDR:PORT/metrics (off by default)\n" +
        "  --allow CIDR             a client network that may connect (repeatable); required\n" +
        "                           when --host is not a loopback address\n" +
        "  --max-connections N      most connections open at once, both listeners together\n" +
        "                           (default 1024); past it new ones are closed at once\n" +
        "  --version                print the version and exit\n" +
        "  --help                   print this help and exit\n";

    /// <summary>Parses the arguments; throws <see cref="UsageException"/> on the first bad one.</summary>
    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string name = arg;
            string? inline = null;
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                int eq = arg.IndexOf('=');
                if (eq > 2)
                {
                    name = arg.Substring(0, eq);
                    inline = arg.Substring(eq + 1);
                }
            }

            string Value()
            {
                if (inline != null) return inline;
                if (i + 1 >= args.Length) throw new UsageException(name, "needs a value");
                return args[++i];
            }

            void NoValue()
            {
                if (inline != null) throw new UsageException(name, "takes no value");
            }

            switch (name)
            {
                case "-c":
                case "--config":
                    o.ConfigPath = Value();
                    if (o.ConfigPath.Length == 0) throw new UsageException(name, "needs a file name");
                    break;
                case "-p":
                case "--port":
                    o.Port = ParsePort(name, Value());
                    break;
                case "-H":
                case "--host":
                    o.Host = ParseHost(name, Value());
                    break;
                case "--cache-ttl":
                    o.CacheTtl = ParseSeconds(name, Value());
                    break;
                case "--timeout":
                    o.Timeout = ParseSeconds(name, Value());
                    break;
                case "-v":
                case "--verbose":
                    NoValue();
                    o.Verbose = true;
                    break;
                case "-q":
                case "--quiet":
                    NoValue();
                    o.Quiet = true;
                    break;
                case "--dns-server":
                    o.DnsServers.Add(ParseDnsServer(name, Value()));
                    break;
                case "--dns-timeout":
                    o.DnsTimeout = ParseDnsTimeout(name, Value());
                    break;
                case "--dns-retries":
                    o.DnsRetries = ParseDnsRetries(name, Value());
                    break;
                case "--cache-size":
                    o.CacheSize = ParseCount(name, Value());
                    break;
                case "--stale-limit":
                    o.StaleLimit = ParseSeconds(name, Value());
                    break;
                case "--dns-failure-policy":
                    o.DnsFailurePolicy = ParseDnsFailurePolicy(name, Value());
                    break;
                case "--check":
                    NoValue();
                    o.Check = true;
                    break;
                case "--explain":
                    o.Explain = Value();
                    if (o.Explain.Length == 0) throw new UsageException(name, "needs an address");
                    break;
                case "--simulate":
                    o.Simulate = ParseCount(name, Value());
                    break;
                case "--repeat-window":
                    o.RepeatWindow = ParseSeconds(name, Value());
                    break;
                case "--recipient-delimiter":
                    o.RecipientDelimiter = ParseRecipientDelimiter(name, Value());
                    break;
                case "--socketmap-port":
                    o.SocketmapPort = ParsePort(name, Value());
                    break;
                case "--socketmap-name":
                    o.SocketmapName = ParseSocketmapName(name, Value());
                    break;
                case "--metrics":
                    o.Metrics = ParseListen(name, Value());
                    break;
                case "--allow":
                    o.Allow.Add(ParseNetwork(name, Value()));
                    break;
                case "--max-connections":
                    o.MaxConnections = ParseLimit(name, Value());
                    break;
                case "--version":
                    NoValue();
                    o.Version = true;
                    break;
                case "-h":
                case "--help":
                    NoValue();
                    o.Help = true;
                    break;
                default:
                    if (name.StartsWith('-'))
                        throw new UsageException(name, "unknown option");
                    throw new UsageException(Quote(name), "unexpected argument");
            }
        }

        if (o.Verbose && o.Quiet)
            throw new UsageException("--quiet", "cannot be combined with --verbose");
        int modes = (o.Check ? 1 : 0) + (o.Explain != null ? 1 : 0) + (o.Simulate != null ? 1 : 0);
        if (modes > 1)
            throw new UsageException(o.Check ? "--check" : "--explain", "cannot be combined with --explain or --simulate");
        return o;
    }

    public static string Quote(string s) => "\"" + s + "\"";

    /// <summary>
    /// A socketmap name as Postfix sends it: after the last ':' of the table name, before the
    /// first space of the request. So no ':', no white space, no control characters.
    /// </summary>
    public static string ParseSocketmapName(string flag, string text)
    {
        bool ok = text.Length > 0;
        foreach (char c in text)
            if (c == ':' || char.IsWhiteSpace(c) || char.IsControl(c)) ok = false;
        if (!ok)
            throw new UsageException(flag, "not a socketmap name (no spaces or colons): " + Quote(text));
        return text;
    }

    /// <summary>Delimiter characters for address extensions; "" turns them off.</summary>
    public static string ParseRecipientDelimiter(string flag, string text)
    {
        var parsed = Router.Core.Address.parseDelimiters(text);
        if (parsed.IsError) throw new UsageException(flag, parsed.ErrorValue);
        return parsed.ResultValue;
    }

    public static int ParsePort(string flag, string text)
    {
        if (!TryParseInt(text, out int port) || port < 1 || port > 65535)
            throw new UsageException(flag, "not a port number: " + Quote(text));
        return port;
    }

    public static int ParseSeconds(string flag, string text)
    {
        if (!TryParseInt(text, out int n) || n < 0)
            throw new UsageException(flag, "not a number of seconds: " + Quote(text));
        return n;
    }

    public static int ParseCount(string flag, string text)
    {
        if (!TryParseInt(text, out int n) || n < 0)
            throw new UsageException(flag, "not a count: " + Quote(text));
        return n;
    }

    /// <summary>A network in CIDR notation (a bare address is one host).</summary>
    public static Router.Core.Allow.Network ParseNetwork(string flag, string text)
    {
        var parsed = Router.Core.Allow.parse(text);
        if (parsed.IsError) throw new UsageException(flag, parsed.ErrorValue);
        return parsed.ResultValue;
    }

    /// <summary>A count of at least 1.</summary>
    public static int ParseLimit(string flag, string text)
    {
        if (!TryParseInt(text, out int n) || n < 1)
            throw new UsageException(flag, "not a whole number of 1 or more: " + Quote(text));
        return n;
    }

    public static int ParseDnsTimeout(string flag, string text)
    {
        if (!TryParseInt(text, out int n) || n < 1 || n > 300)
            throw new UsageException(flag, "not a number of seconds from 1 to 300: " + Quote(text));
        return n;
    }

    public static int ParseDnsRetries(string flag, string text)
    {
        if (!TryParseInt(text, out int n) || n > 10)
            throw new UsageException(flag, "not a count from 0 to 10: " + Quote(text));
        return n;
    }

    public static Router.Core.Config.DnsFailurePolicy ParseDnsFailurePolicy(string flag, string text)
    {
        var policy = Router.Core.Config.parseDnsFailurePolicy(text);
        if (policy == null) throw new UsageException(flag, "not defer or default: " + Quote(text));
        return policy.Value;
    }

    /// <summary>An IP address to bind; "localhost" means the IPv4 loopback.</summary>
    public static string ParseHost(string flag, string text)
    {
        if (text.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return "127.0.0.1";
        string bare = text.Length > 2 && text[0] == '[' && text[^1] == ']' ? text[1..^1] : text;
        if (!TryParseIp(bare, out _))
            throw new UsageException(flag, "not an IP address: " + Quote(text));
        return bare;
    }

    /// <summary>ADDR:PORT to listen on: 127.0.0.1:9120, [::1]:9120, localhost:9120, 0.0.0.0:9120.</summary>
    public static IPEndPoint ParseListen(string flag, string text)
    {
        string host, port;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']');
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
                throw new UsageException(flag, "not an ADDR:PORT: " + Quote(text));
            host = text.Substring(0, close + 1);
            port = text.Substring(close + 2);
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon <= 0 || text.IndexOf(':') != colon)
                throw new UsageException(flag, "not an ADDR:PORT: " + Quote(text));
            host = text.Substring(0, colon);
            port = text.Substring(colon + 1);
        }
        if (!TryParseInt(port, out int p) || p < 1 || p > 65535)
            throw new UsageException(flag, "not an ADDR:PORT: " + Quote(text));
        string address;
        try
        {
            address = ParseHost(flag, host);
        }
        catch (UsageException)
        {
            throw new UsageException(flag, "not an ADDR:PORT: " + Quote(text));
        }
        return new IPEndPoint(IPAddress.Parse(address), p);
    }

    /// <summary>
    /// ADDR[:PORT]: 192.0.2.1, 192.0.2.1:5353, ::1, [::1], [::1]:5353. Port 53 by default.
    /// </summary>
    public static IPEndPoint ParseDnsServer(string flag, string text)
    {
        string addr = text;
        int port = 53;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']');
            if (close < 0) throw new UsageException(flag, "not an address[:port]: " + Quote(text));
            addr = text.Substring(1, close - 1);
            string rest = text.Substring(close + 1);
            if (rest.Length > 0)
            {
                if (rest[0] != ':' || !TryParseInt(rest.Substring(1), out port) || port < 1 || port > 65535)
                    throw new UsageException(flag, "not an address[:port]: " + Quote(text));
            }
            if (!TryParseIp(addr, out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
                throw new UsageException(flag, "not an address[:port]: " + Quote(text));
            return new IPEndPoint(v6, port);
        }

        int colons = 0;
        foreach (char c in text) if (c == ':') colons++;
        if (colons == 1)
        {
            int colon = text.IndexOf(':');
            addr = text.Substring(0, colon);
            if (!TryParseInt(text.Substring(colon + 1), out port) || port < 1 || port > 65535)
                throw new UsageException(flag, "not an address[:port]: " + Quote(text));
        }
        if (!TryParseIp(addr, out var ip))
            throw new UsageException(flag, "not an address[:port]: " + Quote(text));
        if (colons == 1 && ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            throw new UsageException(flag, "not an address[:port]: " + Quote(text));
        return new IPEndPoint(ip, port);
    }

    /// <summary>IPv6, or IPv4 in dotted-quad form only (IPAddress.Parse takes "1" as 0.0.0.1).</summary>
    public static bool TryParseIp(string text, out IPAddress ip)
    {
        ip = IPAddress.None;
        if (text.Length == 0) return false;
        if (!text.Contains(':'))
        {
            int dots = 0;
            foreach (char c in text)
            {
                if (c == '.') dots++;
                else if (c < '0' || c > '9') return false;
            }
            if (dots != 3) return false;
        }
        if (!IPAddress.TryParse(text, out var parsed)) return false;
        ip = parsed;
        return true;
    }

    private static bool TryParseInt(string text, out int value)
    {
        value = 0;
        if (text.Length == 0 || text.Length > 10) return false;
        foreach (char c in text) if (c < '0' || c > '9') return false;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
