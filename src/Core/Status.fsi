/// The status page's figures: one snapshot value, taken by the shell, and the JSON that
/// GET /status.json serves. The HTML page is StatusPage's, from the same snapshot.
module Router.Core.Status

open System

/// A relay's health as the checks see it.
type HealthState =
    | Up
    | Down
    /// Checks are on but this relay has not been probed yet, or cannot be.
    | Unchecked

/// The last probe of a relay.
type Probe =
    { Ok: bool
      At: DateTimeOffset
      Duration: TimeSpan
      /// What the probe saw: the greeting, or why it failed.
      Detail: string }

type RelayHealth =
    { State: HealthState
      LastProbe: Probe option }

/// The last reload (SIGHUP) since start.
type ReloadOutcome =
    { At: DateTimeOffset
      Succeeded: bool
      /// One line: what was loaded, or why the file was rejected.
      Message: string }

type Snapshot =
    { Metrics: Exposition.Snapshot
      Now: DateTimeOffset
      Started: DateTimeOffset
      ConfigFile: string
      LastReload: ReloadOutcome option
      /// None: health checks are off (no health columns). Some: per relay name; a relay
      /// missing from the map is Unchecked.
      Health: Map<string, RelayHealth> option }

/// A relay's health in the snapshot: None when checks are off.
val health: s: Snapshot -> relay: Model.Relay -> RelayHealth option

/// The state's word: "up", "down", "unchecked".
val stateText: state: HealthState -> string

/// The time since start, in whole seconds.
val uptimeSeconds: s: Snapshot -> int64

/// The Content-Type of the JSON.
[<Literal>]
val JsonContentType: string = "application/json; charset=utf-8"

/// GET /status.json: the same figures as the page, as one JSON object. Shares are numbers
/// from 0 to 1, times ISO 8601 in UTC; `health` keys appear only when checks are on.
val json: s: Snapshot -> string
