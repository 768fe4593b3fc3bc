using System.Diagnostics;
using System.Net;
using System.Text;
using static Router.Native.Tests.Example;

namespace Router.Native.Tests;

/// <summary>
/// The README's "Servers": --dns-server repeats and takes IPv6; without it the nameservers
/// and the timeout/attempts options of resolv.conf are used; --dns-timeout and
/// --dns-retries win; the DNS keys of `config:` work and the command line overrides them.
/// </summary>
public class DnsResolverOptionsTests
{
    /// <summary>--explain of an address literal makes no DNS query; -v logs the resolver's setup.</summary>
    private static CliResult Explain(string configYaml, IDictionary<string, string> env, params string[] args)
    {
        using var dir = new TempDir();
        var config = dir.Write("router.yaml", configYaml);
        var psi = new ProcessStartInfo(RouterBinary.Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-c", config, "-v", "--explain", "someone@[192.0.2.1]" }.Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment.Remove("JOURNAL_STREAM");
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(30_000), "--explain did not finish");
        p.WaitForExit();
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    private const string ResolvConf =
        "# written by a test\n" +
        "search example.org\n" +
        "nameserver 127.0.0.1\n" +
        "nameserver ::1 ; IPv6 too\n" +
        "nameserver 192.0.2.53\n" +
        "nameserver 192.0.2.54\n" + // a fourth: the C library uses three
        "options ndots:2 timeout:7\n" +
        "options attempts:4\n";

    [Fact]
    public void WithoutDnsServerTheNameserversAndOptionsOfResolvConfAreUsed()
    {
        using var dir = new TempDir();
        var resolv = dir.Write("resolv.conf", ResolvConf);
        var env = new Dictionary<string, string> { ["POSTFIX_MX_SMART_ROUTER_RESOLV_CONF"] = resolv };

        var r = Explain(Config(DefaultAt.First), env);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("DNS: servers 127.0.0.1:53, [::1]:53, 192.0.2.53:53 (from " + resolv + "), timeout 7 s, 3 retries", r.Stderr);

        // The command line wins over resolv.conf's options.
        r = Explain(Config(DefaultAt.First), env, "--dns-timeout", "1", "--dns-retries", "0");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("(from " + resolv + "), timeout 1 s, 0 retries", r.Stderr);

        // resolv.conf's options belong to its servers: with --dns-server the defaults apply.
        r = Explain(Config(DefaultAt.First), env, "--dns-server", "192.0.2.9:5353");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("DNS: servers 192.0.2.9:5353 (from --dns-server), timeout 2 s, 2 retries", r.Stderr);
    }

    [Fact]
    public void TheDnsKeysOfTheConfigSectionApplyAndTheCommandLineWins()
    {
        var yaml = "config:\n  dns_server: 192.0.2.7\n  dns_timeout: 4\n  dns_retries: 1\n  cache_size: 500\n"
                   + "  stale_limit: 120\n  dns_failure_policy: default\n" + Config(DefaultAt.First);
        var none = new Dictionary<string, string>();

        var r = Explain(yaml, none);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("DNS: servers 192.0.2.7:53 (from --dns-server), timeout 4 s, 1 retries; cache ttl 3600 s, size 500; stale limit 120 s; failure policy default", r.Stderr);

        r = Explain(yaml, none, "--dns-timeout", "3", "--dns-retries", "0", "--cache-size", "7", "--stale-limit", "0",
            "--dns-failure-policy", "defer", "--cache-ttl", "60");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("timeout 3 s, 0 retries; cache ttl 60 s, size 7; stale limit 0 s; failure policy defer", r.Stderr);
    }

    [Theory]
    [InlineData("dns_timeout: 0", "config.dns_timeout must be a number of seconds from 1 to 300")]
    [InlineData("dns_retries: 11", "config.dns_retries must be a whole number from 0 to 10")]
    [InlineData("dns_failure_policy: bounce", "config.dns_failure_policy must be defer or default")]
    [InlineData("stale_limit: soon", "config.stale_limit must be a whole number, 0 or more")]
    [InlineData("cache_size: -1", "config.cache_size must be a whole number, 0 or more")]
    public void ABadDnsKeyInTheConfigIsAnErrorWithItsLine(string line, string message)
    {
        using var dir = new TempDir();
        var config = dir.Write("router.yaml", "config:\n  " + line + "\n" + Config(DefaultAt.First));
        var r = RouterProcess.Run(new[] { "-c", config, "--check" });
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(config + ":2:", r.Stderr);
        Assert.Contains(message, r.Stderr);
    }

    [Theory]
    [InlineData("--dns-timeout", "0")]
    [InlineData("--dns-timeout", "301")]
    [InlineData("--dns-retries", "11")]
    [InlineData("--dns-retries", "-1")]
    [InlineData("--cache-size", "many")]
    [InlineData("--stale-limit", "-5")]
    [InlineData("--dns-failure-policy", "bounce")]
    public void ABadDnsFlagIsAUsageError(string flag, string value)
    {
        var r = RouterProcess.Run(new[] { flag, value, "--check" });
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(flag + ":", r.Stderr);
    }

    [Theory]
    [InlineData("0", 1)]
    [InlineData("2", 3)]
    public void DnsRetriesIsTheNumberOfTriesAfterTheFirst(string retries, int queries)
    {
        using var dns = Dns();
        dns.Set("silent.test", DnsBehavior.Timeout);
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns, "--dns-timeout", "1", "--dns-retries", retries);
        using var c = router.Connect();
        Assert.StartsWith("400 ", c.Get("someone@silent.test"));
        Assert.Equal(queries, dns.MxQueries("silent.test", DnsProtocol.Udp));
    }

