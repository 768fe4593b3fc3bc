#!/usr/bin/env bash
# Postfix's own socketmap client (postmap -q against socketmap:inet:HOST:PORT:NAME)
# gives the same answers as its tcp_table client against the tcp_table port, for the same
# keys, with the example config (`default: NO RESULT` first).
#
#   - one key at a time: found keys give the same relay (or one of the group's), not-found
#     keys (NO RESULT, NXDOMAIN, '*') exit 1 with nothing printed and no error
#   - a batch of keys over one connection each (postmap -q -): two routers with fresh
#     round-robin state, one asked over tcp_table, one over socketmap, print exactly the
#     same lines
#   - both listeners of one router share one round-robin position: lookups alternating
#     between the two protocols follow the group's sequence pick for pick
#   - the map name: another name is a permanent error; --socketmap-name changes it
#   - DNS down (no cache): a temporary error, as with tcp_table
#
# DNS: dnsmasq on loopback, the same data as postmap.sh.
. "$(dirname "$0")/lib.sh"
e2e_init socketmap postmap dnsmasq

dns_start --local=/test/ --local=/example.com/ --local=/outlook.com/ \
    --mx-host=customer.test,customer-test.mail.protection.outlook.com,10 \
    --mx-host=unmatched.test,mx.unmatched.test,10

MX1='relay:[mx1.example.com]:25'
MX2='relay:[mx2.example.com]:25'
MX3='relay:[mx3.example.com]:25'
MX4='smtp:[192.0.2.4]:587'

CONF=$E2E_TMP/example.yaml
cat >"$CONF" <<'EOF'
servers:
  names:
    mx1:
      address: relay:[mx1.example.com]:25
      perc: 40
    mx2:
      address: relay:[mx2.example.com]:25
      perc: 40
    mx3:
      address: relay:[mx3.example.com]:25
      perc: 20
    mx4:
      address: smtp:[192.0.2.4]:587
  good: [mx1, mx2, mx3]
  bad: [mx3, mx4]
sender_rules:
  default: NO RESULT
  john@example.com: bad
  vip@example.com: mx4
  protection.outlook.com: good
  example.com: good
EOF

# start_both [ARG...]: a router with a socketmap listener; sets TCP_PORT and SM_PORT
start_both() {
    port_alloc SM_PORT
    router_start "$CONF" --socketmap-port "$SM_PORT" "$@"
    TCP_PORT=$ROUTER_PORT
    wait_tcp "$SM_PORT" 10 || die "router start" "socketmap not listening on $SM_PORT"
}

# q MAP KEY: postmap -q KEY MAP; sets Q_OUT, Q_RC, Q_ERR (standard error, one line)
q() {
    Q_OUT=$(postmap -q "$2" "$1" 2>"$E2E_TMP/q.err")
    Q_RC=$?
    Q_ERR=$(head -c 300 "$E2E_TMP/q.err" | tr '\n' ' ')
}
sm() { echo "socketmap:inet:127.0.0.1:$SM_PORT:${1:-transport}"; }
tcp() { echo "tcp:127.0.0.1:$TCP_PORT"; }

# same NAME KEY RELAY...: both protocols find KEY, each answer one of RELAYs
same() {
    local name=$1 key=$2; shift 2
    local a b arc brc r oka=0 okb=0
    q "$(tcp)" "$key"; a=$Q_OUT arc=$Q_RC
    q "$(sm)" "$key"; b=$Q_OUT brc=$Q_RC
    for r in "$@"; do
        [ "$arc" = 0 ] && [ "$a" = "$r" ] && oka=1
        [ "$brc" = 0 ] && [ "$b" = "$r" ] && okb=1
    done
    check "$name" "tcp_table exit $arc '$a', socketmap exit $brc '$b' $Q_ERR; want one of: $*" \
        '[ $oka = 1 ] && [ $okb = 1 ]'
}

# neither NAME KEY: both protocols: exit 1, nothing printed, no error
neither() {
    local name=$1 key=$2 detail="" ok=1 map
    for map in "$(tcp)" "$(sm)"; do
        q "$map" "$key"
        if [ "$Q_RC" != 1 ] || [ -n "$Q_OUT" ] || [ -s "$E2E_TMP/q.err" ]; then
            ok=0
            detail+="$map: exit $Q_RC '$Q_OUT' $Q_ERR; "
        fi
    done
    check "$name" "$detail" [ $ok = 1 ]
}

start_both
same "vip@example.com: mx4 over both" vip@example.com "$MX4"
same "VIP@Example.COM: lower-cased by the router over both" VIP@Example.COM "$MX4"
same "john@example.com: bad group over both" john@example.com "$MX3" "$MX4"
same "someone@example.com: good group over both" someone@example.com "$MX1" "$MX2" "$MX3"
same "MX host rule: good group over both" user@customer.test "$MX1" "$MX2" "$MX3"
same "a space in the key (raw on socketmap, %20 on tcp)" '"john doe"@example.com' "$MX1" "$MX2" "$MX3"
same "UTF-8 in the key" 'jöhn@example.com' "$MX1" "$MX2" "$MX3"
same "a percent sign in the key" 'a%41@example.com' "$MX1" "$MX2" "$MX3"
neither "no rule matches (default NO RESULT): not found over both" user@unmatched.test
neither "NXDOMAIN (default NO RESULT): not found over both" user@nomx.test
neither "wildcard '*' finds nothing over both" '*'

