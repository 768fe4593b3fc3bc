/// SIGHUP: what the running router carries over from the config it serves to the one it
/// has just read. The shell swaps the states; this module only decides.
module Router.Core.Reload

open Router.Core.Model
open Router.Core.Settings

/// What one group of the new config takes over from the old one.
type GroupCarry =
    { /// Index, in `groups previous`, of the old group with the same name.
      From: int option
      /// The WRR position carries over: the old group had the same members in the same
      /// order, with the same addresses and weights, hence the same schedule.
      KeepPosition: bool
      /// For each member of the new group, the index of the same-named member of the old
      /// group: that member's sent counter carries over.
      Counters: int option array }

/// The same relays (name, address, weight) in the same order: the same pick sequence.
let sameMembers (a: Group) (b: Group) : bool =
    a.Members.Length = b.Members.Length
    && Array.forall2
        (fun (x: Relay) (y: Relay) -> x.Name = y.Name && x.Address = y.Address && x.Weight = y.Weight)
        a.Members
        b.Members

/// One entry per group of `groups next`, in that order. Groups are matched by name and
/// relays by name within their group: a group that is new, renamed or changed starts its
/// cycle from the beginning; a relay keeps its counter in every group it is still in.
let carry (previous: Config) (next: Config) : GroupCarry array =
    let before = Model.groups previous

    Model.groups next
    |> Array.map (fun g ->
        match before |> Array.tryFindIndex (fun old -> old.Name = g.Name) with
        | None ->
            { From = None
              KeepPosition = false
              Counters = Array.create g.Members.Length None }
        | Some i ->
            let old = before[i]

            { From = Some i
              KeepPosition = sameMembers old g
              Counters =
                g.Members
                |> Array.map (fun r -> old.Members |> Array.tryFindIndex (fun o -> o.Name = r.Name)) })

/// Names of the groups of `next` that existed before and start their cycle again.
let restarted (next: Config) (carried: GroupCarry array) : string list =
    Array.zip (Model.groups next) carried
    |> Array.filter (fun (_, c) -> c.From.IsSome && not c.KeepPosition)
    |> Array.map (fun (g, _) -> g.Name)
    |> List.ofArray

/// Names of the groups of `next` that keep their place in the cycle.
let kept (next: Config) (carried: GroupCarry array) : string list =
    Array.zip (Model.groups next) carried
    |> Array.filter (fun (_, c) -> c.KeepPosition)
    |> Array.map (fun (g, _) -> g.Name)
    |> List.ofArray

/// The `config:` keys whose change a reload cannot apply (listeners, DNS, cache, limits):
/// they take effect at the next start. `log_file` may move to another path, but turning
/// the routing log on or off needs a restart too.
let needsRestart (previous: Settings) (next: Settings) : string list =
    [ if previous.LogFile.IsSome <> next.LogFile.IsSome then "log_file"
      if previous.Port <> next.Port then "port"
      if previous.Host <> next.Host then "host"
      if previous.CacheTtl <> next.CacheTtl then "cache_ttl"
      if previous.Timeout <> next.Timeout then "timeout"
      if previous.DnsServers <> next.DnsServers then "dns_server"
      if previous.RepeatWindow <> next.RepeatWindow then "repeat_window"
      if previous.SocketmapPort <> next.SocketmapPort then "socketmap_port"
      if previous.SocketmapName <> next.SocketmapName then "socketmap_name"
      if previous.Metrics <> next.Metrics then "metrics"
      if previous.Allow <> next.Allow then "allow"
      if previous.MaxConnections <> next.MaxConnections then "max_connections"
      if previous.CacheSize <> next.CacheSize then "cache_size"
      if previous.DnsTimeout <> next.DnsTimeout then "dns_timeout"
      if previous.DnsRetries <> next.DnsRetries then "dns_retries"
      if previous.StaleLimit <> next.StaleLimit then "stale_limit"
      if previous.DnsFailurePolicy <> next.DnsFailurePolicy then "dns_failure_policy"
      if previous.HealthInterval <> next.HealthInterval then "health_interval"
      if previous.HealthTimeout <> next.HealthTimeout then "health_timeout"
      if previous.HealthFall <> next.HealthFall then "health_fall"
      if previous.HealthRise <> next.HealthRise then "health_rise" ]
