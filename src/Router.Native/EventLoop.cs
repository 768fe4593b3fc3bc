using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Router.Native;

/// <summary>
/// One thread, one epoll set: the connections of both listeners live here, the way the floor
/// server (bench/floor.c) serves its own. A readable connection is read, framed and answered
/// on this thread when the lookup completes synchronously (a DNS cache hit); a lookup that
/// has to wait posts its reply back (<see cref="Post"/>: a queue and an eventfd wake-up).
/// Sockets are registered once, edge-triggered, for input and output; a connection keeps
/// what the last event told it and acts on it when its state allows (Server.Connection.cs).
///
/// Idle and linger time-outs are deadlines on the connections, checked by one sweep when the
/// earliest of them is due (the epoll_wait time-out): nothing is armed per request.
///
/// Everything here except <see cref="Post"/> runs on the loop's thread.
/// </summary>
internal sealed unsafe class EventLoop
{
    /// <summary>
    /// How many loops serve the connections: one per two cores, connections spread over them
    /// in turn. The clients share the machine (Postfix's processes on a mail host, the load
    /// generator in docs/BENCHMARKS.md), and one loop answers well over 100 000 cache-hit
    /// lookups a second. Measured on that 2-core machine, router rps / floor rps (p99 ratio):
    /// before the per-request work was made allocation-free, one loop per core won at 64 and
    /// 256 connections (0.79 against 0.54 at 64); after it, one loop for the two cores gave
    /// 0.97 at 1 connection, 1.06 at 16 and 0.73 (p99 1.6x) at 64, and two loops 0.92, 0.87
    /// and 0.72 (p99 3.1x): a second loop thread beside the client's only adds preemption
    /// and CPU per request (8.8 against 7.3-8.1 us at 64 connections).
    /// </summary>
    private static readonly int LoopCount = Math.Max(1, Environment.ProcessorCount / 2);

    private static readonly Lock SharedLock = new();
    private static EventLoop[]? _shared;
    private static int _nextLoop;

    /// <summary>The loop for a new connection: the loops take connections in turn.</summary>
    public static EventLoop Next(ILogger log)
    {
        var loops = _shared;
        if (loops is null)
        {
            lock (SharedLock)
            {
                if (_shared is null)
                {
                    var made = new EventLoop[LoopCount];
                    for (int i = 0; i < made.Length; i++) made[i] = new EventLoop(i, log);
                    _shared = made;
                }
                loops = _shared;
            }
        }
        return loops.Length == 1 ? loops[0] : loops[(int)((uint)Interlocked.Increment(ref _nextLoop) % (uint)loops.Length)];
    }

    /// <summary>Every loop: a stopping listener tells each of them.</summary>
    public static void ForEach(Action<EventLoop> action)
    {
        var loops = Volatile.Read(ref _shared);
        if (loops is null) return;
        foreach (var loop in loops) action(loop);
    }

    /// <summary>Deadlines closer together than this are swept together.</summary>
    private const long SweepGranularityMs = 50;
    private const int MaxEvents = 256;
    /// <summary>The epoll data of the eventfd; a connection's is its generation and slot.</summary>
    private const ulong WakeToken = ulong.MaxValue;

    private readonly int _epoll;
    private readonly int _wake;
    private readonly ILogger _log;
    private readonly ConcurrentQueue<Work> _inbox = new();
    /// <summary>1 while a wake-up is written and not yet read: posters write the eventfd once.</summary>
    private int _wakePending;

    private Server.Connection?[] _slots = new Server.Connection?[64];
    private readonly Stack<int> _freeSlots = new();
    private int _usedSlots;
    private uint _generation;
    private long _nextSweep = long.MaxValue;

    /// <summary>Milliseconds (Environment.TickCount64) when epoll_wait last returned.</summary>
    public long Now { get; private set; }

    private EventLoop(int index, ILogger log)
    {
        if (sizeof(Libc.EpollEvent) != 12)
            throw new PlatformNotSupportedException("the event loop is written for Linux x86-64");
        _log = log;
        _epoll = Libc.EpollCreate1(Libc.EPOLL_CLOEXEC);
        if (_epoll < 0) throw new InvalidOperationException("epoll_create1 failed: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        _wake = Libc.EventFd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        if (_wake < 0) throw new InvalidOperationException("eventfd failed: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        var ev = new Libc.EpollEvent { Events = Libc.EPOLLIN, Data = WakeToken };
        if (Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_ADD, _wake, &ev) < 0)
            throw new InvalidOperationException("epoll_ctl failed: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        Now = Environment.TickCount64;
        var thread = new Thread(Run) { IsBackground = true, Name = "connections-" + index };
        thread.Start();
    }

    private enum WorkKind { Add, Reply, Stop }

    /// <summary>What other threads hand the loop.</summary>
    private readonly struct Work(WorkKind kind, Server.Connection? connection, Server? server, byte[]? reply, Exception? error)
    {
        public readonly WorkKind Kind = kind;
        public readonly Server.Connection? Connection = connection;
        public readonly Server? Server = server;
        public readonly byte[]? Reply = reply;
        public readonly Exception? Error = error;
    }

    /// <summary>A connection just accepted and admitted: the loop registers it and serves it.</summary>
    public void Add(Server.Connection connection) => Post(new Work(WorkKind.Add, connection, null, null, null));

    /// <summary>A lookup that had to wait is done: the loop sends the reply (or closes on the error) and goes on.</summary>
    public void Reply(Server.Connection connection, byte[]? reply, Exception? error) =>
        Post(new Work(WorkKind.Reply, connection, null, reply, error));

    /// <summary>The listener stops: its idle connections take their last read now.</summary>
    public void Stop(Server server) => Post(new Work(WorkKind.Stop, null, server, null, null));

    private void Post(in Work work)
    {
        _inbox.Enqueue(work);
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            ulong one = 1;
            // Cannot fail short of a counter overflow; a failed write would show as a stall.
            Libc.Write(_wake, &one, sizeof(ulong));
        }
    }

