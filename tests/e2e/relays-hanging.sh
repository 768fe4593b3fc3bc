#!/usr/bin/env bash
# A relay that accepts TCP and never greets, behind a real Postfix with its default retry
# timings: a delivery to it waits smtp_helo_timeout (300 s) for the 220, whatever the
# router's answer lists after it. Only the health checks help.
#
# Group tri is t60/t30/t10 (weights 60/30/10, relays 1-3) and takes tri.test; group duo
# (relays 4-5) and the default relay 6 must get nothing.
#
#   checks: the router probes every relay (--health-interval 1 --health-timeout 1,
#     health_fall 3, health_rise 2) and answers with one backup (--failover 1). t30 is an
#     smtp-sink, then its port is taken over by a listener that accepts and holds every
#     connection: the router marks it down (metrics and log line; the time from the
#     failure to "down" is measured). 100 messages: all arrive within 40 s, t60 and t10
#     share them 60:10 (86/14, +-1), nothing tries t30, and no reply names it, not even
#     as the backup. t30 is an smtp-sink again: marked up, and the next 100 split
#     60/30/10 (+-1).
#
#   RELAYS_BASELINE=1 first measures today's behaviour with t30 hanging and checks off:
#     how many of 100 are still queued 60 s after they were sent, with failover 0 and with
#     --failover 1 (a list does not help: the first hop holds the delivery 300 s). Not
#     part of the CI run: it takes over two minutes.
. "$(dirname "$0")/lib.sh"
e2e_init relays-hanging postfix postconf postqueue smtp-source smtp-sink dnsmasq curl python3

N=100
dns_start --local=/test/ \
    --mx-host=tri.test,mx.tri.test,10 --mx-host=duo.test,mx.duo.test,10
relay_ports 6
for i in 1 2 3 4 5 6; do relay_sink "$i"; done
T30="smtp:[127.0.0.1]:${SINK_PORT[2]}"
port_alloc SMTPD
port_alloc METRICS_PORT

# start NAME [CONFIG LINE...] -- ROUTER_ARG...: a fresh router (fresh schedule) and a fresh
# Postfix instance
start() {
    local name=$1 lines=(); shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do lines+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    tri_config "$E2E_TMP/$name.yaml" "$E2E_TMP/$name.routing.log" "${lines[@]}"
    router_start "$E2E_TMP/$name.yaml" --metrics "127.0.0.1:$METRICS_PORT" "$@"
    pf_create "$name" "$SMTPD" recommended "transport_maps = tcp:[127.0.0.1]:$ROUTER_PORT" \
        "${POSTFIX_DEFAULT_RETRY[@]}"
    pf_start "$name"
    sinks_clear
}

stop() {
    pf_stop "$1"
    router_stop || fail "$1: router exit status" "non-zero after SIGTERM"
}

# tries_t30 NAME: maillog lines naming t30's port (a delivery that tried it)
tries_t30() { grep -cF "[127.0.0.1]:${SINK_PORT[2]}" "$(pf_log "$1")"; }

# baseline NAME ROUTER_ARG...: t30 hangs, checks off; 100 messages, the queue after 60 s
baseline() {
    local name=$1 t0=$SECONDS; shift
    relay_hang 2
    start "$name" -- "$@"
    send_smtp "$name" "$SMTPD" "$N" 1 u@tri.test || fail "$name: send" "see $E2E_TMP/$name.smtp-source.out"
    local sent=$SECONDS
    sleep $((60 - (SECONDS - sent)))
    local queued delivered
    queued=$(pf_queued "$name")
    delivered=$(sinks_total)
    info "$name (${*:-failover 0}, checks off, t30 hangs): $queued of $N still queued 60 s after sending, $delivered delivered ($(sink_count 1)/$(sink_count 2)/$(sink_count 3)); $(grep -c accepted "$E2E_TMP/hang2.out") connections held by t30"
    check "$name: everything is delivered or queued" "$delivered delivered + $queued queued" \
        '[ $((delivered + queued)) = $N ]'
    check "$name: nothing bounced" "$(bounces "$name") bounces" '[ "$(bounces "$name")" = 0 ]'
    stop "$name"
    relay_sink 2
    echo "# $name: $((SECONDS - t0)) s"
}

