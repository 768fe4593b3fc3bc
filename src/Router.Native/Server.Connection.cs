using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Router.Native;

public sealed partial class Server
{
    /// <summary>
    /// One accepted connection, served by its <see cref="EventLoop"/> on the loop's thread. It
    /// is lock-step: a request is framed, answered and its reply written whole before the next
    /// one is looked at, and nothing more is read while a lookup waits for DNS or a reply waits
    /// for room in the socket. Every request read is answered, shutdown included: on stop the
    /// connection answers what has arrived, takes one last read, and closes between replies.
    ///
    /// States: Reading (framing what is buffered, else waiting for bytes until the idle
    /// deadline), Waiting (a lookup is out; its reply comes back through the loop), Sending (the
    /// rest of a reply waits for EPOLLOUT until the idle deadline), Lingering (we close first:
    /// FIN sent, the peer's bytes read and dropped for a moment), Closed.
    /// </summary>
    internal sealed partial class Connection
    {
        private enum State { Reading, Waiting, Sending, Lingering, Closed }

        private readonly Server _server;
        private readonly EventLoop _loop;
        private readonly Socket _socket;
        private readonly ConnectionGate _gate;
        private readonly EndPoint? _peer;
        private readonly byte[] _buffer;
        private State _state = State.Reading;
        /// <summary>Unread bytes: _buffer[_start .. _end - 1].</summary>
        private int _start, _end;
        /// <summary>What the last events said and no read or send has contradicted since (edge-triggered).</summary>
        private bool _readable, _writable;
        /// <summary>
        /// The peer has closed its side (EPOLLRDHUP or HUP seen). Its end of file is reported by
        /// one edge only; a short read after it must not clear _readable, or the 0 that ends
        /// the connection would wait for the idle timeout.
        /// </summary>
        private bool _hangup;
        /// <summary>Stopping: the one last read has been taken.</summary>
        private bool _lastRead;
        /// <summary>The reply being sent ends the connection (a refusal): linger once it is out.</summary>
        private bool _closeAfterSend;
        private byte[]? _out;
        private int _outSent;
        private int _dropped;

        public int Fd { get; }
        public Server Owner => _server;
        /// <summary>The loop's slot and its generation, the epoll data that finds this connection.</summary>
        public int Slot;
        public uint Generation;
        /// <summary>When the loop's sweep expires this connection (Environment.TickCount64 ms); MaxValue = never.</summary>
        public long Deadline = long.MaxValue;

        public Connection(Server server, EventLoop loop, Socket socket, ConnectionGate gate, EndPoint? peer)
        {
            _server = server;
            _loop = loop;
            _socket = socket;
            _gate = gate;
            _peer = peer;
            _buffer = ArrayPool<byte>.Shared.Rent(server._protocol.BufferSize);
            Fd = (int)socket.Handle;
        }

        private ILogger Log => _server._log;

