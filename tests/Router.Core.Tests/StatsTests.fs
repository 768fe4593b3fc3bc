/// The stats table keeps the Python tool's shape.
module Router.Core.Tests.StatsTests

open System
open Xunit
open Router.Core
open Router.Core.ConfigTree
open Router.Core.Diagnostics
open Router.Core.Model
open Router.Core.Settings
open Router.Core.Validation
open Router.Core.Tests.Tree

[<Fact>]
let ``the stats table of the README`` () =
    let config =
        load (
            String.Join(
                "\n",
                [ "servers:"
                  "  names:"
                  "    mx1:"
                  "      address: relay:[mx1.example.com]:25"
                  "      perc: 40"
                  "    mx2:"
                  "      address: relay:[mx2.example.com]:25"
                  "      perc: 40"
                  "    mx3:"
                  "      address: relay:[mx3.example.com]:25"
                  "      perc: 20"
                  "  good: [mx1, mx3]" ]
            )
        )

    let table =
        Stats.render
            [ { Group = config.Groups.Head
                Sent = [| 1234567L; 0L |]
                Repeats = [| 0L; 0L |] }
              { Group = config.AllServers
                Sent = [| 5L; 5L; 2L |]
                Repeats = [||] } ]

    let expected =
        [ "All Servers"
          "  Name          # Sent |  curr. % / target %"
          "    mx1              5 |  41.6667 /  40.0000"
          "    mx2              5 |  41.6667 /  40.0000"
          "    mx3              2 |  16.6667 /  20.0000"
          ""
          "Group good"
          "  Name          # Sent |  curr. % / target %"
          "    mx1        1,234,567 | 100.0000 /  66.6667"
          "    mx3              0 |   0.0000 /  33.3333"
          "" ]

    Assert.Equal(String.Join("\n", expected), table)

[<Fact>]
let ``nothing sent shows 0 percent`` () =
    let config = load (example 0)
    let table =
        Stats.render
            [ { Group = config.AllServers
                Sent = Array.zeroCreate 4
                Repeats = Array.zeroCreate 4 } ]

    Assert.Contains("    mx4              0 |   0.0000 /  50.0000\n", table)

[<Fact>]
let ``repeats get a column of their own, and the shares count decisions only`` () =
    let config = load (example 0)
    let good = config.Groups |> List.find (fun g -> g.Name = "good")

    let table =
        Stats.render
            [ { Group = config.AllServers
                Sent = [| 0L; 0L; 0L; 1L |]
                Repeats = [| 0L; 0L; 0L; 1L |] }
              { Group = good
                Sent = [| 2L; 2L; 1L |]
                Repeats = [| 2L; 1L; 1234L |] } ]

    let expected =
        [ "All Servers"
          "  Name          # Sent |  curr. % / target % | Repeats"
          "    mx1              0 |   0.0000 /  20.0000 |       0"
          "    mx2              0 |   0.0000 /  20.0000 |       0"
          "    mx3              0 |   0.0000 /  10.0000 |       0"
          "    mx4              1 | 100.0000 /  50.0000 |       1"
          ""
          "Group good"
          "  Name          # Sent |  curr. % / target % | Repeats"
          "    mx1              2 |  40.0000 /  40.0000 |       2"
          "    mx2              2 |  40.0000 /  40.0000 |       1"
          "    mx3              1 |  20.0000 /  20.0000 |   1,234"
          "" ]

    Assert.Equal(String.Join("\n", expected), table)

[<FsCheck.Xunit.Property(MaxTest = 200)>]
let ``a member's target share is its weight over the sum of its group's weights`` (weights: FsCheck.NonEmptyArray<byte>) =
    let weights = weights.Get |> Array.map (fun b -> int b % 101)
    let weights = if Array.sum weights = 0 then Array.append weights [| 1 |] else weights

    let yaml =
        String.Join(
            "\n",
            [ yield "servers:"
              yield "  names:"
              for i in 0 .. weights.Length - 1 do
                  yield "    mx" + string i + ":"
                  yield "      address: relay:[mx" + string i + ".test]:25"
                  yield "      perc: " + string weights[i] ]
        )

    let all = (load yaml).AllServers
    let sum = float (Array.sum weights)

    weights
    |> Array.indexed
    |> Array.forall (fun (i, w) -> abs (Stats.targetShare all i - float w / sum) < 1e-12)

[<Fact>]
let ``a share of nothing is 0, of everything 1`` () =
    Assert.Equal(0.0, Stats.share 0L 0L)
    Assert.Equal(0.0, Stats.share 5L 0L)
    Assert.Equal(1.0, Stats.share 7L 7L)
    Assert.Equal(0.25, Stats.share 1L 4L)
