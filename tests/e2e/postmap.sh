#!/usr/bin/env bash
# Postfix's own tcp_table client (postmap -q) against the built router, with
# the example config unchanged except for `default: NO RESULT`, put first in
# one run and last in another (it may stand anywhere), plus a run without a default
# (all servers is the fallback).
#
# DNS: dnsmasq on loopback. example.com has no MX records at all (its rules apply to
# the address), customer.test's MX is a *.mail.protection.outlook.com host (the
# protection.outlook.com rule matches the host), unmatched.test has an MX that no rule
# names, nomx.test does not exist.
. "$(dirname "$0")/lib.sh"
e2e_init postmap postmap dnsmasq

dns_start --local=/test/ --local=/example.com/ --local=/outlook.com/ \
    --mx-host=customer.test,customer-test.mail.protection.outlook.com,10 \
    --mx-host=unmatched.test,mx.unmatched.test,10

MX1='relay:[mx1.example.com]:25'
MX2='relay:[mx2.example.com]:25'
MX3='relay:[mx3.example.com]:25'
MX4='smtp:[192.0.2.4]:587'

# write_config FILE first|last|none: the example config, `default: NO RESULT` placed
write_config() {
    {
        cat <<'EOF'
servers:
  names:                     # every relay, in file order; the key is its name
    mx1:
      address: relay:[mx1.example.com]:25
      perc: 40               # weight 0..100, default 100; 0 = never chosen
    mx2:
      address: relay:[mx2.example.com]:25
      perc: 40
    mx3:
      address: relay:[mx3.example.com]:25
      perc: 20
    mx4:
      address: smtp:[192.0.2.4]:587
  good: [mx1, mx2, mx3]      # every other key under `servers` is a group
  bad: [mx3, mx4]
sender_rules:                # ordered: the first rule that matches wins
EOF
        [ "$2" = first ] && echo "  default: NO RESULT"
        cat <<'EOF'
  john@example.com: bad
  vip@example.com: mx4       # a server name targets that relay directly
  protection.outlook.com: good
  example.com: good          # after the addresses it contains, or it shadows them
EOF
        [ "$2" = last ] && echo "  default: NO RESULT"
    } >"$1"
}

# pq KEY: postmap -q KEY against the router; sets PQ_OUT and PQ_RC
pq() {
    PQ_OUT=$(postmap -q "$1" "tcp:127.0.0.1:$ROUTER_PORT" 2>"$E2E_TMP/postmap.err")
    PQ_RC=$?
}

# expect_relay NAME KEY RELAY...: found (exit 0), and the answer is one of RELAYs
expect_relay() {
    local name=$1 key=$2; shift 2
    pq "$key"
    local r
    if [ "$PQ_RC" = 0 ]; then
        for r in "$@"; do
            [ "$PQ_OUT" = "$r" ] && { pass "$name"; return 0; }
        done
    fi
    fail "$name" "postmap -q '$key' exit $PQ_RC, printed '$PQ_OUT' $(head -c 200 "$E2E_TMP/postmap.err"), want one of: $*"
}

# expect_not_found NAME KEY: exit 1, nothing printed, no error (postmap exits 1 after a
# lookup error too, with "fatal: ... query error" on standard error)
expect_not_found() {
    pq "$2"
    local ok=0
    [ "$PQ_RC" = 1 ] && [ -z "$PQ_OUT" ] && [ ! -s "$E2E_TMP/postmap.err" ] && ok=1
    check "$1" "postmap -q '$2' exit $PQ_RC, printed '$PQ_OUT' $(head -c 200 "$E2E_TMP/postmap.err")" \
        [ $ok = 1 ]
}

