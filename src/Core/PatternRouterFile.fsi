/// postfix-mx-pattern-router's files: lines `PATTERN TRANSPORT:NEXTHOP`, `#` comments and
/// blank lines. Each line becomes a relay (lines with the same relay share one) and a rule
/// that looks at MX hosts only, with NO RESULT as the default: the same validated Config as
/// the YAML format, served by the same router.
module Router.Core.PatternRouterFile

open Router.Core.ConfigTree
open Router.Core.Diagnostics
open Router.Core.Model

/// One line as read: the pattern (lower-cased), the relay (as written) and where they stand.
type Line =
    { Pattern: string
      Relay: string
      PatternAt: Pos
      RelayAt: Pos }

/// True when the text is in this format rather than YAML: its first line that is not blank
/// or a comment starts with a word that is no YAML mapping key (no ':' in it) and no YAML
/// indicator (`-`, `---`, `[`, `{`, a quote, `&`, `%` ...).
val recognizes: text: string -> bool

/// The lines of the file, or one error per line that is not `PATTERN TRANSPORT:NEXTHOP`
/// (FILE:LINE:COLUMN, as YAML errors).
val parse: file: string -> text: string -> Result<Line list, Diagnostic list>

/// The config the lines make, with its warnings: a pattern that an earlier one contains
/// can never match; a file without lines answers NO RESULT to everything.
val toConfig: file: string -> lines: Line list -> Config * Diagnostic list

/// `parse`, then `toConfig`: the same result shape as `Validation.validate`.
val read: file: string -> text: string -> Result<Config * Diagnostic list, Diagnostic list>
