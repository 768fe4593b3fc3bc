/// The fairness law of Wrr: never weight 0, exact counts per cycle, Tijdeman's bound.
module Router.Core.Tests.WrrTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.Model

/// Up to 16 servers, weights 0..100 (zeros frequent), at least one nonzero.
let weightsGen: Gen<int array> =
    gen {
        let! k = Gen.choose (1, 16)
        let! weights = Gen.arrayOfLength k (Gen.frequency [ 1, Gen.constant 0; 3, Gen.choose (1, 100) ])
        let! fix = Gen.choose (0, k - 1)
        let! w = Gen.choose (1, 100)

        return
            if Array.forall ((=) 0) weights then
                weights |> Array.mapi (fun i x -> if i = fix then w else x)
            else
                weights
    }

type Weights =
    static member Arb() = Arb.fromGen weightsGen

let group (weights: int array) : Group =
    { Name = "g"
      Index = 1
      Members =
        weights
        |> Array.mapi (fun i w ->
            { Name = "mx" + string i
              Address = "relay:[mx" + string i + "]"
              Weight = w
              Index = i })
      Schedule = Wrr.schedule weights }

/// Indices picked from the start, n of them.
let picks (weights: int array) (n: int) =
    let g = group weights
    Array.init n (fun p -> (Wrr.at g (int64 p)).Index)

/// Checks |p_i - n w_i / W| <= 1 - 1/(2(k-1)) (0 for k = 1) after every prefix, exactly:
/// |D (p_i W - n w_i)| <= W (D - 1) with D = 2(k-1).
let withinBound (weights: int array) (sequence: int array) =
    let total = weights |> Array.sumBy int64
    let k = weights |> Array.filter (fun w -> w > 0) |> Array.length
    let counts = Array.zeroCreate<int64> weights.Length
    let mutable ok = true

    sequence
    |> Array.iteri (fun step i ->
        counts[i] <- counts[i] + 1L
        let n = int64 (step + 1)

        for j in 0 .. weights.Length - 1 do
            let diff = counts[j] * total - n * int64 weights[j]

            if k = 1 then
                ok <- ok && diff = 0L
            else
                let d = int64 (2 * (k - 1))
                ok <- ok && abs (d * diff) <= total * (d - 1L))

    ok

/// The largest lag max |p_i - n w_i / W| over the sequence, as a float, for reporting.
let maxLag (weights: int array) (sequence: int array) =
    let total = float (Array.sum weights)
    let counts = Array.zeroCreate<int> weights.Length
    let mutable worst = 0.0

    sequence
    |> Array.iteri (fun step i ->
        counts[i] <- counts[i] + 1

        for j in 0 .. weights.Length - 1 do
            worst <- max worst (abs (float counts[j] - float (step + 1) * float weights[j] / total)))

    worst

/// nginx's smooth weighted round robin (ngx_http_upstream_get_peer), as a reference.
let nginx (weights: int array) (n: int) =
    let current = Array.zeroCreate<int> weights.Length
    let total = Array.sum weights

    Array.init n (fun _ ->
        let mutable best = -1

        for i in 0 .. weights.Length - 1 do
            if weights[i] > 0 then
                current[i] <- current[i] + weights[i]

                if best < 0 || current[i] > current[best] then
                    best <- i

        current[best] <- current[best] - total
        best)

/// The Python tool's loop: the first server whose current % is below its target %.
let python (weights: int array) (n: int) =
    let sent = Array.zeroCreate<int> weights.Length
    let total = Array.sum weights

    Array.init n (fun step ->
        // sent_i / step < w_i / total, compared without division
        let below i = weights[i] > 0 && (step = 0 || sent[i] * total < weights[i] * step)

        let chosen =
            match Array.tryFindIndex below [| 0 .. weights.Length - 1 |] with
            | Some i -> i
            | None -> Array.findIndex (fun w -> w > 0) weights

        sent[chosen] <- sent[chosen] + 1
        chosen)

[<Properties(Arbitrary = [| typeof<Weights> |], MaxTest = 1000)>]
module Laws =

    [<Property>]
    let ``a server of weight 0 is never picked`` (weights: int array) =
        picks weights (2 * Array.sum weights) |> Array.forall (fun i -> weights[i] > 0)

    [<Property>]
    let ``over W picks from the start each server is picked exactly its weight times`` (weights: int array) =
        let counts = Array.zeroCreate<int> weights.Length

        for i in picks weights (Array.sum weights) do
            counts[i] <- counts[i] + 1

        counts = weights

    [<Property>]
    let ``after every prefix the lag stays within Tijdeman's bound`` (weights: int array) =
        withinBound weights (picks weights (2 * Array.sum weights))

[<Fact>]
let ``nginx smooth WRR exceeds the bound where ours stays within it`` () =
    let weights = [| 100; 100; 3; 100; 1; 1; 1; 5; 10; 1 |]
    let cycle = Array.sum weights
    let theirs = nginx weights cycle
    Assert.False(withinBound weights theirs)
    Assert.InRange(maxLag weights theirs, 1.38, 1.40)
    Assert.True(withinBound weights (picks weights (2 * cycle)))
    Assert.True(maxLag weights (picks weights cycle) <= 1.0 - 1.0 / 18.0)

[<Fact>]
let ``the Python tool's loop lags 3.88 where ours stays within the bound`` () =
    let weights = [| 1; 1; 1; 1; 97 |]
    let theirs = python weights 101
    Assert.False(withinBound weights theirs)
    Assert.InRange(maxLag weights theirs, 3.8, 3.9)
    Assert.True(withinBound weights (picks weights 202))
    Assert.True(maxLag weights (picks weights 101) <= 0.875)

[<Fact>]
let ``one server takes every pick`` () =
    Assert.Equal<int array>([| 1; 1; 1 |], picks [| 0; 3; 0 |] 3)

[<Fact>]
let ``equal weights alternate in file order`` () =
    Assert.Equal<int array>([| 0; 1; 2; 0; 1; 2 |], picks [| 1; 1; 1 |] 6)

[<Fact>]
let ``40 40 20 spreads the small share`` () =
    let sequence = picks [| 40; 40; 20 |] 5
    Assert.Equal<int array>([| 0; 1; 2; 0; 1 |], sequence)
