/// Reload.carry: what a SIGHUP keeps of the WRR state and counters.
module Router.Core.Tests.ReloadTests

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
open Router.Core.Tests.Tree

// ---- examples -----------------------------------------------------------------------

let shares (weights: int * int * int) (extra: string list) =
    let a, b, c = weights

    String.Join(
        "\n",
        [ "servers:"
          "  names:"
          "    a:"
          "      address: relay:[a.test]:25"
          "      perc: " + string a
          "    b:"
          "      address: relay:[b.test]:25"
          "      perc: " + string b
          "    c:"
          "      address: relay:[c.test]:25"
          "      perc: " + string c
          "  shares: [a, b, c]"
          "  pair: [a, b]"
          "sender_rules:"
          "  default: NO RESULT"
          "  wrr.test: shares" ]
        @ extra
    )

let find (config: Config) (carried: Reload.GroupCarry array) (name: string) =
    let i = Model.groups config |> Array.findIndex (fun g -> g.Name = name)
    carried[i]

[<Fact>]
let ``the same config keeps every position and every counter`` () =
    let c = load (shares (60, 30, 10) [])
    let carried = Reload.carry c c
    Assert.Equal(3, carried.Length)

    carried
    |> Array.iteri (fun i g ->
        Assert.Equal(Some i, g.From)
        Assert.True g.KeepPosition
        Assert.Equal<int option array>(Array.init g.Counters.Length Some, g.Counters))

[<Fact>]
let ``a new rule changes no group: all keep their place`` () =
    let before = load (shares (60, 30, 10) [])
    let after = load (shares (60, 30, 10) [ "  other.test: pair" ])
    let carried = Reload.carry before after
    Assert.Equal<string list>([ AllServersName; "shares"; "pair" ], Reload.kept after carried)
    Assert.Empty(Reload.restarted after carried)

[<Fact>]
let ``a changed weight restarts every group the relay is in, counters stay`` () =
    let before = load (shares (60, 30, 10) [])
    let after = load (shares (50, 30, 20) [])
    let carried = Reload.carry before after
    // c is in All Servers and shares, a in all three: every group changes.
    Assert.Equal<string list>([ AllServersName; "shares"; "pair" ], Reload.restarted after carried)
    let s = find after carried "shares"
    Assert.Equal<int option array>([| Some 0; Some 1; Some 2 |], s.Counters)

[<Fact>]
let ``a changed address restarts the group even with the same names and weights`` () =
    let before = load (shares (60, 30, 10) [])
    let after = load ((shares (60, 30, 10) []).Replace("relay:[c.test]:25", "relay:[c2.test]:25"))
    let carried = Reload.carry before after
    Assert.False (find after carried "shares").KeepPosition
    Assert.True (find after carried "pair").KeepPosition

[<Fact>]
let ``a removed relay loses its counters, the others keep theirs`` () =
    let before = load (shares (60, 30, 10) [])

    let after =
        load (
            (shares (60, 30, 10) [])
                .Replace("  shares: [a, b, c]", "  shares: [a, c]")
        )

    let carried = Reload.carry before after
    let s = find after carried "shares"
    Assert.False s.KeepPosition
    Assert.Equal<int option array>([| Some 0; Some 2 |], s.Counters)

[<Fact>]
let ``reordered members restart the cycle (the schedule follows the order)`` () =
    let before = load (shares (60, 30, 10) [])
    let after = load ((shares (60, 30, 10) []).Replace("  pair: [a, b]", "  pair: [b, a]"))
    let p = find after (Reload.carry before after) "pair"
    Assert.False p.KeepPosition
    Assert.Equal<int option array>([| Some 1; Some 0 |], p.Counters)

[<Fact>]
let ``a new group starts fresh and a renamed one too`` () =
    let before = load (shares (60, 30, 10) [])
    let after = load ((shares (60, 30, 10) []).Replace("  pair: [a, b]", "  duo: [a, b]"))
    let carried = Reload.carry before after
    let d = find after carried "duo"
    Assert.Equal(None, d.From)
    Assert.False d.KeepPosition
    Assert.Equal<int option array>([| None; None |], d.Counters)
    // Not "restarted": it did not exist.
    Assert.DoesNotContain("duo", Reload.restarted after carried)

[<Fact>]
let ``a relay added to names restarts All Servers only`` () =
    let before = load (shares (60, 30, 10) [])

    let after =
        load (
            (shares (60, 30, 10) [])
                .Replace("  shares: [a, b, c]", "    d:\n      address: relay:[d.test]:25\n  shares: [a, b, c]")
        )

    let carried = Reload.carry before after
    Assert.Equal<string list>([ AllServersName ], Reload.restarted after carried)
    Assert.Equal<int option array>([| Some 0; Some 1; Some 2; None |], (find after carried AllServersName).Counters)

