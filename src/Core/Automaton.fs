module Router.Core.Automaton

open System

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

/// The length of the common prefix of a and b.
let private common (a: string) (b: string) : int =
    let n = min a.Length b.Length
    let mutable i = 0

    while i < n && a[i] = b[i] do
        i <- i + 1

    i

let build (patterns: string array) (marked: bool array) : Automaton =
    // The trie from the patterns in sorted order: each pattern shares its common prefix
    // with the one before, and the rest are new states, numbered in creation order, so a
    // state's children come in increasing label order and only flat arrays are needed.
    let order = Array.init patterns.Length id
    Array.Sort(order, Comparison(fun i j -> String.CompareOrdinal(patterns[i], patterns[j])))
    let mutable states = 1
    let mutable longest = 0
    let mutable previous = ""

    for k in order do
        let p = patterns[k]
        states <- states + p.Length - common previous p
        longest <- max longest p.Length
        previous <- p

    // State t > 0 is entered from parent[t] on label[t].
    let parent = Array.zeroCreate<int> states
    let label = Array.zeroCreate<char> states
    let lowest = Array.create states None'
    let lowestMarked = Array.create states None'
    let path = Array.zeroCreate<int> (longest + 1)
    let mutable created = 1
    previous <- ""

    for k in order do
        let p = patterns[k]

        for d in common previous p .. p.Length - 1 do
            parent[created] <- path[d]
            label[created] <- p[d]
            path[d + 1] <- created
            created <- created + 1

        let s = path[p.Length]
        lowest[s] <- min lowest[s] k

        if marked[k] then
            lowestMarked[s] <- min lowestMarked[s] k

        previous <- p

    // Flat transitions: count per parent, prefix sums, then fill in creation order with
    // first[s] as the cursor, and shift back.
    let first = Array.zeroCreate<int> (states + 1)

    for t in 1 .. states - 1 do
        first[parent[t] + 1] <- first[parent[t] + 1] + 1

    for s in 1 .. states do
        first[s] <- first[s] + first[s - 1]

    let labels = Array.zeroCreate<char> (states - 1)
    let targets = Array.zeroCreate<int> (states - 1)

    for t in 1 .. states - 1 do
        let at = first[parent[t]]
        labels[at] <- label[t]
        targets[at] <- t
        first[parent[t]] <- at + 1

    for s in states .. -1 .. 1 do
        first[s] <- first[s - 1]

    first[0] <- 0

    let a =
        { First = first
          Labels = labels
          Targets = targets
          Fail = Array.zeroCreate states
          Lowest = lowest
          LowestMarked = lowestMarked }

    // Failure links in breadth-first order (parent's array, no longer needed, is the
    // queue), so a state's link is final before its children's; each state's outputs are
    // its own and its link's.
    let queue = parent
    queue[0] <- 0
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

            lowest[v] <- min lowest[v] lowest[a.Fail[v]]
            lowestMarked[v] <- min lowestMarked[v] lowestMarked[a.Fail[v]]
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
