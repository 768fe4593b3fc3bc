/// Aho–Corasick over a list of patterns, built once per config: for a text, the lowest
/// index among the patterns that occur in it, in one walk of the text's characters. Rule
/// matching and the shadowed-rule warning ask it this, so their cost does not grow with
/// the number of rules.
module Router.Core.Automaton

/// The trie of the patterns with failure links; transitions are sorted per state in flat
/// arrays, so memory is proportional to the patterns' total length and a query allocates
/// nothing.
[<Sealed>]
type Automaton

/// The automaton of `patterns` (compared ordinally; any may repeat, be empty or occur in
/// another). `marked[i]` puts pattern i in the marked subset that `lowestMarked` asks about.
val build: patterns: string array -> marked: bool array -> Automaton

/// The lowest i such that patterns[i] is a substring of `text`; -1 when none is.
val lowest: automaton: Automaton -> text: string -> int

/// The lowest marked i such that patterns[i] is a substring of `text`; -1 when none is.
val lowestMarked: automaton: Automaton -> text: string -> int

/// For each pattern j, the lowest i < j such that patterns[i] is a substring of
/// patterns[j] (so an earlier rule always matches first); -1 when there is none. Linear in
/// the patterns' total length.
val shadowing: patterns: string array -> int array
