using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.FSharp.Collections;
using Router.Core;

namespace Router.Native;

/// <summary>
/// Who may hold a connection: peers inside --allow (when given), and no more than
/// --max-connections at once over both listeners. A refused connection is closed at once and
/// logged, one line per kind of refusal per <see cref="ReportEvery"/> at most, so that a
/// flood cannot flood the log. Connections already open are never touched.
/// </summary>
public sealed class ConnectionGate
{
    public static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(10);

    private readonly FSharpList<Allow.Network> _allow;
    private readonly int _max;
    private readonly ILogger _log;
    private readonly LogThrottle _outsiders = new(ReportEvery);
    private readonly LogThrottle _overLimit = new(ReportEvery);
    private int _open;

    public ConnectionGate(IReadOnlyList<Allow.Network> allow, int maxConnections, ILogger log)
    {
        _allow = ListModule.OfSeq(allow);
        _max = maxConnections;
        _log = log;
    }

    public int MaxConnections => _max;

    /// <summary>Connections admitted and not yet released.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>
    /// Takes a slot for a connection just accepted, or refuses it: the caller then closes it at
    /// once. An admitted connection gives its slot back with <see cref="Release"/>.
    /// </summary>
    public bool TryAdmit(Socket client, string listener)
    {
        EndPoint? peer = client.RemoteEndPoint;
        if (!_allow.IsEmpty)
        {
            if (peer is not IPEndPoint ip || !Allow.allows(_allow, ip.Address.GetAddressBytes()))
            {
                long events = _outsiders.Count();
                if (events > 0 && _log.IsEnabled(LogLevel.Warning))
                    _log.LogWarning("refused a {Listener} connection from {Peer}: not in --allow{More}",
                        listener, peer, LogThrottle.More(events));
                return false;
            }
        }
        if (Interlocked.Increment(ref _open) > _max)
        {
            Interlocked.Decrement(ref _open);
            long events = _overLimit.Count();
            if (events > 0 && _log.IsEnabled(LogLevel.Warning))
                _log.LogWarning("refused a {Listener} connection from {Peer}: {Max} connections are open, the --max-connections limit{More}",
                    listener, peer, _max, LogThrottle.More(events));
            return false;
        }
        return true;
    }

    public void Release() => Interlocked.Decrement(ref _open);
}
