#!/usr/bin/env bash
# Every relay of a group down, behind a real Postfix with its default retry timings: the
# group fails open (the router answers as if all were up), so Postfix defers the mail and
# it waits in the queue; nothing bounces and nothing leaves through another group.
#
# Group tri is t60/t30/t10 (weights 60/30/10, relays 1-3) and takes tri.test; group duo
# (relays 4-5) and the default relay 6 are up and must get nothing. Nothing listens on the
# three tri ports.
#
#   all-down: --failover 1, health checks on (--health-interval 1 --health-timeout 1,
#     health_fall 3, health_rise 2). Once all three are marked down, 20 messages: all 20
#     wait deferred. The three come back (smtp-sinks on their ports), are marked up, then
#     postqueue -f: all 20 arrive through tri.
#
#   RELAYS_BASELINE=1 first runs the same with failover and checks off (today's
#     behaviour), for the side-by-side table in docs/RELAYS.md.
. "$(dirname "$0")/lib.sh"
e2e_init relays-all-down postfix postconf postqueue smtp-source smtp-sink dnsmasq curl

N=20
dns_start --local=/test/ \
    --mx-host=tri.test,mx.tri.test,10 --mx-host=duo.test,mx.duo.test,10
relay_ports 6
for i in 4 5 6; do relay_sink "$i"; done      # relays 1-3 (the tri group): nothing listens
TRI=(t60 t30 t10)
port_alloc SMTPD
port_alloc METRICS_PORT

# address I: relay I's address as the config has it
address() { echo "smtp:[127.0.0.1]:${SINK_PORT[$1]}"; }

# scenario NAME checks|off ROUTER_ARG...
scenario() {
    local name=$1 mode=$2 t0=$SECONDS; shift 2
    local lines=() i
    [ "$mode" = checks ] && lines=("health_fall: 3" "health_rise: 2")
    for i in 1 2 3; do relay_stop "$i"; done
    tri_config "$E2E_TMP/$name.yaml" "$E2E_TMP/$name.routing.log" "${lines[@]}"
    router_start "$E2E_TMP/$name.yaml" --metrics "127.0.0.1:$METRICS_PORT" "$@"
    pf_create "$name" "$SMTPD" recommended "transport_maps = tcp:[127.0.0.1]:$ROUTER_PORT" \
        "${POSTFIX_DEFAULT_RETRY[@]}"
    pf_start "$name"
    sinks_clear

    if [ "$mode" = checks ]; then
        local down=0 r
        for r in "${TRI[@]}"; do wait_relay "$r" 0 30 && down=$((down + 1)); done
        check "$name: all three tri relays marked down" \
            "relay_up t60 '$(relay_up t60)', t30 '$(relay_up t30)', t10 '$(relay_up t10)'" '[ $down = 3 ]'
        local lines_down=0
        for i in 1 2 3; do
            [ "$(down_lines "${TRI[i - 1]}" "$(address "$i")" | wc -l)" = 1 ] && lines_down=$((lines_down + 1))
        done
        check "$name: one down line for each" "$lines_down of 3; $(grep -F ' is down: ' "$ROUTER_OUT" | head -3 | tr '\n' ' ')" \
            '[ $lines_down = 3 ]'
        info "$name: $(down_lines t30 "$(address 2)" | sed 's/.*warn: //')"
    fi

    send_smtp "$name" "$SMTPD" "$N" 1 u@tri.test || fail "$name: send" "see $E2E_TMP/$name.smtp-source.out"
    for i in $(seq 300); do
        [ "$(pf_queue_count "$name" deferred)" -ge $N ] && break
        sleep 0.1
    done
    check "$name: all $N wait in the queue, deferred" \
        "postqueue -j lists $(pf_queued "$name"), $(pf_queue_count "$name" deferred) deferred" \
        '[ "$(pf_queued "$name")" = $N ] && [ "$(pf_queue_count "$name" deferred)" = $N ]'
    local lookups
    lookups=$(metric postfix_mx_smart_router_lookups_total 'code="200"')
    check "$name: the router answered all $N with a tri relay (200)" \
        "200s '$lookups'; targets: $(cut -f2 "$E2E_TMP/$name.routing.log" | sort | uniq -c | tr '\n' ' ')" \
        '[ "$lookups" = $N ] && [ "$(cut -f2 "$E2E_TMP/$name.routing.log" | grep -cx tri)" = $N ]'
    info "$name: deferral reason: $(grep 'status=deferred' "$(pf_log "$name")" | tail -1 | sed 's/.*status=deferred //')"
    sleep 3
    check "$name: nothing bounced, no DSN" "$(bounces "$name") bounce lines" '[ "$(bounces "$name")" = 0 ]'
    check "$name: nothing delivered anywhere (duo and the default got nothing)" \
        "duo $(sink_count 4)+$(sink_count 5), default $(sink_count 6)" '[ "$(sinks_total)" = 0 ]'
    check "$name: still all $N queued" "postqueue -j lists $(pf_queued "$name")" \
        '[ "$(pf_queued "$name")" = $N ]'

    # the relays come back
    for i in 1 2 3; do relay_sink "$i"; done
    if [ "$mode" = checks ]; then
        local up=0 lines_up=0
        for r in "${TRI[@]}"; do wait_relay "$r" 1 30 && up=$((up + 1)); done
        for i in 1 2 3; do
            [ "$(up_lines "${TRI[i - 1]}" "$(address "$i")" | wc -l)" = 1 ] && lines_up=$((lines_up + 1))
        done
        check "$name: all three marked up again, one up line each" \
            "$up up, $lines_up up lines" '[ $up = 3 ] && [ $lines_up = 3 ]'
    fi
    pf_flush "$name"
    pf_wait_sinks "$N" 30
    check "$name: after postqueue -f all $N arrive" \
        "sinks hold $(sinks_total) of $N; postqueue -j lists $(pf_queued "$name")" \
        '[ "$(sinks_total)" = $N ] && pf_wait_queued "$name" 0 10'
    check "$name: all through tri" "tri $(sink_count 1)/$(sink_count 2)/$(sink_count 3), duo $(sink_count 4)+$(sink_count 5), default $(sink_count 6)" \
        '[ $(($(sink_count 1) + $(sink_count 2) + $(sink_count 3))) = $N ]'
    expect_domain_only "$name: the tri relays got only tri.test" tri.test 1 2 3
    check "$name: nothing bounced" "$(bounces "$name") bounce lines" '[ "$(bounces "$name")" = 0 ]'
    info "$name: after the flush t60/t30/t10 $(sink_count 1)/$(sink_count 2)/$(sink_count 3)"
    pf_stop "$name"
    router_stop || fail "$name: router exit status" "non-zero after SIGTERM"
    echo "# $name: $((SECONDS - t0)) s"
}

[ -n "${RELAYS_BASELINE:-}" ] && scenario baseline off
scenario all-down checks --failover 1 --health-interval 1 --health-timeout 1
e2e_finish
