#!/usr/bin/env bash
# The status page in a real browser: Debian's chromium-headless-shell loads GET / of a
# running router after some lookups (DNS: dnsmasq on loopback) and dumps the DOM it built.
#
#   - every group (All Servers, good, a group whose name holds < & >) and every relay
#     (one named edge&<co>) is there, as the browser reads it: names escaped right
#   - the decisions per relay are the counts the weights give exactly (10 picks of a
#     2/2/1 group, 3 picks of a 1/2 group) and equal the stats table's
#   - target and current share, lookups by code, the config file
#   - a screenshot is taken (a PNG); with STATUS_SCREENSHOT=FILE it is also kept there
#     (docs/status.png is made so)
#   - /status.json gives the same decisions
. "$(dirname "$0")/lib.sh"
e2e_init status-page postmap dnsmasq chromium-headless-shell python3 curl

dns_start --local=/test/ --local=/example.com/ --local=/outlook.com/ \
    --mx-host=customer.test,customer-test.mail.protection.outlook.com,10 \
    --mx-host=example.com,mail.example.com,10

CONF=$E2E_TMP/status.yaml
cat >"$CONF" <<'YAML'
servers:
  names:
    mx1:
      address: relay:[mx1.example.com]:25
      perc: 2
    mx2:
      address: relay:[mx2.example.com]:25
      perc: 2
    mx3:
      address: relay:[mx3.example.com]:25
      perc: 1
    edge&<co>:
      address: smtp:[192.0.2.4]:587
      perc: 2
  good: [mx1, mx2, mx3]
  "bad <&> group": [mx3, edge&<co>]
sender_rules:
  default: NO RESULT
  john@example.com: bad <&> group
  vip@example.com: edge&<co>
  protection.outlook.com: good
YAML

port_alloc METRICS_PORT
router_start "$CONF" --metrics "127.0.0.1:$METRICS_PORT"
wait_tcp "$METRICS_PORT" 10 || die "metrics listener" "not listening on $METRICS_PORT"

# 10 lookups for good, 3 for the odd group, 1 rule naming a relay, 2 not found: one connection
keys=$E2E_TMP/keys
{
    for i in $(seq 1 10); do echo "user$i@customer.test"; done
    for i in 1 2 3; do echo "john@example.com"; done
    echo "vip@example.com"
    echo "nobody@example.com"
    echo "someone@unknown.test"
} >"$keys"
postmap -q - "tcp:127.0.0.1:$ROUTER_PORT" <"$keys" >"$E2E_TMP/answers" 2>"$E2E_TMP/answers.err"
check "lookups answered" "$(wc -l <"$E2E_TMP/answers") answers: $(head -c 300 "$E2E_TMP/answers.err")" \
    '[ "$(wc -l <"$E2E_TMP/answers")" = 14 ]'

URL="http://127.0.0.1:$METRICS_PORT/"
# chromium_run ARG...: the browser on the page, its own profile, its chatter kept aside
chromium_run() {
    timeout 60 chromium-headless-shell --headless --no-sandbox --disable-gpu \
        --user-data-dir="$E2E_TMP/chromium" "$@" 2>>"$E2E_TMP/chromium.err"
}
chromium_run --dump-dom "$URL" >"$E2E_TMP/dom.html"
check "the browser loads the page" "$(tail -3 "$E2E_TMP/chromium.err" | tr '\n' ' ')" \
    '[ -s "$E2E_TMP/dom.html" ] && grep -q "</html>" "$E2E_TMP/dom.html"'

# The DOM as the browser built it, read with Python's HTML parser: one line per relay row,
# "row|GROUP|NAME|ADDRESS|WEIGHT|TARGET|CURRENT|DECISIONS", and "id|ID|VALUE" per figure.
python3 - "$E2E_TMP/dom.html" >"$E2E_TMP/dom.txt" <<'PY'
import sys
from html.parser import HTMLParser

