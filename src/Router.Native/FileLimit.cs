using System.Runtime.InteropServices;

namespace Router.Native;

/// <summary>
/// RLIMIT_NOFILE: every connection is a file descriptor, and many systems start services with
/// a soft limit of 1024. The router raises its soft limit to the hard limit at start, as
/// servers commonly do, so that --max-connections rather than EMFILE is what limits it.
/// </summary>
public static class FileLimit
{
    private const int RLIMIT_NOFILE = 7;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static extern int GetRLimit(int resource, out RLimit limit);

    [DllImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static extern int SetRLimit(int resource, in RLimit limit);

    /// <summary>Raises the soft limit to the hard one; returns the soft limit now in force, or -1 when unknown.</summary>
    public static long RaiseToHardLimit()
    {
        try
        {
            if (GetRLimit(RLIMIT_NOFILE, out var limit) != 0) return -1;
            if (limit.Current < limit.Maximum)
            {
                var raised = new RLimit { Current = limit.Maximum, Maximum = limit.Maximum };
                if (SetRLimit(RLIMIT_NOFILE, in raised) == 0) limit = raised;
            }
            return limit.Current > long.MaxValue ? long.MaxValue : (long)limit.Current;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return -1;
        }
    }
}
