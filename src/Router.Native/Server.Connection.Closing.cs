using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Router.Native;

public sealed partial class Server
{
    // How a connection ends: lingering after a FIN of our own, a socket error, the close that frees its slot.
    internal sealed partial class Connection
    {
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
