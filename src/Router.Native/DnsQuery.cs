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
        string failure;
        try
        {
            var response = await _client.QueryAsync(name, QueryType.MX, QueryClass.IN).ConfigureAwait(false);
            var code = response.Header.ResponseCode;
            if (code == DnsHeaderResponseCode.NoError || code == DnsHeaderResponseCode.NotExistentDomain)
            {
                var reply = Interpret(response, code);
                Metrics.DnsQuery(started, failed: false);
                return reply;
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
        return new DnsReply(Lookup.MxAnswer.NewDnsFailure(failure), 0, failure);
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
