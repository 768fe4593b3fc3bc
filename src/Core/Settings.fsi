/// The options that the command line and the `config:` section share: how each value is
/// read and what its range is (one definition, used by both), and the section's validation.
module Router.Core.Settings

open System.Net
open Router.Core.ConfigTree
open Router.Core.Diagnostics

/// What a DNS failure does when no cached answer covers it (--dns-failure-policy).
type DnsFailurePolicy =
    /// `defer`, the default: reply 400, Postfix defers the message and retries later.
    | DeferMail
    /// `default`: route as if the domain had no MX hosts: rules on the address, else the
    /// `default` target, else all servers.
    | UseDefault

/// A kind of option value. `Read` gives the value, or the command line's message for text
/// that is not one ("not a port number: \"x\""); `Expected` is what the config file's message
/// says it must be ("a port number from 1 to 65535").
type Value<'T> =
    { Read: string -> Result<'T, string>
      Expected: string }

/// 1..65535.
val port: Value<int>
/// 0 or more seconds.
val seconds: Value<int>
/// 0 or more.
val count: Value<int>
/// 1 or more.
val limit: Value<int>
/// 1..300 seconds.
val dnsTimeout: Value<int>
/// 0..10.
val dnsRetries: Value<int>
/// An IP address to bind, as text without brackets; `localhost` is 127.0.0.1.
val host: Value<string>
/// ADDR:PORT to listen on ([v6]:PORT for IPv6).
val listen: Value<IPEndPoint>
/// ADDR[:PORT] of a DNS server (port 53 by default; [v6]:PORT).
val dnsServer: Value<IPEndPoint>
/// A client network in CIDR notation (a bare address is one host).
val network: Value<Allow.Network>
/// A socketmap map name: no spaces, colons or control characters.
val socketmapName: Value<string>
/// `defer` or `default`.
val dnsFailurePolicy: Value<DnsFailurePolicy>

/// 0..4 backups in a next-hop list.
val failover: Value<int>
/// 1..300 seconds a health probe may take.
val healthTimeout: Value<int>
/// 1..100 probes in a row (health_fall, health_rise).
val probes: Value<int>

/// recipient_delimiter: the characters that start an address extension; "" is off.
val recipientDelimiter: Value<string>

/// An IPv4 address in dotted quad or any IPv6 address (no host names, no short forms).
val tryParseIp: text: string -> IPAddress option

/// Options that may also be given in the `config:` section, read and checked; the command
/// line wins over each.
type Settings =
    { LogFile: string option
      Port: int option
      Host: string option
      CacheTtl: int option
      Timeout: int option
      DnsServers: IPEndPoint list
      RepeatWindow: int option
      SocketmapPort: int option
      SocketmapName: string option
      Metrics: IPEndPoint option
      Allow: Allow.Network list
      MaxConnections: int option
      CacheSize: int option
      DnsTimeout: int option
      DnsRetries: int option
      StaleLimit: int option
      DnsFailurePolicy: DnsFailurePolicy option
      /// recipient_delimiter: the characters that start an address extension ("" = off).
      RecipientDelimiter: string option
      /// failover: backups after each group pick, 0..4.
      Failover: int option
      /// health_interval: seconds between two probes of a relay; 0 = off.
      HealthInterval: int option
      /// health_timeout: seconds a probe may take, 1..300.
      HealthTimeout: int option
      /// health_fall: failed probes in a row that mark a relay down.
      HealthFall: int option
      /// health_rise: good probes in a row that mark a relay up.
      HealthRise: int option }

/// No option set in `config:`.
val empty: Settings

/// The `config:` section: every value checked with the command line's ranges, an error with
/// its position for each bad one, a warning for an unknown key. Also the position of each
/// key's value (the first, for duplicates), for checks that combine several options.
val read: sink: Sink -> section: Node -> Settings * Map<string, Pos>
