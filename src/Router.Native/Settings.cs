using System.Net;
using Router.Core;

namespace Router.Native;

/// <summary>
/// The values the router runs with: the command line's when given, else the config file's
/// `config:` section, else the defaults.
/// </summary>
public sealed class EffectiveSettings
{
    public required int Port { get; init; }
    public required IPAddress Host { get; init; }
    public required int CacheTtl { get; init; }
    public required int Timeout { get; init; }
    public required IReadOnlyList<IPEndPoint> DnsServers { get; init; }
    public string? LogFile { get; init; }
    public DnsSettings Dns { get; init; } = new();
    /// <summary>The socketmap port; null when socketmap is off (the default).</summary>
    public int? SocketmapPort { get; init; }
    public string SocketmapName { get; init; } = Options.DefaultSocketmapName;
    /// <summary>Client networks that may connect; empty means anyone who can reach the (loopback) host.</summary>
    public IReadOnlyList<Allow.Network> Allow { get; init; } = Array.Empty<Allow.Network>();
    /// <summary>Most connections open at once, both listeners together.</summary>
    public int MaxConnections { get; init; } = Options.DefaultMaxConnections;
    /// <summary>--repeat-window / config.repeat_window in seconds; 0 = off (the default).</summary>
    public int RepeatWindow { get; init; }
    /// <summary>--metrics / config.metrics; null: no metrics endpoint.</summary>
    public IPEndPoint? Metrics { get; init; }
    /// <summary>--recipient-delimiter / config.recipient_delimiter; "" = off (the default).</summary>
    public string RecipientDelimiter { get; init; } = "";
    /// <summary>--failover when given; null: the config file's failover (read at every load).</summary>
    public int? Failover { get; init; }
    /// <summary>--health-interval / config.health_interval in seconds; 0 = off (the default).</summary>
    public int HealthInterval { get; init; }
    /// <summary>--health-timeout / config.health_timeout in seconds.</summary>
    public int HealthTimeout { get; init; } = DefaultHealthTimeout;
    /// <summary>config.health_fall and health_rise.</summary>
    public Health.Thresholds HealthThresholds { get; init; } = Health.defaults;

    public const int DefaultHealthTimeout = 5;

    /// <summary>
    /// The config to serve: the file's, with the command line's recipient delimiter when one
    /// was given (lookups read it from the config, so a reload applies the file's).
    /// </summary>
    public Model.Config Apply(Model.Config config)
    {
        if (config.Settings.RecipientDelimiter is not { } d || d.Value != RecipientDelimiter)
            config = Model.withRecipientDelimiter(RecipientDelimiter, config);
        if (Failover is { } failover && (config.Settings.Failover is not { } f || f.Value != failover))
            config = Model.withFailover(failover, config);
        return config;
    }

    /// <summary>
    /// Merges. The file's values arrive checked by the core (<see cref="Router.Core.Settings.read"/>);
    /// what is left here is what only the merged values show, each error naming its line.
    /// </summary>
    public static EffectiveSettings Resolve(Options options, Model.Config config, List<string> errors)
    {
        var file = config.Settings;
        // FILE:LINE:COL: error: for a value of the config: section, so that every config error names a line.
        string At(string key) =>
            config.SettingsAt.TryGetValue(key, out var pos)
                ? Diagnostics.render(new Diagnostics.Diagnostic(config.File, pos, Diagnostics.Severity.Error, ""))
                : config.File + ": error: ";

        string hostText = options.Host ?? file.Host?.Value ?? Options.DefaultHost;
        var host = IPAddress.Parse(hostText);
        var dns = new List<IPEndPoint>(options.DnsServers.Count > 0 ? options.DnsServers : file.DnsServers);
        IPEndPoint? metrics = options.Metrics ?? file.Metrics?.Value;
        string? logFile = file.LogFile?.Value;

        int port = options.Port ?? file.Port?.Value ?? Options.DefaultPort;
        int? socketmapPort = options.SocketmapPort ?? file.SocketmapPort?.Value;
        if (socketmapPort == port)
        {
            errors.Add((options.SocketmapPort != null ? Cli.Prefix + "--socketmap-port: " : At("socketmap_port") + "config.socketmap_port: ") +
                "port " + port + " is the tcp_table port too: give socketmap a port of its own");
        }
        string socketmapName = options.SocketmapName ?? file.SocketmapName?.Value ?? Options.DefaultSocketmapName;

        // The command line's list replaces the file's.
        var allow = new List<Allow.Network>(options.Allow.Count > 0 ? options.Allow : file.Allow);
        // tcp_table has no authentication: anything but loopback needs an allow-list.
        if (allow.Count == 0 && errors.Count == 0 && Router.Core.Allow.needsList(host.GetAddressBytes()))
        {
            errors.Add((options.Host != null ? Cli.Prefix + "--host " + hostText : At("host") + "config.host " + hostText) +
                ": not a loopback address, and tcp_table has no authentication: name the client networks that may" +
                " connect with --allow CIDR (or config.allow), e.g. --allow 192.0.2.0/24");
        }
        int maxConnections = options.MaxConnections ?? file.MaxConnections?.Value ?? Options.DefaultMaxConnections;

        int cacheTtl = options.CacheTtl ?? file.CacheTtl?.Value ?? Options.DefaultCacheTtl;
        return new EffectiveSettings
        {
            Port = port,
            Host = host,
            CacheTtl = cacheTtl,
            Timeout = options.Timeout ?? file.Timeout?.Value ?? Options.DefaultTimeout,
            DnsServers = dns,
            LogFile = logFile,
            Dns = new DnsSettings
            {
                Servers = dns,
                Timeout = options.DnsTimeout ?? file.DnsTimeout?.Value,
                Retries = options.DnsRetries ?? file.DnsRetries?.Value,
                CacheTtl = cacheTtl,
                CacheSize = options.CacheSize ?? file.CacheSize?.Value ?? DnsSettings.DefaultCacheSize,
                StaleLimit = options.StaleLimit ?? file.StaleLimit?.Value ?? DnsSettings.DefaultStaleLimit,
                FailurePolicy = options.DnsFailurePolicy ?? file.DnsFailurePolicy?.Value ?? Router.Core.Settings.DnsFailurePolicy.DeferMail,
            },
            SocketmapPort = socketmapPort,
            SocketmapName = socketmapName,
            Allow = allow,
            MaxConnections = maxConnections,
            RepeatWindow = options.RepeatWindow ?? file.RepeatWindow?.Value ?? 0,
            Metrics = metrics,
            RecipientDelimiter = options.RecipientDelimiter ?? file.RecipientDelimiter?.Value ?? "",
            Failover = options.Failover,
            HealthInterval = options.HealthInterval ?? file.HealthInterval?.Value ?? 0,
            HealthTimeout = options.HealthTimeout ?? file.HealthTimeout?.Value ?? DefaultHealthTimeout,
            HealthThresholds = new Health.Thresholds(
                file.HealthFall?.Value ?? Health.defaults.Fall, file.HealthRise?.Value ?? Health.defaults.Rise),
        };
    }

    public static string Show(IPAddress host, int port) =>
        host.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? "[" + host + "]:" + port
            : host + ":" + port;
}
