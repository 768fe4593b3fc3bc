using System.Globalization;
using System.Net;
using DnsClient;
using DnsClient.Protocol;
using Microsoft.FSharp.Collections;
using Router.Core;

namespace Router.Native;

/// <summary>What one MX query gave: an answer and its TTL (seconds, before the cache's floor
/// and cap), or the failure's reason.</summary>
public readonly record struct DnsReply(Lookup.MxAnswer Answer, long Ttl, string? Failure)
{
    public bool Answered => Failure is null;
}

/// <summary>What a health probe's query gave: the records (empty for none), or the failure's reason.</summary>
public readonly record struct ProbeDnsReply<T>(IReadOnlyList<T> Records, string? Failure);

/// <summary>
/// DnsClient set up as the router needs it, and one MX query at a time. The servers are
/// --dns-server, else the nameservers of resolv.conf, else DnsClient's own guess; timeout
/// and retries come from the command line or `config:`, else from resolv.conf's options
/// (for its own servers), else the defaults. DnsClient's cache is off: the router owns its own.
/// </summary>
public sealed class DnsQuery
{
    private readonly LookupClient _client;
    private readonly HostNames _hosts = new();

    public IReadOnlyList<IPEndPoint> NameServers { get; }

    /// <summary>Where the servers came from: "--dns-server", the resolv.conf path, or "DnsClient".</summary>
    public string NameServerSource { get; }

    public TimeSpan Timeout { get; }
    public int Retries { get; }

    public DnsQuery(DnsSettings settings)
    {
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
    }

    /// <summary>Asks for the MX records of a name (an A-label, no trailing dot). Never throws
    /// for a DNS failure: its reason is in the reply.</summary>
    public async Task<DnsReply> MxAsync(string name)
    {
        long started = Metrics.DnsStarted();
        var (response, failure) = await AskAsync(name, QueryType.MX, CancellationToken.None).ConfigureAwait(false);
        if (response is not null)
        {
            var reply = Interpret(response, response.Header.ResponseCode);
            Metrics.DnsQuery(started, failed: false);
            return reply;
        }
        Metrics.DnsQuery(started, failed: true);
        return new DnsReply(Lookup.MxAnswer.NewDnsFailure(failure!), 0, failure);
    }

    /// <summary>
    /// The MX hosts of a name for a health probe, lowest preference first, then by name (lower
    /// case, no trailing dot); empty for NXDOMAIN or no MX records. A null MX (RFC 7505) is a
    /// failure: the name takes no mail. Not counted in the lookup path's DNS metrics. Throws
    /// only <see cref="OperationCanceledException"/>, when <paramref name="cancel"/> fires.
    /// </summary>
    public async Task<ProbeDnsReply<string>> MxHostsAsync(string name, CancellationToken cancel)
    {
        var (response, failure) = await AskAsync(name, QueryType.MX, cancel).ConfigureAwait(false);
        if (response is null) return new ProbeDnsReply<string>(Array.Empty<string>(), failure);
        var records = new List<Rules.Mx>();
        if (response.Header.ResponseCode == DnsHeaderResponseCode.NoError)
        {
            foreach (var rr in response.Answers)
            {
                if (rr is not MxRecord mx) continue;
                string host = mx.Exchange.Value.TrimEnd('.').ToLowerInvariant();
                if (host.Length == 0) return new ProbeDnsReply<string>(Array.Empty<string>(), "null MX for " + name);
                records.Add(new Rules.Mx(mx.Preference, host));
            }
        }
        var hosts = new List<string>(Rules.hostNames(Rules.sortHosts(ListModule.OfSeq(records))));
        return new ProbeDnsReply<string>(hosts, null);
    }

    /// <summary>
    /// The A, then the AAAA records of a name, for a health probe: empty when it has none
    /// (NXDOMAIN or no data), a failure only when both queries failed. Not counted in the lookup
    /// path's DNS metrics. Throws only <see cref="OperationCanceledException"/>, when
    /// <paramref name="cancel"/> fires.
    /// </summary>
    public async Task<ProbeDnsReply<IPAddress>> AddressesAsync(string name, CancellationToken cancel)
    {
        var addresses = new List<IPAddress>();
        string? failed = null;
        int answered = 0;
        foreach (var type in new[] { QueryType.A, QueryType.AAAA })
        {
            var (response, failure) = await AskAsync(name, type, cancel).ConfigureAwait(false);
            if (response is null)
            {
                failed ??= failure;
                continue;
            }
            answered++;
            if (response.Header.ResponseCode != DnsHeaderResponseCode.NoError) continue;
            foreach (var rr in response.Answers)
            {
                if (rr is ARecord a) addresses.Add(a.Address);
                else if (rr is AaaaRecord aaaa) addresses.Add(aaaa.Address);
            }
        }
        return answered == 0 && addresses.Count == 0
            ? new ProbeDnsReply<IPAddress>(addresses, failed)
            : new ProbeDnsReply<IPAddress>(addresses, null);
    }

    /// <summary>One query: the response when it is NOERROR or NXDOMAIN, else the failure's reason.</summary>
    private async Task<(IDnsQueryResponse? Response, string? Failure)> AskAsync(string name, QueryType type, CancellationToken cancel)
    {
        try
        {
            var response = await _client.QueryAsync(name, type, QueryClass.IN, cancel).ConfigureAwait(false);
            var code = response.Header.ResponseCode;
            if (code == DnsHeaderResponseCode.NoError || code == DnsHeaderResponseCode.NotExistentDomain)
                return (response, null);
            return (null, RcodeName(code) + " for " + name);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception) when (cancel.IsCancellationRequested)
        {
            // DnsClient reports a cancelled wait as its own time-out.
            throw new OperationCanceledException(cancel);
        }
        catch (DnsResponseException e)
        {
            return (null, (e.Code == DnsResponseCode.ConnectionTimeout ? "DNS timeout" : "DNS error " + RcodeName(e.Code))
                          + " for " + name);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return (null, "DNS error for " + name + ": " + e.GetType().Name);
        }
    }

    public static readonly Lookup.MxAnswer NoHosts = Lookup.MxAnswer.NewHosts(Rules.noHosts);

    /// <summary>The hosts of an NXDOMAIN or NOERROR answer, and the TTL the cache policy gives it.</summary>
    private DnsReply Interpret(IDnsQueryResponse response, DnsHeaderResponseCode code)
    {
        var records = new List<Rules.Mx>();
        var ttls = new List<long>();
        if (code == DnsHeaderResponseCode.NoError)
        {
            foreach (var rr in response.Answers)
            {
                if (rr is MxRecord mx)
                {
                    records.Add(new Rules.Mx(mx.Preference, _hosts.Share(mx.Exchange.Value)));
                    ttls.Add(mx.InitialTimeToLive);
                }
            }
        }
        if (records.Count == 0)
        {
            // NXDOMAIN, or no MX records: a negative answer, timed by its SOA (RFC 2308).
            var soas = new List<MxCachePolicy.Soa>();
            foreach (var rr in response.Authorities)
            {
                if (rr is SoaRecord soa) soas.Add(new MxCachePolicy.Soa(soa.InitialTimeToLive, soa.Minimum));
            }
            return new DnsReply(NoHosts, MxCachePolicy.negativeTtl(soas), null);
        }
        // Sorted once here, not per lookup; a null MX (RFC 7505, "MX 0 .") is dropped there.
        return new DnsReply(Lookup.MxAnswer.NewHosts(Rules.sortHosts(ListModule.OfSeq(records))), MxCachePolicy.recordsTtl(ttls), null);
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
