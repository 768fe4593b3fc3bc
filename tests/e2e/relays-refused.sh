#!/usr/bin/env bash
# A relay that refuses connections, behind a real Postfix with its default retry timings
# (a deferred message waits minimal_backoff_time, 300 s).
#
# Group tri is t60/t30/t10 (weights 60/30/10, relays 1-3) and takes tri.test; group duo
# (relays 4-5) and the default relay 6 must get nothing. Nothing listens on t30's port, so
# every connection to it is refused at once.
#
#   failover: the router runs with --failover 1 and health checks off. A pick of t30 is
#     answered "smtp:[t30], [backup]" and Postfix (3.5 or later) tries the backup in the
#     same delivery: 100 messages all arrive within 40 s, none waits in the queue, none
#     leaves through another group.
#
#   RELAYS_BASELINE=1 first measures today's behaviour (failover 0, checks off): how many
#     of the 100 are still queued 60 s after they were sent (about 30, waiting for the
#     300 s backoff). Not part of the CI run: it takes over a minute.
. "$(dirname "$0")/lib.sh"
e2e_init relays-refused postfix postconf postqueue smtp-source smtp-sink dnsmasq curl

N=100
dns_start --local=/test/ \
    --mx-host=tri.test,mx.tri.test,10 --mx-host=duo.test,mx.duo.test,10
relay_ports 6
for i in 1 3 4 5 6; do relay_sink "$i"; done   # relay 2 (t30): nothing listens
T30="smtp:[127.0.0.1]:${SINK_PORT[2]}"
port_alloc SMTPD
port_alloc METRICS_PORT

# start NAME ROUTER_ARG...: a fresh router (fresh schedule) and a fresh Postfix instance
start() {
    local name=$1; shift
    tri_config "$E2E_TMP/$name.yaml" "$E2E_TMP/$name.routing.log"
    router_start "$E2E_TMP/$name.yaml" --metrics "127.0.0.1:$METRICS_PORT" "$@"
    pf_create "$name" "$SMTPD" recommended "transport_maps = tcp:[127.0.0.1]:$ROUTER_PORT" \
        "${POSTFIX_DEFAULT_RETRY[@]}"
    pf_start "$name"
    sinks_clear
}

# stop NAME
stop() {
    pf_stop "$1"
    router_stop || fail "$1: router exit status" "non-zero after SIGTERM"
}

# t30_picks: the router's count of group tri's picks of t30 (call before stopping it)
t30_picks() { metric postfix_mx_smart_router_decisions_total 'group="tri",server="t30"'; }

# refused_lines NAME: connection attempts to t30 that Postfix logged as refused (the
# smtp client's own line, not the status=deferred line that repeats the reason)
refused_lines() {
    grep -cF "]: connect to 127.0.0.1[127.0.0.1]:${SINK_PORT[2]}: Connection refused" "$(pf_log "$1")"
}

baseline() {
    local name=baseline t0=$SECONDS
    start "$name"
    send_smtp "$name" "$SMTPD" "$N" 1 u@tri.test || fail "$name: send" "see $E2E_TMP/$name.smtp-source.out"
    local sent=$SECONDS
    sleep $((60 - (SECONDS - sent)))
    local queued delivered
    queued=$(pf_queued "$name")
    delivered=$(sinks_total)
    info "$name (failover 0, checks off): $queued of $N still queued 60 s after sending, $delivered delivered ($(sink_count 1)/$(sink_count 2)/$(sink_count 3)); t30 picked $(t30_picks) times; $(refused_lines "$name") refused connections"
    info "$name: deferral reason: $(grep 'status=deferred' "$(pf_log "$name")" | tail -1 | sed 's/.*status=deferred //')"
    check "$name: everything is delivered or queued" "$delivered delivered + $queued queued" \
        '[ $((delivered + queued)) = $N ]'
    check "$name: nothing bounced" "$(bounces "$name") bounces" '[ "$(bounces "$name")" = 0 ]'
    stop "$name"
    echo "# $name: $((SECONDS - t0)) s"
}

failover() {
    local name=failover t0=$SECONDS
    start "$name" --failover 1
    check "$name: relay_up is 1 for t30 with checks off" "relay_up{t30} = '$(relay_up t30)'" \
        '[ "$(relay_up t30)" = 1 ]'
    local t_send
    t_send=$(date +%s%3N)
    send_smtp "$name" "$SMTPD" "$N" 1 u@tri.test || fail "$name: send" "see $E2E_TMP/$name.smtp-source.out"
    pf_wait_sinks "$N" 40
    local took_ms=$(($(date +%s%3N) - t_send))
    check "$name: all $N delivered within 40 s ($(ms_to_s $took_ms) s)" \
        "sinks hold $(sinks_total) of $N after $(ms_to_s $took_ms) s; $(pf_queued "$name") queued" \
        '[ "$(sinks_total)" = $N ]'
    check "$name: none left in the queue (postqueue -j)" "$(pf_queued "$name") queued" \
        '[ "$(pf_queued "$name")" = 0 ]'
    check "$name: none through another group or the default" \
        "duo $(sink_count 4)+$(sink_count 5), default $(sink_count 6)" \
        '[ $(($(sink_count 4) + $(sink_count 5) + $(sink_count 6))) = 0 ]'
    expect_domain_only "$name: the tri relays got only tri.test" tri.test 1 3
    # the picks stay 60/30/10 (+-1); t30's go to a backup, so each of the other two gets at
    # least its own share
    local s1 s3 picks refused
    s1=$(sink_count 1) s3=$(sink_count 3)
    picks=$(t30_picks) refused=$(refused_lines "$name")
    check "$name: t60 and t10 took their own shares and t30's ($s1/$s3)" \
        "t60 $s1 (at least 59), t10 $s3 (at least 9), together $((s1 + s3)) of $N" \
        '[ $s1 -ge 59 ] && [ $s3 -ge 9 ] && [ $((s1 + s3)) = $N ]'
    # Postfix tries a refused first hop and moves on to the backup; it may skip a hop it
    # found refused moments before, so the maillog has at most one refusal per pick.
    check "$name: t30 was picked 30 times (+-1), its refusals cost a backup hop" \
        "$picks picks in the routing log, $refused refused connections in the maillog" \
        '[ $picks -ge 29 ] && [ $picks -le 31 ] && [ $refused -ge 1 ] && [ $refused -le $picks ]'
    check "$name: nothing bounced" "$(bounces "$name") bounces" '[ "$(bounces "$name")" = 0 ]'
    check "$name: nothing deferred" "$(grep -c 'status=deferred' "$(pf_log "$name")") deferred" \
        '! grep -q "status=deferred" "$(pf_log "$name")"'
    # the reply itself: a pick and one backup of the same group, both tri relays
    local reply hops="\\[127\\.0\\.0\\.1\\]:(${SINK_PORT[1]}|${SINK_PORT[2]}|${SINK_PORT[3]})"
    reply=$(postmap -q probe@tri.test "tcp:[127.0.0.1]:$ROUTER_PORT")
    check "$name: the reply is a next-hop list of two tri relays ($reply)" "reply '$reply'" \
        '[[ "$reply" =~ ^smtp:$hops,\ $hops$ ]] && [ "${BASH_REMATCH[1]}" != "${BASH_REMATCH[2]}" ]'
    info "$name: $N messages delivered in $(ms_to_s $took_ms) s: t60/t30/t10 $s1/$(sink_count 2)/$s3; t30 picked $picks times"
    stop "$name"
    echo "# $name: $((SECONDS - t0)) s"
}

[ -n "${RELAYS_BASELINE:-}" ] && baseline
failover
e2e_finish
