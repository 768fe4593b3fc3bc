/// The log throttle: one line per period, every event accounted for.
module Router.Core.Tests.ThrottleTests

open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core

/// Event times, ascending, and a period.
let eventsGen: Gen<int64 list * int64> =
    gen {
        let! gaps = Gen.listOf (Gen.frequency [ 5, Gen.choose (0, 10); 1, Gen.choose (0, 5000) ])
        let! every = Gen.choose (1, 2000)
        return (gaps |> List.scan (fun t g -> t + int64 g) 0L |> List.tail), int64 every
    }

let run (times: int64 list) (every: int64) =
    let lines = ResizeArray<int64 * int64>()

    let final =
        times
        |> List.fold
            (fun t now ->
                let line, t' = Throttle.onEvent now t

                match line with
                | Some n -> lines.Add(now, n)
                | None -> ()

                t')
            (Throttle.create every)

    List.ofSeq lines, final

[<Property(MaxTest = 1000)>]
let ``lines are at least one period apart`` () =
    Prop.forAll (Arb.fromGen eventsGen) (fun (times, every) ->
        let lines, _ = run times every
        lines |> List.pairwise |> List.forall (fun ((a, _), (b, _)) -> b - a >= every))

[<Property(MaxTest = 1000)>]
let ``every event is in a line or still pending`` () =
    Prop.forAll (Arb.fromGen eventsGen) (fun (times, every) ->
        let lines, final = run times every
        (lines |> List.sumBy snd) + final.Pending = int64 (List.length times))

[<Property(MaxTest = 1000)>]
let ``the first event always gets a line`` () =
    Prop.forAll (Arb.fromGen eventsGen) (fun (times, every) ->
        let lines, _ = run times every

        match times with
        | first :: _ -> List.head lines = (first, 1L)
        | [] -> List.isEmpty lines)

[<Fact>]
let ``a flood costs one line per period`` () =
    let lines, final = run [ 0L .. 10L .. 99_990L ] 10_000L
    Assert.Equal(10, List.length lines)
    Assert.Equal((0L, 1L), List.head lines)
    Assert.Equal((10_000L, 1000L), lines[1])
    Assert.Equal(999L, final.Pending)