class Reader(HTMLParser):
    def __init__(self):
        super().__init__()
        self.group = None; self.row = None; self.cell = None; self.text = ""; self.out = []; self.id = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs); cls = (a.get("class") or "").split()
        if tag == "section" and "group" in cls: self.group = a["data-group"]
        elif tag == "tr" and "relay" in cls: self.row = {"_name": a["data-relay"]}
        elif tag == "td" and self.row is not None: self.cell = cls[0]; self.text = ""
        elif tag == "td" and a.get("id"): self.id = a["id"]; self.text = ""
    def handle_data(self, data):
        if self.cell or self.id: self.text += data
    def handle_endtag(self, tag):
        if tag == "td" and self.cell: self.row[self.cell] = self.text; self.cell = None
        elif tag == "td" and self.id: self.out.append("id|" + self.id + "|" + self.text); self.id = None
        elif tag == "tr" and self.row is not None:
            r = self.row
            assert r["_name"] == r["name"], r
            self.out.append("|".join(["row", self.group, r["name"], r["address"], r["weight"], r["target"], r["current"], r["decisions"]]))
            self.row = None

p = Reader(); p.feed(open(sys.argv[1], encoding="utf-8").read())
print("\n".join(p.out))
PY
check "the DOM reads" "python3 failed" '[ -s "$E2E_TMP/dom.txt" ]'

expect_row() {
    check "$1" "$(grep -F -- "${1%|*}|" "$E2E_TMP/dom.txt" | head -5 | tr '\n' ' ')" grep -qxF -- "$1" "$E2E_TMP/dom.txt"
}
expect_row 'row|All Servers|mx1|relay:[mx1.example.com]:25|2|28.6%|0.0%|0'
expect_row 'row|All Servers|mx2|relay:[mx2.example.com]:25|2|28.6%|0.0%|0'
expect_row 'row|All Servers|mx3|relay:[mx3.example.com]:25|1|14.3%|0.0%|0'
expect_row 'row|All Servers|edge&<co>|smtp:[192.0.2.4]:587|2|28.6%|100.0%|1'
expect_row 'row|good|mx1|relay:[mx1.example.com]:25|2|40.0%|40.0%|4'
expect_row 'row|good|mx2|relay:[mx2.example.com]:25|2|40.0%|40.0%|4'
expect_row 'row|good|mx3|relay:[mx3.example.com]:25|1|20.0%|20.0%|2'
expect_row 'row|bad <&> group|mx3|relay:[mx3.example.com]:25|1|33.3%|33.3%|1'
expect_row 'row|bad <&> group|edge&<co>|smtp:[192.0.2.4]:587|2|66.7%|66.7%|2'
check "nine relay rows in three groups" "$(grep -c '^row|' "$E2E_TMP/dom.txt") rows" \
    '[ "$(grep -c "^row|" "$E2E_TMP/dom.txt")" = 9 ] && [ "$(grep "^row|" "$E2E_TMP/dom.txt" | cut -d"|" -f2 | uniq | wc -l)" = 3 ]'
expect_row 'id|lookups-200|14'
expect_row 'id|lookups-500|2'
expect_row 'id|lookups-400|0'
expect_row "id|config-file|$CONF"
expect_row 'id|health-checks|off'

# /status.json: the same decisions
curl -s --max-time 10 "${URL}status.json" >"$E2E_TMP/status.json"
json_rows=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
for g in s["groups"]:
    for r in g["relays"]: print(g["name"] + "|" + r["name"] + "|" + str(r["decisions"]))' "$E2E_TMP/status.json")
dom_rows=$(grep '^row|' "$E2E_TMP/dom.txt" | awk -F'|' '{print $2 "|" $3 "|" $8}')
check "status.json has the page's decisions" "$json_rows" '[ "$json_rows" = "$dom_rows" ]'

# The stats table (printed on SIGUSR1) counts the same
kill -USR1 "$ROUTER_PID"
for _ in $(seq 1 50); do grep -q "^Group bad <&> group" "$ROUTER_OUT" && break; sleep 0.1; done
table=$(awk '/^(All Servers|Group )/ { g = $0; sub(/^Group /, "", g) }
             /^    / { print g "|" $1 "|" $2 }' "$ROUTER_OUT")
check "the stats table counts the same" "$table" '[ "$table" = "$dom_rows" ]'

chromium_run --screenshot="$E2E_TMP/status.png" --window-size=1100,900 --hide-scrollbars "$URL" >/dev/null
check "a screenshot" "$(tail -3 "$E2E_TMP/chromium.err" | tr '\n' ' ')" \
    '[ "$(head -c 8 "$E2E_TMP/status.png" | od -An -tx1 | tr -d " \n")" = 89504e470d0a1a0a ]'
if [ -n "${STATUS_SCREENSHOT:-}" ]; then cp "$E2E_TMP/status.png" "$STATUS_SCREENSHOT"; fi

router_stop || fail "router exit status" "non-zero after SIGTERM"

e2e_finish
