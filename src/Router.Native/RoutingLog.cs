using System.Text;
using System.Threading.Channels;

namespace Router.Native;

/// <summary>
/// config.log_file: one line per answered lookup, in the Python tool's format
/// "yyyy-MM-dd HH:mm:ss INFO     key\ttarget\trelay". Lines go through a bounded channel to
/// a background writer, so a slow disk never delays a reply; when the channel is full,
/// lines are dropped and counted rather than blocking.
/// </summary>
public sealed class RoutingLog : IAsyncDisposable
{
    private const int Capacity = 65536;
    private readonly Channel<string> _lines;
    private StreamWriter _writer;
    /// <summary>Held by the writer task around a batch and by <see cref="Reopen"/>.</summary>
    private readonly object _gate = new();
    private readonly Task _pump;
    private long _dropped;

    public string Path { get; private set; }

    public long Dropped => Interlocked.Read(ref _dropped);

    private RoutingLog(string path, FileStream stream)
    {
        Path = path;
        _writer = Writer(stream);
        _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(Capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.DropWrite,
        }, _ => Interlocked.Increment(ref _dropped));
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Opens the file for appending (created when missing, never truncated).</summary>
    public static RoutingLog Open(string path) => new(path, OpenStream(path));

    private static FileStream OpenStream(string path) => new(path, new FileStreamOptions
    {
        Mode = FileMode.Append,
        Access = FileAccess.Write,
        Share = FileShare.ReadWrite | FileShare.Delete,
    });

    private static StreamWriter Writer(FileStream stream) =>
        new(stream, new UTF8Encoding(false)) { AutoFlush = false, NewLine = "\n" };

    /// <summary>
    /// SIGHUP: flushes and closes the file, then opens <paramref name="path"/> (the same
    /// name after logrotate renamed the old file, or a new one) for appending. Lines queued
    /// meanwhile wait in the channel. When the file cannot be opened, the old one stays in
    /// use and the exception tells why.
    /// </summary>
    public void Reopen(string path)
    {
        var stream = OpenStream(path);
        lock (_gate)
        {
            var old = _writer;
            _writer = Writer(stream);
            Path = path;
            try
            {
                old.Flush();
            }
            catch (IOException)
            {
            }
            try
            {
                old.Dispose();
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Queues one line; never blocks.</summary>
    public void Write(string key, string target, string? relay)
    {
        var line = Format(DateTime.Now, key, target, relay);
        _lines.Writer.TryWrite(line);
    }

    public static string Format(DateTime time, string key, string target, string? relay)
    {
        var sb = new StringBuilder(64 + key.Length);
        sb.Append(time.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture));
        sb.Append(" INFO     ");
        Escape(sb, key);
        sb.Append('\t');
        Escape(sb, target);
        sb.Append('\t');
        if (relay == null) sb.Append("n/a");
        else Escape(sb, relay);
        return sb.ToString();
    }

    /// <summary>
    /// %XX-escapes '%', control characters (C0, DEL, C1) and the Unicode line and paragraph
    /// separators, byte by byte in UTF-8, so one lookup is always one line.
    /// </summary>
    public static void Escape(StringBuilder sb, string text)
    {
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            bool escape = c == '%' || c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\u2028' || c == '\u2029';
            if (!escape)
            {
                sb.Append(c);
                continue;
            }
            int n = Encoding.UTF8.GetBytes(text.AsSpan(i, 1), utf8);
            for (int b = 0; b < n; b++)
            {
                sb.Append('%');
                sb.Append("0123456789ABCDEF"[utf8[b] >> 4]);
                sb.Append("0123456789ABCDEF"[utf8[b] & 0xF]);
            }
        }
    }

    private async Task PumpAsync()
    {
        var reader = _lines.Reader;
        long reportedDrops = 0;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            lock (_gate)
            {
                try
                {
                    while (reader.TryRead(out var line)) _writer.WriteLine(line);
                    long dropped = Interlocked.Read(ref _dropped);
                    if (dropped != reportedDrops)
                    {
                        _writer.WriteLine(DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)
                            + " WARNING  routing log full: " + (dropped - reportedDrops) + " lines dropped");
                        reportedDrops = dropped;
                    }
                    _writer.Flush();
                }
                catch (IOException)
                {
                    // Disk full or gone: keep serving; lines written meanwhile are lost.
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        try
        {
            await _pump.ConfigureAwait(false);
            lock (_gate) _writer.Flush();
        }
        catch (IOException)
        {
        }
        StreamWriter last;
        lock (_gate) last = _writer;
        await last.DisposeAsync().ConfigureAwait(false);
    }
}