checks() {
    local name=checks t0=$SECONDS
    start "$name" "health_fall: 3" "health_rise: 2" -- --failover 1 --health-interval 1 --health-timeout 1
    local i
    wait_relay t30 1 10
    for i in $(seq 100); do
        [ "$(checks_total t30 ok)" -ge 1 ] 2>/dev/null && break
        sleep 0.1
    done
    check "$name: t30 is up and probed" \
        "relay_up{t30} '$(relay_up t30)', ok checks '$(checks_total t30 ok)', fail '$(checks_total t30 fail)'" \
        '[ "$(relay_up t30)" = 1 ] && [ "$(checks_total t30 ok)" -ge 1 ] && [ "$(checks_total t30 fail)" = 0 ]'

    # t30 stops greeting: its port now accepts and holds every connection
    relay_hang 2
    local t_fail t_down
    t_fail=$(date +%s%3N)
    wait_relay t30 0 30
    t_down=$(date +%s%3N)
    DOWN_MS=$((t_down - t_fail))
    check "$name: t30 marked down (relay_up 0) $(ms_to_s $DOWN_MS) s after it stopped greeting" \
        "relay_up{t30} '$(relay_up t30)' after $(ms_to_s $DOWN_MS) s" '[ "$(relay_up t30)" = 0 ]'
    check "$name: one down line for t30, a warning" "$(down_lines t30 "$T30" | wc -l) lines; $(grep -F 'relay t30' "$ROUTER_OUT" | tail -2 | tr '\n' ' ')" \
        '[ "$(down_lines t30 "$T30" | wc -l)" = 1 ]'
    info "$name: $(down_lines t30 "$T30" | sed 's/.*warn: //')"
    check "$name: the failed checks are counted" "fail checks '$(checks_total t30 fail)'" \
        '[ "$(checks_total t30 fail)" -ge 3 ]'
    check "$name: t60 and t10 stay up" "t60 '$(relay_up t60)', t10 '$(relay_up t10)'" \
        '[ "$(relay_up t60)" = 1 ] && [ "$(relay_up t10)" = 1 ]'

    local t_send took_ms
    t_send=$(date +%s%3N)
    send_smtp "$name-down" "$SMTPD" "$N" 1 u@tri.test || fail "$name: send" "see $E2E_TMP/$name-down.smtp-source.out"
    pf_wait_sinks "$N" 40
    took_ms=$(($(date +%s%3N) - t_send))
    check "$name: t30 down: all $N delivered within 40 s ($(ms_to_s $took_ms) s)" \
        "sinks hold $(sinks_total) of $N after $(ms_to_s $took_ms) s; $(pf_queued "$name") queued" \
        '[ "$(sinks_total)" = $N ]'
    check "$name: t30 down: none left in the queue" "$(pf_queued "$name") queued" \
        '[ "$(pf_queued "$name")" = 0 ]'
    expect_shares "$name: t30 down: t60 and t10 share $N by 60:10" "$N" "60 10" "1 3"
    check "$name: t30 down: no delivery tried t30" "$(tries_t30 "$name") maillog lines name its port" \
        '[ "$(tries_t30 "$name")" = 0 ]'
    check "$name: t30 down: none through another group or the default" \
        "duo $(sink_count 4)+$(sink_count 5), default $(sink_count 6)" \
        '[ $(($(sink_count 4) + $(sink_count 5) + $(sink_count 6))) = 0 ]'
    DOWN_SPLIT="$(sink_count 1)/$(sink_count 2)/$(sink_count 3)"
    # the replies themselves (after the counts: these lookups are picks too): a pick and
    # one backup, both up, so t30 is in none of them
    local replies
    replies=$(seq 10 | sed 's/$/probe@tri.test/' | postmap -q - "tcp:[127.0.0.1]:$ROUTER_PORT" | cut -f2)
    check "$name: t30 down: 10 replies, each two next hops, none t30's" \
        "replies: $(echo "$replies" | tr '\n' ' ')" \
        '[ "$(echo "$replies" | grep -cE "^smtp:\[127\.0\.0\.1\]:[0-9]+, \[127\.0\.0\.1\]:[0-9]+\$")" = 10 ] &&
         ! echo "$replies" | grep -qF ":${SINK_PORT[2]}"'

    # t30 comes back: an smtp-sink on its port again
    local t_back
    relay_sink 2
    t_back=$(date +%s%3N)
    wait_relay t30 1 30
    UP_MS=$(($(date +%s%3N) - t_back))
    check "$name: t30 marked up again $(ms_to_s $UP_MS) s after it greets" \
        "relay_up{t30} '$(relay_up t30)' after $(ms_to_s $UP_MS) s" '[ "$(relay_up t30)" = 1 ]'
    check "$name: one up line for t30" "$(up_lines t30 "$T30" | wc -l) lines" \
        '[ "$(up_lines t30 "$T30" | wc -l)" = 1 ]'
    sinks_clear
    send_smtp "$name-up" "$SMTPD" "$N" 1 v@tri.test || fail "$name: send" "see $E2E_TMP/$name-up.smtp-source.out"
    pf_wait_sinks "$N" 40
    check "$name: t30 up: all $N delivered" "sinks hold $(sinks_total) of $N" '[ "$(sinks_total)" = $N ]'
    expect_shares "$name: t30 up: the next $N split 60/30/10" "$N" "60 30 10" "1 2 3"
    check "$name: t30 up: none through another group or the default" \
        "duo $(sink_count 4)+$(sink_count 5), default $(sink_count 6)" \
        '[ $(($(sink_count 4) + $(sink_count 5) + $(sink_count 6))) = 0 ]'
    check "$name: nothing bounced or deferred" \
        "$(bounces "$name") bounces, $(grep -c 'status=deferred' "$(pf_log "$name")") deferred" \
        '[ "$(bounces "$name")" = 0 ] && ! grep -q "status=deferred" "$(pf_log "$name")"'
    info "$name: failure to down $(ms_to_s $DOWN_MS) s, back to up $(ms_to_s $UP_MS) s; t60/t30/t10 $DOWN_SPLIT while down, $(sink_count 1)/$(sink_count 2)/$(sink_count 3) after"
    stop "$name"
    echo "# $name: $((SECONDS - t0)) s"
}

if [ -n "${RELAYS_BASELINE:-}" ]; then
    baseline baseline
    baseline baseline-failover1 --failover 1
fi
checks
e2e_finish
