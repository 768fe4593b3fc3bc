#!/usr/bin/env bash
# bench/scaling.sh: what a big config costs a lookup and a start (or reload).
#
# Run after ./build.sh, from anywhere:   bench/scaling.sh
# Needs gcc; dnsmasq for the MX rows (skipped without it).
#
# Lookups: the router serves configs of 10, 1000, 10 000 and 30 000 address rules and one
# connection of bench/loadgen.c asks `nobody@[192.0.2.1]` over and over: an address
# literal, so no DNS, and a key no rule matches, so it meets every rule (the default
# answers). The MX rows use 10 and 30 000 rules on MX host names and a key whose domain
# dnsmasq (on loopback) answers with two MX hosts that no rule matches, asked once before
# the load so it is cached. `--check`: the same configs, and 10 rules with 1000 and 3000
# relays in two groups (All Servers and a group of all of them: the schedules are the
# cost). Every figure is also given as a ratio to the 10-rule config's in the same run.
# The table goes to docs/BENCHMARKS.md between the scaling:begin/end markers (text
# outside them is kept).
#
# Environment:
#   ROUTER_BIN     router binary                      (default: out/postfix-mx-smart-router)
#   BEFORE_BIN     a second binary (an earlier build) measured the same way in the same
#                  run; the tables then show both     (default: none)
#   SCALE_SECONDS  length of one load run             (default: 3)
#   SCALE_REPEAT   load runs and --check runs per config, best kept (default: 3; a --check
#                  that took over 5 s is run once)
#   SCALE_OUT      report file                        (default: docs/BENCHMARKS.md; "-" = none)
#   SCALE_KEEP     1 = keep the temporary directory
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
root=$(cd "$here/.." && pwd)
after=${ROUTER_BIN:-$root/out/postfix-mx-smart-router}
before=${BEFORE_BIN:-}
step=${SCALE_SECONDS:-3}
repeat=${SCALE_REPEAT:-3}
report=${SCALE_OUT:-$root/docs/BENCHMARKS.md}

say() { printf '%s\n' "$*" >&2; }
die() { say "scaling.sh: $*"; exit 1; }

command -v gcc >/dev/null || die "gcc is needed to build bench/loadgen.c"
for b in "$after" ${before:+"$before"}; do
  [[ -x $b ]] || die "no router at $b: run ./build.sh first (or set ROUTER_BIN / BEFORE_BIN)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxscale.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ ${SCALE_KEEP:-0} == 1 ]]; then say "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -pthread -o "$tmp/loadgen" "$here/loadgen.c" || die "cannot build loadgen"

# config FILE RULES RELAYS KIND: KIND address (u00001@c00001.shop.test ...) or mx
# (.mail00001.provider.test ...); no pattern is part of another, so there is no warning.
# Relays r0.. with weights 1..100; groups: good (the first three), every (all relays).
config() {
  awk -v rules="$2" -v relays="$3" -v kind="$4" 'BEGIN {
    print "servers:"; print "  names:"
    for (i = 0; i < relays; i++)
      printf "    r%d: {address: \"relay:[r%d.example.com]:25\", perc: %d}\n", i, i, (i * 37) % 100 + 1
    printf "  good: [r0, r1, r2]\n  every: ["
    for (i = 0; i < relays; i++) printf "%sr%d", (i ? ", " : ""), i
    print "]"; print "sender_rules:"
    for (i = 0; i < rules; i++)
      if (kind == "mx") printf "  .mail%05d.provider.test: %s\n", i, (i % 2 ? "good" : "every")
      else printf "  u%05d@c%05d.shop.test: %s\n", i, i, (i % 2 ? "good" : "every")
    print "  default: good" }' >"$1"
}

configs=(a10 a1000 a10000 a30000 mx10 mx30000 r1000 r3000)
declare -A desc=([a10]="10 address rules, 3 relays" [a1000]="1 000 address rules" [a10000]="10 000 address rules"
  [a30000]="30 000 address rules" [mx10]="10 MX rules, 2 MX hosts" [mx30000]="30 000 MX rules, 2 MX hosts"
  [r1000]="10 rules, 1 000 relays" [r3000]="10 rules, 3 000 relays")
