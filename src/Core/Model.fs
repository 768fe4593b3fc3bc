module Router.Core.Model

open Router.Core.ConfigTree

type Relay =
    { Name: string
      Address: string
      Weight: int
      Index: int }

type Group =
    { Name: string
      Index: int
      Members: Relay array
      Schedule: int array }

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
    { Pattern: string
      Target: Target
      Pos: Pos
      Scope: Scope }

type Config =
    { File: string
      Relays: Relay array
      AllServers: Group
      Groups: Group list
      Rules: Rule list
      Default: Target option
      Settings: Settings.Settings
      SettingsAt: Map<string, Pos> }

[<Literal>]
let AllServersName = "All Servers"

[<Literal>]
let NoResultText = "NO RESULT"

let groups (config: Config) : Group array =
    Array.append [| config.AllServers |] (Array.ofList config.Groups)

let tryGroup (config: Config) (name: string) : Group option =
    if name = AllServersName then
        Some config.AllServers
    else
        config.Groups |> List.tryFind (fun g -> g.Name = name)

let targetName (target: Target) : string =
    match target with
    | Group g -> g.Name
    | Relay r -> r.Name
    | NoResult -> NoResultText

let withRecipientDelimiter (delimiters: string) (config: Config) : Config =
    { config with
        Settings =
            { config.Settings with
                RecipientDelimiter = Some delimiters } }

let withFailover (failover: int) (config: Config) : Config =
    { config with
        Settings =
            { config.Settings with
                Failover = Some failover } }
