/// The repeat window's law: a repeat within the window gets the same relay and
/// does not advance the round robin, once; outside the window, or after the one repeat, it
/// picks; the table never holds more than its capacity.
module Router.Core.Tests.RepeatTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.ConfigTree
open Router.Core.Diagnostics
open Router.Core.Model
open Router.Core.Settings
open Router.Core.Validation
open Router.Core.Lookup
open Router.Core.Tests.WrrTests

let window = 60000L

/// The target of a group, as a rule names it.
let pickFrom (g: Group) = Group g

/// The shipped lookup with every key routed to group g (its only relays, no rules).
let planFor (g: Group) =
    Lookup.plan
        DeferMail
        { File = "test.yaml"
          Relays = g.Members
          AllServers = { g with Index = 0 }
          Groups = []
          Rules = []
          Default = None
          Settings = Settings.empty
          SettingsAt = Map.empty }

/// What the shell keeps between lookups: the group's position and the window.
type Model = { Position: int64; Table: Repeat.Table }

/// One lookup through Lookup.decide, the shell's one step (the position moves on a pick
/// only), Lookup.finish and Lookup.remember: the relay answered, whether it was a repeat,
/// and the model after it.
let lookup (g: Group) (now: int64) (key: string) (model: Model) =
    let plan = planFor g
    let struct (decision, table) = Lookup.decide plan model.Table now (Address.ofText key) NotQueried

    match decision with
    | Again(_, relay, _) -> (relay, true), { model with Table = table }
    | Pick _ ->
        let outcome = Lookup.finish plan decision (Lookup.allUp plan (Lookup.config plan).AllServers) model.Position

        (outcome.Relay.Value, false),
        { Position = (model.Position + 1L) % int64 g.Schedule.Length
          Table = Lookup.remember now key decision outcome table }
    | _ -> failwith "every key picks from the group"

/// The relay a recall answered with, if any.
let recalled (struct (relay: Relay voption, _: Repeat.Table)) = Option.ofValueOption relay

let fresh capacity =
    { Position = 0L
      Table = Repeat.create window capacity }

/// A lookup at a position of the round robin other than the start.
let at (g: Group) (position: int) capacity =
    { fresh capacity with
        Position = int64 position % int64 g.Schedule.Length }

type Gens =
    static member Weights() = Arb.fromGen weightsGen