config "$tmp/a10.yaml" 10 3 address
config "$tmp/a1000.yaml" 1000 3 address
config "$tmp/a10000.yaml" 10000 3 address
config "$tmp/a30000.yaml" 30000 3 address
config "$tmp/mx10.yaml" 10 3 mx
config "$tmp/mx30000.yaml" 30000 3 mx
config "$tmp/r1000.yaml" 10 1000 address
config "$tmp/r3000.yaml" 10 3000 address
for ((i = 0; i < 100; i++)); do echo 'nobody@[192.0.2.1]'; done >"$tmp/literal.keys"
for ((i = 0; i < 100; i++)); do echo 'user@mx.scale.test'; done >"$tmp/mx.keys"

dns_port=""
if command -v dnsmasq >/dev/null; then
  free_port dns_port
  dnsmasq --no-daemon --port="$dns_port" --listen-address=127.0.0.1 --bind-interfaces \
    --no-resolv --no-hosts --pid-file= --local-ttl=3600 \
    --mx-host=mx.scale.test,mx1.nomatch.test,10 --mx-host=mx.scale.test,mx2.nomatch.test,20 \
    2>"$tmp/dnsmasq.err" &
  pids+=($!)
  for ((i = 0; i < 100; i++)); do
    grep -qi ":$(printf '%04X' "$dns_port") " /proc/net/udp && break
    sleep 0.05
  done
else
  say "no dnsmasq: the MX rows are left out"
fi

declare -A rps p50 p99 rss check
now_ms() { date +%s%3N; }

