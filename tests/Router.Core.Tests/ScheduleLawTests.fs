/// Tijdeman.cycle, built with heaps, against the plain earliest-deadline loop: every
/// server checked at every step.
module Router.Core.Tests.ScheduleLawTests

open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core

/// The rule as stated, one step at a time: with D = 2(k-1), among the servers with
/// D*(n*w_i - p_i*W) >= W, the earliest deadline (D*(p_i+1) - 1) / w_i, ties to the lower
/// index. W*k steps.
let plainLoop (weights: int array) : int array =
    let total = weights |> Array.sumBy (fun w -> int64 (max w 0))
    let active = weights |> Array.filter (fun w -> w > 0) |> Array.length
    let d = int64 (2 * (max active 1 - 1))
    let picks = Array.zeroCreate<int64> weights.Length

    Array.init (int total) (fun step ->
        let n = int64 (step + 1)

        let eligible =
            [ 0 .. weights.Length - 1 ]
            |> List.filter (fun i ->
                weights[i] > 0 && (active = 1 || d * (n * int64 weights[i] - picks[i] * total) >= total))

        // The smallest deadline as a fraction, compared exactly; List.minBy keeps the first.
        let deadline i = (d * (picks[i] + 1L) - 1L, int64 weights[i])

        let best =
            eligible
            |> List.reduce (fun b i ->
                let nb, wb = deadline b
                let ni, wi = deadline i
                if ni * wb < nb * wi then i else b)

        picks[best] <- picks[best] + 1L
        best)

/// Up to 24 servers, weights 0..100 with zeros and repeated weights frequent (ties).
let weightsGen: Gen<int array> =
    gen {
        let! k = Gen.choose (0, 24)
        let! weights =
            Gen.arrayOfLength k (Gen.frequency [ 1, Gen.constant 0; 2, Gen.elements [ 1; 2; 50; 100 ]; 3, Gen.choose (1, 100) ])
        return weights
    }

type Weights =
    static member Arb() = Arb.fromGen weightsGen

[<Properties(Arbitrary = [| typeof<Weights> |], MaxTest = 500)>]
module ScheduleLaws =

    [<Property>]
    let ``the heap schedule is the plain earliest-deadline loop's`` (weights: int array) =
        Tijdeman.cycle weights = plainLoop weights

    [<Property>]
    let ``the heap schedule keeps the fairness bound`` (weights: int array) =
        let sequence = Tijdeman.cycle weights
        Array.exists (fun w -> w > 0) weights |> not || WrrTests.withinBound weights sequence

[<Fact>]
let ``300 servers, most of one weight: the heap schedule is the plain loop's`` () =
    let weights = Array.create 300 100 |> Array.mapi (fun i w -> if i % 7 = 0 then 3 else w)
    Assert.Equal<int array>(plainLoop weights, Tijdeman.cycle weights)
