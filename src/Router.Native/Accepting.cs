using System.Net.Sockets;

namespace Router.Native;

/// <summary>The accept step every listener shares (tcp_table, socketmap, metrics).</summary>
public static class Accepting
{
    /// <summary>
    /// The next connection, or null once the listener stops (<paramref name="stop"/>
    /// cancelled or the socket disposed). A failed accept (EMFILE and friends) goes to
    /// <paramref name="failed"/> and is tried again 100 ms later: the listener stays.
    /// </summary>
    public static async Task<Socket?> NextAsync(Socket listener, Action<SocketException> failed, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                return await listener.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
            catch (ObjectDisposedException)
            {
                return null;
            }
            catch (SocketException e)
            {
                failed(e);
                try { await Task.Delay(100, stop).ConfigureAwait(false); }
                catch (OperationCanceledException) { return null; }
            }
        }
        return null;
    }
}
