using System.Net;
using Router.Core;

namespace Router.Native;

/// <summary>
/// The DNS options the router runs with (command line, else `config:`, else the defaults).
/// Timeout and retries stay null when neither gave them: the resolver then takes them from
/// /etc/resolv.conf (when its servers come from there) or uses its defaults.
/// </summary>
public sealed class DnsSettings
{
    public const int DefaultTimeout = 2;
    public const int DefaultRetries = 2;
    public const int DefaultCacheSize = 100_000;
    public const int DefaultStaleLimit = 86_400;

    /// <summary>--dns-server; empty means the nameservers of /etc/resolv.conf.</summary>
    public IReadOnlyList<IPEndPoint> Servers { get; init; } = Array.Empty<IPEndPoint>();

    /// <summary>--dns-timeout: seconds to wait for one answer.</summary>
    public int? Timeout { get; init; }

    /// <summary>--dns-retries: tries after the first, per server.</summary>
    public int? Retries { get; init; }

    /// <summary>--cache-ttl: the longest an answer is fresh; 0 disables the cache.</summary>
    public int CacheTtl { get; init; } = Options.DefaultCacheTtl;

    /// <summary>--cache-size: the most domains cached; 0 disables the cache.</summary>
    public int CacheSize { get; init; } = DefaultCacheSize;

    /// <summary>--stale-limit: how long past its expiry an answer may cover a DNS failure.</summary>
    public int StaleLimit { get; init; } = DefaultStaleLimit;

    /// <summary>--dns-failure-policy: what a DNS failure with nothing cached does.</summary>
    public Settings.DnsFailurePolicy FailurePolicy { get; init; } = Settings.DnsFailurePolicy.DeferMail;

    public static string Show(Settings.DnsFailurePolicy policy) => policy.IsUseDefault ? "default" : "defer";
}
