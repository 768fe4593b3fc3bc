using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Router.Native.Tests;

/// <summary>The harness's own DNS server answers as programmed (raw packets, no DNS library).</summary>
public class FakeDnsTests
{
    private static byte[] Query(ushort id, string name, ushort type = FakeDns.TypeMx)
    {
        var b = new List<byte> { (byte)(id >> 8), (byte)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
        foreach (var label in name.Split('.'))
        {
            b.Add((byte)label.Length);
            b.AddRange(Encoding.ASCII.GetBytes(label));
        }
        b.AddRange(new byte[] { 0, (byte)(type >> 8), (byte)type, 0, 1 });
        return b.ToArray();
    }

    private static byte[]? AskUdp(FakeDns dns, byte[] query, int timeoutMs = 2000)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.ReceiveTimeout = timeoutMs;
        s.SendTo(query, new IPEndPoint(IPAddress.Loopback, dns.Port));
        var buf = new byte[4096];
        try
        {
            var n = s.Receive(buf);
            return buf[..n];
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            return null;
        }
    }

    private static byte[] AskTcp(FakeDns dns, byte[] query)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 2000 };
        s.Connect(IPAddress.Loopback, dns.Port);
        var framed = new byte[query.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)query.Length);
        query.CopyTo(framed, 2);
        s.Send(framed);
        var len = new byte[2];
        Assert.Equal(2, s.Receive(len));
        var body = new byte[BinaryPrimitives.ReadUInt16BigEndian(len)];
        var got = 0;
        while (got < body.Length) got += s.Receive(body, got, body.Length - got, SocketFlags.None);
        return body;
    }

    private static int Rcode(byte[] r) => r[3] & 0xF;
    private static bool Truncated(byte[] r) => (r[2] & 0x02) != 0;
    private static int Answers(byte[] r) => BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(6));
    private static int Authorities(byte[] r) => BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(8));

    [Fact]
    public void AnswersAAndAaaaRecordsAndNoMxForANameWithAddressesOnly()
    {
        using var dns = new FakeDns();
        dns.SetAddresses("h.test", IPAddress.Parse("192.0.2.1"), IPAddress.Parse("2001:db8::1"), IPAddress.Parse("192.0.2.2"));

        var a = AskUdp(dns, Query(7, "h.test", FakeDns.TypeA))!;
        Assert.Equal(0, Rcode(a));
        Assert.Equal(2, Answers(a));
        Assert.Equal(new byte[] { 192, 0, 2, 2 }, a[^4..]);

        var aaaa = AskUdp(dns, Query(8, "h.test", FakeDns.TypeAaaa))!;
        Assert.Equal(0, Rcode(aaaa));
        Assert.Equal(1, Answers(aaaa));
        Assert.Equal(IPAddress.Parse("2001:db8::1").GetAddressBytes(), aaaa[^16..]);

        var mx = AskUdp(dns, Query(9, "h.test"))!;
        Assert.Equal(0, Rcode(mx));
        Assert.Equal(0, Answers(mx));
        Assert.Equal(1, Authorities(mx));

        var none = AskUdp(dns, Query(10, "other.test", FakeDns.TypeA))!;
        Assert.Equal(3, Rcode(none));
    }

    [Fact]
    public void AnswersMxNxdomainAndFailuresAsProgrammed()
    {
        using var dns = new FakeDns();
        dns.SetMx("a.test", (10, "mx1.a.test"), (20, "mx2.a.test"));
        dns.Set("sf.test", DnsBehavior.ServFail).Set("rf.test", DnsBehavior.Refused).Set("nd.test", DnsBehavior.NoData);

        var mx = AskUdp(dns, Query(0x1234, "A.Test"))!;
        Assert.Equal(0x1234, BinaryPrimitives.ReadUInt16BigEndian(mx));
        Assert.Equal(0, Rcode(mx));
        Assert.Equal(2, Answers(mx));

        var nx = AskUdp(dns, Query(2, "nowhere.test"))!;
        Assert.Equal(3, Rcode(nx));
        Assert.Equal(1, Authorities(nx));

        var nd = AskUdp(dns, Query(3, "nd.test"))!;
        Assert.Equal(0, Rcode(nd));
        Assert.Equal(0, Answers(nd));
        Assert.Equal(1, Authorities(nd));

        Assert.Equal(2, Rcode(AskUdp(dns, Query(4, "sf.test"))!));
        Assert.Equal(5, Rcode(AskUdp(dns, Query(5, "rf.test"))!));

        Assert.Equal(1, dns.MxQueries("a.test"));
        Assert.Equal(1, dns.MxQueries("a.test", DnsProtocol.Udp));
        Assert.Equal(0, dns.MxQueries("a.test", DnsProtocol.Tcp));
        Assert.Equal(5, dns.TotalQueries);
    }

    [Fact]
    public void TruncatesOverUdpAndAnswersInFullOverTcp()
    {
        using var dns = new FakeDns();
        dns.SetTruncated("big.test", new MxRecord(10, "mx.big.test"));
        var udp = AskUdp(dns, Query(7, "big.test"))!;
        Assert.True(Truncated(udp));
        Assert.Equal(0, Answers(udp));
        var tcp = AskTcp(dns, Query(8, "big.test"));
        Assert.False(Truncated(tcp));
        Assert.Equal(1, Answers(tcp));
        Assert.Equal(1, dns.MxQueries("big.test", DnsProtocol.Tcp));
    }

    [Fact]
    public void TimeOutNeverAnswersAndGarbageIsNotAMessage()
    {
        using var dns = new FakeDns();
        dns.Set("to.test", DnsBehavior.Timeout).Set("gb.test", DnsBehavior.Garbage);
        Assert.Null(AskUdp(dns, Query(9, "to.test"), timeoutMs: 500));
        var junk = AskUdp(dns, Query(10, "gb.test"))!;
        Assert.Equal(10, BinaryPrimitives.ReadUInt16BigEndian(junk));
        Assert.Equal(15, (junk[2] >> 3) & 0xF); // opcode 15: no such thing
        Assert.Equal(1, dns.MxQueries("to.test"));
    }

    [Fact]
    public void ADelayedNameIsAnsweredLaterAndOthersAreNotHeldUp()
    {
        using var dns = new FakeDns();
        dns.SetMx("slow.test", (10, "mx.slow.test")).SetDelay("slow.test", TimeSpan.FromMilliseconds(800));
        dns.SetMx("fast.test", (10, "mx.fast.test"));
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 3000 };
        var server = new IPEndPoint(IPAddress.Loopback, dns.Port);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        s.SendTo(Query(21, "slow.test"), server);
        s.SendTo(Query(22, "fast.test"), server);
        var buf = new byte[512];
        s.Receive(buf);
        Assert.Equal(22, BinaryPrimitives.ReadUInt16BigEndian(buf)); // the fast one first
        s.Receive(buf);
        Assert.Equal(21, BinaryPrimitives.ReadUInt16BigEndian(buf));
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(700), "the delayed answer came after " + sw.ElapsedMilliseconds + " ms");
    }

    [Fact]
    public void ANullMxAndTheSoaMinimumAreAsProgrammed()
    {
        using var dns = new FakeDns { SoaTtl = 60, SoaMinimum = 42 };
        dns.SetMx("null.test", (0, "."));
        var nullMx = AskUdp(dns, Query(31, "null.test"))!;
        Assert.Equal(1, Answers(nullMx));
        // answer: pointer(2) type(2) class(2) ttl(4) rdlength(2) = 3, rdata = preference 0 + root label
        var question = Query(31, "null.test").Length;
        Assert.Equal(3, BinaryPrimitives.ReadUInt16BigEndian(nullMx.AsSpan(question + 10)));
        Assert.Equal(new byte[] { 0, 0, 0 }, nullMx[(question + 12)..(question + 15)]);

        var nx = AskUdp(dns, Query(32, "gone.test"))!;
        Assert.Equal(60u, BinaryPrimitives.ReadUInt32BigEndian(nx.AsSpan(Query(32, "gone.test").Length + 6)));
        Assert.Equal(42u, BinaryPrimitives.ReadUInt32BigEndian(nx.AsSpan(nx.Length - 4)));
    }
}
