/// SIGHUP: what the running router carries over from the config it serves to the one it
/// has just read. The shell swaps the states; this module only decides.
module Router.Core.Reload

/// What one group of the new config takes over from the old one.
type GroupCarry =
    {

      /// Index, in `groups previous`, of the old group with the same name.
      From: int option

      /// The WRR position carries over: the old group had the same members in the same
      /// order, with the same addresses and weights, hence the same schedule.
      KeepPosition: bool

      /// For each member of the new group, the index of the same-named member of the old
      /// group: that member's sent counter carries over.
      Counters: int option array
    }

/// The same relays (name, address, weight) in the same order: the same pick sequence.
val sameMembers:
  a: Router.Core.Model.Group -> b: Router.Core.Model.Group -> bool

/// One entry per group of `groups next`, in that order. Groups are matched by name and
/// relays by name within their group: a group that is new, renamed or changed starts its
/// cycle from the beginning; a relay keeps its counter in every group it is still in.
val carry:
  previous: Router.Core.Model.Config ->
    next: Router.Core.Model.Config -> GroupCarry array

/// Names of the groups of `next` that existed before and start their cycle again.
val restarted:
  next: Router.Core.Model.Config -> carried: GroupCarry array -> string list

/// Names of the groups of `next` that keep their place in the cycle.
val kept:
  next: Router.Core.Model.Config -> carried: GroupCarry array -> string list

/// The `config:` keys whose change a reload cannot apply (listeners, DNS, cache, limits):
/// they take effect at the next start. `log_file` may move to another path, but turning
/// the routing log on or off needs a restart too.
val needsRestart:
  previous: Router.Core.Settings.Settings ->
    next: Router.Core.Settings.Settings -> string list
