using System.Diagnostics;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

// The README's "Cache" and "When DNS fails": single flight, and the shell applying the
// cache policy in each of an entry's states (fresh, prefetch, stale, expired), each proven
// by counting the queries the fake DNS server receives (and, where it says more, the
// router's own -v counters). The policy's numbers themselves are laws in the core's
// MxCachePolicyTests. Each class runs in parallel with the others; the waits are TTLs of a
// few seconds, never "must finish within".

/// <summary>Concurrent lookups of one cold domain make exactly one query, whatever DNS answers.</summary>
public class DnsSingleFlightTests
{
    private const int Lookups = 20;

    [Theory]
    [InlineData(DnsBehavior.Mx, "200 smtp:[192.0.2.4]:587")]
    [InlineData(DnsBehavior.ServFail, "400 ")]
    [InlineData(DnsBehavior.Timeout, "400 ")]
    public void ConcurrentLookupsOfAColdDomainMakeOneQuery(DnsBehavior behavior, string expected)
    {
        using var dns = Dns();
        if (behavior == DnsBehavior.Mx) dns.SetMx("cold.test", (10, "mx.cold.test"));
        else dns.Set("cold.test", behavior);
        // The answer takes a second: every lookup below arrives while the first query is out.
        dns.SetDelay("cold.test", TimeSpan.FromSeconds(1));
        using var router = RouterProcess.Start(Config(DefaultAt.First, extraRules: "  mx.cold.test: mx4\n"), dns,
            "--dns-timeout", "4", "--dns-retries", "0", "-v");
        var clients = Enumerable.Range(0, Lookups).Select(_ => router.Connect()).ToList();
        try
        {
            for (var i = 0; i < Lookups; i++) clients[i].Send("get user" + i + "@cold.test\n");
            foreach (var c in clients) Assert.StartsWith(expected, c.ReadLine());
            Assert.Equal(1, dns.MxQueries("cold.test"));
            var counters = DnsCounters.Request(router);
            if (behavior == DnsBehavior.Mx) Assert.Equal(Lookups, counters.Misses);
            else Assert.Equal(Lookups, counters.Failures);
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
    }
}

/// <summary>RFC 8767: a failed refresh is covered by the expired entry, within --stale-limit.</summary>
public class DnsServeStaleTests
{
    private const string Stale = "200 smtp:[192.0.2.4]:587"; // mx.stale.test: mx4
    private const string Fresh = "200 relay:[mx1.example.com]:25"; // mx.new.test: mx1
    private const string Rules = "  mx.stale.test: mx4\n  mx.new.test: mx1\n";

    [Fact]
    public void AnExpiredAnswerCoversADnsFailureAndIsRefreshedInTheBackground()
    {
        using var dns = Dns();
        dns.SetMx("stale.test", (10, "mx.stale.test"));
        // --cache-ttl 2: fresh for 2 s; after a failed refresh DNS is asked again 2 s later.
        using var router = RouterProcess.Start(Config(DefaultAt.First, "mx3", Rules), dns,
            "--cache-ttl", "2", "--stale-limit", "60", "--dns-timeout", "1", "--dns-retries", "0", "-v");
        using var c = router.Connect();
        Assert.Equal(Stale, c.Get("a@stale.test"));
        Assert.Equal(1, dns.MxQueries("stale.test"));

        dns.Set("stale.test", DnsBehavior.ServFail);
        Thread.Sleep(TimeSpan.FromSeconds(2.3));
        // Expired: the refresh fails, the expired answer answers.
        Assert.Equal(Stale, c.Get("b@stale.test"));
        Assert.Equal(2, dns.MxQueries("stale.test"));
        // DNS just failed: the next lookups are answered stale without asking again.
        for (var i = 0; i < 5; i++) Assert.Equal(Stale, c.Get("c" + i + "@stale.test"));
        Assert.Equal(2, dns.MxQueries("stale.test"));

        // DNS is back with another answer. After the recheck interval a lookup is still
        // answered stale at once, and the refresh happens in the background.
        dns.SetMx("stale.test", (10, "mx.new.test"));
        Thread.Sleep(TimeSpan.FromSeconds(2.3));
        Assert.Equal(Stale, c.Get("d@stale.test"));
        Assert.True(Wait.Until(() => dns.MxQueries("stale.test") == 3, TimeSpan.FromSeconds(10)), dns.DescribeQueries());
        Assert.True(Wait.Until(() => c.Get("e@stale.test") == Fresh, TimeSpan.FromSeconds(10)),
            "the background refresh never replaced the stale answer\n" + router.Describe());
        Assert.Equal(3, dns.MxQueries("stale.test"));

        var counters = DnsCounters.Request(router);
        // b, c0..c4, d; and any e asked before the refresh landed.
        Assert.True(counters.Stale >= 7, counters.ToString());
        Assert.Equal(0, counters.Failures);
    }

