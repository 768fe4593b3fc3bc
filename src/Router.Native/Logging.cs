using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Router.Native;

/// <summary>Console logging on stderr (stdout is for the stats table and reports).</summary>
public static class Logging
{
    public static ILoggerFactory Create(bool verbose, bool quiet)
    {
        var level = verbose ? LogLevel.Debug : quiet ? LogLevel.Error : LogLevel.Information;
        bool journal = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("JOURNAL_STREAM"));
        return LoggerFactory.Create(b =>
        {
            b.SetMinimumLevel(level);
            b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            if (journal)
            {
                b.AddSystemdConsole(o => o.IncludeScopes = false);
            }
            else
            {
                b.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.IncludeScopes = false;
                    o.TimestampFormat = "yyyy-MM-dd HH:mm:ss ";
                    o.ColorBehavior = LoggerColorBehavior.Disabled;
                });
            }
        });
    }
}
