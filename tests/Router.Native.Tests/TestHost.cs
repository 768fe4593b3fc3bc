using System.Runtime.CompilerServices;

namespace Router.Native.Tests;

/// <summary>
/// The test process's thread pool starts with enough threads for what the tests do at once.
/// Many tests block a pool thread (a synchronous read of the router's reply, a sleep through
/// a TTL) while the in-process fakes (FakeDns) answer on pool threads; when the classes all
/// start together, the pool would grow by about one thread per half second, and a fake's
/// answer could wait longer than the router's DNS time-out: a 400 the test did not ask for.
/// </summary>
internal static class TestHost
{
    [ModuleInitializer]
    internal static void Start()
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 64), Math.Max(io, 64));
    }
}
