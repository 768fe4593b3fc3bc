/// The laws of Selection: a down relay is never picked, the fairness law holds over the up
/// members since the up-set changed, backups are never the pick, never down, never of
/// another transport, and with every relay up and no backups every answer is the plain
/// round robin's.
module Router.Core.Tests.SelectionTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core
open Router.Core.Model

/// A group of 1..8 relays (weights 0..100, one at least above 0), two transports, some
/// relays without a next hop; which are up; and a failover count.
type Case =
    { Group: Group
      Up: bool array
      Failover: int }

let private caseGen =
    gen {
        let! weights = WrrTests.weightsGen |> Gen.filter (fun w -> w.Length <= 8)
        let! transports = Gen.arrayOfLength weights.Length (Gen.elements [ "relay"; "smtp" ])
        let! hops = Gen.arrayOfLength weights.Length (Gen.frequency [ 6, Gen.constant true; 1, Gen.constant false ])
        let! up = Gen.arrayOfLength weights.Length (Gen.frequency [ 3, Gen.constant true; 1, Gen.constant false ])
        let! failover = Gen.choose (0, 4)

        let members =
            weights
            |> Array.mapi (fun i w ->
                { Name = "mx" + string i
                  Address = transports[i] + ":" + (if hops[i] then "[mx" + string i + "]:25" else "")
                  Weight = w
                  Index = i })

        return
            { Group =
                { Name = "g"
                  Index = 1
                  Members = members
                  Schedule = Wrr.schedule weights }
              Up = up
              Failover = failover }
    }

let private cases = Arb.fromGen caseGen

let private viewOf (c: Case) =
    Selection.view c.Failover (fun _ -> -1) (Selection.ofFlags c.Up) c.Group

/// Some member with a weight above 0 is up.
let private pickable (c: Case) =
    c.Group.Members |> Array.exists (fun r -> r.Weight > 0 && c.Up[r.Index])

let private hop (address: string) = address.Substring(address.IndexOf ':' + 1)
let private transportOf (address: string) = address.Substring(0, address.IndexOf ':')

[<Property(MaxTest = 1000)>]
let ``a down relay is never picked while a member with weight is up`` () =
    Prop.forAll cases (fun c ->
        pickable c ==> lazy
            (let v = viewOf c
             let length = c.Group.Members |> Array.sumBy (fun r -> if c.Up[r.Index] then r.Weight else 0)
             Seq.forall (fun p -> c.Up[Selection.pick v (int64 p)]) (seq { 0 .. 2 * length })))

[<Property(MaxTest = 1000)>]
let ``over the picks since the up-set changed, the up members keep Tijdeman's bound over their weights`` () =
    Prop.forAll cases (fun c ->
        pickable c ==> lazy
            (let v = viewOf c
             let weights = c.Group.Members |> Array.map (fun r -> if c.Up[r.Index] then r.Weight else 0)
             let length = Array.sum weights
             let picks = Array.init (2 * length + 3) (fun p -> Selection.pick v (int64 p))
             WrrTests.withinBound weights picks))

[<Property(MaxTest = 1000)>]
let ``with no member up the group picks as if all were up, without backups`` () =
    // Every member with a weight down; those without may be up or not.
    let noneUp = caseGen |> Gen.map (fun c -> { c with Up = c.Group.Members |> Array.map (fun r -> r.Weight = 0 && c.Up[r.Index]) })

    Prop.forAll (Arb.fromGen noneUp) (fun c ->
        let v = viewOf c

        Selection.failOpen v
        && Seq.forall
            (fun p -> Selection.pick v (int64 p) = Wrr.memberAt c.Group (int64 p) && Selection.backups v (int64 p) = [||])
            (seq { 0 .. c.Group.Schedule.Length }))

[<Property(MaxTest = 1000)>]
let ``a backup is never the pick, never down, never of another transport, never twice, at most failover`` () =
    Prop.forAll cases (fun c ->
        let v = viewOf c

        Seq.forall
            (fun p ->
                let first = c.Group.Members[Selection.pick v (int64 p)]
                let backups = Selection.backups v (int64 p)

                backups.Length <= c.Failover
                && Array.distinct backups = backups
                && backups
                   |> Array.forall (fun m ->
                       let b = c.Group.Members[m]
                       b.Index <> first.Index && c.Up[m] && transportOf b.Address = transportOf first.Address && hop b.Address <> ""))
            (seq { 0 .. c.Group.Schedule.Length }))

