#!/usr/bin/env bash
# A DNS outage defers, never bounces or misroutes.
#
# The routes depend on the MX hosts (alpha.test -> group A by its MX host, beta.test ->
# group B), and the default is a sink of its own that must stay empty: a router that
# took "DNS failed" for "no MX records" would send the mail there. The router runs with
# --cache-ttl 0, so the outage reaches every lookup.
#
#   recommended setup: smtpd does not ask the router, so it accepts; the mail, from
#     SMTP and from sendmail, waits deferred in the queue. DNS back, postqueue -f:
#     everything arrives through the right group.
#   plain setup (smtpd asks the router at RCPT time): recipients get a temporary 4xx,
#     nothing is queued. DNS back: recipients are accepted and delivered.
#
# Two outages, one after the other:
#   refused  the DNS server is up but answers REFUSED (a resolver that lost its
#            upstream): failures are immediate, so 30 messages are used
#   gone     nothing listens on the DNS port: every lookup waits for the router's DNS
#            time-out, and qmgr resolves one recipient at a time, so only a few
#            messages (N_GONE per domain and path)
. "$(dirname "$0")/lib.sh"
e2e_init postfix-defer postfix postconf postqueue sendmail smtp-source smtp-sink dnsmasq

dns_start --local=/test/ \
    --mx-host=alpha.test,mx.alpha.test,10 --mx-host=beta.test,mx.beta.test,10
sinks_start 5

CONF=$E2E_TMP/router.yaml
cat >"$CONF" <<EOF
servers:
  names:
    a1:
      address: smtp:[127.0.0.1]:${SINK_PORT[1]}
    a2:
      address: smtp:[127.0.0.1]:${SINK_PORT[2]}
    b1:
      address: smtp:[127.0.0.1]:${SINK_PORT[3]}
    b2:
      address: smtp:[127.0.0.1]:${SINK_PORT[4]}
    wrong:
      address: smtp:[127.0.0.1]:${SINK_PORT[5]}
  A: [a1, a2]
  B: [b1, b2]
sender_rules:
  mx.alpha.test: A
  mx.beta.test: B
  default: wrong
EOF
router_start "$CONF" --cache-ttl 0
port_alloc PORT_REC
port_alloc PORT_PLAIN
MAP="transport_maps = tcp:[127.0.0.1]:$ROUTER_PORT"
# deferred mail waits for the flush instead of being retried every few seconds
SLOW_RETRY=("queue_run_delay = 300s" "minimal_backoff_time = 300s" "maximal_backoff_time = 300s")
pf_create rec "$PORT_REC" recommended "$MAP" "${SLOW_RETRY[@]}"
pf_create plain "$PORT_PLAIN" plain "$MAP"
pf_start rec
pf_start plain


# bounced_count NAME: status=bounced lines in the instance's log
bounced_count() { grep -c 'status=bounced' "$(pf_log "$1")"; }

# deferrals LABEL: deferral log lines for the recipients of this outage
deferrals() {
    grep 'status=deferred' "$(pf_log rec)" | grep -c "to=<[0-9]*$1-"
}