    [Theory]
    [InlineData("1", "defer", "400 ")]
    [InlineData("0", "defer", "400 ")]
    [InlineData("1", "default", "200 relay:[mx3.example.com]:25")]
    public void PastTheStaleLimitADnsFailureIsAFailure(string staleLimit, string policy, string expected)
    {
        using var dns = Dns();
        dns.SetMx("stale.test", (10, "mx.stale.test"));
        using var router = RouterProcess.Start(Config(DefaultAt.First, "mx3", Rules), dns,
            "--cache-ttl", "1", "--stale-limit", staleLimit, "--dns-failure-policy", policy,
            "--dns-timeout", "1", "--dns-retries", "0");
        using var c = router.Connect();
        Assert.Equal(Stale, c.Get("a@stale.test"));
        dns.Set("stale.test", DnsBehavior.ServFail);
        // Fresh for 1 s, stale for --stale-limit s more.
        Thread.Sleep(TimeSpan.FromSeconds(2.5));
        Assert.StartsWith(expected, c.Get("b@stale.test"));
        Assert.Equal(2, dns.MxQueries("stale.test"));
    }
}

/// <summary>A domain asked for in the last tenth of its entry's life is refreshed before it expires.</summary>
public class DnsPrefetchTests
{
    [Fact]
    public void ADomainAskedForInItsLastTenthIsRefreshedBeforeItExpires()
    {
        // The law needs one lookup inside the last second of a 10 s life, timed from here. A
        // run whose lookup did not reach the router in time (the machine stalled for most of
        // a second) shows nothing about prefetching, so it is run again, three times at most;
        // every run that reached the router in time is checked in full.
        for (var attempt = 1; ; attempt++)
        {
            if (PrefetchRun()) return;
            Assert.True(attempt < 3, "three runs in a row could not ask inside the last second of the entry's life");
        }
    }

    /// <summary>False when the timed lookup came too late to show anything.</summary>
    private static bool PrefetchRun()
    {
        const string Mx4 = "200 smtp:[192.0.2.4]:587";
        using var dns = Dns();
        dns.SetMx("busy.test", (10, "mx.busy.test"));
        // Fresh for 10 s; prefetched when asked for in its last second.
        using var router = RouterProcess.Start(Config(DefaultAt.First, extraRules: "  mx.busy.test: mx4\n"), dns,
            "--cache-ttl", "10", "-v");
        using var c = router.Connect();
        var clock = Stopwatch.StartNew();
        Assert.Equal(Mx4, c.Get("first@busy.test"));
        // The entry was stored between 0 and `stored`: fresh until 10 s at the earliest, and
        // in its last second from stored + 9 s at the latest.
        var stored = clock.Elapsed;
        SleepUntil(clock, stored + TimeSpan.FromSeconds(9.2));
        Assert.Equal(Mx4, c.Get("late@busy.test"));
        if (clock.Elapsed >= TimeSpan.FromSeconds(10)) return false;

        // The late lookup was a hit that asked DNS again in the background...
        Assert.True(Wait.Until(() => dns.MxQueries("busy.test") == 2, TimeSpan.FromSeconds(10)), dns.DescribeQueries());
        // ...so past the first answer's life the domain is still a hit.
        SleepUntil(clock, stored + TimeSpan.FromSeconds(10.5));
        Assert.Equal(Mx4, c.Get("after@busy.test"));

        var counters = DnsCounters.Request(router);
        Assert.Equal(1, counters.Misses);
        Assert.Equal(2, counters.Hits);
        Assert.Equal(1, counters.Prefetches);
        Assert.Equal(0, counters.Stale);
        Assert.Equal(2, dns.MxQueries("busy.test"));
        return true;
    }

    private static void SleepUntil(Stopwatch clock, TimeSpan at)
    {
        var left = at - clock.Elapsed;
        if (left > TimeSpan.Zero) Thread.Sleep(left);
    }

