using Microsoft.Extensions.Logging;

namespace Router.Native;

public static class Program
{
    public static int Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine(Cli.Prefix + e.Message);
            return 2;
        }
        if (options.Help)
        {
            Console.Out.Write(Options.Usage);
            return 0;
        }
        if (options.Version)
        {
            Console.Out.WriteLine(Cli.VersionText);
            return 0;
        }

        var loaded = ConfigLoader.Load(options.ConfigPath);
        // -q: errors only, except that --check always reports its warnings.
        if (!options.Quiet || options.Check)
            foreach (var line in loaded.Warnings) Console.Error.WriteLine(line);
        foreach (var line in loaded.Errors) Console.Error.WriteLine(line);
        if (loaded.Config is not { } fileConfig) return 1;

        var errors = new List<string>();
        var settings = EffectiveSettings.Resolve(options, fileConfig, errors);
        if (errors.Count > 0)
        {
            foreach (var line in errors) Console.Error.WriteLine(line);
            return 1;
        }
        var config = settings.Apply(fileConfig);

        if (options.Check)
        {
            Console.Out.Write(Reports.CheckSummary(config, loaded.Format));
            return 0;
        }
        if (options.Simulate is { } picks)
        {
            Console.Out.Write(RoutingState.Simulate(config, picks));
            return 0;
        }

        using var logging = Logging.Create(options.Verbose, options.Quiet);
        if (options.Explain is { } address)
        {
            var resolver = new MxResolver(settings.Dns, logging.CreateLogger("dns"));
            Console.Out.Write(Reports.ExplainAsync(config, resolver, address,
                settings.HealthInterval > 0 ? TimeSpan.FromSeconds(settings.HealthTimeout) : null).GetAwaiter().GetResult());
            return 0;
        }
        return Daemon.Run(config, settings, options, logging);
    }
}
