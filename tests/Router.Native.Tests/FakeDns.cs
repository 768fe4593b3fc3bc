using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Router.Native.Tests;

/// <summary>How the fake server answers the queries for one name.</summary>
public enum DnsBehavior
{
    /// <summary>NOERROR with the programmed MX records (none: same as NoData).</summary>
    Mx,
    /// <summary>NXDOMAIN, with an SOA record in the authority section.</summary>
    NxDomain,
    /// <summary>NOERROR, no answer, SOA in authority ("no MX records").</summary>
    NoData,
    ServFail,
    Refused,
    /// <summary>Never answers (over UDP or TCP): the client times out.</summary>
    Timeout,
    /// <summary>UDP: the TC bit and no answers; TCP: the full MX answer.</summary>
    Truncated,
    /// <summary>The query's id followed by bytes that are not a DNS message.</summary>
    Garbage,
}

public enum DnsProtocol { Udp, Tcp }

public sealed record MxRecord(ushort Preference, string Host, uint Ttl = 3600);

/// <summary>
/// A DNS server for tests, on 127.0.0.1 (UDP and TCP on the same ephemeral port), written by
/// hand: it parses the question and builds the answer that each name was programmed with.
/// Names it was not told about get NXDOMAIN. It counts every query per name, type and protocol.
/// Any name can be given a delay (for single-flight and concurrency tests); negative answers
/// carry an SOA whose TTL and minimum are settable (RFC 2308 caching). `MX 0 .` is a null MX.
/// A and AAAA records (<see cref="SetAddresses"/>) are answered for names of behaviour Mx
/// (or given no behaviour): a name with addresses and no MX records has no MX data, not NXDOMAIN.
/// </summary>
public sealed partial class FakeDns : IDisposable
{
    public const ushort TypeMx = 15;
    public const ushort TypeSoa = 6;
    public const ushort TypeA = 1;
    public const ushort TypeAaaa = 28;

    private sealed record Zone(DnsBehavior Behavior, IReadOnlyList<MxRecord> Mx);

    private readonly ConcurrentDictionary<string, Zone> zones = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, IReadOnlyList<IPAddress>> hostAddresses = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<(string Name, ushort Type, DnsProtocol Protocol), int> counts = new();
    private readonly Socket udp;
    private readonly TcpListener tcp;
    private readonly CancellationTokenSource stop = new();
    private readonly List<Socket> tcpClients = new();

    public int Port { get; }

    /// <summary>The value to give the router's --dns-server flag.</summary>
    public IPAddress Address { get; }

    public string Endpoint => Address.AddressFamily == AddressFamily.InterNetworkV6
        ? "[" + Address + "]:" + Port
        : Address + ":" + Port;

    /// <summary>TTL of the SOA record in negative answers (NXDOMAIN, no data).</summary>
    public uint SoaTtl { get; set; } = 300;

    /// <summary>The SOA minimum field: with SoaTtl, RFC 2308's negative caching time.</summary>
    public uint SoaMinimum { get; set; } = 300;

    private readonly ConcurrentDictionary<string, TimeSpan> delays = new(StringComparer.OrdinalIgnoreCase);

    public DnsBehavior DefaultBehavior { get; set; } = DnsBehavior.NxDomain;

    public FakeDns() : this(IPAddress.Loopback) { }

    /// <summary>Listens on a loopback address of choice (IPAddress.IPv6Loopback for IPv6 tests).</summary>
    public FakeDns(IPAddress address)
    {
        if (!IPAddress.IsLoopback(address))
            throw new ArgumentException("tests send DNS traffic to loopback only", nameof(address));
        Address = address;
        // UDP and TCP must share one port number: bind UDP to an ephemeral port, then try
        // TCP on the same number; retry on the rare clash with another listener.
        for (var attempt = 0; ; attempt++)
        {
            var u = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            u.Bind(new IPEndPoint(address, 0));
            var port = ((IPEndPoint)u.LocalEndPoint!).Port;
            var t = new TcpListener(address, port);
            try
            {
                t.Start();
            }
            catch (SocketException) when (attempt < 50)
            {
                u.Dispose();
                continue;
            }
            udp = u;
            tcp = t;
            Port = port;
            break;
        }
        _ = Task.Run(UdpLoop);
        _ = Task.Run(TcpLoop);
    }

