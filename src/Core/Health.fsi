/// One relay's health as its probes tell it, HAProxy's way: `fall` failed probes in a row
/// mark an up relay down, `rise` good ones in a row mark a down relay up again. A state is
/// a value; `observe` folds one probe into it.
module Router.Core.Health

/// health_fall and health_rise, each 1 or more.
type Thresholds = { Fall: int; Rise: int }

/// The defaults: fall 3, rise 2.
val defaults: Thresholds

/// A relay is up or down, and counts the probes in a row that disagree with that.
type State =
    { Up: bool
      /// Probes in a row whose result is not the state's (failures while up, successes while down).
      Streak: int }

/// Up, with nothing against it: every relay starts so, and one that cannot be probed stays so.
val initial: State

/// What one probe changed.
[<Struct>]
type Transition =
    | Unchanged
    /// The fall-th failure in a row: the relay is now down.
    | WentDown
    /// The rise-th success in a row: the relay is now up.
    | WentUp

/// The state after one probe (true: it passed), and whether it turned.
val observe: thresholds: Thresholds -> ok: bool -> state: State -> struct (State * Transition)