# expect_counts NAME KEYFILE RELAY=COUNT...: one postmap -q - run (one connection, one
# lookup per line); each relay answered exactly COUNT times, nothing else answered
expect_counts() {
    local name=$1 keys=$2; shift 2
    local got want detail="" ok=1 pair relay n lines
    got=$(postmap -q - "tcp:127.0.0.1:$ROUTER_PORT" <"$keys" | cut -f2 | sort | uniq -c)
    lines=$(wc -l <"$keys")
    n=0
    for pair in "$@"; do
        relay=${pair%=*} want=${pair##*=}
        local c
        c=$(awk -v r="$relay" '$2 == r { print $1 }' <<<"$got")
        c=${c:-0}
        n=$((n + c))
        [ "$c" = "$want" ] || ok=0
        detail+="$relay=$c/$want "
    done
    local all
    all=$(awk '{ s += $1 } END { print s + 0 }' <<<"$got")
    [ "$all" = "$lines" ] && [ "$n" = "$lines" ] || ok=0
    if [ $ok = 1 ]; then pass "$name"; else fail "$name" "got/want ${detail}answered $all of $lines"; fi
}

keys() { # keys FILE COUNT FORMAT: FORMAT with %d replaced by 1..COUNT
    local i
    for i in $(seq "$2"); do printf "$3\n" "$i"; done >"$1"
}
keys "$E2E_TMP/bad.keys" 120 '%djohn@example.com'      # contains john@example.com
keys "$E2E_TMP/good.keys" 100 'user%d@example.com'
keys "$E2E_TMP/all.keys" 200 'user%d@unmatched.test'

for where in first last; do
    conf=$E2E_TMP/example-$where.yaml
    write_config "$conf" "$where"
    router_start "$conf"
    v="default $where"
    # fresh round-robin state: over W = sum of weights picks, each relay exactly its weight
    expect_counts "$v: bad group 20/100 over 120 lookups" "$E2E_TMP/bad.keys" "$MX3=20" "$MX4=100"
    expect_counts "$v: good group 40/40/20 over 100 lookups" "$E2E_TMP/good.keys" \
        "$MX1=40" "$MX2=40" "$MX3=20"
    expect_relay "$v: server target vip@example.com" vip@example.com "$MX4"
    expect_relay "$v: key is lower-cased" VIP@Example.COM "$MX4"
    expect_relay "$v: address rule john@example.com -> bad" john@example.com "$MX3" "$MX4"
    expect_relay "$v: domain rule without MX records -> good" someone@example.com "$MX1" "$MX2" "$MX3"
    expect_relay "$v: subdomain matches example.com -> good" a@sub.example.com "$MX1" "$MX2" "$MX3"
    expect_relay "$v: MX host rule protection.outlook.com -> good" \
        user@customer.test "$MX1" "$MX2" "$MX3"
    expect_relay "$v: %-encoded key (space) is decoded" '"john doe"@example.com' "$MX1" "$MX2" "$MX3"
    expect_relay "$v: %-encoded key (UTF-8) is decoded" 'jöhn@example.com' "$MX1" "$MX2" "$MX3"
    expect_not_found "$v: no rule matches (MX, default NO RESULT)" user@unmatched.test
    expect_not_found "$v: no rule matches (NXDOMAIN, default NO RESULT)" user@nomx.test
    expect_not_found "$v: wildcard '*' finds nothing" '*'
    router_stop || fail "$v: router exit status" "non-zero after SIGTERM"
done

conf=$E2E_TMP/example-none.yaml
write_config "$conf" none
router_start "$conf"
expect_counts "no default: all servers 40/40/20/100 over 200 lookups" "$E2E_TMP/all.keys" \
    "$MX1=40" "$MX2=40" "$MX3=20" "$MX4=100"
expect_relay "no default: NXDOMAIN domain -> all servers" user@nomx.test "$MX1" "$MX2" "$MX3" "$MX4"
expect_not_found "no default: wildcard '*' finds nothing" '*'

# DNS taken away: customer.test's route depends on its MX host, so the router must
# answer 400 (temporary failure), which postmap reports as a query error on standard
# error (exit status 1, like not found, but with the error), never as found or as not
# found. --cache-ttl 0 so that the answer cannot come from the router's cache.
router_stop
router_start "$conf" --cache-ttl 0
expect_relay "DNS up, no cache: MX host rule still works" user@customer.test "$MX1" "$MX2" "$MX3"
dns_stop
t0=$SECONDS
pq user@customer.test
ok=0
[ "$PQ_RC" != 0 ] && [ -z "$PQ_OUT" ] && grep -q 'query error' "$E2E_TMP/postmap.err" && ok=1
check "DNS down: lookup fails temporarily (400), not found and not not-found" \
    "postmap exit $PQ_RC, printed '$PQ_OUT' $(head -c 200 "$E2E_TMP/postmap.err")" [ $ok = 1 ]
info "DNS down: postmap gave up after $((SECONDS - t0)) s: $(head -c 200 "$E2E_TMP/postmap.err" | tr '\n' ' ')"
router_stop || fail "router exit status" "non-zero after SIGTERM"

e2e_finish
