using System.Globalization;
using System.Text;
using Microsoft.FSharp.Core;
using Microsoft.FSharp.Collections;
using Router.Core;

namespace Router.Native;

/// <summary>The terminal modes: --check, --explain and --simulate (no server).</summary>
public static class Reports
{
    /// <summary>--check: the format read, relays with weights, groups with shares, rules, default.</summary>
    public static string CheckSummary(Model.Config config, string format)
    {
        var sb = new StringBuilder();
        sb.Append(config.File).Append(": OK\n");
        sb.Append("format: ").Append(format).Append('\n');
        sb.Append("relays: ").Append(config.Relays.Length).Append('\n');
        int width = 0;
        foreach (var r in config.Relays) width = Math.Max(width, r.Name.Length);
        foreach (var r in config.Relays)
        {
            sb.Append("  ").Append(r.Name.PadRight(width)).Append("  perc ")
              .Append(r.Weight.ToString(CultureInfo.InvariantCulture).PadLeft(3))
              .Append(r.Name == r.Address ? "" : "  " + r.Address).Append('\n');
        }
        int groups = 0;
        foreach (var _ in config.Groups) groups++;
        sb.Append("groups: ").Append(groups).Append('\n');
        foreach (var g in config.Groups) AppendGroup(sb, g);
        int rules = 0;
        foreach (var _ in config.Rules) rules++;
        sb.Append("rules: ").Append(rules).Append('\n');
        sb.Append("default: ");
        sb.Append(config.Default is { } d ? Model.targetName(d.Value) : "none (all servers)");
        sb.Append('\n');
        return sb.ToString();
    }

    private static void AppendGroup(StringBuilder sb, Model.Group g)
    {
        sb.Append("  ").Append(g.Name).Append(':');
        for (int i = 0; i < g.Members.Length; i++)
        {
            sb.Append(i == 0 ? " " : ", ");
            double share = Stats.targetShare(g, i) * 100.0;
            sb.Append(g.Members[i].Name).Append(' ').Append(share.ToString("0.0#", CultureInfo.InvariantCulture)).Append('%');
        }
        sb.Append('\n');
    }

    /// <summary>--explain: the lookup's own two steps, <see cref="Lookup.decide"/> and <see cref="Lookup.finish"/>, printed.</summary>
    /// With health checks on (<paramref name="probeTimeout"/>), every relay of the picked group
    /// is probed once, and the pick is made among those that passed.
    public static async Task<string> ExplainAsync(Model.Config config, MxResolver resolver, string address, TimeSpan? probeTimeout = null)
    {
        var key = Address.ofText(address);
        var mx = await resolver.LookupAsync(key).ConfigureAwait(false);
        var state = new RoutingState(config, resolver.FailurePolicy);
        var decision = Lookup.decide(state.Plan, Repeat.off, 0, key, mx).Item1;
        var states = FSharpList<Tuple<Model.Relay, string>>.Empty;
        if (probeTimeout is { } timeout && decision.IsPick)
        {
            var members = decision.group.Members;
            var probed = await Task.WhenAll(members.Select(m => ProbeOnceAsync(m, resolver.Query, timeout))).ConfigureAwait(false);
            var up = new bool[config.Relays.Length];
            Array.Fill(up, true);
            for (int i = 0; i < members.Length; i++) up[members[i].Index] = probed[i].Up;
            state.SetUp(Selection.ofFlags(up));
            states = ListModule.OfSeq(members.Select((m, i) => Tuple.Create(m, probed[i].Text)));
        }
        var (view, position) = decision.IsPick ? state.Advance(decision.group) : (Lookup.allUp(state.Plan, config.AllServers), 0L);
        var outcome = Lookup.finish(state.Plan, decision, view, position);
        var backups = FSharpOption<Model.Relay[]>.None;
        if (decision.IsPick && Lookup.failover(state.Plan) > 0)
        {
            var members = decision.group.Members;
            backups = FSharpOption<Model.Relay[]>.Some(Array.ConvertAll(Selection.backups(view, position), m => members[m]));
        }
        return Explain.render(key, mx, decision, outcome, backups, states);
    }

    /// <summary>One probe of a relay for --explain: up or not, and the state's words.</summary>
    private static async Task<(bool Up, string Text)> ProbeOnceAsync(Model.Relay relay, DnsQuery dns, TimeSpan timeout)
    {
        if (NextHop.parse(relay.Address) is not NextHop.Target.Probeable target)
            return (true, "unchecked: " + ((NextHop.Target.NotProbeable)NextHop.parse(relay.Address)).reason);
        var probe = await SmtpProbe.ProbeAsync(target.Item, dns, timeout, CancellationToken.None).ConfigureAwait(false);
        return probe.Ok ? (true, "up") : (false, "down: " + probe.Detail);
    }
}