    /// <summary>The connection's deadline moved: sweep no later than it.</summary>
    public void Arm(long deadline)
    {
        if (deadline < _nextSweep) _nextSweep = deadline;
    }

    private void Run()
    {
        var events = (Libc.EpollEvent*)NativeMemory.Alloc(MaxEvents, (nuint)sizeof(Libc.EpollEvent));
        while (true)
        {
            int timeout = -1;
            if (_nextSweep != long.MaxValue)
                timeout = (int)Math.Clamp(_nextSweep - Environment.TickCount64, 0, int.MaxValue);
            int n = Libc.EpollWait(_epoll, events, MaxEvents, timeout);
            Now = Environment.TickCount64;
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Libc.EINTR)
                {
                    _log.LogError("epoll_wait failed: {Reason}", Marshal.GetPInvokeErrorMessage(errno));
                    Thread.Sleep(100);
                }
                continue;
            }
            try
            {
                Dispatch(events, n);
            }
            catch (Exception e)
            {
                // A connection's own failures close that connection (Server.Connection.cs);
                // whatever else goes wrong here must not end the loop and its connections.
                _log.LogError("connection loop: {Type}: {Message}", e.GetType().Name, e.Message);
            }
        }
    }

    private void Dispatch(Libc.EpollEvent* events, int n)
    {
        bool woken = false;
        for (int i = 0; i < n; i++)
        {
            ulong data = events[i].Data;
            if (data == WakeToken)
            {
                ulong count;
                Libc.Read(_wake, &count, sizeof(ulong));
                Volatile.Write(ref _wakePending, 0); // before draining: a later post wakes us again
                woken = true;
                continue;
            }
            int slot = (int)(uint)data;
            var connection = slot < _slots.Length ? _slots[slot] : null;
            if (connection is null || connection.Generation != (uint)(data >> 32)) continue;
            connection.OnEvents(events[i].Events);
        }
        if (woken) Drain();
        if (Now >= _nextSweep) Sweep();
    }

    private void Drain()
    {
        while (_inbox.TryDequeue(out var work))
        {
            switch (work.Kind)
            {
                case WorkKind.Add:
                    Register(work.Connection!);
                    break;
                case WorkKind.Reply:
                    work.Connection!.OnReply(work.Reply, work.Error);
                    break;
                case WorkKind.Stop:
                    for (int i = 0; i < _slots.Length; i++)
                        if (_slots[i] is { } connection && connection.Owner == work.Server) connection.OnStop();
                    break;
            }
        }
    }

    private void Register(Server.Connection connection)
    {
        int slot;
        if (_freeSlots.Count > 0) slot = _freeSlots.Pop();
        else
        {
            if (_usedSlots == _slots.Length) Array.Resize(ref _slots, _slots.Length * 2);
            slot = _usedSlots++;
        }
        uint generation = ++_generation == 0 ? ++_generation : _generation; // 0 = never registered
        _slots[slot] = connection;
        connection.Slot = slot;
        connection.Generation = generation;
        var ev = new Libc.EpollEvent
        {
            Events = Libc.EPOLLIN | Libc.EPOLLOUT | Libc.EPOLLRDHUP | Libc.EPOLLET,
            Data = ((ulong)generation << 32) | (uint)slot,
        };
        int errno = Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_ADD, connection.Fd, &ev) < 0 ? Marshal.GetLastPInvokeError() : 0;
        connection.OnRegistered(errno);
    }

    /// <summary>A closed connection gives its slot back; closing its socket took it out of the epoll set.</summary>
    public void Remove(Server.Connection connection)
    {
        if (_slots[connection.Slot] != connection) return;
        _slots[connection.Slot] = null;
        _freeSlots.Push(connection.Slot);
    }

    /// <summary>Expires every connection whose deadline has passed and finds the next deadline.</summary>
    private void Sweep()
    {
        long next = long.MaxValue;
        for (int i = 0; i < _usedSlots; i++)
        {
            if (_slots[i] is not { } connection) continue;
            if (connection.Deadline <= Now) connection.Expire();
            // Expiring lingers or closes: the slot may be empty or hold a later deadline now.
            if (_slots[i] is { } still && still.Deadline < next) next = still.Deadline;
        }
        _nextSweep = next == long.MaxValue ? next : Math.Max(next, Now + SweepGranularityMs);
    }
}
