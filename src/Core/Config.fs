/// The configuration: the YAML tree as the shell read it (with positions), the validated
/// model, and validation from one to the other. Errors are values.
module Router.Core.Config

/// A position in the config file, 1-based.
type Pos = { Line: int; Column: int }

/// The YAML document as a tree, in file order, duplicates kept. The shell builds it with
/// YamlDotNet; everything else (shape, names, types, duplicates) is checked here.
type Node =
    /// A scalar; `Plain` is false for quoted scalars. A YAML null (`~`, `null`, nothing)
    /// is a plain scalar whose text is "" or "~" or "null".
    | Scalar of text: string * plain: bool * pos: Pos
    | Sequence of items: Node list * pos: Pos
    | Mapping of entries: (Node * Node) list * pos: Pos

type Severity =
    | Error
    | Warning

type Diagnostic =
    { File: string
      Pos: Pos
      Severity: Severity
      Message: string }

/// "FILE:LINE:COLUMN: error: MESSAGE" (or "warning:").
let render (d: Diagnostic) : string = failwith "todo"

/// A relay, as listed under servers.names.
type Relay =
    { Name: string
      /// transport:nexthop, e.g. relay:[mx1.example.com]:25
      Address: string
      /// perc, 0..100
      Weight: int
      /// position under servers.names, 0-based
      Index: int }

/// A weighted group of relays; "All Servers" is the implicit group of every relay.
type Group =
    { Name: string
      Members: Relay array
      /// One WRR cycle: indices into Members, length = sum of weights. Built by Wrr.schedule.
      Schedule: int array }

type Target =
    | ToGroup of name: string
    | ToServer of name: string
    | NoResult

type Rule =
    { Pattern: string
      Target: Target
      Pos: Pos }

/// Options that may also be given in the `config:` section; the command line wins.
type Settings =
    { LogFile: string option
      Port: int option
      Host: string option
      CacheTtl: int option
      Timeout: int option
      DnsServers: string list
      RepeatWindow: int option
      SocketmapPort: int option
      SocketmapName: string option
      Metrics: string option
      Allow: string list
      MaxConnections: int option
      CacheSize: int option }

type Config =
    { File: string
      Relays: Relay array
      AllServers: Group
      /// Groups in file order.
      Groups: Group list
      /// Rules in file order, without `default`.
      Rules: Rule list
      Default: Target option
      Settings: Settings }

/// The name of the implicit group of every relay, as the stats table shows it.
[<Literal>]
let AllServersName = "All Servers"

/// Validates the tree read from `file`. Ok carries the config and its warnings; Error
/// carries every error found (and the warnings), each with its position.
let validate (file: string) (root: Node) : Result<Config * Diagnostic list, Diagnostic list> =
    failwith "todo"

/// Finds a group by name ("All Servers" included).
let tryGroup (config: Config) (name: string) : Group option = failwith "todo"