[<Fact>]
let ``settings a reload cannot apply are named`` () =
    let settings (text: string) = (load (text + "\n" + shares (60, 30, 10) [])).Settings
    let plain = settings "config:\n  log_file: /var/log/a.log\n  port: 10099"
    Assert.Empty(Reload.needsRestart plain plain)
    Assert.Empty(Reload.needsRestart plain (settings "config:\n  log_file: /var/log/b.log\n  port: 10099"))
    Assert.Equal<string list>([ "port" ], Reload.needsRestart plain (settings "config:\n  log_file: /var/log/a.log\n  port: 10100"))
    Assert.Equal<string list>([ "log_file"; "port"; "timeout" ], Reload.needsRestart plain (settings "config:\n  timeout: 60"))

    Assert.Equal<string list>(
        [ "metrics" ],
        Reload.needsRestart plain (settings "config:\n  log_file: /var/log/a.log\n  port: 10099\n  metrics: 127.0.0.1:9120")
    )

// ---- properties ---------------------------------------------------------------------

let private names = [| "r0"; "r1"; "r2"; "r3"; "r4"; "r5" |]

let private makeGroup (name: string) (members: Relay array) =
    { Name = name
      Index = 0
      Members = members
      Schedule = Wrr.schedule (members |> Array.map (fun r -> r.Weight)) }

/// Relays drawn from a small pool of names with few addresses and weights, so that two
/// random configs often share groups and relays, equal or slightly changed.
let configGen: Gen<Config> =
    gen {
        let! count = Gen.choose (1, names.Length)
        let! order = Gen.shuffle names
        let! props = Gen.arrayOfLength count (Gen.zip (Gen.elements [ "x"; "y" ]) (Gen.elements [ 1; 2; 3; 10 ]))

        let relays =
            Array.init count (fun i ->
                let address, weight = props[i]

                { Name = order[i]
                  Address = "relay:[" + order[i] + "." + address + "]:25"
                  Weight = weight
                  Index = i })

        let! groupCount = Gen.choose (0, 4)

        let! groups =
            Gen.listOfLength
                groupCount
                (gen {
                    let! name = Gen.elements [ "g0"; "g1"; "g2"; "g3" ]
                    let! picked = Gen.shuffle relays
                    let! size = Gen.choose (1, relays.Length)
                    return makeGroup name (Array.truncate size picked)
                })

        let groups = groups |> List.distinctBy (fun g -> g.Name)

        return
            { File = "test.yaml"
              Relays = relays
              AllServers = makeGroup AllServersName relays
              Groups = groups
              Rules = []
              Default = None
              Settings = Settings.empty
              SettingsAt = Map.empty }
    }

type Configs =
    static member Config() = Arb.fromGen configGen

[<Properties(Arbitrary = [| typeof<Configs> |], MaxTest = 1000)>]
module Laws =

    [<Property>]
    let ``one entry per new group, matched by name`` (before: Config) (after: Config) =
        let carried = Reload.carry before after
        let olds = Model.groups before

        carried.Length = (Model.groups after).Length
        && Array.forall2
            (fun (g: Group) (c: Reload.GroupCarry) ->
                match c.From with
                | Some i -> olds[i].Name = g.Name
                | None -> olds |> Array.forall (fun o -> o.Name <> g.Name))
            (Model.groups after)
            carried

    [<Property>]
    let ``a kept position picks the same relays from there on`` (before: Config) (after: Config) (start: uint16) =
        let carried = Reload.carry before after
        let olds = Model.groups before

        Array.zip (Model.groups after) carried
        |> Array.forall (fun (g, c) ->
            not c.KeepPosition
            || (let old = olds[c.From.Value]

                g.Schedule.Length > 0
                && [ int64 start .. int64 start + int64 (2 * g.Schedule.Length) ]
                   |> List.forall (fun p ->
                       let x, y = Wrr.at old p, Wrr.at g p
                       x.Name = y.Name && x.Address = y.Address)))

    [<Property>]
    let ``the position is kept exactly when the members are unchanged`` (before: Config) (after: Config) =
        let carried = Reload.carry before after
        let olds = Model.groups before

        Array.zip (Model.groups after) carried
        |> Array.forall (fun (g, c) ->
            let unchanged =
                match c.From with
                | Some i ->
                    let o = olds[i]

                    o.Members |> Array.map (fun r -> r.Name, r.Address, r.Weight)
                    = (g.Members |> Array.map (fun r -> r.Name, r.Address, r.Weight))
                | None -> false

            c.KeepPosition = unchanged)

    [<Property>]
    let ``a counter carries exactly from the same relay of the same group`` (before: Config) (after: Config) =
        let carried = Reload.carry before after
        let olds = Model.groups before

        Array.zip (Model.groups after) carried
        |> Array.forall (fun (g, c) ->
            c.Counters.Length = g.Members.Length
            && g.Members
               |> Array.mapi (fun m r ->
                   match c.From, c.Counters[m] with
                   | Some i, Some j -> olds[i].Members[j].Name = r.Name
                   | Some i, None -> olds[i].Members |> Array.forall (fun o -> o.Name <> r.Name)
                   | None, None -> true
                   | None, Some _ -> false)
               |> Array.forall id)

    [<Property>]
    let ``reloading the same config keeps everything`` (config: Config) =
        Reload.carry config config
        |> Array.mapi (fun i c ->
            c.From = Some i
            && c.KeepPosition
            && c.Counters = Array.init c.Counters.Length Some)
        |> Array.forall id
