using System.Globalization;
using System.Net;
using Router.Core;

namespace Router.Native;

/// <summary>The addresses a probe tries, in order, or why there are none.</summary>
public readonly record struct ProbeEndpoints(IReadOnlyList<IPEndPoint> Endpoints, string? Failure);

/// <summary>
/// A next hop's addresses, found as Postfix's smtp client finds them, through the router's
/// own resolver (<see cref="DnsQuery"/>): an IP literal is itself; a bracketed name (and any
/// lmtp host) its A, then AAAA records; an unbracketed name its MX hosts, lowest preference
/// first, each with its A then AAAA records, or, when it has no MX records, its own. A DNS
/// failure of the MX query fails the whole (Postfix defers then too); a failing MX host is
/// skipped. At most <see cref="AddressLimit"/> addresses, like Postfix's smtp_mx_address_limit.
/// </summary>
public static class ProbeAddresses
{
    public const int AddressLimit = 5;

    private static readonly IdnMapping Idn = new();

    /// <summary>Never throws but <see cref="OperationCanceledException"/> when <paramref name="cancel"/> fires.</summary>
    public static async Task<ProbeEndpoints> ResolveAsync(DnsQuery dns, NextHop.Endpoint target, CancellationToken cancel)
    {
        int port = target.Port;
        var host = target.Host;
        if (host is NextHop.Host.Literal literal)
        {
            return IPAddress.TryParse(literal.ip, out var ip)
                ? new ProbeEndpoints(new[] { new IPEndPoint(ip, port) }, null)
                : new ProbeEndpoints(Array.Empty<IPEndPoint>(), "not an IP address: " + literal.ip);
        }
        string name = host is NextHop.Host.Name n ? n.name : ((NextHop.Host.MxName)host).name;
        string? query = QueryName(name);
        if (query is null) return new ProbeEndpoints(Array.Empty<IPEndPoint>(), "not a host name: " + name);
        var endpoints = new List<IPEndPoint>();
        if (host.IsMxName)
        {
            var mx = await dns.MxHostsAsync(query, cancel).ConfigureAwait(false);
            if (mx.Failure is not null) return new ProbeEndpoints(endpoints, "DNS failure: " + mx.Failure);
            if (mx.Records.Count > 0)
            {
                var failures = new List<string>();
                foreach (var mxHost in mx.Records)
                {
                    if (endpoints.Count >= AddressLimit) break;
                    var a = await dns.AddressesAsync(mxHost, cancel).ConfigureAwait(false);
                    if (a.Failure is not null) failures.Add(a.Failure);
                    Add(endpoints, a.Records, port);
                }
                if (endpoints.Count > 0) return new ProbeEndpoints(endpoints, null);
                return new ProbeEndpoints(endpoints, "no address for the MX hosts of " + name + " ("
                    + string.Join(", ", mx.Records) + ")"
                    + (failures.Count > 0 ? ": DNS failure: " + string.Join("; ", failures) : ""));
            }
        }
        var own = await dns.AddressesAsync(query, cancel).ConfigureAwait(false);
        if (own.Failure is not null) return new ProbeEndpoints(endpoints, "DNS failure: " + own.Failure);
        Add(endpoints, own.Records, port);
        return endpoints.Count > 0
            ? new ProbeEndpoints(endpoints, null)
            : new ProbeEndpoints(endpoints, "no address for host " + name);
    }

    private static void Add(List<IPEndPoint> into, IReadOnlyList<IPAddress> addresses, int port)
    {
        foreach (var a in addresses)
        {
            if (into.Count >= AddressLimit) return;
            into.Add(new IPEndPoint(a, port));
        }
    }

    /// <summary>The A-label form of a name (IDN converted); null when it has none.</summary>
    private static string? QueryName(string name)
    {
        if (System.Text.Ascii.IsValid(name)) return name;
        try
        {
            return Idn.GetAscii(name).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
