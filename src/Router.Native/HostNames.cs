using System.Collections.Concurrent;

namespace Router.Native;

/// <summary>
/// MX host names in the form <see cref="Router.Core.Rules.sortHosts"/> gives (lower case, no
/// trailing dot, so that it keeps this very instance), one instance per name: many domains
/// share a few MX hosts (their provider's), and the cache then holds each name once, not
/// once per domain. At most <see cref="Limit"/> names are shared; later ones are kept as they come.
/// </summary>
public sealed class HostNames
{
    public const int Limit = 10_000;

    private readonly ConcurrentDictionary<string, string> _names = new(StringComparer.Ordinal);
    private int _count;

    public string Share(string exchange)
    {
        string host = exchange.ToLowerInvariant().TrimEnd('.');
        if (_names.TryGetValue(host, out var shared)) return shared;
        if (Volatile.Read(ref _count) >= Limit) return host;
        if (_names.TryAdd(host, host))
        {
            Interlocked.Increment(ref _count);
            return host;
        }
        return _names.TryGetValue(host, out shared) ? shared : host;
    }
}