    [Fact]
    public void ADomainNotAskedForLateInItsLifeIsNotPrefetched()
    {
        using var dns = Dns();
        dns.SetMx("quiet.test", (10, "mx.quiet.test"));
        using var router = RouterProcess.Start(Config(DefaultAt.First, extraRules: "  mx.quiet.test: mx4\n"), dns, "--cache-ttl", "2", "-v");
        using var c = router.Connect();
        Assert.StartsWith("200 ", c.Get("a@quiet.test"));
        Assert.StartsWith("200 ", c.Get("b@quiet.test"));
        Thread.Sleep(TimeSpan.FromSeconds(2.5));
        Assert.Equal(1, dns.MxQueries("quiet.test"));
        Assert.StartsWith("200 ", c.Get("c@quiet.test"));
        Assert.Equal(2, dns.MxQueries("quiet.test"));
        var counters = DnsCounters.Request(router);
        Assert.Equal(0, counters.Prefetches);
        Assert.Equal(2, counters.Misses);
    }
}

/// <summary>--cache-size bounds the cache; the sweep empties it of entries past use.</summary>
public class DnsCacheSizeTests
{
    [Fact]
    public void TheLeastRecentlyUsedEntryIsEvictedWhenTheCacheIsFull()
    {
        using var dns = Dns();
        foreach (var d in new[] { "a.test", "b.test", "c.test" }) dns.SetMx(d, (10, "mx." + d));
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--cache-size", "2", "-v");
        using var c = router.Connect();
        foreach (var d in new[] { "a.test", "b.test", "c.test" }) c.Get("x@" + d);
        Assert.Equal(2, DnsCounters.Request(router).Entries);

        // b and c are cached: no new query. a was evicted: asked again.
        c.Get("y@b.test");
        c.Get("y@c.test");
        Assert.Equal(1, dns.MxQueries("b.test"));
        Assert.Equal(1, dns.MxQueries("c.test"));
        c.Get("y@a.test");
        Assert.Equal(2, dns.MxQueries("a.test"));
        Assert.Equal(2, DnsCounters.Request(router).Entries);
    }

    [Fact]
    public void CacheSizeZeroCachesNothing()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--cache-size", "0");
        using var c = router.Connect();
        Assert.StartsWith("200 ", c.Get("a@contoso.com"));
        Assert.StartsWith("200 ", c.Get("b@contoso.com"));
        Assert.Equal(2, dns.MxQueries("contoso.com"));
    }

    [Fact]
    public void EntriesPastTheStaleLimitAreSweptOut()
    {
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns,
            "--cache-ttl", "1", "--stale-limit", "1", "-v");
        using var c = router.Connect();
        foreach (var d in new[] { "example.com", "contoso.com", "other.test" }) c.Get("x@" + d);
        Assert.Equal(3, DnsCounters.Request(router).Entries);
        // Fresh 1 s, stale 1 s more, swept every second.
        Assert.True(Wait.Until(() => DnsCounters.Request(router).Entries == 0, TimeSpan.FromSeconds(15)),
            router.Describe());
    }
}

/// <summary>RFC 2308: negative answers live min(SOA TTL, SOA minimum), capped by --cache-ttl.</summary>
public class DnsNegativeCachingTests
{
    private sealed record Setup(FakeDns Dns, RouterProcess Router, TcpTableClient Client) : IDisposable
    {
        public void Dispose()
        {
            Client.Dispose();
            Router.Dispose();
            Dns.Dispose();
        }
    }

    private static Setup Start(uint soaTtl, uint soaMinimum, string cacheTtl)
    {
        var dns = Dns();
        dns.SoaTtl = soaTtl;
        dns.SoaMinimum = soaMinimum;
        dns.Set("gone.test", DnsBehavior.NxDomain);
        dns.Set("empty.test", DnsBehavior.NoData);
        var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--cache-ttl", cacheTtl);
        return new Setup(dns, router, router.Connect());
    }

    [Fact]
    public void ANegativeAnswerLivesTheShorterOfSoaTtlAndMinimumCappedByTheCacheTtl()
    {
        // Three routers side by side, each with a negative lifetime of 6 s for its own reason.
        using var byMinimum = Start(soaTtl: 300, soaMinimum: 6, cacheTtl: "3600");
        using var byTtl = Start(soaTtl: 6, soaMinimum: 300, cacheTtl: "3600");
        using var byCap = Start(soaTtl: 300, soaMinimum: 300, cacheTtl: "6");
        var all = new[] { byMinimum, byTtl, byCap };

        foreach (var s in all)
        {
            Assert.Equal("500 NO%20RESULT", s.Client.Get("a@gone.test"));
            Assert.Equal("500 NO%20RESULT", s.Client.Get("a@empty.test"));
        }
        Thread.Sleep(TimeSpan.FromSeconds(1));
        foreach (var s in all)
        {
            s.Client.Get("b@gone.test");
            s.Client.Get("b@empty.test");
            Assert.Equal(1, s.Dns.MxQueries("gone.test"));
            Assert.Equal(1, s.Dns.MxQueries("empty.test"));
        }
        // 6.5 s after the answers they have expired (not after 300 s).
        Thread.Sleep(TimeSpan.FromSeconds(5.5));
        foreach (var s in all)
        {
            s.Client.Get("c@gone.test");
            s.Client.Get("c@empty.test");
            Assert.Equal(2, s.Dns.MxQueries("gone.test"));
            Assert.Equal(2, s.Dns.MxQueries("empty.test"));
        }
    }
}
