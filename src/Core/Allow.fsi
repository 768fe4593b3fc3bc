/// --allow: which client addresses may talk to the router (tcp_table has no authentication).
/// Networks in CIDR notation, IPv4 and IPv6, matched on the address bytes. Pure: the shell
/// hands in the peer's address bytes.
module Router.Core.Allow

/// A network: its address bytes (4 for IPv4, 16 for IPv6) with every bit past the prefix
/// zero, and the prefix length.
type Network =
    {
      Bytes: byte array
      PrefixLength: int
    }

/// ::ffff:a.b.c.d, the form an IPv4 peer takes on a dual-stack socket, as a.b.c.d.
val normalize: address: byte array -> byte array

/// The network as CIDR text, e.g. 192.0.2.0/24 or 2001:db8::/32.
val render: net: Network -> string

/// Reads `ADDRESS` or `ADDRESS/PREFIX` (a bare address is a /32 or /128 network). An
/// IPv4-mapped IPv6 network (::ffff:192.0.2.0/120) is read as the IPv4 network it means.
/// Bits set past the prefix are an error that shows the network meant.
val parse: text: string -> Result<Network,string>

/// True when `address` (4 or 16 bytes; IPv4-mapped IPv6 counts as IPv4) lies in `net`.
val contains: net: Network -> address: byte array -> bool

/// The allow-list's verdict: an empty list allows everyone (the router then listens on
/// loopback only, see `needsList`), else the address must lie in one of the networks.
val allows: networks: Network list -> address: byte array -> bool

/// 127.0.0.0/8, ::1, or an IPv4-mapped 127.x address.
val isLoopback: address: byte array -> bool

/// A router bound to `host` must be given an allow-list unless only local processes can
/// reach it: a wildcard or any other non-loopback address needs one.
val needsList: host: byte array -> bool
