namespace Router.Native;

/// <summary>A counter many threads bump at once: one padded cell per thread stripe.</summary>
public sealed class StripedCounter
{
    private const int Stripes = 16;
    private const int Spacing = 16; // longs: 128 bytes, two cache lines apart
    private readonly long[] _cells = new long[Stripes * Spacing];

    public void Increment() =>
        Interlocked.Increment(ref _cells[(Environment.CurrentManagedThreadId & (Stripes - 1)) * Spacing]);

    public long Value
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < Stripes; i++) sum += Interlocked.Read(ref _cells[i * Spacing]);
            return sum;
        }
    }
}
