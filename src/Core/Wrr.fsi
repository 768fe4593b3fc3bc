/// Weighted round robin with Tijdeman's bound: earliest deadline among the eligible.
/// The pick sequence of a group is periodic with period W = sum of weights, so a group's
/// whole state is its position in one precomputed cycle: the shell keeps one counter per
/// group and increments it atomically; this module maps a position to a relay.
module Router.Core.Wrr

open Router.Core.Model

/// One cycle of picks for the weights: indices, length = sum of weights, each index i
/// present exactly weights[i] times, and after any prefix of n picks
/// |picks_i - n*w_i/W| <= 1 - 1/(2(k-1)) (k = number of nonzero weights, k >= 2).
val schedule: weights: int array -> int array

/// The index, in the group's Members, of the relay at an absolute position (any int64,
/// taken modulo the cycle).
val memberAt: group: Group -> position: int64 -> int

/// The relay at an absolute position.
val at: group: Group -> position: int64 -> Relay
