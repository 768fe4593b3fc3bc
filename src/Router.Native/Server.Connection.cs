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
    internal sealed class Connection
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

        /// <summary>
        /// Reads what the kernel holds into the buffer: true when bytes came, false when the
        /// connection waits for more (idle deadline armed), lingers or closed.
        /// </summary>
        private unsafe bool Receive()
        {
            bool stopping = _server.Stopping;
            if (stopping)
            {
                // Shutting down: answer what already arrived (one last read of what the kernel
                // holds), then close between two replies.
                if (_lastRead)
                {
                    Linger();
                    return false;
                }
                _lastRead = true;
            }
            else if (!_readable)
            {
                WaitIdle();
                return false;
            }
            while (true)
            {
                int room = _buffer.Length - _end;
                nint n;
                fixed (byte* p = _buffer) n = Libc.Recv(Fd, p + _end, room, 0);
                if (n > 0)
                {
                    // A short read emptied the socket: the next bytes bring a new edge (but an
                    // end of file already signalled brings none: read on to its 0).
                    if (n < room && !_hangup) _readable = false;
                    _end += (int)n;
                    return true;
                }
                if (n == 0)
                {
                    if (_end > _start && Log.IsEnabled(LogLevel.Debug))
                        Log.LogDebug("{Protocol} connection from {Peer} closed inside a request", _server.Protocol, _peer);
                    Close();
                    return false;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR) continue;
                if (errno == Libc.EAGAIN)
                {
                    _readable = false;
                    if (stopping) Linger();
                    else WaitIdle();
                    return false;
                }
                SocketFailed(errno);
                return false;
            }
        }

        private void WaitIdle()
        {
            if (_server._timeoutMs <= 0) return;
            Deadline = _loop.Now + _server._timeoutMs;
            _loop.Arm(Deadline);
        }

        /// <summary>Starts sending a reply: true when it went out whole, false when the rest waits (Sending) or the connection closed.</summary>
        private bool Send(byte[] reply)
        {
            _out = reply;
            _outSent = 0;
            return Flush();
        }

        private unsafe bool Flush()
        {
            var bytes = _out!;
            while (_outSent < bytes.Length)
            {
                nint n;
                fixed (byte* p = bytes) n = Libc.Send(Fd, p + _outSent, bytes.Length - _outSent, Libc.MSG_NOSIGNAL);
                if (n >= 0)
                {
                    _outSent += (int)n;
                    continue;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR) continue;
                if (errno == Libc.EAGAIN)
                {
                    // The peer's window is full: wait for room, for at most the idle timeout.
                    // Not cut short by stop: a reply being written at shutdown is written whole.
                    _writable = false;
                    _state = State.Sending;
                    Deadline = _server._timeoutMs > 0 ? _loop.Now + _server._timeoutMs : long.MaxValue;
                    _loop.Arm(Deadline);
                    return false;
                }
                SocketFailed(errno);
                return false;
            }
            _out = null;
            return true;
        }

        /// <summary>Room to send again: the rest of the reply, then the next request.</summary>
        private void Resend()
        {
            if (!Flush()) return;
            if (_closeAfterSend)
            {
                Linger();
                return;
            }
            _state = State.Reading;
            Pump();
        }

        /// <summary>
        /// Closing first: send FIN, then read and drop what the peer still sends for a moment.
        /// Closing a socket with unread bytes sends a reset, and a reset can destroy replies the
        /// peer has not read yet (the 400 for a line too long, the last answers at shutdown).
        /// </summary>
        private void Linger()
        {
            _state = State.Lingering;
            _dropped = 0;
            try
            {
                _socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                Close();
                return;
            }
            Deadline = _loop.Now + (long)LingerLimit.TotalMilliseconds;
            _loop.Arm(Deadline);
            _readable = true; // whatever is already there, and the FIN, may have come before
            Drop();
        }

        private unsafe void Drop()
        {
            while (true)
            {
                nint n;
                fixed (byte* p = _buffer) n = Libc.Recv(Fd, p, _buffer.Length, 0);
                if (n > 0)
                {
                    _dropped += (int)n;
                    if (_dropped >= LingerBytes) break;
                    continue;
                }
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR) continue;
                    if (errno == Libc.EAGAIN)
                    {
                        _readable = false;
                        return;
                    }
                }
                break; // the peer closed, or failed
            }
            Close();
        }

        private void SocketFailed(int errno)
        {
            if (Log.IsEnabled(LogLevel.Debug))
                Log.LogDebug("{Protocol} connection from {Peer}: {Reason}", _server.Protocol, _peer, Marshal.GetPInvokeErrorMessage(errno));
            Close();
        }

        public void Close()
        {
            if (_state == State.Closed) return;
            _state = State.Closed;
            Deadline = long.MaxValue;
            if (Generation != 0) _loop.Remove(this); // registered: free the loop's slot
            try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
            _socket.Dispose();
            ArrayPool<byte>.Shared.Return(_buffer);
            _gate.Release();
            _server.Closed(_peer);
        }
    }
}
