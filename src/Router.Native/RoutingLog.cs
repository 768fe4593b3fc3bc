using System.Text;
using System.Threading.Channels;
using Router.Core;
using Microsoft.Extensions.Logging;

namespace Router.Native;

/// <summary>
/// config.log_file: one line per answered lookup, in the Python tool's format
/// "yyyy-MM-dd HH:mm:ss INFO     key\ttarget\trelay". Lines go through a bounded channel to
/// a background writer, so a slow disk never delays a reply; when the channel is full,
/// lines are dropped and counted rather than blocking.
///
/// The file may go away under the router: its directory deleted, the disk full,
/// the permission taken, the file rotated. Then the writer closes it, logs the error (once,
/// and again at most every minute while it lasts), keeps the unwritten lines queued (up to the
/// channel's capacity) and tries to open the path again every second. Lookups are answered
/// all along. The file is also reopened when it was deleted or renamed while open, so that a
/// deleted directory or a rotation without copytruncate does not send lines into a file
/// nobody can see.
/// </summary>
public sealed class RoutingLog : IAsyncDisposable
{
    private const int Capacity = 65536;
    private const int Batch = 4096;
    public static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RemindEvery = TimeSpan.FromSeconds(60);

    private readonly Channel<string> _lines;
    private readonly ILogger? _log;
    private readonly Task _pump;
    private readonly CancellationTokenSource _closing = new();
    private readonly List<string> _batch = new();
    private readonly LogThrottle _failures = new(RemindEvery);
    private FileStream? _stream;
    private StreamWriter? _writer;
    /// <summary>What /proc/self/fd says the open file is, right after opening it.</summary>
    private string? _openedAs;
    private long _nextCheck;
    private bool _failing;
    /// <summary>A write failed: the file may end in part of the batch.</summary>
    private bool _mayBeCut;
    /// <summary>The file's length before the batch being written; -1 when unknown.</summary>
    private long _batchStart = -1;
    private long _dropped;

    /// <summary>The configured path; SIGHUP may point it elsewhere (<see cref="Reopen(string)"/>).</summary>
    public string Path { get; private set; }

    /// <summary>Held by the writer around a batch and by <see cref="Reopen(string)"/>.</summary>
    private readonly object _gate = new();

    public long Dropped => Interlocked.Read(ref _dropped);

    private RoutingLog(string path, FileStream stream, ILogger? log)
    {
        Path = path;
        _log = log;
        Attach(stream);
        _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(Capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.DropWrite,
        }, _ => Interlocked.Increment(ref _dropped));
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Opens the file for appending (created when missing, never truncated); throws when it cannot.</summary>
    public static RoutingLog Open(string path, ILogger? log = null) => new(path, OpenStream(path), log);

