/// From the config file's tree to the validated model: every error and warning with its
/// position, targets resolved while validating.
module Router.Core.Validation

open Router.Core.ConfigTree
open Router.Core.Diagnostics

/// Validates the tree read from `file`. Ok carries the config and its warnings; Error
/// carries every error found (and the warnings), each with its position.
val validate: file: string -> root: Node -> Result<Model.Config * Diagnostic list, Diagnostic list>
