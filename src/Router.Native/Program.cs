using DnsClient;
using Microsoft.Extensions.Logging;
using YamlDotNet.Serialization;

namespace Router.Native;

public static class Program
{
    public static int Main(string[] args)
    {
        using var lf = LoggerFactory.Create(b => b.AddSimpleConsole());
        var log = lf.CreateLogger("router");
        log.LogInformation("start {N}", args.Length);
        var lookup = new LookupClient(new LookupClientOptions(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 53)) { UseCache = false, Timeout = TimeSpan.FromSeconds(1), Retries = 0 });
        var d = new StaticDeserializerBuilder(new YamlContext()).Build();
        var doc = d.Deserialize<Doc>("a: b");
        Console.WriteLine(doc.A);
        if (args.Length > 0) {
            var r = lookup.Query(args[0], QueryType.MX);
            foreach (var mx in r.Answers.MxRecords()) Console.WriteLine(mx.Exchange.Value);
        }
        return 0;
    }
}

[YamlDotNet.Serialization.YamlStaticContext]
[YamlSerializable(typeof(Doc))]
public partial class YamlContext : YamlDotNet.Serialization.StaticContext { }

public class Doc { [YamlMember(Alias = "a")] public string? A { get; set; } }
