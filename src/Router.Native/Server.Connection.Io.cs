using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Router.Native;

public sealed partial class Server
{
    // A connection's socket work: reading into its buffer, waiting idle, sending a reply whole.
    internal sealed partial class Connection
    {
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
    }
}
