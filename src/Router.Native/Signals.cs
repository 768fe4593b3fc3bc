using System.Runtime.InteropServices;

namespace Router.Native;

/// <summary>
/// SIGINT and SIGTERM stop the router gracefully (the handler only cancels; Program prints
/// the stats once the server has drained). SIGUSR1 prints the stats and goes on. SIGHUP
/// reloads the config (<see cref="Reloader"/>; `systemctl reload` sends it).
/// </summary>
public sealed class Signals : IDisposable
{
    public const PosixSignal SIGUSR1 = (PosixSignal)10;

    private readonly List<PosixSignalRegistration> _registrations = new();
    private readonly CancellationTokenSource _stop = new();

    public CancellationToken Stop => _stop.Token;

    public Signals(Action printStats, Action onReload)
    {
        OnStats = printStats;
        OnReload = onReload;
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, Shutdown));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, Shutdown));
        _registrations.Add(PosixSignalRegistration.Create(SIGUSR1, ctx =>
        {
            ctx.Cancel = true;
            OnStats();
        }));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            ctx.Cancel = true;
            OnReload();
        }));
    }

    private Action OnStats { get; }

    /// <summary>SIGHUP: asks for a reload and returns at once.</summary>
    private Action OnReload { get; }

    private void Shutdown(PosixSignalContext ctx)
    {
        ctx.Cancel = true;
        _stop.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _stop.Dispose();
    }
}
