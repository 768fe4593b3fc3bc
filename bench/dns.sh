#!/usr/bin/env bash
# bench/dns.sh: the DNS side of the router.
#
# Run after ./build.sh, from anywhere:   bench/dns.sh
# Needs gcc and dnsmasq (apt-get install dnsmasq-base). Prints numbers; asserts nothing
# about speed. It exits non-zero only when something is wrong (a reply that is not 200,
# or more than one DNS query for one cold domain).
#
# 1. Cache misses: every request asks for a domain never seen before (user@m-N.miss.test;
#    dnsmasq answers NXDOMAIN locally, so the rules and the default decide). Closed loop
#    with bench/loadgen.c at 1, 16, 64 and 256 connections; prints requests per second,
#    latency percentiles, and the CPU dnsmasq and the router used. Run long enough (or at
#    enough connections) it passes --cache-size, so eviction is part of the cost.
# 2. Single flight: N connections ask for the same cold domain at once, ROUNDS times with
#    a new domain each round; dnsmasq's query log is counted. Must be 1 query per round.
#    The router's -v counters tell how many lookups waited for that one query and how
#    many found it already cached (dnsmasq answers in microseconds on loopback).
#
# Environment:
#   ROUTER_BIN        router binary              (default: out/postfix-mx-smart-router)
#   BENCH_SECONDS     length of one load step    (default: 3)
#   BENCH_CONNS       connection counts          (default: "1 16 64 256")
#   BENCH_CACHE_SIZE  --cache-size for step 1    (default: the router's, 100000)
#   BENCH_N           concurrent lookups, step 2 (default: 256)
#   BENCH_ROUNDS      rounds of step 2           (default: 5)
#   BENCH_KEEP        1 = keep the temporary directory
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
ASK_TIMEOUT=10   # a cold lookup may wait for a DNS time-out
root=$(cd "$here/.." && pwd)
router=${ROUTER_BIN:-$root/out/postfix-mx-smart-router}
[[ $router == /* ]] || router=$PWD/$router
step=${BENCH_SECONDS:-3}
conns_list=${BENCH_CONNS:-"1 16 64 256"}
sf_n=${BENCH_N:-256}
sf_rounds=${BENCH_ROUNDS:-5}
cache_flags=()
[[ -n ${BENCH_CACHE_SIZE:-} ]] && cache_flags=(--cache-size "$BENCH_CACHE_SIZE")

say() { printf '%s\n' "$*" >&2; }
die() { say "dns.sh: $*"; exit 1; }

command -v gcc >/dev/null || die "gcc is needed to build the load generator"
dnsmasq=$(command -v dnsmasq || ls /usr/sbin/dnsmasq /sbin/dnsmasq 2>/dev/null | head -1 || true)
[[ -n $dnsmasq ]] || die "dnsmasq is needed (apt-get install dnsmasq-base)"
[[ -x $router ]] || die "no router at $router: run ./build.sh first (or set ROUTER_BIN)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxdns.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then say "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -pthread -o "$tmp/loadgen" "$here/loadgen.c" || die "cannot build loadgen"

# wait_udp PORT: until something listens on UDP 127.0.0.1:PORT.
wait_udp() {
  local i
  for ((i = 0; i < 200; i++)); do
    grep -qi ":$(printf '%04X' "$1") " /proc/net/udp && return 0
    sleep 0.05
  done
  return 1
}

# cpu_ticks PID: user + system clock ticks used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
pct() { awk -v t="$1" -v s="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", 100 * t / hz / s }'; }

cat >"$tmp/config.yaml" <<'EOF'
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
  good: [mx1, mx2, mx3]
sender_rules:
  protection.outlook.com: good
  default: good
EOF

# ------------------------------------------------------------ 1. cache misses
free_port dns_port
"$dnsmasq" --no-daemon --port="$dns_port" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --pid-file= --conf-file=/dev/null --user=root --group=root \
  --local=/miss.test/ --dns-forward-max=10000 --log-facility="$tmp/dnsmasq-miss.log" 2>"$tmp/dnsmasq-miss.err" &
dns_pid=$!
pids+=($dns_pid)
wait_udp "$dns_port" || die "dnsmasq did not start: $(cat "$tmp/dnsmasq-miss.err")"

free_port r_port
"$router" -c "$tmp/config.yaml" -p "$r_port" --dns-server "127.0.0.1:$dns_port" -q "${cache_flags[@]}" \
  >"$tmp/router-miss.out" 2>"$tmp/router-miss.err" &
r_pid=$!
pids+=($r_pid)
wait_tcp "$r_port" "$r_pid" || die "the router did not start: $(cat "$tmp/router-miss.err")"

say "cache misses: router on $r_port, dnsmasq on $dns_port (NXDOMAIN for every domain), ${step} s per step"
printf 'DNS cache misses (a new domain every request, dnsmasq on loopback answers NXDOMAIN)\n'
printf '%6s %10s %9s %9s %9s %9s %12s %12s\n' conns requests rps p50_us p99_us max_us router_cpu% dnsmasq_cpu%
run=0
for conns in $conns_list; do
  run=$((run + 1))
  n=$((step * 200000))
  awk -v t="r$run" -v n="$n" 'BEGIN { for (i = 0; i < n; i++) print "user@" t "-" i ".miss.test" }' >"$tmp/miss.keys"
  r0=$(cpu_ticks "$r_pid")
  d0=$(cpu_ticks "$dns_pid")
  out=$("$tmp/loadgen" -u 127.0.0.1 "$r_port" "$conns" "$step" "$tmp/miss.keys" 2>"$tmp/loadgen.err")
  r1=$(cpu_ticks "$r_pid")
  d1=$(cpu_ticks "$dns_pid")
  grep -q . "$tmp/loadgen.err" && say "loadgen: $(cat "$tmp/loadgen.err")"
  secs=$(field "$out" seconds)
  printf '%6s %10s %9s %9s %9s %9s %12s %12s\n' "$conns" "$(field "$out" requests)" "$(field "$out" rps)" \
    "$(field "$out" p50_us)" "$(field "$out" p99_us)" "$(field "$out" max_us)" \
    "$(pct $((r1 - r0)) "$secs")" "$(pct $((d1 - d0)) "$secs")"
  bad=$(($(field "$out" tmp400) + $(field "$out" no500) + $(field "$out" other) + $(field "$out" errors)))
  ((bad == 0)) || die "not every reply was 200: $out"
done
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$r_pid/status")
printf 'router resident memory after the miss runs: %.1f MiB\n' "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
kill "$r_pid" "$dns_pid" 2>/dev/null || true

# ------------------------------------------------------------ 2. single flight
free_port sf_dns_port
mx_hosts=()
for ((r = 1; r <= sf_rounds; r++)); do mx_hosts+=("--mx-host=cold$r.test,cold$r-test.mail.protection.outlook.com,10"); done
"$dnsmasq" --no-daemon --port="$sf_dns_port" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --pid-file= --conf-file=/dev/null --user=root --group=root \
  --local=/test/ --log-queries --log-facility="$tmp/dnsmasq-sf.log" "${mx_hosts[@]}" 2>"$tmp/dnsmasq-sf.err" &
sf_dns_pid=$!
pids+=($sf_dns_pid)
wait_udp "$sf_dns_port" || die "dnsmasq did not start: $(cat "$tmp/dnsmasq-sf.err")"

# -v for the counters (SIGUSR1 logs them); the per-lookup debug lines go to a file.
free_port sf_port
"$router" -c "$tmp/config.yaml" -p "$sf_port" --dns-server "127.0.0.1:$sf_dns_port" -v \
  >"$tmp/router-sf.out" 2>"$tmp/router-sf.err" &
sf_pid=$!
pids+=($sf_pid)
wait_tcp "$sf_port" "$sf_pid" || die "the router did not start: $(cat "$tmp/router-sf.err")"
# A first answer: the router has its signal handlers once it answers (SIGUSR1 below).
[[ $(ask "$sf_port" "postmaster@warm.test") == "200 "* ]] || die "the router does not answer"

# counters: "misses hits" from the router's latest stats line, after a SIGUSR1.
counters() {
  local before i
  before=$(grep -c ' cache entries, ' "$tmp/router-sf.err" || true)
  kill -USR1 "$sf_pid"
  for ((i = 0; i < 200; i++)); do
    (($(grep -c ' cache entries, ' "$tmp/router-sf.err" || true) > before)) && break
    sleep 0.02
  done
  grep ' cache entries, ' "$tmp/router-sf.err" | tail -1 |
    sed -n 's/.* \([0-9]*\) hits, \([0-9]*\) misses,.*/\2 \1/p'
}

printf '\nSingle flight: %s connections ask for one cold domain at once (dnsmasq query log counted)\n' "$sf_n"
printf '%6s %12s %8s %12s %14s %12s\n' round domain lookups dns_queries waited_for_it cache_hits
worst=0
read -r m0 h0 < <(counters)
for ((r = 1; r <= sf_rounds; r++)); do
  awk -v k="postmaster@cold$r.test" -v n="$sf_n" 'BEGIN { for (i = 0; i < n; i++) print k }' >"$tmp/cold.keys"
  out=$("$tmp/loadgen" -n "$sf_n" 127.0.0.1 "$sf_port" "$sf_n" 10 "$tmp/cold.keys")
  [[ $(field "$out" ok200) == "$sf_n" ]] || die "round $r: not every reply was 200: $out"
  sleep 0.3 # dnsmasq writes its log in the background
  q=$(grep -c "query\[MX\] cold$r.test from" "$tmp/dnsmasq-sf.log" || true)
  read -r m1 h1 < <(counters)
  printf '%6s %12s %8s %12s %14s %12s\n' "$r" "cold$r.test" "$sf_n" "$q" $((m1 - m0)) $((h1 - h0))
  m0=$m1
  h0=$h1
  ((q > worst)) && worst=$q
done
((worst == 1)) || die "a cold domain took $worst DNS queries: single flight is broken"
printf 'DNS queries per cold domain: %s (must be 1)\n' "$worst"
