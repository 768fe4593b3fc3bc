/// The laws of Health: fall failures in a row mark a relay down, rise successes in a row
/// mark it up, and nothing else turns it.
module Router.Core.Tests.HealthTests

open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core

let private thresholdsGen =
    gen {
        let! fall = Gen.choose (1, 5)
        let! rise = Gen.choose (1, 5)
        return { Health.Fall = fall; Health.Rise = rise }
    }

/// Probe results, failures frequent enough that runs of them happen.
let private probesGen = Gen.listOf (Gen.elements [ true; false ])

let private run thresholds probes =
    probes
    |> List.fold
        (fun (state, transitions) ok ->
            let struct (next, t) = Health.observe thresholds ok state
            next, (state, next, t) :: transitions)
        (Health.initial, [])

/// The oracle, from the definition: the position where a run of `fall` failures (or more)
/// last ended, and where a run of `rise` successes last ended. A relay is down when the
/// former is later (an up relay goes down at such a run's fall-th failure and no later
/// run of rise successes brought it back).
let private downByDefinition (thresholds: Health.Thresholds) (probes: bool list) =
    let results = Array.ofList probes

    let lastRunEnd value length =
        let mutable last = -1
        let mutable run = 0

        for i in 0 .. results.Length - 1 do
            run <- if results[i] = value then run + 1 else 0
            if run >= length then last <- i

        last

    let fell = lastRunEnd false thresholds.Fall
    let rose = lastRunEnd true thresholds.Rise
    fell >= 0 && fell > rose

[<Property(MaxTest = 2000)>]
let ``the state after any probes is the definition's`` () =
    Prop.forAll (Arb.fromGen (Gen.zip thresholdsGen probesGen)) (fun (thresholds, probes) ->
        let state, _ = run thresholds probes
        state.Up = not (downByDefinition thresholds probes))

[<Property(MaxTest = 1000)>]
let ``a transition is reported exactly when the state turns, and says which way`` () =
    Prop.forAll (Arb.fromGen (Gen.zip thresholdsGen probesGen)) (fun (thresholds, probes) ->
        let _, steps = run thresholds probes

        steps
        |> List.forall (fun (before: Health.State, after: Health.State, t) ->
            match t with
            | Health.Unchanged -> before.Up = after.Up
            | Health.WentDown -> before.Up && not after.Up
            | Health.WentUp -> not before.Up && after.Up))

[<Fact>]
let ``the defaults: three failures mark a relay down, two successes up again`` () =
    let step ok state =
        let struct (next, t) = Health.observe Health.defaults ok state
        next, t

    let s1, t1 = step false Health.initial
    let s2, t2 = step false s1
    let s3, t3 = step false s2
    let s4, t4 = step true s3
    let s5, t5 = step true s4
    Assert.Equal<Health.Transition list>([ Health.Unchanged; Health.Unchanged; Health.WentDown; Health.Unchanged; Health.WentUp ], [ t1; t2; t3; t4; t5 ])
    Assert.True(s2.Up)
    Assert.False(s3.Up)
    Assert.False(s4.Up)
    Assert.True(s5.Up)

[<Fact>]
let ``a success between failures starts the count again`` () =
    let states =
        [ false; false; true; false; false ]
        |> List.scan (fun state ok -> let struct (next, _) = Health.observe Health.defaults ok state in next) Health.initial

    Assert.True(states |> List.forall (fun s -> s.Up))
