/// The validated config: relays, groups, rules with their targets resolved. Only
/// `Validation.validate` makes one, so a rule always holds a group or a relay that exists.
module Router.Core.Model

open Router.Core.ConfigTree

/// A relay, as listed under servers.names.
type Relay =
    { Name: string
      /// transport:nexthop, e.g. relay:[mx1.example.com]:25
      Address: string
      /// perc, 0..100
      Weight: int
      /// Position under servers.names, 0-based.
      Index: int }

/// A weighted group of relays; "All Servers" is the implicit group of every relay.
type Group =
    { Name: string
      /// 0 for All Servers, then 1, 2 ... for the groups in file order.
      Index: int
      Members: Relay array
      /// One WRR cycle: indices into Members, length = sum of weights (Wrr.schedule).
      Schedule: int array }

/// What a rule (or the default) sends mail to.
type Target =
    | Group of Group
    | Relay of Relay
    | NoResult

/// What a rule's pattern is compared with.
type Scope =
    /// The YAML format's rules: the key (equal or a substring) and every MX host.
    | AnyKeyOrHost
    /// postfix-mx-pattern-router's lines: the MX hosts only, never the address.
    | MxHostOnly

type Rule =
    { /// Lower case.
      Pattern: string
      Target: Target
      Pos: Pos
      Scope: Scope }

type Config =
    { File: string
      /// In file order.
      Relays: Relay array
      AllServers: Group
      /// In file order.
      Groups: Group list
      /// In file order, without `default`.
      Rules: Rule list
      Default: Target option
      Settings: Settings.Settings
      /// Where each key of the `config:` section stands (its value's position).
      SettingsAt: Map<string, Pos> }

/// The name of the implicit group of every relay, as the stats table shows it.
[<Literal>]
val AllServersName: string = "All Servers"

/// The target that is nothing: reply "not found".
[<Literal>]
val NoResultText: string = "NO RESULT"

/// All Servers first, then the groups in file order: the order of Group.Index.
val groups: config: Config -> Group array

/// A group by name ("All Servers" included).
val tryGroup: config: Config -> name: string -> Group option

/// A target's name: the group's or relay's, or "NO RESULT".
val targetName: target: Target -> string

/// The config with another recipient delimiter (the command line's, which wins over the file's).
val withRecipientDelimiter: delimiters: string -> config: Config -> Config

/// The config with another failover count (the command line's, which wins over the file's).
val withFailover: failover: int -> config: Config -> Config