# lookups LABEL BIN CONFIG: start BIN on CONFIG, warm up, best of $repeat load runs.
lookups() {
  local label=$1 bin=$2 c=$3 port keys=$tmp/literal.keys dns=127.0.0.1:9 pid i line best=0 r
  if [[ $c == mx* ]]; then
    [[ -n $dns_port ]] || return 0
    keys=$tmp/mx.keys dns=127.0.0.1:$dns_port
  fi
  free_port port
  "$bin" -c "$tmp/$c.yaml" -p "$port" --dns-server "$dns" -q >"$tmp/$label-$c.out" 2>"$tmp/$label-$c.err" &
  pid=$!
  pids+=("$pid")
  # A start with many rules may take long (the point of the table): up to 300 s.
  for ((i = 0; i < 3000; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/$label-$c.err" >&2; die "$bin did not start on $c"; }
    sleep 0.1
  done
  line=$(ask "$port" "$(head -1 "$keys")")
  [[ $line == 200\ * ]] || die "$bin on $c answered '$line' to the warm-up"
  for ((i = 0; i < repeat; i++)); do
    line=$("$tmp/loadgen" 127.0.0.1 "$port" 1 "$step" "$keys")
    r=$(field "$line" rps)
    if awk -v a="$r" -v b="$best" 'BEGIN { exit !(a > b) }'; then
      best=$r
      rps[$label,$c]=$(awk -v r="$r" 'BEGIN { printf "%.0f", r }')
      p50[$label,$c]=$(field "$line" p50_us)
      p99[$label,$c]=$(field "$line" p99_us)
    fi
    [[ $(field "$line" ok200) -gt 0 && $(field "$line" errors) == 0 ]] || die "$bin on $c: $line"
  done
  rss[$label,$c]=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  say "  $label $c: ${rps[$label,$c]} lookups/s, p50 ${p50[$label,$c]} µs, p99 ${p99[$label,$c]} µs, ${rss[$label,$c]} MB"
}

# checks LABEL BIN CONFIG: the best of $repeat `--check` runs, in seconds.
checks() {
  local label=$1 bin=$2 c=$3 i t0 t best=""
  for ((i = 0; i < repeat; i++)); do
    t0=$(now_ms)
    "$bin" --check -c "$tmp/$c.yaml" >"$tmp/check.out" 2>&1 || { cat "$tmp/check.out" >&2; die "$bin --check failed on $c"; }
    t=$(($(now_ms) - t0))
    [[ -z $best || $t -lt $best ]] && best=$t
    ((t > 5000)) && break
  done
  check[$label,$c]=$(awk -v t="$best" 'BEGIN { printf "%.3f", t / 1000 }')
  say "  $label $c: --check ${check[$label,$c]} s"
}

labels=(after)
declare -A binary=([after]=$after)
if [[ -n $before ]]; then labels=(before after); binary[before]=$before; fi
busy_before=$(awk '{ print $1, $2, $3 }' /proc/loadavg)
for label in "${labels[@]}"; do
  say "measuring $label: ${binary[$label]}"
  for c in a10 a1000 a10000 a30000 mx10 mx30000; do lookups "$label" "${binary[$label]}" "$c"; done
  for c in "${configs[@]}"; do checks "$label" "${binary[$label]}" "$c"; done
done
busy_after=$(awk '{ print $1, $2, $3 }' /proc/loadavg)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else printf "–" }'; }
or_dash() { if [[ -n ${1:-} ]]; then printf '%s' "$1"; else printf '–'; fi; }
# The baseline of a row: the 10-rule config of its kind.
base_of() { if [[ $1 == mx* ]]; then echo mx10; else echo a10; fi; }

head_l="| Config |" sep_l="|---|"
head_c="| Config |" sep_c="|---|"
for label in "${labels[@]}"; do
  name=$label
  [[ ${#labels[@]} == 1 ]] && name=router
  head_l+=" $name lookups/s | × 10 rules | p50 µs | p99 µs | RSS MB |"
  sep_l+="---|---|---|---|---|"
  head_c+=" $name \`--check\` s | × 10 rules |"
  sep_c+="---|---|"
done
body=$(
  echo "## Cost against config size (bench/scaling.sh)"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- Machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r)"
  for label in "${labels[@]}"; do
    echo "- $label: \`${binary[$label]}\` ($("${binary[$label]}" --version 2>/dev/null | head -1)), $(stat -c %s "${binary[$label]}") bytes"
  done
  echo "- One connection, ${step} s per run, best of ${repeat}; load average $busy_before before, $busy_after after"
  echo "- Lookups of \`nobody@[192.0.2.1]\` (no DNS, no rule matches, \`default\` answers); MX rows:"
  echo "  \`user@mx.scale.test\`, two cached MX hosts that no rule matches. × 10 rules: the ratio"
  echo "  to the 10-rule row of the same kind in the same run."
  echo
  echo "$head_l"
  echo "$sep_l"
  for c in a10 a1000 a10000 a30000 mx10 mx30000; do
    row="| ${desc[$c]} |"
    for label in "${labels[@]}"; do
      row+=" $(or_dash "${rps[$label,$c]:-}") | $(ratio "${rps[$label,$c]:-}" "${rps[$label,$(base_of $c)]:-0}") |"
      row+=" $(or_dash "${p50[$label,$c]:-}") | $(or_dash "${p99[$label,$c]:-}") | $(or_dash "${rss[$label,$c]:-}") |"
    done
    echo "$row"
  done
  echo
  echo "$head_c"
  echo "$sep_c"
  for c in "${configs[@]}"; do
    row="| ${desc[$c]} |"
    for label in "${labels[@]}"; do
      row+=" ${check[$label,$c]} | $(ratio "${check[$label,$c]}" "${check[$label,$(base_of $c)]}") |"
    done
    echo "$row"
  done
)
printf '%s\n' "$body"

if [[ $report != - ]]; then
  begin='<!-- scaling:begin (written by bench/scaling.sh; edit outside these markers) -->'
  end='<!-- scaling:end -->'
  printf '%s\n%s\n%s\n' "$begin" "$body" "$end" >"$tmp/body.md"
  if [[ -f $report ]] && grep -q '^<!-- scaling:begin' "$report"; then
    awk -v bodyfile="$tmp/body.md" '
      /^<!-- scaling:begin/ { while ((getline line < bodyfile) > 0) print line; skip = 1; next }
      /^<!-- scaling:end/ { skip = 0; next }
      !skip' "$report" >"$tmp/report.md"
  else
    { cat "$report" 2>/dev/null; echo; cat "$tmp/body.md"; } >"$tmp/report.md"
  fi
  cat "$tmp/report.md" >"$report"
  say "wrote $report"
fi
