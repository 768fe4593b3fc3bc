using System.Net.Sockets;

namespace Router.Native;

/// <summary>Small helpers for messages on the terminal.</summary>
public static class Cli
{
    public const string Name = "postfix-mx-smart-router";
    public const string Prefix = Name + ": ";

    public static string VersionText =>
        Name + " " + (typeof(Cli).Assembly.GetName().Version is { } v
            ? v.Major + "." + v.Minor + "." + v.Build
            : "unknown");

    /// <summary>
    /// A short reason for an I/O failure. The binary is built with UseSystemResourceKeys,
    /// so exception messages of the runtime are resource keys: name the common cases here.
    /// </summary>
    public static string Describe(Exception e) => e switch
    {
        FileNotFoundException => "no such file",
        DirectoryNotFoundException => "no such file or directory",
        UnauthorizedAccessException => "permission denied",
        PathTooLongException => "path too long",
        SocketException s => Describe(s.SocketErrorCode),
        IOException io when io.HResult == 13 => "permission denied",
        IOException io when io.HResult == 21 => "is a directory",
        IOException io when io.HResult == 28 => "no space left on device",
        IOException io when io.HResult == 30 => "read-only file system",
        _ => e.GetType().Name + (e.Message.Length > 0 ? " (" + e.Message + ")" : ""),
    };

    public static string Describe(SocketError error) => error switch
    {
        SocketError.AddressAlreadyInUse => "address already in use",
        SocketError.AddressNotAvailable => "address not available",
        SocketError.AccessDenied => "permission denied",
        SocketError.AddressFamilyNotSupported => "address family not supported",
        SocketError.ConnectionRefused => "connection refused",
        SocketError.TimedOut => "timed out",
        _ => "socket error " + ((int)error).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
