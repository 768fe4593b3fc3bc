using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using DnsClient;
using DnsClient.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.FSharp.Collections;
using Router.Core;

namespace Router.Native;

/// <summary>
/// MX lookups with DnsClient and the router's own cache: the only async step of a lookup.
/// <list type="bullet">
/// <item>A fresh cache hit completes synchronously without allocating. An answer is fresh
/// for its TTL (negative answers: min(SOA TTL, SOA minimum), RFC 2308), at least
/// <see cref="MinimumLifetime"/> s, at most --cache-ttl.</item>
/// <item>Single flight: concurrent lookups of a name share one query.</item>
/// <item>Prefetch: a hit in the last tenth of an entry's life refreshes it in the background.</item>
/// <item>Serve stale (RFC 8767): when DNS fails, an entry expired less than --stale-limit s
/// ago answers, and DNS is asked again in the background at most once per recheck interval.</item>
/// <item>Otherwise a DNS failure is a <see cref="Lookup.MxAnswer.DnsFailure"/>; the core
/// decides with <see cref="FailurePolicy"/> what it becomes (400 or the default target).</item>
/// </list>
/// </summary>
public sealed class MxResolver
{
    /// <summary>Floor of an entry's lifetime, so that TTL 0 answers do not query per lookup (--cache-ttl still caps it).</summary>
    public const int MinimumLifetime = 5;

    private enum Outcome { Answered, Stale, Failed }

    private readonly record struct Resolution(Lookup.MxAnswer Answer, Outcome Outcome);

    private readonly LookupClient _client;
    private readonly ILogger _log;
    private readonly long _cacheTtlMs;
    private readonly long _staleLimitMs;
    private readonly DnsCache? _cache;
    private readonly ConcurrentDictionary<string, Task<Resolution>> _inFlight = new(StringComparer.Ordinal);
    private readonly IdnMapping _idn = new();
    private const int SharedHostsLimit = 10_000;
    private readonly ConcurrentDictionary<string, string> _hostNames = new(StringComparer.Ordinal);
    private int _sharedHosts;
    private readonly StripedCounter _hits = new();
    private long _misses;
    private long _stale;
    private long _failed;
    private long _prefetches;

    public IReadOnlyList<IPEndPoint> NameServers { get; }

    /// <summary>Where the servers came from: "--dns-server", the resolv.conf path, or "DnsClient".</summary>
    public string NameServerSource { get; }

    public TimeSpan Timeout { get; }
    public int Retries { get; }
    public Settings.DnsFailurePolicy FailurePolicy { get; }

    public int CacheEntries => _cache?.Count ?? 0;
    public long Hits => _hits.Value;
    public long Misses => Interlocked.Read(ref _misses);
    public long StaleAnswers => Interlocked.Read(ref _stale);
    public long Failures => Interlocked.Read(ref _failed);
    public long Prefetches => Interlocked.Read(ref _prefetches);

    /// <param name="servers">--dns-server values; empty means /etc/resolv.conf.</param>
    /// <param name="cacheTtl">--cache-ttl in seconds; 0 disables caching.</param>
    public MxResolver(IReadOnlyList<IPEndPoint> servers, int cacheTtl, ILogger log)
        : this(new DnsSettings { Servers = servers, CacheTtl = cacheTtl }, log)
    {
    }