    [Fact]
    public void AnIpv6DnsServerIsAsked()
    {
        using var dns = new FakeDns(IPAddress.IPv6Loopback);
        dns.SetMx("contoso.com", (0, "contoso-com.mail.protection.outlook.com"));
        Assert.StartsWith("[::1]:", dns.Endpoint);
        using var router = RouterProcess.Start(Config(DefaultAt.First), dns);
        using var c = router.Connect();
        var reply = c.Get("a@contoso.com");
        Assert.StartsWith("200 ", reply);
        Assert.Contains(reply[4..], Good);
        Assert.Equal(1, dns.MxQueries("contoso.com"));
    }

    [Fact]
    public void WhenTheFirstDnsServerIsSilentTheNextOneAnswers()
    {
        using var silent = new FakeDns { DefaultBehavior = DnsBehavior.Timeout };
        using var dns = Dns();
        using var router = RouterProcess.Start(Config(DefaultAt.First), silent,
            "--dns-server", dns.Endpoint, "--dns-timeout", "1", "--dns-retries", "0");
        using var c = router.Connect();
        var reply = c.Get("a@contoso.com");
        Assert.StartsWith("200 ", reply);
        Assert.Contains(reply[4..], Good);
        Assert.Equal(1, silent.MxQueries("contoso.com"));
        Assert.Equal(1, dns.MxQueries("contoso.com"));
    }
}

/// <summary>Real answers from dnsmasq on loopback.</summary>
public class DnsmasqTests
{
    [Fact]
    public void DnsmasqAnswersAreRoutedCachedAndAskedForOnce()
    {
        using var dnsmasq = new Dnsmasq(
            "--local=/test/",
            "--mx-host=dm.test,b.mx.late.test,20",
            "--mx-host=dm.test,a.mx.early.test,10",
            "--mx-host=xn--bcher-kva.test,mx.idn.test,10",
            "--mx-host=many.test,mx.many.test,10");
        var yaml = Config(DefaultAt.First, extraRules: "  mx.late.test: mx1\n  mx.early.test: mx4\n  mx.idn.test: mx2\n  mx.many.test: mx3\n");
        using var router = new BareRouter(yaml, "--dns-server", dnsmasq.Endpoint);
        using var c = router.Connect();

        // Sorted by preference: a.mx.early.test (10) before b.mx.late.test (20).
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("someone@dm.test"));
        Assert.Equal("200 smtp:[192.0.2.4]:587", c.Get("other@dm.test"));
        Assert.Equal(1, dnsmasq.Queries("dm.test"));
        // IDN as A-label.
        Assert.Equal("200 relay:[mx2.example.com]:25", c.Get("someone@b%C3%BCcher.test"));
        Assert.Equal(1, dnsmasq.Queries("xn--bcher-kva.test"));
        // NXDOMAIN: no hosts, the default (NO RESULT).
        Assert.Equal("500 NO%20RESULT", c.Get("someone@nowhere.test"));

        // Single flight against a real server: 20 connections, one query.
        var clients = Enumerable.Range(0, 20).Select(_ => router.Connect()).ToList();
        try
        {
            for (var i = 0; i < clients.Count; i++) clients[i].Send("get user" + i + "@many.test\n");
            foreach (var cl in clients) Assert.Equal("200 relay:[mx3.example.com]:25", cl.ReadLine());
        }
        finally
        {
            foreach (var cl in clients) cl.Dispose();
        }
        Assert.Equal(1, dnsmasq.Queries("many.test"));
    }
}
