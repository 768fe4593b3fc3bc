#!/usr/bin/env bash
# A postfix-mx-pattern-router file (the upstream tool's example, three lines), served
# unchanged, asked through Postfix's own tcp_table client (postmap -q): each MX host in
# preference order against every pattern in file order, the first match answers its
# relay; the address itself is never matched; no match, no MX hosts, '*' and address
# literals are "not found". Then --recipient-delimiter with a YAML config.
#
# DNS: dnsmasq on loopback. customer.test's MX is under mail.protection.outlook.com,
# ms.test's under mx.microsoft, apple.test's under icloud.com; both.test has a
# protection.outlook.com host at preference 20 and an icloud.com one at 5; unmatched.test
# has an MX no pattern names; nomx.test and everything under outlook.com do not exist.
. "$(dirname "$0")/lib.sh"
e2e_init pattern-router postmap dnsmasq

dns_start --local=/test/ --local=/outlook.com/ --local=/example.com/ \
    --mx-host=customer.test,customer-test.mail.protection.outlook.com,10 \
    --mx-host=ms.test,ms-test.mx.microsoft,10 \
    --mx-host=apple.test,mx01.icloud.com,10 \
    --mx-host=both.test,both-test.mail.protection.outlook.com,20 \
    --mx-host=both.test,mx01.icloud.com,5 \
    --mx-host=unmatched.test,mx.unmatched.test,10

OFFICE='relay:[office365-relay.example.com]:587'
ICLOUD='relay:[icloud-relay.example.com]:587'

conf=$E2E_TMP/postfix-mx-pattern-router.conf
cat >"$conf" <<'EOF_CONF'
protection.outlook.com    relay:[office365-relay.example.com]:587
mx.microsoft              relay:[office365-relay.example.com]:587
icloud.com                relay:[icloud-relay.example.com]:587
EOF_CONF

# pq KEY: postmap -q KEY against the router; sets PQ_OUT and PQ_RC
pq() {
    PQ_OUT=$(postmap -q "$1" "tcp:127.0.0.1:$ROUTER_PORT" 2>"$E2E_TMP/postmap.err")
    PQ_RC=$?
}
# expect_relay NAME KEY RELAY: found (exit 0) with exactly RELAY
expect_relay() {
    local want=$3
    pq "$2"
    check "$1" "postmap -q '$2' exit $PQ_RC, printed '$PQ_OUT' $(head -c 200 "$E2E_TMP/postmap.err"), want $want" \
        '[ "$PQ_RC" = 0 ] && [ "$PQ_OUT" = "$want" ]'
}
# expect_not_found NAME KEY: exit 1, nothing printed, no error on standard error
expect_not_found() {
    pq "$2"
    check "$1" "postmap -q '$2' exit $PQ_RC, printed '$PQ_OUT' $(head -c 200 "$E2E_TMP/postmap.err")" \
        '[ "$PQ_RC" = 1 ] && [ -z "$PQ_OUT" ] && [ ! -s "$E2E_TMP/postmap.err" ]'
}

checked=$("$ROUTER_BIN" --check -c "$conf" 2>&1)
check "--check reads the upstream file and names its format" "$checked" \
    '[ "$(sed -n 2p <<<"$checked")" = "format: postfix-mx-pattern-router" ] && grep -qx "rules: 3" <<<"$checked"'

router_start "$conf"
expect_relay "MX host under protection.outlook.com -> office365 relay" user@customer.test "$OFFICE"
expect_relay "MX host under mx.microsoft -> office365 relay" user@ms.test "$OFFICE"
expect_relay "MX host under icloud.com -> icloud relay" User@Apple.Test "$ICLOUD"
expect_relay "hosts in preference order: icloud.com's host (5) before outlook's (20)" user@both.test "$ICLOUD"
expect_not_found "no pattern matches the MX host" user@unmatched.test
expect_not_found "no MX hosts (NXDOMAIN)" user@nomx.test
expect_not_found "the address itself is never matched" someone@protection.outlook.com
expect_not_found "wildcard '*'" '*'
expect_not_found "address literal" 'user@[192.0.2.1]'
router_stop || fail "pattern file: router exit status" "non-zero after SIGTERM"
check "the stats table on SIGTERM lists both relays" "$(tail -8 "$ROUTER_OUT" | tr '\n' '|')" \
    'grep -q "relay:\[office365-relay" "$ROUTER_OUT" && grep -q "relay:\[icloud-relay" "$ROUTER_OUT"'

# --recipient-delimiter: an address rule also matches the address with an extension.
yaml=$E2E_TMP/router.yaml
cat >"$yaml" <<'EOF_YAML'
servers:
  names:
    mx1:
      address: relay:[mx1.example.com]:25
    mx4:
      address: smtp:[192.0.2.4]:587
sender_rules:
  default: NO RESULT
  vip@example.com: mx4
  example.com: mx1
EOF_YAML
router_start "$yaml" --recipient-delimiter +-
expect_relay "delimiter +-: vip+news@example.com -> vip@example.com's rule" vip+news@example.com 'smtp:[192.0.2.4]:587'
expect_relay "delimiter +-: vip-news@example.com -> vip@example.com's rule" vip-news@example.com 'smtp:[192.0.2.4]:587'
expect_relay "delimiter +-: other+x@example.com -> the domain rule" other+x@example.com 'relay:[mx1.example.com]:25'
router_stop || fail "delimiter: router exit status" "non-zero after SIGTERM"
router_start "$yaml"
expect_relay "no delimiter: vip+news@example.com is another address" vip+news@example.com 'relay:[mx1.example.com]:25'
router_stop || fail "no delimiter: router exit status" "non-zero after SIGTERM"

e2e_finish
