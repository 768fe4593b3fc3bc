/// Tijdeman's chairman assignment (Discrete Mathematics 32, 1980): the earliest-deadline
/// sequence whose every prefix keeps each share within 1 - 1/(2(k-1)) of its ideal.
/// Kept apart from Wrr so that validation can build schedules.
module Router.Core.Tijdeman

/// One cycle of W = sum of weights picks (indices into weights). Weights <= 0 are never
/// picked. In exact integer arithmetic: with D = 2(k-1), server i is eligible at step n
/// (1-based) when D*(n*w_i - p_i*W) >= W, and among the eligible the earliest deadline
/// (D*(p_i+1) - 1) / w_i wins, ties to the lower index. Built in W log k steps (two heaps:
/// servers by the step they become eligible, eligible ones by deadline and index).
val cycle: weights: int array -> int array
