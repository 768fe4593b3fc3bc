module Router.Core.Automaton

open System
open System.Collections.Generic

type Automaton =
    { /// The transitions of state s are Labels[First[s] .. First[s+1]-1] (sorted) and the
      /// Targets beside them; state 0 is the root.
      First: int array
      Labels: char array
      Targets: int array
      /// The state of the longest proper suffix of s's string that is in the trie.
      Fail: int array
      /// The lowest index of a pattern that is a suffix of s's string (Int32.MaxValue: none).
      Lowest: int array
      /// The same among the marked patterns.
      LowestMarked: int array }

[<Literal>]
let private None' = Int32.MaxValue

/// The state reached from `s` on `c`, -1 when s has no such transition (binary search).
let private next (a: Automaton) (s: int) (c: char) : int =
    let mutable lo = a.First[s]
    let mutable hi = a.First[s + 1] - 1
    let mutable found = -1

    while lo <= hi do
        let mid = (lo + hi) >>> 1
        let label = a.Labels[mid]

        if label < c then lo <- mid + 1
        elif label > c then hi <- mid - 1
        else
            found <- a.Targets[mid]
            lo <- hi + 1

    found

let build (patterns: string array) (marked: bool array) : Automaton =
    let total = patterns |> Array.sumBy (fun p -> p.Length)
    // The trie: one dictionary keyed by (state, character) while building; state t > 0 is
    // entered from parent[t] on label[t].
    let children = Dictionary<int64, int>(total)
    let parent = ResizeArray<int>(total + 1)
    let label = ResizeArray<char>(total + 1)
    let own = ResizeArray<int>(total + 1)
    let ownMarked = ResizeArray<int>(total + 1)
    parent.Add 0
    label.Add '\000'
    own.Add None'
    ownMarked.Add None'

    for i in 0 .. patterns.Length - 1 do
        let mutable s = 0

        for c in patterns[i] do
            let key = (int64 s <<< 16) ||| int64 c

            match children.TryGetValue key with
            | true, t -> s <- t
            | _ ->
                let t = parent.Count
                children[key] <- t
                parent.Add s
                label.Add c
                own.Add None'
                ownMarked.Add None'
                s <- t

        own[s] <- min own[s] i

        if marked[i] then
            ownMarked[s] <- min ownMarked[s] i

    let states = parent.Count
    // Flat transitions: count per parent, prefix sums, fill, sort each state's labels.
    let first = Array.zeroCreate<int> (states + 1)

    for t in 1 .. states - 1 do
        first[parent[t] + 1] <- first[parent[t] + 1] + 1

    for s in 1 .. states do
        first[s] <- first[s] + first[s - 1]

    let labels = Array.zeroCreate<char> (states - 1)
    let targets = Array.zeroCreate<int> (states - 1)
    let fill = Array.copy first

    for t in 1 .. states - 1 do
        let at = fill[parent[t]]
        labels[at] <- label[t]
        targets[at] <- t
        fill[parent[t]] <- at + 1

    for s in 0 .. states - 1 do
        let count = first[s + 1] - first[s]

        if count > 1 then
            Array.Sort(labels, targets, first[s], count)

    let a =
        { First = first
          Labels = labels
          Targets = targets
          Fail = Array.zeroCreate states
          Lowest = own.ToArray()
          LowestMarked = ownMarked.ToArray() }

    // Failure links in breadth-first order, so a state's link is final before its children's;
    // each state's outputs are its own and its link's.
    let queue = Array.zeroCreate<int> states
    let mutable head = 0
    let mutable tail = 1

    while head < tail do
        let u = queue[head]
        head <- head + 1

        for e in first[u] .. first[u + 1] - 1 do
            let v = targets[e]
            let c = labels[e]

            if u <> 0 then
                let mutable f = a.Fail[u]
                let mutable t = next a f c

                while t < 0 && f <> 0 do
                    f <- a.Fail[f]
                    t <- next a f c

                a.Fail[v] <- max t 0

            a.Lowest[v] <- min a.Lowest[v] a.Lowest[a.Fail[v]]
            a.LowestMarked[v] <- min a.LowestMarked[v] a.LowestMarked[a.Fail[v]]
            queue[tail] <- v
            tail <- tail + 1

    a

/// The lowest of `table` over the states the text's walk visits (the root included).
let private walk (a: Automaton) (table: int array) (text: string) : int =
    let mutable s = 0
    let mutable best = table[0]
    let mutable i = 0

    while i < text.Length && best > 0 do
        let c = text[i]
        let mutable t = next a s c

        while t < 0 && s <> 0 do
            s <- a.Fail[s]
            t <- next a s c

        s <- max t 0

        if table[s] < best then
            best <- table[s]

        i <- i + 1

    if best = None' then -1 else best

let lowest (automaton: Automaton) (text: string) : int = walk automaton automaton.Lowest text

let lowestMarked (automaton: Automaton) (text: string) : int =
    walk automaton automaton.LowestMarked text

let shadowing (patterns: string array) : int array =
    let a = build patterns (Array.create patterns.Length false)
    // Pattern j occurs in itself, so the lowest pattern in it is j or an earlier one.
    patterns |> Array.mapi (fun j p -> let i = lowest a p in if i < j then i else -1)
