using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Router.Core;

namespace Router.Native;

/// <summary>
/// The health probes' schedule: every <c>interval</c>, one <see cref="SmtpProbe"/> of each
/// probeable relay address, off the lookup path (on the thread pool). Relays are keyed by
/// their Address: relays that share one share its probe, and each of them is reported.
/// The first probes are spread over the interval (the i-th of n addresses starts at
/// i*interval/n); then each address is probed every interval after its first, skipping the
/// slots a probe that ran over the interval missed, so at most one probe (and one socket)
/// is in flight per address, and memory is one probe's buffer per address.
/// <see cref="Watch"/> takes the relays of a config, again on every reload: the addresses
/// still present keep their schedule, removed ones stop (no report for them after Watch
/// returns), new ones start. Relays whose next hop cannot be probed are not probed and
/// are listed in <see cref="Unprobeable"/>, for the caller's warning; this class does not log them.
/// </summary>
public sealed class HealthProbes : IDisposable, IAsyncDisposable
{
    private readonly TimeSpan _interval;
    private readonly TimeSpan _timeout;
    private readonly DnsQuery _dns;
    private readonly ILogger _log;
    private readonly Action<Model.Relay, Status.Probe> _report;
    private readonly object _gate = new();
    private readonly Dictionary<string, Watcher> _watchers = new(StringComparer.Ordinal);
    private IReadOnlyList<(Model.Relay Relay, string Reason)> _unprobeable = Array.Empty<(Model.Relay, string)>();
    private bool _disposed;

    /// <summary>
    /// <paramref name="report"/> is called once per finished probe and relay of its address,
    /// from a pool thread, never for a probe cut short by Watch or Dispose; calls for one
    /// address never overlap. It must not call <see cref="Watch"/> or Dispose.
    /// </summary>
    public HealthProbes(TimeSpan interval, TimeSpan timeout, DnsQuery dns, ILogger log, Action<Model.Relay, Status.Probe> report)
    {
        if (interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(interval), "must be positive");
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), "must be positive");
        _interval = interval;
        _timeout = timeout;
        _dns = dns;
        _log = log;
        _report = report;
    }

    /// <summary>The relays of the last <see cref="Watch"/> that are not probed, and why (NextHop.parse's reason).</summary>
    public IReadOnlyList<(Model.Relay Relay, string Reason)> Unprobeable
    {
        get
        {
            lock (_gate) return _unprobeable;
        }
    }

    /// <summary>The addresses being probed, in no particular order.</summary>
    public IReadOnlyCollection<string> Addresses
    {
        get
        {
            lock (_gate) return _watchers.Keys.ToArray();
        }
    }

    /// <summary>Probes these relays from now on, in place of the last call's.</summary>
    public void Watch(IReadOnlyList<Model.Relay> relays)
    {
        var byAddress = new Dictionary<string, List<Model.Relay>>(StringComparer.Ordinal);
        var order = new List<(string Address, NextHop.Endpoint Target)>();
        var unprobeable = new List<(Model.Relay, string)>();
        foreach (var relay in relays)
        {
            if (byAddress.TryGetValue(relay.Address, out var sharing))
            {
                sharing.Add(relay);
                continue;
            }
            switch (NextHop.parse(relay.Address))
            {
                case NextHop.Target.Probeable p:
                    byAddress[relay.Address] = new List<Model.Relay> { relay };
                    order.Add((relay.Address, p.Item));
                    break;
                case NextHop.Target.NotProbeable n:
                    unprobeable.Add((relay, n.reason));
                    break;
            }
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            foreach (var (address, watcher) in _watchers.ToArray())
            {
                if (byAddress.ContainsKey(address)) continue;
                watcher.Stop();
                _watchers.Remove(address);
                _log.LogDebug("health probes of {Address} stopped", address);
            }
            for (int i = 0; i < order.Count; i++)
            {
                var (address, target) = order[i];
                var sharing = byAddress[address].ToArray();
                if (_watchers.TryGetValue(address, out var watcher))
                {
                    watcher.Relays(sharing);
                    continue;
                }
                var offset = TimeSpan.FromTicks(_interval.Ticks * i / order.Count);
                watcher = new Watcher(this, address, target, sharing);
                _watchers[address] = watcher;
                watcher.Start(offset);
            }
            _unprobeable = unprobeable;
        }
    }

    /// <summary>Stops every probe and waits for their ends (at most twice the timeout, plus a second).</summary>
    public void Dispose()
    {
        var loops = StopAll();
        Task.WaitAll(loops, _timeout * 2 + TimeSpan.FromSeconds(1));
    }

    public async ValueTask DisposeAsync()
    {
        var loops = StopAll();
        await Task.WhenAll(loops).WaitAsync(_timeout * 2 + TimeSpan.FromSeconds(1)).ConfigureAwait(false);
    }

    private Task[] StopAll()
    {
        lock (_gate)
        {
            _disposed = true;
            var loops = new Task[_watchers.Count];
            int i = 0;
            foreach (var w in _watchers.Values)
            {
                w.Stop();
                loops[i++] = w.Loop;
            }
            _watchers.Clear();
            return loops;
        }
    }

    /// <summary>One address's loop of probes.</summary>
    private sealed class Watcher(HealthProbes owner, string address, NextHop.Endpoint target, Model.Relay[] relays)
    {
        private readonly object _lock = new();
        private readonly CancellationTokenSource _stop = new();
        private Model.Relay[] _relays = relays;
        private bool _stopped;

        public Task Loop { get; private set; } = Task.CompletedTask;

        public void Start(TimeSpan offset) => Loop = Task.Run(() => RunAsync(offset));

        public void Relays(Model.Relay[] relays)
        {
            lock (_lock) _relays = relays;
        }

        /// <summary>After this returns no report of this address starts, and none is running
        /// (unless Stop was called from within one).</summary>
        public void Stop()
        {
            lock (_lock) _stopped = true;
            _stop.Cancel();
        }

        private async Task RunAsync(TimeSpan offset)
        {
            var cancel = _stop.Token;
            long interval = Ticks(owner._interval);
            try
            {
                await Task.Delay(offset, cancel).ConfigureAwait(false);
                long slot = Stopwatch.GetTimestamp();
                while (!cancel.IsCancellationRequested)
                {
                    var probe = await SmtpProbe.ProbeAsync(target, owner._dns, owner._timeout, cancel).ConfigureAwait(false);
                    if (cancel.IsCancellationRequested) return;
                    Report(probe);
                    // The next slot of this address's schedule that is still ahead.
                    long now = Stopwatch.GetTimestamp();
                    slot += interval;
                    if (slot <= now) slot += ((now - slot) / interval + 1) * interval;
                    await Task.Delay(TimeSpan.FromSeconds((double)(slot - now) / Stopwatch.Frequency), cancel).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                owner._log.LogError("health probes of {Address} stopped: {Type}: {Message}", address, e.GetType().Name, e.Message);
            }
        }

        private static long Ticks(TimeSpan t) => Math.Max(1, (long)(t.TotalSeconds * Stopwatch.Frequency));

        private void Report(Status.Probe probe)
        {
            owner._log.LogDebug("health probe of {Address}: {Result}", address, probe.Ok ? "ok" : probe.Detail);
            lock (_lock)
            {
                if (_stopped) return;
                foreach (var relay in _relays)
                {
                    try
                    {
                        owner._report(relay, probe);
                    }
                    catch (Exception e)
                    {
                        owner._log.LogError("health probe report for {Relay}: {Type}: {Message}", relay.Name, e.GetType().Name, e.Message);
                    }
                }
            }
        }
    }
}
