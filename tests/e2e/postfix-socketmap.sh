#!/usr/bin/env bash
# A real Postfix with `transport_maps = socketmap:inet:127.0.0.1:PORT:transport`
# (and the sender-dependent variant) delivers through the right relays in the configured
# proportions, with the recommended master.cf setup (smtpd has its own trivial-rewrite
# without the router's maps, so only qmgr asks, once per message). The socketmap twin of
# postfix-shares.sh, kept apart so that the two can change independently.
#
#   transport_maps (key = recipient), groups 60/30/10 and 50/50, over SMTP with one client
#     and with 4 concurrent clients
#   sender_dependent_default_transport_maps (key = sender), 100 messages from one sender
#
# Each scenario gets a fresh router (fresh round-robin state, so the +-1 bound from the
# start applies) and a fresh Postfix instance (empty queue). The router also listens for
# tcp_table, which nobody asks: the socketmap listener alone must do the job.
. "$(dirname "$0")/lib.sh"
e2e_init postfix-socketmap postfix postconf postqueue smtp-source smtp-sink dnsmasq

N_TRI=${N_TRI:-120}     # messages to the 60/30/10 group (72/36/12)
N_DUO=${N_DUO:-100}     # messages to the 50/50 group (50/50)
N_SENDER=${N_SENDER:-100}

dns_start --local=/test/ \
    --mx-host=tri.test,mx1.tri.test,10 --mx-host=tri.test,mx2.tri.test,20 \
    --mx-host=duo.test,mx.duo.test,10
sinks_start 6

# write_config FILE ROUTING_LOG SOCKETMAP_PORT: the socketmap port from the config file,
# so that this path is covered end to end too
write_config() {
    { printf 'config:\n  log_file: %s\n  socketmap_port: %s\n' "$2" "$3"; tri_duo_servers; } >"$1"
}

port_alloc SMTPD

# scenario NAME MAP SESSIONS: fresh router and Postfix; MAP is transport_maps or
# sender_dependent_default_transport_maps
scenario() {
    local name=$1 map=$2 sessions=$3 t0=$SECONDS
    local conf=$E2E_TMP/$name.yaml rlog=$E2E_TMP/$name.routing.log sm
    port_alloc sm
    write_config "$conf" "$rlog" "$sm"
    router_start "$conf"
    wait_tcp "$sm" 10 || die "$name: router start" "socketmap not listening on $sm"
    pf_create "$name" "$SMTPD" recommended "$map = socketmap:inet:127.0.0.1:$sm:transport"
    pf_start "$name"
    sinks_clear
    local total ok=1
    if [ "$map" = transport_maps ]; then
        send_smtp "$name-tri" "$SMTPD" "$N_TRI" "$sessions" u@tri.test & local a=$!
        send_smtp "$name-duo" "$SMTPD" "$N_DUO" "$sessions" u@duo.test || ok=0
        wait $a || ok=0
        total=$((N_TRI + N_DUO))
    else
        send_smtp "$name" "$SMTPD" "$N_SENDER" "$sessions" r@dest.test news@tri.test || ok=0
        total=$N_SENDER
    fi
    [ $ok = 1 ] || fail "$name: send" "see $E2E_TMP/$name*.smtp-source.out"
    if ! pf_wait_sinks "$total" 60 || ! pf_wait_drain "$name" 10; then
        fail "$name: delivery" "sinks hold $(sinks_total) of $total, $(pf_queue_count "$name") in the queue"
    fi
    pf_stop "$name"
    router_stop || fail "$name: router exit status" "non-zero after SIGTERM"
    local bounced deferred
    bounced=$(grep -c 'status=bounced' "$(pf_log "$name")")
    deferred=$(grep -c 'status=deferred' "$(pf_log "$name")")
    check "$name: nothing bounced or deferred" "$bounced bounced, $deferred deferred" \
        '[ "$bounced" = 0 ] && [ "$deferred" = 0 ]'
    check "$name: no socketmap errors in the mail log" "$(grep -m3 -i 'socketmap' "$(pf_log "$name")" | tr '\n' ' ')" \
        '! grep -qiE "socketmap.*(error|warning)|warning:.*socketmap" "$(pf_log "$name")"'
    check "$name: nothing to the default relay" "$(sink_count 6) messages" [ "$(sink_count 6)" = 0 ]
    local keys asked
    if [ "$map" = transport_maps ]; then keys='@(tri|duo)\.test$'; else keys='^news@tri\.test$'; fi
    asked=$(routing_log_keys "$rlog" | grep -cE "$keys")
    check "$name: one lookup per message" "$asked lookups for $total messages" [ "$asked" = "$total" ]
    if [ "$map" = transport_maps ]; then
        expect_shares "$name: tri 60/30/10 of $N_TRI" "$N_TRI" "60 30 10" "1 2 3"
        expect_shares "$name: duo 50/50 of $N_DUO" "$N_DUO" "50 50" "4 5"
        expect_domain_only "$name: tri sinks got only tri.test" tri.test 1 2 3
        expect_domain_only "$name: duo sinks got only duo.test" duo.test 4 5
    else
        expect_shares "$name: tri 60/30/10 of $N_SENDER from one sender" "$N_SENDER" "60 30 10" "1 2 3"
        check "$name: nothing to the duo sinks" "$(sink_count 4)+$(sink_count 5)" \
            [ "$(($(sink_count 4) + $(sink_count 5)))" = 0 ]
    fi
    echo "# $name: $((SECONDS - t0)) s"
}

scenario socketmap-transport-1client transport_maps 1
scenario socketmap-transport-4clients transport_maps 4
scenario socketmap-sender-1client sender_dependent_default_transport_maps 1

e2e_finish
