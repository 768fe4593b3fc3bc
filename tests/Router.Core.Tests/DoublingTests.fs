/// Detection: warn when most keys are asked twice, at most once an hour.
module Router.Core.Tests.DoublingTests

open Xunit
open FsCheck.FSharp
open FsCheck.Xunit
open Router.Core

[<Fact>]
let ``Postfix asking twice per message is most keys asked twice`` () =
    // every key twice: half the lookups repeat a key
    Assert.True(Doubling.mostAskedTwice 200L 100L)
    // two thirds of the mail over SMTP (asked twice), one third through sendmail (once)
    Assert.True(Doubling.mostAskedTwice 200L 80L)

[<Fact>]
let ``mail that pickup hands over, or a few repeats, is not`` () =
    Assert.False(Doubling.mostAskedTwice 200L 0L)
    // half over SMTP, half through sendmail: exactly one key in two came back
    Assert.False(Doubling.mostAskedTwice 300L 100L)
    Assert.False(Doubling.mostAskedTwice 0L 0L)

[<Property(MaxTest = 1000)>]
let ``most keys asked twice means repeats above half the distinct keys`` (lookups: uint16) (repeats: uint16) =
    let l, r = int64 lookups, int64 repeats

    (r <= l) ==> (Doubling.mostAskedTwice l r = (2L * r > l - r))

[<Property(MaxTest = 500)>]
let ``warnings come at most once an hour, and the first doubled batch warns`` (gaps: uint32 list) =
    // one doubled batch after another, at arbitrary gaps (ms)
    let times = gaps |> List.scan (fun t g -> t + int64 (g % 2000000u)) 0L

    let warned, _ =
        times
        |> List.fold
            (fun (warned, watch) now ->
                match Doubling.judge now 200L 100L watch with
                | struct (Some _, watch') -> now :: warned, watch'
                | struct (None, watch') -> warned, watch')
            ([], Doubling.initial)

    let warned = List.rev warned

    List.head warned = 0L
    && (warned |> List.pairwise |> List.forall (fun (a, b) -> b - a >= Doubling.WarnEveryMs))
    // and no hour with doubled batches goes without a warning
    && (times |> List.forall (fun t -> warned |> List.exists (fun w -> w <= t && t - w < Doubling.WarnEveryMs)))

[<Fact>]
let ``a batch without doubling does not warn, nor use up the hour`` () =
    let struct (none, watch) = Doubling.judge 0L 200L 10L Doubling.initial
    Assert.Equal(None, none)
    let struct (some, _) = Doubling.judge 1L 200L 100L watch
    Assert.True(some.IsSome)

[<Fact>]
let ``the warning names the README section and the flag`` () =
    let text = Doubling.warning 200L 100L
    Assert.Contains("\"Recommended: one lookup per message\"", text)
    Assert.Contains("--repeat-window", text)
    Assert.Contains("100 of the last 200 lookups", text)

[<Fact>]
let ``the README has the section the warning names`` () =
    let rec root (dir: System.IO.DirectoryInfo | null) =
        match dir with
        | null -> failwith "no build.sh above the test binary"
        | d when System.IO.File.Exists(System.IO.Path.Combine(d.FullName, "build.sh")) -> d.FullName
        | d -> root d.Parent

    let readme =
        System.IO.File.ReadAllLines(System.IO.Path.Combine(root (System.IO.DirectoryInfo System.AppContext.BaseDirectory), "README.md"))

    Assert.Contains("### " + Doubling.ReadmeSection, readme)
