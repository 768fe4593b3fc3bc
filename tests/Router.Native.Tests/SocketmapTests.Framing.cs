using System.Diagnostics;
using System.Text;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;
// Framing: netstrings packed, split and malformed, the 10000-byte limit.
public partial class SocketmapTests
{
    [Fact]
    public void SeveralRequestsInOneWriteGetTheirRepliesInOrder()
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        var keys = new[] { "vip@example.com", "*", "someone@other.test", "vip@example.com", "mary@example.com" };
        c.Send(keys.SelectMany(k => SocketmapClient.Request(k)).ToArray());
        Assert.Equal(Vip, c.ReadReply());
        Assert.Equal(NotFound, c.ReadReply());
        Assert.Equal(NotFound, c.ReadReply());
        Assert.Equal(Vip, c.ReadReply());
        Assert.StartsWith("OK relay:[mx", c.ReadReply());
    }

    [Fact]
    public void ARequestSentOneByteAtATimeIsAnswered()
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        foreach (var b in SocketmapClient.Request("vip@example.com"))
        {
            c.Send(new[] { b });
            Thread.Sleep(5);
        }
        Assert.Equal(Vip, c.ReadReply());
    }

    [Fact]
    public void RequestsSplitAtEveryPointAreAnswered()
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        // Two requests back to back, cut in two at every byte: inside the length, at the
        // colon, inside the payload, before the comma, between the two.
        var stream = SocketmapClient.Request("vip@example.com").Concat(SocketmapClient.Request("*")).ToArray();
        for (var cut = 1; cut < stream.Length; cut++)
        {
            c.Send(stream[..cut]);
            Thread.Sleep(2);
            c.Send(stream[cut..]);
            Assert.Equal(Vip, c.ReadReply());
            Assert.Equal(NotFound, c.ReadReply());
        }
    }

    [Fact]
    public void AKeyWithSpacesAndUtf8IsSentRawAndLowerCased()
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.Equal(Vip, c.Lookup("VIP@EXAMPLE.COM"));
        Assert.StartsWith("OK relay:[mx", c.Lookup("\"John Doe\"@Example.com"));
        Assert.StartsWith("OK relay:[mx", c.Lookup("jöhn@example.com"));
        // No %XX decoding: this key is not vip@example.com (only the example.com rule matches it).
        var encoded = c.Lookup("vip%40example.com");
        Assert.StartsWith("OK relay:[mx", encoded);
    }

    [Theory]
    [InlineData("x5:transport vip@example.com,", "bad netstring length")]
    [InlineData(":transport vip@example.com,", "bad netstring length")]
    [InlineData("020:transport vip@example.com,", "bad netstring length")]
    [InlineData("get vip@example.com\n", "bad netstring length")]
    [InlineData("25:transport vip@example.com;", "comma")]
    [InlineData("99999:", "longer than 10000 bytes")]
    [InlineData("10001", "longer than 10000 bytes")]
    public void MalformedFramingIsPermAndClosesTheConnection(string wire, string reason)
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.Equal(Vip, c.Lookup("vip@example.com"));
        c.Send(wire);
        var reply = c.ReadReply();
        Assert.StartsWith("PERM ", reply);
        Assert.Contains(reason, reply);
        Assert.True(c.WaitForClose(TimeSpan.FromSeconds(5)), "the router kept a connection whose framing is lost");
        // Other connections are not affected.
        using var d = router.Connect();
        Assert.Equal(Vip, d.Lookup("vip@example.com"));
    }

    [Fact]
    public void ARequestOfExactly10000BytesIsAnswered()
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        var key = new string('a', 10000 - "transport ".Length - "@other.test".Length) + "@other.test";
        Assert.Equal(10000, Encoding.UTF8.GetByteCount("transport " + key));
        Assert.Equal(NotFound, c.Lookup(key));
        Assert.Equal(Vip, c.Lookup("vip@example.com"));
    }

    [Theory]
    [InlineData("9:transport,", "missing space")]
    [InlineData("10:transport ,", "empty key")]
    [InlineData("4: key,", "empty map name")]
    public void AWellFramedBadRequestIsPermAndTheConnectionGoesOn(string wire, string reason)
    {
        using var dns = ExampleDns();
        using var router = new SocketmapRouter(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        c.Send(wire);
        var reply = c.ReadReply();
        Assert.StartsWith("PERM ", reply);
        Assert.Contains(reason, reply);
        Assert.Equal(Vip, c.Lookup("vip@example.com"));
    }
}
