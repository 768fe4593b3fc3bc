using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Router.Core;

namespace Router.Native;

/// <summary>
/// MX lookups: <see cref="DnsQuery"/> asks DNS, <see cref="DnsCache"/> keeps the answers,
/// <see cref="SingleFlight{T}"/> shares one query per name, and <see cref="MxCachePolicy"/>
/// decides how long an answer lives and what a cached one may do. The only async step of a lookup.
/// <list type="bullet">
/// <item>A fresh cache hit completes synchronously without allocating.</item>
/// <item>Prefetch: a hit late in an entry's life refreshes it in the background.</item>
/// <item>Serve stale (RFC 8767): when DNS fails, an entry within --stale-limit answers, and
/// DNS is asked again in the background at most once per recheck interval.</item>
/// <item>Otherwise a DNS failure is a <see cref="Lookup.MxAnswer.DnsFailure"/>; the core
/// decides with <see cref="FailurePolicy"/> what it becomes (400 or the default target).</item>
/// </list>
/// </summary>
public sealed class MxResolver
{
    private enum Outcome { Answered, Stale, Failed }

    private readonly record struct Resolution(Lookup.MxAnswer Answer, Outcome Outcome);

    private readonly DnsQuery _dns;
    private readonly ILogger _log;
    private readonly MxCachePolicy.Settings _policy;
    private readonly DnsCache? _cache;
    private readonly SingleFlight<Resolution> _inFlight;
    private readonly IdnMapping _idn = new();
    private readonly StripedCounter _hits = new();
    private long _misses;
    private long _stale;
    private long _failed;
    private long _prefetches;

    public IReadOnlyList<IPEndPoint> NameServers => _dns.NameServers;

    /// <summary>The DNS client the MX queries use; the health probes find relays through it too.</summary>
    public DnsQuery Query => _dns;

    /// <summary>Where the servers came from: "--dns-server", the resolv.conf path, or "DnsClient".</summary>
    public string NameServerSource => _dns.NameServerSource;

    public TimeSpan Timeout => _dns.Timeout;
    public int Retries => _dns.Retries;
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
        _policy = new MxCachePolicy.Settings(settings.CacheTtl, settings.StaleLimit);
        FailurePolicy = settings.FailurePolicy;
        _dns = new DnsQuery(settings);
        _inFlight = new SingleFlight<Resolution>(ResolveAsync,
            (name, e) => new Resolution(Lookup.MxAnswer.NewDnsFailure("DNS error for " + name + ": " + e.GetType().Name), Outcome.Failed));

        if (MxCachePolicy.caches(_policy) && settings.CacheSize > 0)
            _cache = new DnsCache(settings.CacheSize, TimeSpan.FromMilliseconds(MxCachePolicy.sweepEvery(_policy)));

        if (_log.IsEnabled(LogLevel.Debug))
        {
            var shown = new List<string>();
            foreach (var ns in NameServers) shown.Add(ns.ToString());
            _log.LogDebug(
                "DNS: servers {Servers} (from {Source}), timeout {Timeout} s, {Retries} retries; cache {Cache}; stale limit {Stale} s; failure policy {Policy}",
                string.Join(", ", shown), NameServerSource, (int)Timeout.TotalSeconds, Retries,
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
            if (idn == null) return new ValueTask<Lookup.MxAnswer>(DnsQuery.NoHosts);
            domain = idn;
        }

        if (_cache != null && _cache.TryGet(domain, out string name, out var entry))
        {
            long now = Environment.TickCount64;
            entry.Touch(now);
            switch (MxCachePolicy.onHit(entry.Times, entry.FailedAt, now).Tag)
            {
                case MxCachePolicy.Use.Tags.Answer:
                    _hits.Increment();
                    return new ValueTask<Lookup.MxAnswer>(entry.Answer);
                case MxCachePolicy.Use.Tags.AnswerAndRefresh:
                    _hits.Increment();
                    Prefetch(name);
                    return new ValueTask<Lookup.MxAnswer>(entry.Answer);
                case MxCachePolicy.Use.Tags.AnswerStale:
                    Interlocked.Increment(ref _stale);
                    return new ValueTask<Lookup.MxAnswer>(entry.Answer);
                case MxCachePolicy.Use.Tags.AnswerStaleAndRefresh:
                    Interlocked.Increment(ref _stale);
                    Prefetch(name);
                    return new ValueTask<Lookup.MxAnswer>(entry.Answer);
            }
        }
        return WaitForDns(_inFlight.Join(idn ?? domain.ToString()));
    }

    private void Prefetch(string name)
    {
        if (_inFlight.IsRunning(name)) return;
        Interlocked.Increment(ref _prefetches);
        _ = _inFlight.Join(name);
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

    /// <summary>Asks DNS; caches an answer; on failure falls back to a cached entry if the policy lets it cover.</summary>
    private async Task<Resolution> ResolveAsync(string name)
    {
        var reply = await _dns.MxAsync(name).ConfigureAwait(false);
        if (reply.Answered)
        {
            if (_cache != null)
            {
                long lifetime = MxCachePolicy.lifetime(_policy, reply.Ttl);
                _cache.Store(name, new CacheEntry(reply.Answer, MxCachePolicy.entry(_policy, Environment.TickCount64, lifetime)));
            }
            if (_log.IsEnabled(LogLevel.Debug))
                _log.LogDebug("MX {Name}: {Answer} (ttl {Ttl} s)", name, Describe(reply.Answer), reply.Ttl);
            return new Resolution(reply.Answer, Outcome.Answered);
        }

        if (_cache != null && _cache.TryGet(name, out var stale))
        {
            long now = Environment.TickCount64;
            var cover = MxCachePolicy.cover(stale.Times, now);
            if (cover.IsSome)
            {
                stale.RefreshFailed(cover.Value.AskAgainAt);
                _log.LogWarning("{Failure}; answering from the cache (expired {Age} s ago), asking again in {Recheck} s",
                    reply.Failure, cover.Value.ExpiredSeconds, cover.Value.RecheckSeconds);
                return new Resolution(stale.Answer, Outcome.Stale);
            }
        }
        _log.LogWarning("{Failure}", reply.Failure);
        return new Resolution(reply.Answer, Outcome.Failed);
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
}
