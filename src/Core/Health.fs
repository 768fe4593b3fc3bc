module Router.Core.Health

type Thresholds = { Fall: int; Rise: int }

let defaults = { Fall = 3; Rise = 2 }

type State = { Up: bool; Streak: int }

let initial = { Up = true; Streak = 0 }

[<Struct>]
type Transition =
    | Unchanged
    | WentDown
    | WentUp

let observe (thresholds: Thresholds) (ok: bool) (state: State) : struct (State * Transition) =
    if ok = state.Up then
        // The probe agrees with the state: whatever was against it is forgotten.
        struct ({ state with Streak = 0 }, Unchanged)
    else
        let streak = state.Streak + 1
        let needed = if state.Up then thresholds.Fall else thresholds.Rise

        if streak >= needed then
            struct ({ Up = ok; Streak = 0 }, (if ok then WentUp else WentDown))
        else
            struct ({ state with Streak = streak }, Unchanged)