# The map name: Postfix reports a PERM reply as a permanent server error and a query error.
q "$(sm relay)" vip@example.com
check "another map name is a permanent error" "exit $Q_RC '$Q_OUT' $Q_ERR" \
    '[ "$Q_RC" != 0 ] && [ -z "$Q_OUT" ] && grep -q "permanent error" "$E2E_TMP/q.err" && grep -q "unknown map name" "$E2E_TMP/q.err"'

# Shared round robin: john@example.com goes to bad (mx3 20, mx4 100), whose sequence the
# lookups must follow pick for pick although they alternate between the two listeners.
# (One position per listener would give every pick twice.)
router_stop || fail "router exit status" "non-zero after SIGTERM"
start_both
ref=$(for i in $(seq 24); do echo "$i.john@example.com"; done | postmap -q - "$(tcp)" | cut -f2 | tr '\n' ' ')
router_stop
start_both
alt=""
for i in $(seq 24); do
    if [ $((i % 2)) = 1 ]; then q "$(tcp)" "$i.john@example.com"; else q "$(sm)" "$i.john@example.com"; fi
    alt+="$Q_OUT "
done
check "both listeners share one round-robin position (24 alternating lookups)" \
    "alternating: $alt; sequence: $ref" '[ -n "$ref" ] && [ "$alt" = "$ref" ]'
check "the sequence has 4 of mx3 and 20 of mx4" "$ref" \
    '[ "$(grep -o "mx3" <<<"$ref" | wc -l)" = 4 ] && [ "$(grep -o "192.0.2.4" <<<"$ref" | wc -l)" = 20 ]'
router_stop || fail "router exit status" "non-zero after SIGTERM"

# Batches over one connection: two fresh routers, one per protocol, the same keys in the
# same order, the same output line for line.
keys=$E2E_TMP/batch.keys
{
    for i in $(seq 30); do
        echo "$i.john@example.com"
        echo "user$i@example.com"
        echo "user$i@customer.test"
        echo "user$i@unmatched.test"
        echo "vip@example.com"
        echo '*'
    done
} >"$keys"
start_both
postmap -q - "$(tcp)" <"$keys" >"$E2E_TMP/batch.tcp" 2>"$E2E_TMP/batch.tcp.err"
router_stop
start_both
postmap -q - "$(sm)" <"$keys" >"$E2E_TMP/batch.sm" 2>"$E2E_TMP/batch.sm.err"
n=$(wc -l <"$E2E_TMP/batch.sm")
check "a batch of 180 keys: socketmap prints what tcp_table prints, line for line ($n found)" \
    "$(diff "$E2E_TMP/batch.tcp" "$E2E_TMP/batch.sm" | head -5 | tr '\n' ' ') $(head -c 200 "$E2E_TMP/batch.sm.err")" \
    '[ "$n" = 120 ] && cmp -s "$E2E_TMP/batch.tcp" "$E2E_TMP/batch.sm" && [ ! -s "$E2E_TMP/batch.sm.err" ]'
router_stop || fail "router exit status" "non-zero after SIGTERM"

# --socketmap-name
start_both --socketmap-name relayhost
q "$(sm relayhost)" vip@example.com
check "--socketmap-name relayhost answers that name" "exit $Q_RC '$Q_OUT' $Q_ERR" '[ "$Q_RC" = 0 ] && [ "$Q_OUT" = "$MX4" ]'
q "$(sm transport)" vip@example.com
check "--socketmap-name relayhost: transport is unknown then" "exit $Q_RC '$Q_OUT' $Q_ERR" \
    '[ "$Q_RC" != 0 ] && grep -q "unknown map name" "$E2E_TMP/q.err"'
router_stop || fail "router exit status" "non-zero after SIGTERM"

# DNS taken away, no cache: a temporary error on both, never found or not found.
start_both --cache-ttl 0
same "DNS up, no cache: MX host rule works over both" user@customer.test "$MX1" "$MX2" "$MX3"
dns_stop
q "$(sm)" user@customer.test
check "DNS down: socketmap lookup fails temporarily (TEMP)" "exit $Q_RC '$Q_OUT' $Q_ERR" \
    '[ "$Q_RC" != 0 ] && [ -z "$Q_OUT" ] && grep -q "temporary error" "$E2E_TMP/q.err"'
q "$(tcp)" user@customer.test
check "DNS down: tcp_table lookup fails temporarily too" "exit $Q_RC '$Q_OUT' $Q_ERR" \
    '[ "$Q_RC" != 0 ] && [ -z "$Q_OUT" ] && grep -q "query error" "$E2E_TMP/q.err"'
router_stop || fail "router exit status" "non-zero after SIGTERM"

e2e_finish