[<Properties(Arbitrary = [| typeof<Gens> |], MaxTest = 500)>]
module Laws =

    [<Property>]
    let ``a repeat within the window gets the same relay and does not advance the round robin``
        (weights: int array)
        (start: NonNegativeInt)
        (t0: NonNegativeInt)
        (delay: NonNegativeInt)
        =
        let g = group weights
        let dt = int64 delay.Get % window
        let model = at g start.Get 100
        let p = model.Position
        let (first, firstRepeat), m1 = lookup g (int64 t0.Get) "u@x.test" model
        let (again, repeated), m2 = lookup g (int64 t0.Get + dt) "u@x.test" m1
        // the next key gets the next relay of the cycle, as if the repeat had not happened
        let (next, _), _ = lookup g (int64 t0.Get + dt) "v@x.test" m2

        not firstRepeat
        && repeated
        && again = first
        && first = Wrr.at g p
        && m2.Position = m1.Position
        && next = Wrr.at g (p + 1L)

    [<Property>]
    let ``outside the window a lookup picks anew`` (weights: int array) (start: NonNegativeInt) (late: NonNegativeInt) =
        let g = group weights
        let model = at g start.Get 100
        let p = model.Position
        let _, m1 = lookup g 1000L "u@x.test" model
        let (relay, repeated), m2 = lookup g (1000L + window + int64 late.Get) "u@x.test" m1

        not repeated
        && relay = Wrr.at g (p + 1L)
        && m2.Position = (m1.Position + 1L) % int64 g.Schedule.Length

    [<Property>]
    let ``only the first repeat is answered from the window (consume-once)``
        (weights: int array)
        (start: NonNegativeInt)
        (delay: NonNegativeInt)
        =
        let g = group weights
        let model = at g start.Get 100
        let p = model.Position
        let dt = int64 delay.Get % (window / 3L)
        let _, m1 = lookup g 0L "u@x.test" model
        let (_, second), m2 = lookup g dt "u@x.test" m1
        let (third, thirdRepeat), m3 = lookup g (2L * dt) "u@x.test" m2
        let (fourth, fourthRepeat), _ = lookup g (3L * dt) "u@x.test" m3

        second
        && not thirdRepeat
        && third = Wrr.at g (p + 1L)
        && fourthRepeat
        && fourth = third

    /// Postfix without the master.cf change: each message's key is asked twice (smtpd,
    /// then qmgr), pairs interleaved any way (distinct keys). The answers qmgr uses, the
    /// second of each pair, are exactly the round robin's first n picks.
    [<Property>]
    let ``doubled lookups of distinct keys make exactly one pick per key`` (weights: int array) (order: int list) =
        let g = group weights
        let n = 1 + (List.length order % 40)
        // a random interleaving of 2n lookups where each key's first comes before its second
        let rnd = Random(List.fold (fun h x -> h * 31 + x) 17 order)
        let mutable pending = [ for k in 0 .. n - 1 -> k, 2 ]
        let mutable sequence = []

        while not pending.IsEmpty do
            let i = rnd.Next pending.Length
            let k, left = pending[i]
            sequence <- k :: sequence

            pending <-
                if left = 1 then
                    List.removeAt i pending
                else
                    List.updateAt i (k, 1) pending

        let sequence = List.rev sequence

        let answers, final =
            sequence
            |> List.mapFold (fun (m, t) k ->
                let (relay, repeated), m' = lookup g t ("k" + string k + "@x.test") m
                (k, relay, repeated), (m', t + 7L)) (fresh 1000, 0L)

        let used =
            answers |> List.filter (fun (_, _, repeated) -> repeated) |> List.map (fun (_, r, _) -> r.Index)

        let picked =
            answers |> List.filter (fun (_, _, repeated) -> not repeated) |> List.map (fun (_, r, _) -> r.Index)

        (fst final).Position = int64 n % int64 g.Schedule.Length
        && List.sort used = List.sort (List.init n (fun p -> (Wrr.at g (int64 p)).Index))
        && picked = List.init n (fun p -> (Wrr.at g (int64 p)).Index)

    [<Property>]
    let ``the table never holds more keys than its capacity``
        (capacity: PositiveInt)
        (lookups: (byte * byte) list)
        =
        let cap = 1 + capacity.Get % 20
        let g = group [| 60; 30; 10 |]

        lookups
        |> List.fold
            (fun (m, t, ok) (key, step) ->
                let now = t + int64 step * 500L
                let _, m' = lookup g now ("k" + string key) m
                m', now, ok && Repeat.count m'.Table <= cap)
            (fresh cap, 0L, true)
        |> fun (_, _, ok) -> ok

    [<Property>]
    let ``expired entries are forgotten`` (keys: byte list) =
        let g = group [| 1; 1 |]
        let keys = List.distinct keys

        let model =
            keys |> List.fold (fun m k -> snd (lookup g 0L ("k" + string k) m)) (fresh 1000)

        Repeat.count (Repeat.expire window model.Table) = 0
        && Repeat.count (Repeat.expire (window - 1L) model.Table) = keys.Length

[<Fact>]
let ``the oldest key is evicted first when the table is full`` () =
    let g = group [| 1; 1; 1 |]
    let model = [ 0..3 ] |> List.fold (fun m k -> snd (lookup g (int64 k) ("k" + string k) m)) (fresh 3)
    Assert.Equal(3, Repeat.count model.Table)
    Assert.True(Repeat.recall 10L "k0" (pickFrom g) model.Table |> recalled |> Option.isNone)

    for k in 1..3 do
        Assert.True(Repeat.recall 10L ("k" + string k) (pickFrom g) model.Table |> recalled |> Option.isSome)

[<Fact>]
let ``a key decided for another target picks anew`` () =
    let a = { group [| 1; 1 |] with Name = "a" }
    let b = { group [| 1; 1 |] with Name = "b" }
    let table = Repeat.remember 0L "u@x.test" (pickFrom a) a.Members[0] (Repeat.create window 10)
    Assert.Equal(None, Repeat.recall 1L "u@x.test" (pickFrom b) table |> recalled)
    Assert.Equal(Some a.Members[0], Repeat.recall 1L "u@x.test" (pickFrom a) table |> recalled)

[<Fact>]
let ``a relay whose weight became 0 is not repeated`` () =
    let before = group [| 1; 1 |]
    let after = group [| 0; 1 |]
    let table = Repeat.remember 0L "u@x.test" (pickFrom before) before.Members[0] (Repeat.create window 10)
    Assert.Equal(None, Repeat.recall 1L "u@x.test" (pickFrom after) table |> recalled)

[<Fact>]
let ``a direct relay is repeated too, so that the stats count it once`` () =
    let relay = (group [| 1 |]).Members[0]
    let direct = Relay relay
    let table = Repeat.remember 0L "vip@x.test" direct relay (Repeat.create window 10)
    let struct (again, table') = Repeat.recall 1L "vip@x.test" direct table
    Assert.Equal(ValueSome relay, again)
    Assert.Equal(0, Repeat.count table')

[<Fact>]
let ``decisions without a relay are neither remembered nor repeated`` () =
    let relay = (group [| 1 |]).Members[0]
    let empty = Repeat.create window 10

    for decision in [ NoResult ] do
        let table = Repeat.remember 0L "u@x.test" decision relay empty
        Assert.Equal(0, Repeat.count table)
        Assert.Equal(None, Repeat.recall 1L "u@x.test" decision table |> recalled)

[<Fact>]
let ``the window is half-open: a repeat exactly SECONDS later picks`` () =
    let g = group [| 1; 1 |]
    let _, m = lookup g 0L "u@x.test" (fresh 10)
    Assert.False(lookup g window "u@x.test" m |> fst |> snd)
    Assert.True(lookup g (window - 1L) "u@x.test" m |> fst |> snd)
