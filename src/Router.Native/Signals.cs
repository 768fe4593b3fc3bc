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

    /// <summary>
    /// Registers at once, before the router listens: a signal that arrives while the router
    /// starts must not take the default action (SIGUSR1 and SIGHUP would kill it). Until
    /// the handlers are set, SIGUSR1 and SIGHUP are ignored and SIGTERM stops the start.
    /// </summary>
    public Signals()
    {
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, Shutdown));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, Shutdown));
        _registrations.Add(PosixSignalRegistration.Create(SIGUSR1, ctx =>
        {
            ctx.Cancel = true;
            OnStats.Invoke();
        }));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            ctx.Cancel = true;
            OnReload.Invoke();
        }));
    }

    /// <summary>SIGUSR1: prints the stats table.</summary>
    public Action OnStats { get; set; } = () => { };

    /// <summary>SIGHUP: asks for a reload and returns at once.</summary>
    public Action OnReload { get; set; } = () => { };

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
