/// Weighted round robin with Tijdeman's bound: earliest deadline among the eligible.
/// The pick sequence of a group is periodic with period W = sum of weights, so a group's
/// whole state is its position in one precomputed cycle.
module Router.Core.Wrr

/// One cycle of picks for the weights: indices, length = sum of weights, each index i
/// present exactly weights[i] times, and after any prefix of n picks
/// |picks_i - n*w_i/W| <= 1 - 1/(2(k-1)) (k = number of nonzero weights, k >= 2).
let schedule (weights: int array) : int array = Tijdeman.cycle weights

/// The state of one group: how many picks it has made (mod the cycle length).
[<Struct>]
type State = { Position: int64 }

let initial : State = { Position = 0L }

/// The relay at an absolute position (what the shell uses after an atomic increment).
let at (group: Config.Group) (position: int64) : Config.Relay =
    let length = int64 group.Schedule.Length
    let offset = ((position % length) + length) % length
    group.Members[group.Schedule[int offset]]

/// The pure fold step: the relay for this state and the state after it.
let pick (group: Config.Group) (state: State) : Config.Relay * State =
    let length = int64 group.Schedule.Length
    at group state.Position, { Position = (state.Position + 1L) % length }
