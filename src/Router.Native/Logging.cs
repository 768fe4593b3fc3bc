using System.Text;
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
        var factory = LoggerFactory.Create(b =>
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
        return new EscapingLoggerFactory(factory);
    }

    /// <summary>
    /// A log message with its control characters escaped: C0 (CR, LF, TAB, ESC ...), DEL, C1
    /// (NEL ...) as \xNN, the Unicode line and paragraph separators as \u2028 and \u2029. Keys
    /// and other client text reach the log, and must never split a line, forge one, or drive
    /// a terminal. Returns the same string when there is nothing to escape.
    /// </summary>
    public static string Escape(string text)
    {
        int first = -1;
        for (int i = 0; i < text.Length; i++)
        {
            if (NeedsEscape(text[i]))
            {
                first = i;
                break;
            }
        }
        if (first < 0) return text;
        var sb = new StringBuilder(text.Length + 16);
        sb.Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (!NeedsEscape(c)) sb.Append(c);
            else if (c < 0x100) sb.Append("\\x").Append("0123456789ABCDEF"[c >> 4]).Append("0123456789ABCDEF"[c & 0xF]);
            else sb.Append(c == '\u2028' ? "\\u2028" : "\\u2029");
        }
        return sb.ToString();
    }

    private static bool NeedsEscape(char c) => c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\u2028' || c == '\u2029';

    /// <summary>Hands every logger out wrapped in <see cref="EscapingLogger"/>.</summary>
    private sealed class EscapingLoggerFactory(ILoggerFactory inner) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new EscapingLogger(inner.CreateLogger(categoryName));

        public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

        public void Dispose() => inner.Dispose();
    }

    /// <summary>Escapes the formatted message on its way to the console formatter, whatever the call site.</summary>
    private sealed class EscapingLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter) =>
            inner.Log(logLevel, eventId, state, exception, (s, e) => Escape(formatter(s, e)));
    }
}