        /// <summary>
        /// On the accepting thread, before the loop has it: takes what came with the connection
        /// (often the first request), and finds a peer that has already gone, so that its gate
        /// slot is free again before the next accept. False when the peer closed or failed: the
        /// caller then calls <see cref="Close"/>.
        /// </summary>
        public unsafe bool ReadEarly()
        {
            nint n;
            fixed (byte* p = _buffer) n = Libc.Recv(Fd, p, _buffer.Length, 0);
            if (n > 0)
            {
                _end = (int)n;
                _readable = n == _buffer.Length;
                return true;
            }
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EAGAIN || errno == Libc.EINTR) return true;
                if (Log.IsEnabled(LogLevel.Debug))
                    Log.LogDebug("{Protocol} connection from {Peer}: {Reason}", _server.Protocol, _peer, Marshal.GetPInvokeErrorMessage(errno));
            }
            return false;
        }

        /// <summary>The loop has added the socket to its epoll set (errno 0) or could not.</summary>
        public void OnRegistered(int errno)
        {
            if (errno != 0)
            {
                Log.LogError("{Protocol} connection from {Peer}: epoll_ctl failed: {Reason}", _server.Protocol, _peer,
                    Marshal.GetPInvokeErrorMessage(errno));
                Close();
                return;
            }
            Guarded(static c => c.Pump());
        }

        public void OnEvents(uint events)
        {
            if ((events & (Libc.EPOLLIN | Libc.EPOLLRDHUP | Libc.EPOLLHUP | Libc.EPOLLERR)) != 0) _readable = true;
            if ((events & (Libc.EPOLLRDHUP | Libc.EPOLLHUP | Libc.EPOLLERR)) != 0) _hangup = true;
            if ((events & (Libc.EPOLLOUT | Libc.EPOLLHUP | Libc.EPOLLERR)) != 0) _writable = true;
            switch (_state)
            {
                case State.Reading when _readable:
                    Guarded(static c => c.Pump());
                    break;
                case State.Sending when _writable:
                    Guarded(static c => c.Resend());
                    break;
                case State.Lingering when _readable:
                    Guarded(static c => c.Drop());
                    break;
                // Waiting: the lookup's reply resumes the connection, which then sees the flags.
            }
        }

        /// <summary>The lookup that had to wait is done.</summary>
        public void OnReply(byte[]? reply, Exception? error)
        {
            if (_state != State.Waiting) return;
            if (error is not null)
            {
                Fail(error);
                return;
            }
            _state = State.Reading;
            _out = reply;
            _outSent = 0;
            Guarded(static c =>
            {
                if (c.Flush()) c.Pump();
            });
        }

        /// <summary>The listener stops: an idle connection takes its last read and closes.</summary>
        public void OnStop()
        {
            if (_state == State.Reading) Guarded(static c => c.Pump());
        }

        /// <summary>The deadline passed: idle for the timeout, stuck sending, or done lingering.</summary>
        public void Expire()
        {
            switch (_state)
            {
                case State.Reading:
                    if (Log.IsEnabled(LogLevel.Debug)) Log.LogDebug("closing idle {Protocol} connection from {Peer}", _server.Protocol, _peer);
                    Guarded(static c => c.Linger());
                    break;
                case State.Sending:
                    if (Log.IsEnabled(LogLevel.Debug))
                        Log.LogDebug("{Protocol} connection from {Peer} read no reply for the idle timeout; closing", _server.Protocol, _peer);
                    Close();
                    break;
                case State.Lingering:
                    Close();
                    break;
            }
        }

        /// <summary>An exception in one connection closes that connection, never the loop.</summary>
        private void Guarded(Action<Connection> step)
        {
            try
            {
                step(this);
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }

        private void Fail(Exception e)
        {
            if (e is SocketException or ObjectDisposedException)
            {
                if (Log.IsEnabled(LogLevel.Debug)) Log.LogDebug("{Protocol} connection from {Peer}: {Reason}", _server.Protocol, _peer, Cli.Describe(e));
            }
            else
            {
                Log.LogError("{Protocol} connection from {Peer} failed: {Type}: {Message}", _server.Protocol, _peer, e.GetType().Name, e.Message);
            }
            Close();
        }

        /// <summary>Answers what is buffered, reads more, until the connection has to wait.</summary>
        private void Pump()
        {
            while (_state == State.Reading)
            {
                var framed = _server._protocol.Frame(_buffer.AsSpan(_start, _end - _start));
                if (framed.Consumed > 0)
                {
                    var pending = _server._protocol.Answer(_buffer.AsSpan(_start + framed.Start, framed.Length), _peer);
                    _start += framed.Consumed;
                    if (!pending.IsCompletedSuccessfully)
                    {
                        _state = State.Waiting;
                        Deadline = long.MaxValue; // DNS has its own time-outs; the idle clock is off meanwhile
                        _ = ReplyLaterAsync(pending);
                        return;
                    }
                    if (!Send(pending.Result)) return;
                    continue;
                }
                if (framed.Refusal is { } refusal)
                {
                    Log.LogWarning("{Protocol} connection from {Peer}: {Reason}; closing", _server.Protocol, _peer, framed.Reason);
                    _closeAfterSend = true;
                    if (Send(refusal)) Linger();
                    return;
                }

                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                if (_end == _buffer.Length)
                {
                    // Cannot happen: the framers decide within far fewer bytes than the buffer holds.
                    Log.LogWarning("{Protocol} request from {Peer} overflows the buffer; closing", _server.Protocol, _peer);
                    Linger();
                    return;
                }
                if (!Receive()) return;
            }
        }

        private async Task ReplyLaterAsync(ValueTask<byte[]> pending)
        {
            byte[]? reply = null;
            Exception? error = null;
            try
            {
                reply = await pending.ConfigureAwait(false);
            }
            catch (Exception e)
            {
                error = e;
            }
            _loop.Reply(this, reply, error);
        }
    }
}
