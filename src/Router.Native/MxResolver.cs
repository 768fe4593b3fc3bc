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
/// A cache hit completes synchronously without allocating. Concurrent lookups of the same
/// cold domain share one query. An answer lives min(record TTL, --cache-ttl) seconds
/// (at least <see cref="MinimumLifetime"/>); when DNS then fails, an answer younger than
/// --cache-ttl still covers the failure.
/// </summary>
public sealed class MxResolver
{
    public static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(2);
    public const int QueryRetries = 2;
    /// <summary>Floor of an entry's lifetime, so that TTL 0 answers do not query per lookup.</summary>
    public const int MinimumLifetime = 5;
    /// <summary>Lifetime of a negative answer without an SOA record.</summary>
    public const int NegativeLifetimeWithoutSoa = 60;

    private sealed class Entry(Routing.MxAnswer answer, long freshUntil, long keepUntil)
    {
        public readonly Routing.MxAnswer Answer = answer;
        public readonly long FreshUntil = freshUntil;  // Environment.TickCount64 ms
        public readonly long KeepUntil = keepUntil;    // covers DNS failures until then
    }

    private readonly LookupClient _client;
    private readonly ILogger _log;
    private readonly long _cacheTtlMs;
    private readonly ConcurrentDictionary<string, Entry> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task<Routing.MxAnswer>> _inFlight = new(StringComparer.Ordinal);
    private readonly IdnMapping _idn = new();
    private readonly Timer? _sweeper;

    public IReadOnlyList<IPEndPoint> NameServers { get; }

    public int CacheEntries => _cache.Count;

    /// <param name="servers">--dns-server values; empty means /etc/resolv.conf.</param>
    /// <param name="cacheTtl">--cache-ttl in seconds; 0 disables caching.</param>
    public MxResolver(IReadOnlyList<IPEndPoint> servers, int cacheTtl, ILogger log)
    {
        _log = log;
        _cacheTtlMs = cacheTtl * 1000L;
        LookupClientOptions options;
        if (servers.Count > 0)
        {
            options = new LookupClientOptions(servers.ToArray()) { AutoResolveNameServers = false };
        }
        else
        {
            var fromResolvConf = ResolvConf.NameServers("/etc/resolv.conf");
            options = fromResolvConf.Count > 0
                ? new LookupClientOptions(fromResolvConf.ToArray()) { AutoResolveNameServers = false }
                : new LookupClientOptions { AutoResolveNameServers = true };
        }
        options.UseCache = false;
        options.Timeout = QueryTimeout;
        options.Retries = QueryRetries;
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
        if (_cacheTtlMs > 0)
            _sweeper = new Timer(_ => Sweep(), null, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(60));
    }

    /// <summary>The MX answer for a key: NotQueried for keys that make no query.</summary>
    public ValueTask<Routing.MxAnswer> LookupAsync(Address.Key key)
    {
        if (!key.Queryable) return new ValueTask<Routing.MxAnswer>(Routing.MxAnswer.NotQueried);
        string? name = QueryName(key.Domain);
        if (name == null) return new ValueTask<Routing.MxAnswer>(NoHosts);

        if (_cacheTtlMs > 0 && _cache.TryGetValue(name, out var entry)
            && Environment.TickCount64 < entry.FreshUntil)
            return new ValueTask<Routing.MxAnswer>(entry.Answer);

        return new ValueTask<Routing.MxAnswer>(SharedQuery(name));
    }

    private static readonly Routing.MxAnswer NoHosts = Routing.MxAnswer.NewHosts(FSharpList<Rules.Mx>.Empty);

