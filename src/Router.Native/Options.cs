using System.Net;
using Router.Core;

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
    public Router.Core.Settings.DnsFailurePolicy? DnsFailurePolicy { get; private set; }
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
    public int? Failover { get; private set; }
    public int? HealthInterval { get; private set; }
    public int? HealthTimeout { get; private set; }

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
        "  --failover N             follow each group pick with up to N backups (0-4), the next\n" +
        "                           members of the group, as a next-hop list Postfix 3.5 and\n" +
        "                           later try in order (0 = off, the default)\n" +
        "  --health-interval SEC    probe every relay's next hop (220, EHLO, QUIT) every SEC;\n" +
        "                           a relay down takes no picks (0 = off, the default)\n" +
        "  --health-timeout SEC     how long one probe may take, 1-300 (default 5)\n" +
        "  --socketmap-port PORT    also serve Postfix's socketmap protocol on PORT (default off)\n" +
        "  --socketmap-name NAME    the socketmap name to answer (default transport)\n" +
        "  --metrics ADDR:PORT      serve the status page at http://ADDR:PORT/, its figures at\n" +
        "                           /status.json and Prometheus metrics at /metrics (default off)\n" +
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
                case "--failover":
                    o.Failover = Read(name, Router.Core.Settings.failover, Value());
                    break;
                case "--health-interval":
                    o.HealthInterval = ParseSeconds(name, Value());
                    break;
                case "--health-timeout":
                    o.HealthTimeout = Read(name, Router.Core.Settings.healthTimeout, Value());
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
    /// <summary>A value of one of the core's kinds (the config file reads the same kinds), or a usage error naming the flag.</summary>
    public static T Read<T>(string flag, Router.Core.Settings.Value<T> kind, string text)
    {
        var value = kind.Read.Invoke(text);
        if (value.IsError) throw new UsageException(flag, value.ErrorValue);
        return value.ResultValue;
    }

    /// <summary>Delimiter characters for address extensions; "" turns them off.</summary>
    public static string ParseRecipientDelimiter(string flag, string text) =>
        text.Length == 0 ? "" : Read(flag, Router.Core.Settings.recipientDelimiter, text);

    public static string ParseSocketmapName(string flag, string text) => Read(flag, Router.Core.Settings.socketmapName, text);
    public static int ParsePort(string flag, string text) => Read(flag, Router.Core.Settings.port, text);
    public static int ParseSeconds(string flag, string text) => Read(flag, Router.Core.Settings.seconds, text);
    public static int ParseCount(string flag, string text) => Read(flag, Router.Core.Settings.count, text);
    public static Allow.Network ParseNetwork(string flag, string text) => Read(flag, Router.Core.Settings.network, text);
    public static int ParseLimit(string flag, string text) => Read(flag, Router.Core.Settings.limit, text);
    public static int ParseDnsTimeout(string flag, string text) => Read(flag, Router.Core.Settings.dnsTimeout, text);
    public static int ParseDnsRetries(string flag, string text) => Read(flag, Router.Core.Settings.dnsRetries, text);

    public static Router.Core.Settings.DnsFailurePolicy ParseDnsFailurePolicy(string flag, string text) =>
        Read(flag, Router.Core.Settings.dnsFailurePolicy, text);

    public static string ParseHost(string flag, string text) => Read(flag, Router.Core.Settings.host, text);
    public static IPEndPoint ParseListen(string flag, string text) => Read(flag, Router.Core.Settings.listen, text);
    public static IPEndPoint ParseDnsServer(string flag, string text) => Read(flag, Router.Core.Settings.dnsServer, text);
}