    public MxResolver(DnsSettings settings, ILogger log)
    {
        _log = log;
        _cacheTtlMs = settings.CacheTtl * 1000L;
        _staleLimitMs = settings.StaleLimit * 1000L;
        FailurePolicy = settings.FailurePolicy;

        LookupClientOptions options;
        ResolvConf? resolvConf = null;
        if (settings.Servers.Count > 0)
        {
            options = new LookupClientOptions(settings.Servers.ToArray()) { AutoResolveNameServers = false };
            NameServerSource = "--dns-server";
        }
        else
        {
            resolvConf = ResolvConf.Read(ResolvConf.Location());
            if (resolvConf.NameServers.Count > 0)
            {
                options = new LookupClientOptions(resolvConf.NameServers.ToArray()) { AutoResolveNameServers = false };
                NameServerSource = resolvConf.Path;
            }
            else
            {
                options = new LookupClientOptions { AutoResolveNameServers = true };
                NameServerSource = "DnsClient (no nameserver in " + resolvConf.Path + ")";
            }
        }
        // The command line and config: win; resolv.conf's options apply to its own servers.
        int timeout = settings.Timeout ?? resolvConf?.Timeout ?? DnsSettings.DefaultTimeout;
        int retries = settings.Retries ?? (resolvConf?.Attempts is { } attempts ? attempts - 1 : DnsSettings.DefaultRetries);
        Timeout = TimeSpan.FromSeconds(timeout);
        Retries = retries;

        options.UseCache = false;
        options.Timeout = Timeout;
        options.Retries = retries;
        options.ThrowDnsErrors = false;
        options.ContinueOnDnsError = false;
        options.ContinueOnEmptyResponse = false;
        options.UseTcpFallback = true;
        options.UseRandomNameServer = false;
        options.Recursion = true;
        _client = new LookupClient(options);
        var used = new List<IPEndPoint>();
        foreach (var ns in _client.NameServers) used.Add(new IPEndPoint(IPAddress.Parse(ns.Address), ns.Port));
        NameServers = used;

        if (_cacheTtlMs > 0 && settings.CacheSize > 0)
        {
            var sweepEvery = TimeSpan.FromSeconds(Math.Clamp(settings.CacheTtl, 1, 60));
            _cache = new DnsCache(settings.CacheSize, sweepEvery);
        }

        if (_log.IsEnabled(LogLevel.Debug))
        {
            var shown = new List<string>();
            foreach (var ns in NameServers) shown.Add(ns.ToString());
            _log.LogDebug(
                "DNS: servers {Servers} (from {Source}), timeout {Timeout} s, {Retries} retries; cache {Cache}; stale limit {Stale} s; failure policy {Policy}",
                string.Join(", ", shown), NameServerSource, timeout, retries,
                _cache == null ? "off" : "ttl " + settings.CacheTtl.ToString(CultureInfo.InvariantCulture) + " s, size " + _cache.Capacity.ToString(CultureInfo.InvariantCulture),
                settings.StaleLimit, DnsSettings.Show(FailurePolicy));
        }
    }

    /// <summary>"12 cache entries, 900 hits, 30 misses, 2 stale answers, 1 DNS failures, 5 prefetches".</summary>
    public string DescribeCache() =>
        CacheEntries.ToString(CultureInfo.InvariantCulture) + " cache entries, "
        + Hits.ToString(CultureInfo.InvariantCulture) + " hits, "
        + Misses.ToString(CultureInfo.InvariantCulture) + " misses, "
        + StaleAnswers.ToString(CultureInfo.InvariantCulture) + " stale answers, "
        + Failures.ToString(CultureInfo.InvariantCulture) + " DNS failures, "
        + Prefetches.ToString(CultureInfo.InvariantCulture) + " prefetches";

    /// <summary>The MX answer for a key: NotQueried for keys that make no query.</summary>
    public ValueTask<Lookup.MxAnswer> LookupAsync(Address.Key key)
    {
        if (!key.Queryable) return new ValueTask<Lookup.MxAnswer>(Lookup.MxAnswer.NotQueried);
        var domain = key.DomainSpan;
        if (domain.EndsWith('.')) domain = domain[..^1];
        // An ASCII domain is its own query name: the cache is asked with the key's span, no copy.
        string? idn = null;
        if (!System.Text.Ascii.IsValid(domain))
        {
            idn = IdnName(domain);
            if (idn == null) return new ValueTask<Lookup.MxAnswer>(NoHosts);
            domain = idn;
        }

        if (_cache != null && _cache.TryGet(domain, out string name, out var entry))
        {
            long now = Environment.TickCount64;
            entry.Touch(now);
            long retryAfter = entry.RetryAfter;
            if (now < entry.FreshUntil)
            {
                _hits.Increment();
                if (now >= entry.PrefetchAt && now >= retryAfter) Prefetch(name);
                return new ValueTask<Lookup.MxAnswer>(entry.Answer);
            }
            if (retryAfter != 0 && now < entry.StaleUntil)
            {
                // DNS failed to refresh this entry: answer stale without waiting, ask again
                // in the background once the recheck interval has passed.
                Interlocked.Increment(ref _stale);
                if (now >= retryAfter) Prefetch(name);
                return new ValueTask<Lookup.MxAnswer>(entry.Answer);
            }
        }
        return WaitForDns(SharedQuery(idn ?? domain.ToString()));
    }

