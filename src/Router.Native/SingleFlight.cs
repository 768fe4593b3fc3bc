using System.Collections.Concurrent;

namespace Router.Native;

/// <summary>
/// One run per name at a time: the first caller starts it, callers meanwhile get the same
/// task. A run that throws completes with what <c>onError</c> makes of the exception, so
/// the task never faults.
/// </summary>
public sealed class SingleFlight<T>
{
    private readonly ConcurrentDictionary<string, Task<T>> _running = new(StringComparer.Ordinal);
    private readonly Func<string, Task<T>> _run;
    private readonly Func<string, Exception, T> _onError;

    public SingleFlight(Func<string, Task<T>> run, Func<string, Exception, T> onError)
    {
        _run = run;
        _onError = onError;
    }

    /// <summary>Whether a run for this name is out.</summary>
    public bool IsRunning(string name) => _running.ContainsKey(name);

    /// <summary>The run for this name: the one out, else a new one.</summary>
    public Task<T> Join(string name)
    {
        if (_running.TryGetValue(name, out var running)) return running;
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var mine = tcs.Task;
        var winner = _running.GetOrAdd(name, mine);
        if (!ReferenceEquals(winner, mine)) return winner;
        _ = Run(name, tcs);
        return mine;
    }

    private async Task Run(string name, TaskCompletionSource<T> tcs)
    {
        T result;
        try
        {
            result = await _run(name).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            result = _onError(name, e);
        }
        finally
        {
            _running.TryRemove(new KeyValuePair<string, Task<T>>(name, tcs.Task));
        }
        tcs.TrySetResult(result);
    }
}