# outage LABEL refused|gone N: N messages per domain by sendmail and N per domain over
# SMTP to the recommended instance, one SMTP transaction to the plain instance
outage() {
    local label=$1 how=$2 n=$3 t0=$SECONDS
    local want=$((4 * n)) c ok
    sinks_clear
    if [ "$how" = refused ]; then dns_refusing; else dns_stop; fi

    # plain setup: smtpd asks at RCPT time and must answer 4xx. The sender is an
    # address literal, which needs no DNS, so that the answer to RCPT is what counts.
    # In the background: with DNS gone each answer waits for the router's time-out.
    (
        smtp_session "$label-plain-down" "$PORT_PLAIN" 'sender@[127.0.0.1]' \
            "$label-one@alpha.test" "$label-two@beta.test"
        declare -p SMTP_MAIL SMTP_RCPT SMTP_DATA >"$E2E_TMP/$label-plain-down.vars"
    ) &
    local plain_pid=$!

    # recommended setup: smtpd accepts (it does not ask), sendmail queues; all of it
    # must wait deferred
    send_sendmail rec "$n" "$label-sm" alpha.test
    send_sendmail rec "$n" "$label-sm" beta.test
    send_smtp "$label-alpha" "$PORT_REC" "$n" 1 "$label-smtp@alpha.test"
    send_smtp "$label-beta" "$PORT_REC" "$n" 1 "$label-smtp@beta.test"
    wait $plain_pid
    . "$E2E_TMP/$label-plain-down.vars"
    ok=1
    for c in "${SMTP_RCPT[@]}"; do [ "${c:0:1}" = 4 ] || ok=0; done
    check "$label: plain setup: SMTP recipients get a temporary 4xx" \
        "MAIL $SMTP_MAIL, RCPT ${SMTP_RCPT[*]}, DATA ${SMTP_DATA:-none}; see $E2E_TMP/$label-plain-down.smtp.log" \
        '[ $ok = 1 ] && [ -z "$SMTP_DATA" ]'
    info "$label: plain setup: MAIL $SMTP_MAIL, RCPT ${SMTP_RCPT[*]}: $(grep -m1 '^<<< 4' "$E2E_TMP/$label-plain-down.smtp.log" | cut -c5-)"
    if [ "$label" = refused ]; then
        # Postfix's smtpd caches resolver answers per process, failures too: the same
        # recipients keep their 451 from that process for a while, DNS or not.
        # Worth knowing, not the router's doing; later checks use fresh recipients.
        SAME_RCPTS=("$label-one@alpha.test" "$label-two@beta.test")
    fi

    local i
    for i in $(seq 900); do
        [ "$(pf_queue_count rec deferred)" -ge $want ] && break
        sleep 0.1
    done
    check "$label: recommended setup: all $want messages (sendmail and SMTP) wait deferred" \
        "deferred $(pf_queue_count rec deferred), in the queue $(pf_queue_count rec)" \
        '[ "$(pf_queue_count rec deferred)" = $want ] && [ "$(pf_queue_count rec)" = $want ]'
    info "$label: all deferred after $((SECONDS - t0)) s"
    if [ "$how" = refused ]; then
        # a retry while DNS is still out (postqueue -f) defers them all again
        pf_flush rec
        for i in $(seq 300); do
            [ "$(deferrals "$label")" -ge $((2 * want)) ] &&
                [ "$(pf_queue_count rec deferred)" -ge $want ] && break
            sleep 0.1
        done
        check "$label: a retry during the outage defers them all again" \
            "$(deferrals "$label") deferrals, deferred $(pf_queue_count rec deferred) of $want" \
            '[ "$(deferrals "$label")" = $((2 * want)) ] && [ "$(pf_queue_count rec deferred)" = $want ]'
    fi
    check "$label: nothing delivered" "sinks hold $(sinks_total)" '[ "$(sinks_total)" = 0 ]'
    check "$label: nothing bounced" "rec $(bounced_count rec), plain $(bounced_count plain)" \
        '[ "$(bounced_count rec)" = 0 ] && [ "$(bounced_count plain)" = 0 ]'
    check "$label: plain setup: nothing queued" "$(pf_queue_count plain) in the queue" \
        '[ "$(pf_queue_count plain)" = 0 ]'
    info "$label: deferral reason: $(grep 'status=deferred' "$(pf_log rec)" | tail -1 | sed 's/.*status=deferred //')"

    # DNS back. qmgr's resolve client remembers its last answer for up to 30 s, a
    # failure too: a flush right now would defer that one message again (for the
    # 300 s backoff here). One new message first, which also shows that new mail
    # flows again, then the flush.
    dns_stop
    dns_start
    send_sendmail rec 1 "$label-new" alpha.test
    pf_wait_sinks 1 30
    check "$label: DNS back: new mail is delivered" "sinks hold $(sinks_total)" \
        '[ "$(sinks_total)" = 1 ] && [ "$(sink_rcpts 1; sink_rcpts 2)" = "$label-new1@alpha.test" ]'
    want=$((want + 1))
    pf_flush rec
    if [ "$label" = refused ]; then
        smtp_session "$label-plain-same" "$PORT_PLAIN" 'sender@[127.0.0.1]' "${SAME_RCPTS[@]}"
        info "$label: DNS back, plain setup: the same recipients again, same smtpd process: RCPT ${SMTP_RCPT[*]}"
        [ "$SMTP_DATA" = 250 ] && want=$((want + 2))
    fi
    smtp_session "$label-plain-up" "$PORT_PLAIN" 'sender@[127.0.0.1]' \
        "$label-three@alpha.test" "$label-four@beta.test"
    check "$label: DNS back, plain setup: recipients are accepted" \
        "MAIL $SMTP_MAIL, RCPT ${SMTP_RCPT[*]}, DATA ${SMTP_DATA:-none}; see $E2E_TMP/$label-plain-up.smtp.log" \
        '[ "${SMTP_RCPT[*]}" = "250 250" ] && [ "$SMTP_DATA" = 250 ]'
    want=$((want + 2))
    pf_wait_sinks $want 30
    check "$label: DNS back: everything delivered after postqueue -f" \
        "sinks hold $(sinks_total) of $want; rec queue $(pf_queue_count rec), plain queue $(pf_queue_count plain)" \
        'pf_wait_drain rec 10 && pf_wait_drain plain 10 && [ "$(sinks_total)" = $want ]'
    check "$label: DNS back: nothing through the default relay" "$(sink_count 5) messages" \
        '[ "$(sink_count 5)" = 0 ]'
    expect_domain_only "$label: DNS back: group A sinks got only alpha.test" alpha.test 1 2
    expect_domain_only "$label: DNS back: group B sinks got only beta.test" beta.test 3 4
    local a=$(($(sink_count 1) + $(sink_count 2))) b=$(($(sink_count 3) + $(sink_count 4)))
    check "$label: DNS back: $((want / 2 + 1)) to group A, $((want / 2)) to group B" "A $a, B $b" \
        '[ $a = $((want / 2 + 1)) ] && [ $b = $((want / 2)) ]'
    check "$label: DNS back: nothing bounced" "rec $(bounced_count rec), plain $(bounced_count plain)" \
        '[ "$(bounced_count rec)" = 0 ] && [ "$(bounced_count plain)" = 0 ]'
    echo "# $label: $((SECONDS - t0)) s"
}

# the routes work before the outage (and the harness counts right)
send_sendmail rec 4 before alpha.test
send_sendmail rec 4 before beta.test
pf_wait_sinks 8 30
check "DNS up: 8 messages delivered" "sinks hold $(sinks_total)" '[ "$(sinks_total)" = 8 ]'

outage refused refused 8
outage gone gone "${N_GONE:-1}"

pf_stop rec
pf_stop plain
router_stop || fail "router exit status" "non-zero after SIGTERM"
e2e_finish
