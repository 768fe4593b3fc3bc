/// A relay's address (`transport:nexthop`) read as Postfix's smtp and lmtp clients read a
/// next hop: what a health probe connects to, or why it cannot. Pure: no DNS here; the
/// Host case says which DNS the shell does.
module Router.Core.NextHop

/// The host of a next hop, by how its addresses are found.
type Host =
    /// An IP address, no DNS: `[192.0.2.1]`, `[ipv6:2001:db8::1]`, `[2001:db8::1]`, or an
    /// unbracketed IPv4 address. The text is the address alone (no brackets, no `ipv6:`).
    | Literal of ip: string
    /// A bracketed host name (`[mx1.example.com]`), and any host of the lmtp transport
    /// (Postfix's LMTP client never looks up MX): its own A/AAAA records only. Lower case,
    /// no trailing dot.
    | Name of name: string
    /// An unbracketed host name (`mail.example.com`): its MX hosts, lowest preference
    /// first, and their A/AAAA records; its own A/AAAA records when it has no MX. Lower
    /// case, no trailing dot.
    | MxName of name: string

/// Where a probe connects, and how it greets.
type Endpoint =
    { Host: Host
      /// 1..65535; 25 when the next hop names none (24 for lmtp).
      Port: int
      /// The lmtp transport: greet with LHLO instead of EHLO.
      Lmtp: bool }

type Target =
    | Probeable of Endpoint
    /// Why not, in a few words: the daemon keeps such a relay up and names it at start.
    | NotProbeable of reason: string

/// The transport: the text before the first ':' (the whole address when there is none).
val transport: address: string -> string

/// The next hop: the text after the first ':' ("" when there is none).
val hop: address: string -> string

/// The default port of a transport's next hops: 24 for lmtp, else 25.
val defaultPort: transport: string -> int

/// Reads an address. Forms of the next hop (after an optional `inet:`): `[host]:port`,
/// `[host]`, `[host]:`, `host:port`, `host`, `host:`, `[ipv6:addr]:port`; the port a
/// number or `smtp` (25), `submission` (587), `lmtp` (24). Not probeable: the transports
/// error, retry, discard, local and virtual; no next hop; `unix:` sockets; a list of next
/// hops; port 465 (`submissions`, `smtps`: implicit TLS, and the probe speaks plain SMTP);
/// an unknown port name, a port outside 1..65535; a host that is neither an IP address
/// nor a host name (an all-numeric name included, as Postfix rejects it).
val parse: address: string -> Target