    private static string Norm(string name) => name.TrimEnd('.').ToLowerInvariant();

    public FakeDns SetMx(string domain, params MxRecord[] records)
    {
        zones[Norm(domain)] = new Zone(DnsBehavior.Mx, records);
        return this;
    }

    /// <summary>MX records with TTL 3600, given as (preference, host).</summary>
    public FakeDns SetMx(string domain, params (ushort Preference, string Host)[] records) =>
        SetMx(domain, records.Select(r => new MxRecord(r.Preference, r.Host)).ToArray());

    /// <summary>The A (IPv4) and AAAA (IPv6) records of a name, TTL 3600; replaces earlier ones.</summary>
    public FakeDns SetAddresses(string name, params IPAddress[] addresses)
    {
        hostAddresses[Norm(name)] = addresses;
        return this;
    }

    /// <summary>Truncated over UDP; the full answer with these records over TCP.</summary>
    public FakeDns SetTruncated(string domain, params MxRecord[] records)
    {
        zones[Norm(domain)] = new Zone(DnsBehavior.Truncated, records);
        return this;
    }

    public FakeDns Set(string domain, DnsBehavior behavior)
    {
        zones[Norm(domain)] = new Zone(behavior, Array.Empty<MxRecord>());
        return this;
    }

    /// <summary>Every answer for this name (of any behaviour) is sent this much later.</summary>
    public FakeDns SetDelay(string domain, TimeSpan delay)
    {
        delays[Norm(domain)] = delay;
        return this;
    }

    /// <summary>Queries received for a name, optionally only of one type and one protocol.</summary>
    public int Queries(string name, ushort? type = null, DnsProtocol? protocol = null)
    {
        var n = Norm(name);
        return counts
            .Where(kv => kv.Key.Name == n
                && (type is null || kv.Key.Type == type)
                && (protocol is null || kv.Key.Protocol == protocol))
            .Sum(kv => kv.Value);
    }

    public int MxQueries(string name, DnsProtocol? protocol = null) => Queries(name, TypeMx, protocol);

    public int TotalQueries => counts.Values.Sum();

    public string DescribeQueries() =>
        string.Join(", ", counts.OrderBy(kv => kv.Key.Name).Select(kv =>
            kv.Key.Name + "/" + kv.Key.Type + "/" + kv.Key.Protocol + "=" + kv.Value));

