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
    /// <summary>--repeat-window / config.repeat_window in seconds; 0 = off (the default).</summary>
    public int RepeatWindow { get; init; }
    /// <summary>--metrics / config.metrics; null: no metrics endpoint.</summary>
    public IPEndPoint? Metrics { get; init; }

    /// <summary>Merges; a bad value in the file is an error line naming the file.</summary>
    public static EffectiveSettings Resolve(Options options, Config.Config config, List<string> errors)
    {
        var file = config.Settings;
        string where = config.File + ": error: ";

        string hostText = options.Host ?? file.Host?.Value ?? Options.DefaultHost;
        IPAddress host = IPAddress.Loopback;
        try
        {
            host = IPAddress.Parse(Options.ParseHost("config.host", hostText));
        }
        catch (UsageException e)
        {
            errors.Add(where + e.Message);
        }

        var dns = new List<IPEndPoint>(options.DnsServers);
        if (dns.Count == 0)
        {
            foreach (var text in file.DnsServers)
            {
                try
                {
                    dns.Add(Options.ParseDnsServer("config.dns_server", text));
                }
                catch (UsageException e)
                {
                    errors.Add(where + e.Message);
                }
            }
        }

        IPEndPoint? metrics = options.Metrics;
        if (metrics == null && file.Metrics?.Value is { } metricsText && metricsText.Trim().Length > 0)
        {
            try
            {
                metrics = Options.ParseListen("config.metrics", metricsText.Trim());
            }
            catch (UsageException e)
            {
                errors.Add(where + e.Message);
            }
        }

        string? logFile = file.LogFile?.Value;
        if (logFile != null && logFile.Trim().Length == 0) logFile = null;

        int port = options.Port ?? file.Port?.Value ?? Options.DefaultPort;
        int? socketmapPort = options.SocketmapPort ?? file.SocketmapPort?.Value;
        if (socketmapPort == port)
        {
            errors.Add((options.SocketmapPort != null ? Cli.Prefix + "--socketmap-port: " : where + "config.socketmap_port: ") +
                "port " + port + " is the tcp_table port too: give socketmap a port of its own");
        }
        string socketmapName = options.SocketmapName ?? Options.DefaultSocketmapName;
        if (options.SocketmapName == null && file.SocketmapName?.Value is { } nameText)
        {
            try
            {
                socketmapName = Options.ParseSocketmapName("config.socketmap_name", nameText);
            }
            catch (UsageException e)
            {
                errors.Add(where + e.Message);
            }
        }

        int cacheTtl = options.CacheTtl ?? file.CacheTtl?.Value ?? Options.DefaultCacheTtl;
        return new EffectiveSettings
        {
            Port = options.Port ?? file.Port?.Value ?? Options.DefaultPort,
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
                FailurePolicy = options.DnsFailurePolicy ?? file.DnsFailurePolicy?.Value ?? Router.Core.Config.DnsFailurePolicy.DeferMail,
            },
            SocketmapPort = socketmapPort,
            SocketmapName = socketmapName,
            RepeatWindow = options.RepeatWindow ?? file.RepeatWindow?.Value ?? 0,
            Metrics = metrics,
        };
    }

    public static string Show(IPAddress host, int port) =>
        host.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? "[" + host + "]:" + port
            : host + ":" + port;
}