/// The backups' oracle by brute force: walk the round robin after the pick and keep the
/// first distinct members that qualify.
[<Property(MaxTest = 1000)>]
let ``the backups are the first qualifying members after the pick in round-robin order`` () =
    Prop.forAll cases (fun c ->
        pickable c ==> lazy
            (let v = viewOf c
             let schedule = Selection.schedule v

             Seq.forall
                 (fun p ->
                     let first = c.Group.Members[schedule[p]]

                     let expected =
                         if hop first.Address = "" then
                             []
                         else
                             [ for step in 1 .. schedule.Length - 1 -> schedule[(p + step) % schedule.Length] ]
                             |> List.filter (fun m ->
                                 let r = c.Group.Members[m]
                                 m <> first.Index && c.Up[m] && transportOf r.Address = transportOf first.Address && hop r.Address <> "")
                             |> List.distinct
                             |> List.truncate c.Failover

                     List.ofArray (Selection.backups v (int64 p)) = expected)
                 (seq { 0 .. schedule.Length - 1 })))

[<Property(MaxTest = 1000)>]
let ``the reply is the pick's address, then each backup's next hop`` () =
    Prop.forAll cases (fun c ->
        let v = viewOf c

        Seq.forall
            (fun p ->
                let struct (text, _) = Selection.reply v (int64 p)
                let first = c.Group.Members[Selection.pick v (int64 p)]
                let hops = Selection.backups v (int64 p) |> Array.map (fun m -> hop c.Group.Members[m].Address)
                text = String.Join(", ", Array.append [| first.Address |] hops))
            (seq { 0 .. c.Group.Schedule.Length }))

[<Property(MaxTest = 1000)>]
let ``with every relay up and no backups every answer is the plain round robin's`` () =
    Prop.forAll cases (fun c ->
        let v = Selection.view 0 (fun _ -> 7) (Selection.allUp c.Group.Members.Length) c.Group

        Seq.forall
            (fun p ->
                let relay = Wrr.at c.Group (int64 p)
                let struct (text, slot) = Selection.reply v (int64 p)
                Selection.pick v (int64 p) = Wrr.memberAt c.Group (int64 p) && text = relay.Address && slot = 7)
            (seq { -3 .. 2 * c.Group.Schedule.Length }))

[<Property(MaxTest = 500)>]
let ``with every relay up the first next hop is always the round robin's pick`` () =
    Prop.forAll cases (fun c ->
        let v = Selection.view c.Failover (fun _ -> -1) (Selection.allUp c.Group.Members.Length) c.Group

        Seq.forall
            (fun p ->
                let struct (text, _) = Selection.reply v (int64 p)
                let relay = Wrr.at c.Group (int64 p)
                text = relay.Address || text.StartsWith(relay.Address + ", ", StringComparison.Ordinal))
            (seq { 0 .. c.Group.Schedule.Length }))

[<Fact>]
let ``a 60/30/10 group with the 30 down picks 6 to 1 and backs each pick with the other`` () =
    let relays =
        [| "a", 60; "b", 30; "c", 10 |]
        |> Array.mapi (fun i (n, w) -> { Name = n; Address = "relay:[" + n + "]:25"; Weight = w; Index = i })

    let g = { Name = "g"; Index = 1; Members = relays; Schedule = Wrr.schedule [| 60; 30; 10 |] }
    let v = Selection.view 1 (fun _ -> -1) (Selection.ofFlags [| true; false; true |]) g
    let picks = Array.init 70 (fun p -> Selection.pick v (int64 p))
    Assert.Equal(60, picks |> Array.filter ((=) 0) |> Array.length)
    Assert.Equal(10, picks |> Array.filter ((=) 2) |> Array.length)
    let struct (text, _) = Selection.reply v 0L
    Assert.Equal("relay:[a]:25, [c]:25", text)
    Assert.Equal("0" , (Selection.mask v).Substring(1, 1))

[<Property(MaxTest = 500)>]
let ``a repeat of a relay that is down becomes a pick in its group, and nothing else changes`` () =
    Prop.forAll cases (fun c ->
        let up = Selection.ofFlags c.Up

        c.Group.Members
        |> Array.forall (fun relay ->
            let again = Lookup.Again(Group c.Group, relay, Rules.NoRuleMatched)
            let direct = Lookup.Again(Relay relay, relay, Rules.NoRuleMatched)
            let pick = Lookup.Pick(c.Group, Rules.NoRuleMatched)

            let afterAgain =
                match Lookup.upOnly up again with
                | Lookup.Again(Group g, r, _) -> c.Up[relay.Index] && obj.ReferenceEquals(g, c.Group) && r = relay
                | Lookup.Pick(g, Rules.NoRuleMatched) -> not c.Up[relay.Index] && obj.ReferenceEquals(g, c.Group)
                | _ -> false

            afterAgain && Lookup.upOnly up direct = direct && Lookup.upOnly up pick = pick))
