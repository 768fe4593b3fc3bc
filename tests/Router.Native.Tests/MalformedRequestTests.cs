using System.Text;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// Malformed requests: 400 with a reason (PERM over socketmap), never 200, and the
/// connection stays usable wherever the framing is intact.
/// </summary>
public class MalformedRequestTests
{
    private const string Vip = "200 smtp:[192.0.2.4]:587";

    /// <summary>Request lines as bytes (Latin-1: "\u00ff" is the byte 0xFF), with the reason the 400 must give.</summary>
    public static TheoryData<string, string> Lines => new()
    {
        { "put vip@example.com relay:x", "unknown command" },
        { "GET vip@example.com", "unknown command" },
        { "get", "unknown command" },
        { "", "unknown command" },
        { "\u0001\u0002\u0003", "unknown command" },
        { "get ", "empty key" },
        { "get \r", "empty key" },
        { "get vip@example.com%", "truncated %XX escape" },
        { "get vip%4@example.com", "bad %XX escape" },
        { "get vip%zz@example.com", "bad %XX escape" },
        { "get vip%00@example.com", "NUL byte in key" },
        { "get vip\u0000@example.com", "NUL byte in key" },
        { "get vip%ff@example.com", "key is not UTF-8" },
        { "get vip\u00ff@example.com", "key is not UTF-8" },
        { "get vip%c3@example.com", "key is not UTF-8" },
        { "get vip%ed%a0%80@example.com", "key is not UTF-8" }, // a UTF-16 surrogate in UTF-8
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void AMalformedLineGets400WithItsReasonAndTheConnectionGoesOn(string line, string reason)
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.Equal(Vip, c.Get("vip@example.com"));
        c.Send(Encoding.Latin1.GetBytes(line + "\n"));
        Assert.Equal("400 " + reason.Replace("%", "%25").Replace(" ", "%20"), c.ReadLine());
        Assert.Equal(Vip, c.Get("vip@example.com"));
        Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));
    }

    [Fact]
    public void EveryMalformedLineInOneBurstGetsItsOwn400InOrder()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        var lines = Lines.Select(row => (string)row[0]).ToList();
        var burst = string.Concat(lines.Select(l => l + "\nget vip@example.com\n"));
        c.Send(Encoding.Latin1.GetBytes(burst));
        foreach (var line in lines)
        {
            var reply = c.ReadLine();
            Assert.True(reply.StartsWith("400 ", StringComparison.Ordinal) && reply.Length > 4, Peer.Show(Encoding.Latin1.GetBytes(line)) + " got " + reply);
            Assert.Equal(Vip, c.ReadLine());
        }
    }

    [Fact]
    public void RandomGarbageLinesNeverGet200()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        var random = new Random(7);
        for (var i = 0; i < 2000; i++)
        {
            var bytes = new byte[random.Next(0, 200)];
            random.NextBytes(bytes);
            for (var j = 0; j < bytes.Length; j++) if (bytes[j] == '\n') bytes[j] = (byte)'x';
            // Not starting with "get ": whatever it holds, it is no request.
            if (bytes.Length >= 4 && bytes[0] == 'g' && bytes[1] == 'e' && bytes[2] == 't' && bytes[3] == ' ') bytes[0] = (byte)'G';
            c.Send(bytes.Append((byte)'\n').ToArray());
            var reply = c.ReadLine();
            Assert.True(reply.StartsWith("400 ", StringComparison.Ordinal), Peer.Show(bytes) + " got " + reply);
        }
        Assert.Equal(Vip, c.Get("vip@example.com"));
    }

    public static TheoryData<string, string> SocketmapPayloads => new()
    {
        { "transport", "missing space between map name and key" },
        { " vip@example.com", "empty map name" },
        { "transport ", "empty key" },
        { "other vip@example.com", "unknown map name \"other\"" },
        { "transport vip\u0000@example.com", "NUL byte in request" },
        { "transport vip\u00ff@example.com", "request is not UTF-8" },
    };

    [Theory]
    [MemberData(nameof(SocketmapPayloads))]
    public void AnInvalidSocketmapRequestGetsPermAndTheConnectionGoesOn(string payload, string reason)
    {
        using var dns = Dns();
        var port = RouterProcess.FreePort();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--socketmap-port", port.ToString());
        using var c = SocketmapClient.Connect(port);
        c.Send(SocketmapClient.Netstring(Encoding.Latin1.GetBytes(payload)));
        Assert.Equal("PERM " + reason, c.ReadReply());
        Assert.Equal("OK smtp:[192.0.2.4]:587", c.Lookup("vip@example.com"));
    }

    [Theory]
    [InlineData("x:transport vip@example.com,")]
    [InlineData("25:transport vip@example.com;")]
    [InlineData("0025:transport vip@example.com,")]
    [InlineData("99999999:")]
    public void ABrokenNetstringGetsPermAndTheConnectionIsClosed(string bytes)
    {
        using var dns = Dns();
        var port = RouterProcess.FreePort();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--socketmap-port", port.ToString());
        using var c = SocketmapClient.Connect(port);
        c.Send(bytes);
        Assert.StartsWith("PERM ", c.ReadReply());
        Assert.True(c.WaitForClose(TimeSpan.FromSeconds(10)), "the connection stayed open after the framing was lost");
        using var d = SocketmapClient.Connect(port);
        Assert.Equal("OK smtp:[192.0.2.4]:587", d.Lookup("vip@example.com"));
    }
}