    private static FileStream OpenStream(string path) =>
        new(path, new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite | FileShare.Delete,
            // Unbuffered: the writer buffers, so a failed file holds no bytes of its own to flush.
            BufferSize = 0,
        });

    private void Attach(FileStream stream)
    {
        _stream = stream;
        _writer = new StreamWriter(stream, new UTF8Encoding(false), 16384) { AutoFlush = false, NewLine = "\n" };
        _openedAs = OpenFileName(stream);
        _nextCheck = Environment.TickCount64 + (long)CheckEvery.TotalMilliseconds;
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
    public static void Escape(StringBuilder sb, string text) => Percent.appendLineSafe(sb, text);

    private async Task PumpAsync()
    {
        var reader = _lines.Reader;
        long reportedDrops = 0;
        while (_batch.Count > 0 || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (_batch.Count < Batch && reader.TryRead(out var line)) _batch.Add(line);
            try
            {
              lock (_gate)
              {
                if (_writer == null) Reopen();
                else if (Environment.TickCount64 >= _nextCheck) ReopenIfMoved();
                _batchStart = -1;
                _batchStart = _stream!.Length; // where to take the batch back from if writing it fails
                foreach (var line in _batch) _writer!.WriteLine(line);
                long dropped = Interlocked.Read(ref _dropped);
                if (dropped != reportedDrops)
                {
                    _writer!.WriteLine(DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)
                        + " WARNING  routing log full: " + (dropped - reportedDrops) + " lines dropped");
                }
                _writer!.Flush();
                _batch.Clear();
                if (dropped != reportedDrops)
                {
                    _log?.LogWarning("routing log {Path}: {Count} lines dropped (the queue of {Capacity} lines was full)",
                        Path, dropped - reportedDrops, Capacity);
                    reportedDrops = dropped;
                }
                if (_failing)
                {
                    _failing = false;
                    _log?.LogWarning("routing log {Path} is written again", Path);
                }
              }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
            {
                // The batch stays for the next attempt; lookups go on queueing meanwhile.
                lock (_gate)
                {
                    if (_writer != null && _batchStart >= 0) _mayBeCut = true;
                    Close();
                }
                Failed(e);
                if (_closing.IsCancellationRequested)
                {
                    GiveUp();
                    return;
                }
                try { await Task.Delay(RetryEvery, _closing.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
            }
        }
    }

    private void Failed(Exception e)
    {
        long events = _failures.Count();
        if (!_failing || events > 0)
        {
            _log?.LogError("routing log {Path}: {Reason}; lookups are still answered, their lines wait (up to {Capacity}) and the file is tried again every {Retry} s{More}",
                Path, Cli.Describe(e), Capacity, (int)RetryEvery.TotalSeconds, LogThrottle.More(events));
        }
        _failing = true;
    }

    private void GiveUp()
    {
        int lost = _batch.Count;
        while (_lines.Reader.TryRead(out _)) lost++;
        _batch.Clear();
        if (lost > 0) _log?.LogError("routing log {Path}: stopping with {Count} lines unwritten", Path, lost);
    }

    /// <summary>
    /// SIGHUP (logrotate, or a new log_file in the config): opens <paramref name="path"/> for
    /// appending and writes there from the next batch on. Throws as opening does, and then the
    /// old file stays in use. Between batches the old file holds every line written so far.
    /// </summary>
    public void Reopen(string path)
    {
        var stream = OpenStream(path);
        lock (_gate)
        {
            Close();
            _mayBeCut = false;
            Path = path;
            Attach(stream);
        }
    }

    /// <summary>Opens the path again; throws as opening does.</summary>
    private void Reopen()
    {
        if (_mayBeCut) TakeBackBatch(Path, _batchStart);
        _mayBeCut = false;
        Attach(OpenStream(Path));
    }

    /// <summary>
    /// A write that failed part-way (disk full) can leave some lines of the batch and the
    /// start of another at the end of the file. The whole batch is written again, so take
    /// back what it left: every line stays one whole lookup, and none appears twice. When the
    /// file is shorter than before the batch (replaced meanwhile), only a cut line at its end
    /// is removed, or ended with an LF when no line start is in sight.
    /// </summary>
    private static void TakeBackBatch(string path, long batchStart)
    {
        if (!File.Exists(path)) return;
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        long length = file.Length;
        if (batchStart >= 0 && length >= batchStart)
        {
            if (length > batchStart) file.SetLength(batchStart);
            return;
        }
        if (length == 0) return;
        int tail = (int)Math.Min(length, Batch * 1024L);
        var bytes = new byte[tail];
        file.Seek(length - tail, SeekOrigin.Begin);
        file.ReadExactly(bytes);
        if (bytes[^1] == (byte)'\n') return;
        int lf = Array.LastIndexOf(bytes, (byte)'\n');
        if (lf < 0)
        {
            file.Seek(0, SeekOrigin.End);
            file.WriteByte((byte)'\n');
        }
        else
        {
            file.SetLength(length - tail + lf + 1);
        }
    }

    /// <summary>The path no longer names the open file (deleted, renamed, its directory gone): open the path anew.</summary>
    private void ReopenIfMoved()
    {
        _nextCheck = Environment.TickCount64 + (long)CheckEvery.TotalMilliseconds;
        bool moved = !File.Exists(Path);
        if (!moved && _openedAs != null && _stream != null)
        {
            var now = OpenFileName(_stream);
            moved = now != null && now != _openedAs;
        }
        if (!moved) return;
        _log?.LogWarning("routing log {Path} was deleted or moved while open: opening the path again", Path);
        Close();
        Reopen();
    }

    /// <summary>The open file's name as the kernel has it now ("... (deleted)" once unlinked); null without /proc.</summary>
    private static string? OpenFileName(FileStream stream)
    {
        try
        {
            if (stream.SafeFileHandle.IsInvalid || stream.SafeFileHandle.IsClosed) return null;
            long fd = stream.SafeFileHandle.DangerousGetHandle().ToInt64();
            return new FileInfo("/proc/self/fd/" + fd).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>Drops the open file without flushing (what is buffered is in the batch still).</summary>
    private void Close()
    {
        var stream = _stream;
        _writer = null;
        _stream = null;
        if (stream == null) return;
        // The writer is dropped unflushed: what it buffered is still in the batch.
        try { stream.Dispose(); }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        _closing.Cancel();
        await _pump.ConfigureAwait(false);
        try
        {
            _writer?.Flush();
            if (_writer != null) await _writer.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
        Close();
        _closing.Dispose();
    }
}