    /// <summary>ASCII query name (IDN A-labels), without a trailing dot; null when not convertible.</summary>
    private string? QueryName(string domain)
    {
        string name = domain.EndsWith('.') ? domain.Substring(0, domain.Length - 1) : domain;
        bool ascii = true;
        foreach (char c in name)
        {
            if (c >= 0x80) { ascii = false; break; }
        }
        if (ascii) return name;
        try
        {
            return _idn.GetAscii(name).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>One query per cold name at a time: the first caller starts it, others await it.</summary>
    private Task<Routing.MxAnswer> SharedQuery(string name)
    {
        if (_inFlight.TryGetValue(name, out var running)) return running;
        var tcs = new TaskCompletionSource<Routing.MxAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
        var mine = tcs.Task;
        var winner = _inFlight.GetOrAdd(name, mine);
        if (!ReferenceEquals(winner, mine)) return winner;
        _ = RunQuery(name, tcs);
        return mine;
    }

    private async Task RunQuery(string name, TaskCompletionSource<Routing.MxAnswer> tcs)
    {
        Routing.MxAnswer answer;
        try
        {
            answer = await QueryAsync(name).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            answer = Routing.MxAnswer.NewDnsFailure("DNS error for " + name + ": " + e.GetType().Name);
        }
        finally
        {
            _inFlight.TryRemove(name, out _);
        }
        tcs.TrySetResult(answer);
    }

    private async Task<Routing.MxAnswer> QueryAsync(string name)
    {
        long now = Environment.TickCount64;
        string? failure;
        try
        {
            var response = await _client.QueryAsync(name, QueryType.MX, QueryClass.IN).ConfigureAwait(false);
            var code = response.Header.ResponseCode;
            if (code == DnsHeaderResponseCode.NoError || code == DnsHeaderResponseCode.NotExistentDomain)
            {
                var (answer, ttl) = Interpret(response, code);
                Store(name, answer, ttl, now);
                if (_log.IsEnabled(LogLevel.Debug))
                    _log.LogDebug("MX {Name}: {Answer} (ttl {Ttl} s)", name, Describe(answer), ttl);
                return answer;
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

        if (_cacheTtlMs > 0 && _cache.TryGetValue(name, out var stale) && Environment.TickCount64 < stale.KeepUntil)
        {
            _log.LogWarning("{Failure}; using the cached answer", failure);
            return stale.Answer;
        }
        _log.LogWarning("{Failure}", failure);
        return Routing.MxAnswer.NewDnsFailure(failure);
    }

    private static (Routing.MxAnswer Answer, long Ttl) Interpret(IDnsQueryResponse response, DnsHeaderResponseCode code)
    {
        var records = new List<Rules.Mx>();
        long ttl = long.MaxValue;
        if (code == DnsHeaderResponseCode.NoError)
        {
            foreach (var rr in response.Answers)
            {
                if (rr is MxRecord mx)
                {
                    records.Add(new Rules.Mx(mx.Preference, mx.Exchange.Value));
                    ttl = Math.Min(ttl, Math.Max(0, mx.InitialTimeToLive));
                }
            }
        }
        if (records.Count == 0)
        {
            // Negative answer (RFC 2308): the SOA in the authority section says how long.
            foreach (var rr in response.Authorities)
            {
                if (rr is SoaRecord soa)
                    ttl = Math.Min(ttl, Math.Min(Math.Max(0, soa.InitialTimeToLive), soa.Minimum));
            }
            if (ttl == long.MaxValue) ttl = NegativeLifetimeWithoutSoa;
            return (NoHosts, ttl);
        }
        return (Routing.MxAnswer.NewHosts(ListModule.OfSeq(records)), ttl);
    }

    private void Store(string name, Routing.MxAnswer answer, long ttlSeconds, long now)
    {
        if (_cacheTtlMs <= 0) return;
        long lifetime = Math.Min(Math.Max(ttlSeconds, MinimumLifetime) * 1000L, _cacheTtlMs);
        _cache[name] = new Entry(answer, now + lifetime, now + _cacheTtlMs);
    }

    private void Sweep()
    {
        long now = Environment.TickCount64;
        foreach (var pair in _cache)
        {
            if (now >= pair.Value.KeepUntil) _cache.TryRemove(pair);
        }
    }

    public static string Describe(Routing.MxAnswer answer)
    {
        if (answer is Routing.MxAnswer.Hosts hosts)
        {
            if (hosts.Item.IsEmpty) return "no MX hosts";
            var parts = new List<string>();
            foreach (var mx in hosts.Item)
                parts.Add(mx.Host.TrimEnd('.') + " (" + mx.Preference.ToString(CultureInfo.InvariantCulture) + ")");
            return string.Join(", ", parts);
        }
        if (answer is Routing.MxAnswer.DnsFailure failure) return "DNS failure: " + failure.reason;
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

/// <summary>The nameserver lines of /etc/resolv.conf.</summary>
public static class ResolvConf
{
    public static List<IPEndPoint> NameServers(string path)
    {
        var result = new List<IPEndPoint>();
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return result;
        }
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (!line.StartsWith("nameserver", StringComparison.Ordinal)) continue;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2 || parts[0] != "nameserver") continue;
            string addr = parts[1];
            int scope = addr.IndexOf('%');
            if (IPAddress.TryParse(addr, out var ip) || scope > 0 && IPAddress.TryParse(addr.Substring(0, scope), out ip))
                result.Add(new IPEndPoint(ip, 53));
        }
        return result;
    }
}
