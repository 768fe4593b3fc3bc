/// Tijdeman's chairman assignment (Discrete Mathematics 32, 1980): the earliest-deadline
/// sequence whose every prefix keeps each share within 1 - 1/(2(k-1)) of its ideal.
/// Kept apart from Wrr so that Config can build schedules while validating.
module Router.Core.Tijdeman

/// One cycle of W = sum of weights picks (indices into weights). Weights <= 0 are never
/// picked. In exact integer arithmetic: with D = 2(k-1), server i is eligible at step n
/// (1-based) when D*(n*w_i - p_i*W) >= W, and among the eligible the earliest deadline
/// (D*(p_i+1) - 1) / w_i wins, ties to the lower index.
let cycle (weights: int array) : int array =
    let total = weights |> Array.sumBy (fun w -> int64 (max w 0))
    let active = weights |> Array.filter (fun w -> w > 0) |> Array.length

    if total = 0L then
        [||]
    elif active = 1 then
        Array.create (int total) (Array.findIndex (fun w -> w > 0) weights)
    else
        let d = int64 (2 * (active - 1))
        let picks = Array.zeroCreate<int64> weights.Length
        let result = Array.zeroCreate<int> (int total)

        for step in 0 .. result.Length - 1 do
            let n = int64 (step + 1)
            let mutable best = -1

            for i in 0 .. weights.Length - 1 do
                let w = int64 weights[i]

                if w > 0L && d * (n * w - picks[i] * total) >= total then
                    if best < 0 then
                        best <- i
                    else
                        let deadlineI = d * (picks[i] + 1L) - 1L
                        let deadlineBest = d * (picks[best] + 1L) - 1L

                        if deadlineI * int64 weights[best] < deadlineBest * w then
                            best <- i

            picks[best] <- picks[best] + 1L
            result[step] <- best

        result