    private static readonly Lookup.MxAnswer NoHosts = Lookup.MxAnswer.NewHosts(Rules.noHosts);

    private void Prefetch(string name)
    {
        if (_inFlight.ContainsKey(name)) return;
        Interlocked.Increment(ref _prefetches);
        _ = SharedQuery(name);
    }

    private async ValueTask<Lookup.MxAnswer> WaitForDns(Task<Resolution> query)
    {
        var r = await query.ConfigureAwait(false);
        switch (r.Outcome)
        {
            case Outcome.Answered:
                Interlocked.Increment(ref _misses);
                break;
            case Outcome.Stale:
                Interlocked.Increment(ref _stale);
                break;
            default:
                Interlocked.Increment(ref _failed);
                break;
        }
        return r.Answer;
    }

    /// <summary>The A-label query name of a non-ASCII domain (no trailing dot); null when not convertible.</summary>
    private string? IdnName(ReadOnlySpan<char> domain)
    {
        try
        {
            return _idn.GetAscii(domain.ToString()).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>One query per name at a time: the first caller starts it, others await it.</summary>
    private Task<Resolution> SharedQuery(string name)
    {
        if (_inFlight.TryGetValue(name, out var running)) return running;
        var tcs = new TaskCompletionSource<Resolution>(TaskCreationOptions.RunContinuationsAsynchronously);
        var mine = tcs.Task;
        var winner = _inFlight.GetOrAdd(name, mine);
        if (!ReferenceEquals(winner, mine)) return winner;
        _ = RunQuery(name, tcs);
        return mine;
    }

    private async Task RunQuery(string name, TaskCompletionSource<Resolution> tcs)
    {
        Resolution result;
        try
        {
            result = await ResolveAsync(name).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            result = new Resolution(Lookup.MxAnswer.NewDnsFailure("DNS error for " + name + ": " + e.GetType().Name), Outcome.Failed);
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<string, Task<Resolution>>(name, tcs.Task));
        }
        tcs.TrySetResult(result);
    }

    /// <summary>Asks DNS; caches an answer; on failure falls back to a stale entry if one may serve.</summary>
    private async Task<Resolution> ResolveAsync(string name)
    {
        long started = Metrics.DnsStarted();
        string failure;
        try
        {
            var response = await _client.QueryAsync(name, QueryType.MX, QueryClass.IN).ConfigureAwait(false);
            var code = response.Header.ResponseCode;
            if (code == DnsHeaderResponseCode.NoError || code == DnsHeaderResponseCode.NotExistentDomain)
            {
                var (answer, ttl) = Interpret(response, code);
                Store(name, answer, ttl);
                if (_log.IsEnabled(LogLevel.Debug))
                    _log.LogDebug("MX {Name}: {Answer} (ttl {Ttl} s)", name, Describe(answer), ttl);
                Metrics.DnsQuery(started, failed: false);
                return new Resolution(answer, Outcome.Answered);
            }
            failure = RcodeName(code) + " for " + name;
        }
        catch (DnsResponseException e)
        {
            failure = (e.Code == DnsResponseCode.ConnectionTimeout ? "DNS timeout" : "DNS error " + RcodeName(e.Code))
                      + " for " + name;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            failure = "DNS error for " + name + ": " + e.GetType().Name;
        }
        Metrics.DnsQuery(started, failed: true);

        long now = Environment.TickCount64;
        if (_cache != null && _cache.TryGet(name, out var stale) && now < stale.StaleUntil)
        {
            stale.RefreshFailed(now);
            long age = Math.Max(0, now - stale.FreshUntil) / 1000;
            _log.LogWarning("{Failure}; answering from the cache (expired {Age} s ago), asking again in {Recheck} s",
                failure, age, stale.RecheckAfterFailure / 1000);
            return new Resolution(stale.Answer, Outcome.Stale);
        }
        _log.LogWarning("{Failure}", failure);
        return new Resolution(Lookup.MxAnswer.NewDnsFailure(failure), Outcome.Failed);
    }

    /// <summary>The answer and how long it may be cached (seconds), before the floor and the cap.</summary>
    private (Lookup.MxAnswer Answer, long Ttl) Interpret(IDnsQueryResponse response, DnsHeaderResponseCode code)
    {
        var records = new List<Rules.Mx>();
        long ttl = long.MaxValue;
        if (code == DnsHeaderResponseCode.NoError)
        {
            foreach (var rr in response.Answers)
            {
                if (rr is MxRecord mx)
                {
                    records.Add(new Rules.Mx(mx.Preference, SharedHost(mx.Exchange.Value)));
                    ttl = Math.Min(ttl, Math.Max(0, mx.InitialTimeToLive));
                }
            }
        }
        if (records.Count == 0)
        {
            // Negative answer (RFC 2308 section 5): min(SOA TTL, SOA minimum). Without an
            // SOA the RFC says not to cache: the floor keeps that short.
            foreach (var rr in response.Authorities)
            {
                if (rr is SoaRecord soa)
                    ttl = Math.Min(ttl, Math.Min(Math.Max(0, soa.InitialTimeToLive), soa.Minimum));
            }
            if (ttl == long.MaxValue) ttl = 0;
            return (NoHosts, ttl);
        }
        // Sorted once here, not per lookup; a null MX (RFC 7505, "MX 0 .") is dropped there.
        return (Lookup.MxAnswer.NewHosts(Rules.sortHosts(ListModule.OfSeq(records))), ttl);
    }

    /// <summary>
    /// A host name in the form <see cref="Rules.sortHosts"/> gives (lower case, no trailing dot,
    /// so that it keeps this very instance), one instance per name: many domains share a few
    /// MX hosts (their provider's), and the cache then holds each name once, not once per
    /// domain. At most <see cref="SharedHostsLimit"/> names are shared; later ones are kept as they come.
    /// </summary>
    private string SharedHost(string exchange)
    {
        string host = exchange.ToLowerInvariant().TrimEnd('.');
        if (_hostNames.TryGetValue(host, out var shared)) return shared;
        if (Volatile.Read(ref _sharedHosts) >= SharedHostsLimit) return host;
        if (_hostNames.TryAdd(host, host))
        {
            Interlocked.Increment(ref _sharedHosts);
            return host;
        }
        return _hostNames.TryGetValue(host, out shared) ? shared : host;
    }

    private void Store(string name, Lookup.MxAnswer answer, long ttlSeconds)
    {
        if (_cache == null) return;
        long lifetime = Math.Min(Math.Max(ttlSeconds, MinimumLifetime) * 1000L, _cacheTtlMs);
        _cache.Store(name, new CacheEntry(answer, Environment.TickCount64, lifetime, _staleLimitMs));
    }

    public static string Describe(Lookup.MxAnswer answer)
    {
        if (answer is Lookup.MxAnswer.Hosts hosts)
        {
            var names = Rules.hostNames(hosts.Item);
            return names.IsEmpty ? "no MX hosts" : string.Join(", ", names);
        }
        if (answer is Lookup.MxAnswer.DnsFailure failure) return "DNS failure: " + failure.reason;
        return "not queried";
    }

    private static string RcodeName(DnsHeaderResponseCode code) => RcodeName((int)code);

    private static string RcodeName(DnsResponseCode code) => RcodeName((int)code);

    private static string RcodeName(int code) => code switch
    {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "rcode " + code.ToString(CultureInfo.InvariantCulture),
    };
}

/// <summary>A counter many threads bump at once: one padded cell per thread stripe.</summary>
public sealed class StripedCounter
{
    private const int Stripes = 16;
    private const int Spacing = 16; // longs: 128 bytes, two cache lines apart
    private readonly long[] _cells = new long[Stripes * Spacing];

    public void Increment() =>
        Interlocked.Increment(ref _cells[(Environment.CurrentManagedThreadId & (Stripes - 1)) * Spacing]);

    public long Value
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < Stripes; i++) sum += Interlocked.Read(ref _cells[i * Spacing]);
            return sum;
        }
    }
}
