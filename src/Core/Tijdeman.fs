/// Tijdeman's chairman assignment (Discrete Mathematics 32, 1980): the earliest-deadline
/// sequence whose every prefix keeps each share within 1 - 1/(2(k-1)) of its ideal.
/// Kept apart from Wrr so that Config can build schedules while validating.
module Router.Core.Tijdeman

/// A binary min-heap of server indices under an order given by `before`, in a fixed array
/// (each server is in at most one heap at a time).
type private Heap(capacity: int, before: int -> int -> bool) =
    let items = Array.zeroCreate<int> capacity
    let mutable count = 0

    member _.Count = count
    member _.Top = items[0]

    member _.Push(x: int) =
        let mutable i = count
        count <- count + 1

        while i > 0 && before x items[(i - 1) / 2] do
            items[i] <- items[(i - 1) / 2]
            i <- (i - 1) / 2

        items[i] <- x

    member _.Pop() =
        count <- count - 1
        let last = items[count]
        let mutable i = 0
        let mutable fin = false

        while not fin do
            let l = 2 * i + 1

            if l >= count then
                fin <- true
            else
                let c = if l + 1 < count && before items[l + 1] items[l] then l + 1 else l

                if before items[c] last then
                    items[i] <- items[c]
                    i <- c
                else
                    fin <- true

        if count > 0 then
            items[i] <- last

/// One cycle of W = sum of weights picks (indices into weights). Weights <= 0 are never
/// picked. In exact integer arithmetic: with D = 2(k-1), server i is eligible at step n
/// (1-based) when D*(n*w_i - p_i*W) >= W, and among the eligible the earliest deadline
/// (D*(p_i+1) - 1) / w_i wins, ties to the lower index.
///
/// In W log k: a server not picked stays eligible as n grows, and becomes eligible at the
/// first n with D*n*w_i >= W*(1 + D*p_i). The servers wait in one heap keyed by that step
/// and, once eligible, in another keyed by (deadline, index); each step moves the servers
/// whose step has come and takes the top of the second.
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
        let eligibleAt = Array.zeroCreate<int64> weights.Length
        let result = Array.zeroCreate<int> (int total)

        let setEligibleAt i =
            let need = total * (1L + d * picks[i])
            let per = d * int64 weights[i]
            eligibleAt[i] <- (need + per - 1L) / per

        // Deadlines compare as fractions (D*(p_i+1) - 1) / w_i, then by index.
        let earlier i j =
            let a = (d * (picks[i] + 1L) - 1L) * int64 weights[j]
            let b = (d * (picks[j] + 1L) - 1L) * int64 weights[i]
            a < b || (a = b && i < j)

        let waiting = Heap(weights.Length, fun i j -> eligibleAt[i] < eligibleAt[j])
        let eligible = Heap(weights.Length, earlier)

        for i in 0 .. weights.Length - 1 do
            if weights[i] > 0 then
                setEligibleAt i
                waiting.Push i

        for step in 0 .. result.Length - 1 do
            let n = int64 (step + 1)

            while waiting.Count > 0 && eligibleAt[waiting.Top] <= n do
                let i = waiting.Top
                waiting.Pop()
                eligible.Push i

            let best = eligible.Top
            eligible.Pop()
            picks[best] <- picks[best] + 1L
            result[step] <- best
            setEligibleAt best
            waiting.Push best

        result
