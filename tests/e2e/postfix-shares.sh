#!/usr/bin/env bash
# Behind a real Postfix with the recommended master.cf setup (smtpd gets its
# own trivial-rewrite without the router's maps, so only qmgr asks, once per message),
# mail leaves through the relays in the configured proportions: every sink within +-1
# of its weight share times the messages of its group.
#
#   transport_maps (key = recipient), groups 60/30/10 and 50/50:
#     over SMTP with one client, with 4 concurrent clients, and through sendmail
#   sender_dependent_default_transport_maps (key = sender):
#     100 SMTP messages all from one sender
#
# Each scenario gets a fresh router (fresh round-robin state, so the +-1 bound from the
# start applies) and a fresh Postfix instance (empty queue).
#
#   --plain              no master.cf change: smtpd asks the router too. Measures the
#                        doubling problem: the shares and lookup counts become INFO
#                        lines; delivery, bounces and misrouting are still checked.
#   --repeat-window SEC  pass --repeat-window SEC to the router; with --plain the
#                        transport_maps shares are checked again.
. "$(dirname "$0")/lib.sh"

MODE=recommended
WINDOW=
while [ $# -gt 0 ]; do
    case $1 in
    --plain) MODE=plain ;;
    --repeat-window) WINDOW=$2; shift ;;
    *) echo "usage: $0 [--plain] [--repeat-window SEC]" >&2; exit 2 ;;
    esac
    shift
done
SCRIPT=postfix-shares
[ $MODE = plain ] && SCRIPT+=-plain
[ -n "$WINDOW" ] && SCRIPT+=-window$WINDOW
e2e_init "$SCRIPT" postfix postconf postqueue sendmail smtp-source smtp-sink dnsmasq
ROUTER_ARGS=()
[ -n "$WINDOW" ] && ROUTER_ARGS=(--repeat-window "$WINDOW")

N_TRI=${N_TRI:-120}     # messages to the 60/30/10 group (72/36/12)
N_DUO=${N_DUO:-100}     # messages to the 50/50 group (50/50)
N_SENDER=${N_SENDER:-100}

# tri.test and duo.test route by their MX hosts; anything else goes to the default,
# one sink of its own that must stay empty.
dns_start --local=/test/ \
    --mx-host=tri.test,mx1.tri.test,10 --mx-host=tri.test,mx2.tri.test,20 \
    --mx-host=duo.test,mx.duo.test,10
sinks_start 6

# write_config FILE ROUTING_LOG
write_config() {
    { printf 'config:\n  log_file: %s\n' "$2"; tri_duo_servers; } >"$1"
}

port_alloc SMTPD

# scenario NAME MAP HOW: fresh router and Postfix; MAP is transport_maps or
# sender_dependent_default_transport_maps; HOW is smtp1, smtp4 or sendmail
scenario() {
    local name=$1 map=$2 how=$3 t0=$SECONDS
    local conf=$E2E_TMP/$name.yaml rlog=$E2E_TMP/$name.routing.log
    write_config "$conf" "$rlog"
    router_start "$conf" "${ROUTER_ARGS[@]}"
    pf_create "$name" "$SMTPD" "$MODE" "$map = tcp:[127.0.0.1]:$ROUTER_PORT"
    pf_start "$name"
    sinks_clear
    local total ok=1
    case $map:$how in
    transport_maps:smtp1)
        send_smtp "$name-tri" "$SMTPD" "$N_TRI" 1 u@tri.test || ok=0
        send_smtp "$name-duo" "$SMTPD" "$N_DUO" 1 u@duo.test || ok=0
        ;;
    transport_maps:smtp4)
        send_smtp "$name-tri" "$SMTPD" "$N_TRI" 4 u@tri.test & local a=$!
        send_smtp "$name-duo" "$SMTPD" "$N_DUO" 4 u@duo.test || ok=0
        wait $a || ok=0
        ;;
    transport_maps:sendmail)
        send_sendmail "$name" "$N_TRI" u tri.test || ok=0
        send_sendmail "$name" "$N_DUO" u duo.test || ok=0
        ;;
    sender_dependent_default_transport_maps:smtp*)
        send_smtp "$name" "$SMTPD" "$N_SENDER" "${how#smtp}" r@dest.test news@tri.test || ok=0
        ;;
    esac
    [ $ok = 1 ] || fail "$name: send" "see $E2E_TMP/$name*.smtp-source.out"
    case $map in
    transport_maps) total=$((N_TRI + N_DUO)) ;;
    *) total=$N_SENDER ;;
    esac
    if ! pf_wait_sinks "$total" 60 || ! pf_wait_drain "$name" 10; then
        fail "$name: delivery" "sinks hold $(sinks_total) of $total, $(pf_queue_count "$name") in the queue"
    fi
    pf_stop "$name"
    router_stop || fail "$name: router exit status" "non-zero after SIGTERM"
    local bounced
    bounced=$(grep -c 'status=bounced' "$(pf_log "$name")")
    check "$name: nothing bounced" "$bounced bounced" [ "$bounced" = 0 ]
    check "$name: nothing to the default relay" "$(sink_count 6) messages" [ "$(sink_count 6)" = 0 ]
    # the premise of the recommended setup: only qmgr asks, once per message
    local keys asked
    if [ "$map" = transport_maps ]; then keys='@(tri|duo)\.test$'; else keys='^news@tri\.test$'; fi
    asked=$(routing_log_keys "$rlog" | grep -cE "$keys")
    if [ $MODE = recommended ]; then
        check "$name: one lookup per message" "$asked lookups for $total messages" [ "$asked" = "$total" ]
    else
        info "$name: $asked lookups for $total messages"
    fi
    # with the window, the router's own count: one decision (pick) per message, the
    # other lookup of the pair being a repeat (" (repeat)" after the target)
    if [ -n "$WINDOW" ]; then
        local decided
        decided=$(routing_log_keys "$rlog" decisions | grep -cE "$keys")
        if [ "$map" = transport_maps ]; then
            check "$name: one decision per message" "$decided decisions for $total messages" [ "$decided" = "$total" ]
        else
            info "$name: $decided decisions for $total messages"
        fi
    fi
    # shares: asserted with the recommended setup; with --plain only when a repeat
    # window is meant to repair the doubling (transport_maps, distinct recipients)
    local soft=
    if [ $MODE = plain ] && { [ -z "$WINDOW" ] || [ "$map" != transport_maps ]; }; then soft=info; fi
    if [ "$map" = transport_maps ]; then
        expect_shares "$name: tri 60/30/10 of $N_TRI" "$N_TRI" "60 30 10" "1 2 3" $soft
        expect_shares "$name: duo 50/50 of $N_DUO" "$N_DUO" "50 50" "4 5" $soft
        expect_domain_only "$name: tri sinks got only tri.test" tri.test 1 2 3
        expect_domain_only "$name: duo sinks got only duo.test" duo.test 4 5
    else
        expect_shares "$name: tri 60/30/10 of $N_SENDER from one sender" "$N_SENDER" "60 30 10" "1 2 3" $soft
        check "$name: nothing to the duo sinks" "$(sink_count 4)+$(sink_count 5)" \
            [ "$(($(sink_count 4) + $(sink_count 5)))" = 0 ]
    fi
    echo "# $name: $((SECONDS - t0)) s"
}

scenario transport-smtp-1client transport_maps smtp1
scenario transport-smtp-4clients transport_maps smtp4
scenario transport-sendmail transport_maps sendmail
scenario sender-smtp-1client sender_dependent_default_transport_maps smtp1
scenario sender-smtp-4clients sender_dependent_default_transport_maps smtp4

e2e_finish
