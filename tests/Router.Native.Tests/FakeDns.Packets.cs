using System.Text;

namespace Router.Native.Tests;

/// <summary>FakeDns's answers as bytes: the header, the question echoed, the answer records
/// (owner compressed to the question's name) and the SOA of negative answers.</summary>
public sealed partial class FakeDns
{
    private static void U16(List<byte> b, int v) { b.Add((byte)(v >> 8)); b.Add((byte)v); }
    private static void U32(List<byte> b, uint v) { U16(b, (int)(v >> 16)); U16(b, (int)(v & 0xFFFF)); }

    private static void Name(List<byte> b, string name)
    {
        foreach (var label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var bytes = Encoding.ASCII.GetBytes(label);
            b.Add((byte)bytes.Length);
            b.AddRange(bytes);
        }
        b.Add(0);
    }

    private sealed record Record(ushort Type, uint Ttl, byte[] Rdata);

    private static Record MxRdata(MxRecord mx)
    {
        var rdata = new List<byte>();
        U16(rdata, mx.Preference);
        Name(rdata, mx.Host);
        return new Record(TypeMx, mx.Ttl, rdata.ToArray());
    }

    private byte[] Build(Question q, int rcode, bool tc, List<Record> answers, bool soa)
    {
        var b = new List<byte>(512);
        var opcode = (q.Flags >> 11) & 0xF;
        var rd = q.Flags & 0x0100;
        var flags = 0x8000 | (opcode << 11) | 0x0400 /* AA */ | (tc ? 0x0200 : 0) | rd | 0x0080 /* RA */ | rcode;
        U16(b, q.Id);
        U16(b, flags);
        U16(b, 1);
        U16(b, answers.Count);
        U16(b, soa ? 1 : 0);
        U16(b, 0);
        b.AddRange(q.RawQuestion);
        foreach (var rr in answers)
        {
            b.Add(0xC0); b.Add(0x0C); // owner: the question's name
            U16(b, rr.Type);
            U16(b, 1);
            U32(b, rr.Ttl);
            U16(b, rr.Rdata.Length);
            b.AddRange(rr.Rdata);
        }
        if (soa)
        {
            b.Add(0xC0); b.Add(0x0C);
            U16(b, TypeSoa);
            U16(b, 1);
            U32(b, SoaTtl);
            var rdata = new List<byte>();
            Name(rdata, "ns1." + q.Name);
            Name(rdata, "hostmaster." + q.Name);
            U32(rdata, 2026010101); // serial
            U32(rdata, 7200);       // refresh
            U32(rdata, 900);        // retry
            U32(rdata, 1209600);    // expire
            U32(rdata, SoaMinimum); // minimum (negative caching TTL)
            U16(b, rdata.Count);
            b.AddRange(rdata);
        }
        return b.ToArray();
    }
}