    private async Task UdpLoop()
    {
        var buffer = new byte[65535];
        EndPoint any = new IPEndPoint(Address.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await udp.ReceiveFromAsync(buffer, SocketFlags.None, any, stop.Token);
            }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { continue; }
            var query = buffer.AsSpan(0, r.ReceivedBytes).ToArray();
            var reply = Answer(query, DnsProtocol.Udp, out var delay);
            if (reply is null) continue;
            var to = r.RemoteEndPoint;
            if (delay > TimeSpan.Zero)
                _ = Task.Run(async () => { await Task.Delay(delay, stop.Token); await SendUdp(reply, to); });
            else
                await SendUdp(reply, to);
        }
    }

    private async Task SendUdp(byte[] reply, EndPoint to)
    {
        try
        {
            await udp.SendToAsync(reply, SocketFlags.None, to, stop.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
    }

    private async Task TcpLoop()
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await tcp.AcceptSocketAsync(stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            lock (tcpClients) tcpClients.Add(client);
            _ = Task.Run(() => ServeTcp(client));
        }
    }

    private async Task ServeTcp(Socket client)
    {
        try
        {
            var lengthBytes = new byte[2];
            while (true)
            {
                if (!await ReadExactly(client, lengthBytes)) return;
                var length = BinaryPrimitives.ReadUInt16BigEndian(lengthBytes);
                var message = new byte[length];
                if (!await ReadExactly(client, message)) return;
                var reply = Answer(message, DnsProtocol.Tcp, out var delay);
                if (reply is null) continue; // time-out: keep the connection open, say nothing
                if (delay > TimeSpan.Zero) await Task.Delay(delay, stop.Token);
                var framed = new byte[reply.Length + 2];
                BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)reply.Length);
                reply.CopyTo(framed, 2);
                await client.SendAsync(framed, SocketFlags.None, stop.Token);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
        finally
        {
            client.Dispose();
        }
    }

    private async Task<bool> ReadExactly(Socket s, byte[] into)
    {
        var got = 0;
        while (got < into.Length)
        {
            var n = await s.ReceiveAsync(into.AsMemory(got), SocketFlags.None, stop.Token);
            if (n == 0) return false;
            got += n;
        }
        return true;
    }

    private sealed record Question(ushort Id, ushort Flags, string Name, byte[] RawQuestion, ushort Type);

    private static Question? Parse(byte[] m)
    {
        if (m.Length < 12) return null;
        var id = BinaryPrimitives.ReadUInt16BigEndian(m);
        var flags = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(2));
        var qd = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(4));
        if (qd < 1) return null;
        var pos = 12;
        var labels = new List<string>();
        while (true)
        {
            if (pos >= m.Length) return null;
            int len = m[pos];
            if (len == 0) { pos++; break; }
            if (len > 63 || pos + 1 + len > m.Length) return null; // no compression in questions
            labels.Add(Encoding.ASCII.GetString(m, pos + 1, len));
            pos += 1 + len;
        }
        if (pos + 4 > m.Length) return null;
        var type = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(pos));
        var raw = m.AsSpan(12, pos + 4 - 12).ToArray();
        return new Question(id, flags, Norm(string.Join('.', labels)), raw, type);
    }

    private byte[]? Answer(byte[] query, DnsProtocol protocol, out TimeSpan delay)
    {
        delay = TimeSpan.Zero;
        var q = Parse(query);
        if (q is null) return null;
        delay = delays.TryGetValue(q.Name, out var d) ? d : TimeSpan.Zero;
        counts.AddOrUpdate((q.Name, q.Type, protocol), 1, (_, n) => n + 1);
        var zone = zones.TryGetValue(q.Name, out var z) ? z
            : hostAddresses.ContainsKey(q.Name) ? new Zone(DnsBehavior.Mx, Array.Empty<MxRecord>())
            : new Zone(DefaultBehavior, Array.Empty<MxRecord>());
        switch (zone.Behavior)
        {
            case DnsBehavior.Timeout:
                return null;
            case DnsBehavior.Garbage:
                var junk = new byte[29];
                new Random(q.Id).NextBytes(junk);
                junk[0] = (byte)(q.Id >> 8);
                junk[1] = (byte)q.Id;
                junk[2] = 0xFF; // QR set, opcode 15: not a message anyone can read
                junk[3] = 0xFF;
                return junk;
            case DnsBehavior.ServFail:
                return Build(q, rcode: 2, tc: false, answers: new(), soa: false);
            case DnsBehavior.Refused:
                return Build(q, rcode: 5, tc: false, answers: new(), soa: false);
            case DnsBehavior.NxDomain:
                return Build(q, rcode: 3, tc: false, answers: new(), soa: true);
            case DnsBehavior.NoData:
                return Build(q, rcode: 0, tc: false, answers: new(), soa: true);
            case DnsBehavior.Truncated when protocol == DnsProtocol.Udp:
                return Build(q, rcode: 0, tc: true, answers: new(), soa: false);
            default: // Mx, or Truncated over TCP
                if (q.Type is TypeA or TypeAaaa)
                {
                    var family = q.Type == TypeA ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                    var records = (hostAddresses.TryGetValue(q.Name, out var all) ? all : Array.Empty<IPAddress>())
                        .Where(a => a.AddressFamily == family)
                        .Select(a => new Record(q.Type, 3600, a.GetAddressBytes()))
                        .ToList();
                    return Build(q, rcode: 0, tc: false, answers: records, soa: records.Count == 0);
                }
                if (q.Type != TypeMx || zone.Mx.Count == 0)
                    return Build(q, rcode: 0, tc: false, answers: new(), soa: true);
                return Build(q, rcode: 0, tc: false, answers: zone.Mx.Select(MxRdata).ToList(), soa: false);
        }
    }

    public void Dispose()
    {
        stop.Cancel();
        udp.Dispose();
        tcp.Stop();
        lock (tcpClients)
        {
            foreach (var c in tcpClients) c.Dispose();
        }
    }
}
