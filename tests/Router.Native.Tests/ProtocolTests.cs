using System.Text.RegularExpressions;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>README "Postfix setup" and "Try it by hand": framing, limits and reply encoding.</summary>
public class ProtocolTests
{
    private const string Vip = "200 smtp:[192.0.2.4]:587";

    /// <summary>Three digits, one space, then text in which space, %, controls and bytes >= 0x80 only appear as %XX.</summary>
    private static readonly Regex WellFormedReply = new(@"^[245]00 (?:[\x21-\x24\x26-\x7E]|%[0-9A-Fa-f]{2})+$");

    private static void AssertWellFormed(string reply) =>
        Assert.True(WellFormedReply.IsMatch(reply), "badly encoded reply: \"" + Escape(reply) + "\"");

    private static string Escape(string s) =>
        string.Concat(s.Select(ch => ch < 0x20 || ch >= 0x7F ? "\\x" + ((int)ch).ToString("X2") : ch.ToString()));

    [Fact]
    public void TwoRequestsInOneWriteGetTwoReplies()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        c.Send("get vip@example.com\nget someone@other.test\n");
        Assert.Equal(Vip, c.ReadLine());
        Assert.Equal("500 NO%20RESULT", c.ReadLine());
        Assert.Equal(Vip, c.Get("vip@example.com"));
    }

    [Fact]
    public void ARequestSplitAcrossWritesIsReassembled()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        c.Send("get vip@exa");
        Thread.Sleep(200);
        c.Send("mple.com");
        Thread.Sleep(200);
        c.Send("\nget some");
        Assert.Equal(Vip, c.ReadLine());
        Thread.Sleep(200);
        c.Send("one@other.test\n");
        Assert.Equal("500 NO%20RESULT", c.ReadLine());
    }

    [Fact]
    public void ARequestSentOneByteAtATimeIsAnswered()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        foreach (var ch in "get vip@example.com\n")
        {
            c.Send(ch.ToString());
            Thread.Sleep(5);
        }
        Assert.Equal(Vip, c.ReadLine());
    }

    [Fact]
    public void CrLfIsToleratedAndTheReplyEndsWithABareLf()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        c.Send("get vip@example.com\r\n");
        Assert.Equal(Vip, c.ReadLine()); // a CR before the LF would show up in the string
        c.Send("get someone@other.test\r\nget vip@example.com\r\n");
        Assert.Equal("500 NO%20RESULT", c.ReadLine());
        Assert.Equal(Vip, c.ReadLine());
    }

    [Fact]
    public void ALineLongerThan4096BytesGets400AndTheConnectionIsClosed()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        c.Send("get " + new string('a', 5000) + "@other.test\n");
        var reply = c.ReadLine();
        Assert.StartsWith("400 ", reply);
        AssertWellFormed(reply);
        Assert.True(c.WaitForClose(TimeSpan.FromSeconds(10)), "the connection stayed open after an over-long line");
        // The server itself goes on.
        using var d = router.Connect();
        Assert.Equal(Vip, d.Get("vip@example.com"));
    }

    [Fact]
    public void ALongLineWithinTheLimitIsServed()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        Assert.Equal("500 NO%20RESULT", c.Get(new string('a', 3900) + "@other.test"));
        Assert.Equal(Vip, c.Get("vip@example.com"));
    }

    [Fact]
    public void ALineOf4096BytesWithItsLfIsServedAndOneOf4098IsNot()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        // "get " + key + "\n" = 4096 bytes: within the limit however the LF is counted.
        var key = new string('a', 4096 - "get ".Length - "@other.test\n".Length) + "@other.test";
        using (var c = router.Connect())
        {
            Assert.Equal("500 NO%20RESULT", c.Get(key));
            Assert.Equal(Vip, c.Get("vip@example.com"));
        }
        // Two bytes more: over the limit however the LF is counted.
        using (var c = router.Connect())
        {
            Assert.StartsWith("400 ", c.Get("aa" + key));
            Assert.True(c.WaitForClose(TimeSpan.FromSeconds(10)), "the connection stayed open after an over-long line");
        }
    }

    [Fact]
    public void AnEndlessLineWithoutLfGets400WithoutWaitingForTheLf()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        c.Send("get " + new string('a', 6000));
        Assert.StartsWith("400 ", c.ReadLine(TimeSpan.FromSeconds(10)));
        Assert.True(c.WaitForClose(TimeSpan.FromSeconds(10)), "the connection stayed open after an over-long line");
    }

    [Fact]
    public void AMalformedRequestGets400()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        c.Send("put vip@example.com value\n");
        var reply = c.ReadLine();
        Assert.StartsWith("400 ", reply);
        AssertWellFormed(reply);
    }

    [Fact]
    public void EveryKindOfReplyIsWellFormed()
    {
        using var dns = Dns();
        dns.Set("broken.test", DnsBehavior.ServFail);
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        var replies = new List<string>();
        using (var c = router.Connect())
        {
            replies.Add(c.Get("vip@example.com"));
            replies.Add(c.Get("someone@contoso.com"));
            replies.Add(c.Get("someone@other.test"));
            replies.Add(c.Get("*"));
            replies.Add(c.Get("someone@broken.test", TimeSpan.FromSeconds(90)));
            replies.Add(c.Get(TcpTableClient.PostfixEncode("caf\u00e9 100%@other.test")));
            replies.Add(c.Get("a%0Ab%09c%0D@other.test"));
        }
        using (var c = router.Connect())
        {
            c.Send("what is this\n");
            replies.Add(c.ReadLine());
        }
        Assert.Equal(new[] { "200", "200", "500", "500", "400", "500", "500", "400" }, replies.Select(r => r[..3]));
        foreach (var r in replies) AssertWellFormed(r);
    }

    [Fact]
    public void ManyConnectionsAreServedAtOnce()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        var clients = Enumerable.Range(0, 20).Select(_ => router.Connect()).ToList();
        try
        {
            // Every connection is open before any asks: none may wait for another to close.
            foreach (var c in clients) c.Send("get vip@example.com\n");
            foreach (var c in clients) Assert.Equal(Vip, c.ReadLine());
            foreach (var c in Enumerable.Reverse(clients)) Assert.Equal("500 NO%20RESULT", c.Get("someone@other.test"));
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
    }
}
