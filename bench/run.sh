#!/usr/bin/env bash
# bench/run.sh: measure the router against the floor of this machine.
#
# Run after ./build.sh, from anywhere:   bench/run.sh
# Needs gcc and dnsmasq; perf (as root) adds allocation and GC counts and a profile.
#
# It builds the project's own tools (bench/*.c) into a temporary directory, starts
# dnsmasq on loopback, the floor server (bench/floor.c: one epoll loop, fixed reply) and
# the router, loads both with the same keys at 1, 16, 64 and 256 connections, cache-hit
# keys and then cache-miss keys, and prints one table with the router/floor ratio per
# row. It then checks 1000 connections, resident memory idle and with 100 000 cached
# domains, start to first answer, binary size, allocations and GCs per request, and
# writes all of it to docs/BENCHMARKS.md (between the bench:begin/end markers; text
# outside them is kept).
#
# Environment:
#   ROUTER_BIN      router binary            (default: out/postfix-mx-smart-router)
#   BENCH_SECONDS   length of one load step  (default: 3)
#   BENCH_REPEAT    runs per step, best kept (default: 3)
#   BENCH_CONNS     connection counts        (default: "1 16 64 256")
#   BENCH_THREADS   loadgen threads          (default: 1)
#   BENCH_OUT       report file              (default: docs/BENCHMARKS.md; "-" = none)
#   BENCH_PERF      0 = no perf probes and no profile
#   BENCH_KEEP      1 = keep the temporary directory (logs, keys, perf data)
#   BENCH_NICE      scheduling priority of the whole run (default: -10 as root, else
#                   unchanged): the floor, the router, dnsmasq and loadgen all inherit it,
#                   so other work on a shared machine disturbs the ratios less
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
root=$(cd "$here/.." && pwd)
router=${ROUTER_BIN:-$root/out/postfix-mx-smart-router}
[[ $router == /* ]] || router=$PWD/$router
step=${BENCH_SECONDS:-3}
repeat=${BENCH_REPEAT:-3}
conns_list=${BENCH_CONNS:-"1 16 64 256"}
report=${BENCH_OUT:-$root/docs/BENCHMARKS.md}
use_perf=${BENCH_PERF:-1}
lg_threads=()
[[ -n ${BENCH_THREADS:-} ]] && lg_threads=(-t "$BENCH_THREADS")

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

command -v gcc >/dev/null || die "gcc is needed to build the load tools"
command -v dnsmasq >/dev/null || die "dnsmasq is needed (apt-get install dnsmasq-base)"
[[ -x $router ]] || die "no router at $router: run ./build.sh first (or set ROUTER_BIN)"

nice_level=${BENCH_NICE:-}
if [[ -z $nice_level ]]; then
  nice_level=0
  [[ $(id -u) == 0 ]] && nice_level=-10
fi
if [[ $nice_level != 0 ]]; then
  renice -n "$nice_level" -p $$ >/dev/null 2>&1 || say "warning: cannot set priority $nice_level"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxbench.XXXXXX")
pids=()
probes=0
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if ((probes)); then perf probe -q -d 'mxbench:*' >/dev/null 2>&1 || true; fi
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then say "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools and files
say "building load tools in $tmp"
for t in loadgen floor mxdns firstanswer; do
  gcc -O2 -pthread -o "$tmp/$t" "$here/$t.c" || die "cannot build $t"
done

# cpu_busy: percent of all cores busy during one second (other work on the machine).
cpu_busy() {
  local a b
  a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); u = y[1] - x[1]; i = y[2] - x[2]
    printf "%.0f", (u + i) ? 100 * u / (u + i) : 0 }'
}

# udp_drops: datagrams the kernel dropped because a socket's receive buffer was full
# (system-wide). A dropped DNS query or answer costs the router its 2 s DNS timeout.
udp_drops() { awk '/^Udp:/ && $2 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# Keys. Cache-hit: 1000 recipients over 100 domains that dnsmasq answers with MX hosts
# (one in ten keys in upper case: the router lower-cases). Cache-miss: a new domain for
# every request, under miss.test, where dnsmasq answers NXDOMAIN (the MX hosts are then
# "none": the rules on the address and the default still decide).
awk 'BEGIN { for (i = 0; i < 1000; i++) { k = "user" i "@hit" (i % 100) ".test"; print (i % 10 == 9 ? toupper(k) : k) } }' >"$tmp/hit.keys"
{
  for ((i = 0; i < 100; i++)); do
    echo "mx-host=hit$i.test,mx$((i % 3 + 1)).example.com,10"
    ((i % 2)) && echo "mx-host=hit$i.test,mx$(((i + 1) % 3 + 1)).example.com,20"
  done
} >"$tmp/dnsmasq.conf"
# miss_keys FILE TAG N: N unique recipients, each in a domain of its own.
miss_keys() { awk -v t="$2" -v n="$3" 'BEGIN { for (i = 0; i < n; i++) print "user@" t "-" i ".miss.test" }' >"$1"; }
miss_n=$((step * 100000))
awk 'BEGIN { for (i = 0; i < 100000; i++) print "user" i "@d" i ".mem.test" }' >"$tmp/mem.keys"

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
    mx4:
      address: smtp:[192.0.2.4]:587
  good: [mx1, mx2, mx3]
  bad: [mx3, mx4]
sender_rules:
  vip@hit1.test: mx4
  postmaster@blocked.test: NO RESULT
  protection.outlook.com: bad
  mail.protection: bad
  example.com: good
  default: good
EOF

# ---------------------------------------------------------------- servers
free_port dns_port
dnsmasq --no-daemon --port="$dns_port" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --pid-file= --local-ttl=3600 --local=/miss.test/ \
  --conf-file="$tmp/dnsmasq.conf" --log-facility="$tmp/dnsmasq.log" 2>"$tmp/dnsmasq.err" &
dns_pid=$!
pids+=($dns_pid)
free_port mx_port
"$tmp/mxdns" "$mx_port" 2>"$tmp/mxdns.err" &
mx_pid=$!
pids+=($mx_pid)
for ((i = 0; i < 100; i++)); do
  grep -qi ":$(printf '%04X' "$dns_port") " /proc/net/udp && break
  sleep 0.05
done

# The table's router runs with its defaults, as users run it. The one that caches
# 100 000 domains gets room for them all when the router has a --cache-size.
mem_flags=()
timeout 5 "$router" --help 2>&1 | grep -- "--cache-size" >/dev/null && mem_flags+=(--cache-size 200000)

# start_router VAR PORT DNSPORT [FLAGS...]: start the router in the background, PID in VAR.
start_router() {
  local var=$1 port=$2 dns=$3
  shift 3
  "$router" -c "$tmp/config.yaml" -p "$port" --dns-server "127.0.0.1:$dns" -q "$@" \
    >"$tmp/router-$port.out" 2>"$tmp/router-$port.err" &
  local pid=$!
  pids+=("$pid")
  wait_tcp "$port" "$pid" || { cat "$tmp/router-$port.err" >&2; die "the router did not start (see above)"; }
  printf -v "$var" '%s' "$pid"
}

say "start to first answer (5 launches)"
free_port fa_port
startup=$("$tmp/firstanswer" -r 5 127.0.0.1 "$fa_port" "postmaster@hit0.test" -- \
  "$router" -c "$tmp/config.yaml" -p "$fa_port" --dns-server "127.0.0.1:$dns_port" -q) ||
  say "warning: some launches gave no answer: $startup"

free_port r_port
start_router r_pid "$r_port" "$dns_port"
reply=$(ask "$r_port" "user0@hit0.test")
[[ $reply == "200 "* ]] || die "the router answered '$reply' to a cache-hit key, expected 200"
sleep 1
rss_idle=$(rss_kb "$r_pid")

free_port f_port
"$tmp/floor" "$f_port" "$reply" &
f_pid=$!
pids+=($f_pid)
wait_tcp "$f_port" "$f_pid" || die "the floor server did not start"

say "router pid $r_pid on $r_port, floor on $f_port (reply: $reply), dnsmasq on $dns_port"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
busy_before=$(cpu_busy)
drops_before=$(udp_drops)
((busy_before > 15)) && say "warning: the machine is ${busy_before}% busy before the run: expect noisy numbers"

# warm the cache: every hit key once
"$tmp/loadgen" -n 1000 127.0.0.1 "$r_port" 4 30 "$tmp/hit.keys" >"$tmp/warm.out"
[[ $(field "$(cat "$tmp/warm.out")" ok200) == 1000 ]] || die "warm-up: $(cat "$tmp/warm.out")"

# ---------------------------------------------------------------- load table
declare -A res cpu dns
hz=$(getconf CLK_TCK)
# cpu_ticks PID: CPU time the process has used, all threads, in clock ticks.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# measure NAME PORT PID CONNS KEYFILE [loadgen flags]: one run. The loadgen line goes
# in res[NAME], the server's CPU time per request (µs) in cpu[NAME], and the share of
# one core dnsmasq used in dns[NAME]. CPU per request hardly depends on other work on the
# machine, unlike requests per second.
measure() {
  local name=$1 port=$2 pid=$3 conns=$4 keys=$5 t0 d0 t1 d1 n secs
  shift 5
  t0=$(cpu_ticks "$pid") d0=$(cpu_ticks "$dns_pid")
  res[$name]=$("$tmp/loadgen" "${lg_threads[@]}" "$@" 127.0.0.1 "$port" "$conns" "$step" "$keys" 2>>"$tmp/loadgen.err")
  t1=$(cpu_ticks "$pid") d1=$(cpu_ticks "$dns_pid")
  n=$(field "${res[$name]}" requests) secs=$(field "${res[$name]}" seconds)
  cpu[$name]=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "n/a" }')
  dns[$name]=$(awk -v t=$((d1 - d0)) -v hz="$hz" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", 100 * t / hz / s; else print 0 }')
  say "  $name: ${res[$name]} cpu_us_per_req=${cpu[$name]} dnsmasq_core=${dns[$name]}%"
}
# best NAME CANDIDATE: keep the run with more requests per second.
best() {
  local old=${res[$1]:-} new=${res[$2]}
  if [[ -z $old ]] || awk -v a="$(field "$new" rps)" -v b="$(field "$old" rps)" 'BEGIN { exit !(a > b) }'; then
    res[$1]=$new cpu[$1]=${cpu[$2]} dns[$1]=${dns[$2]}
  fi
}

rows=()
for kind in hit miss; do
  for c in $conns_list; do
    rows+=("$kind-$c")
    for ((r = 1; r <= repeat; r++)); do
      say "$kind keys, $c connections, run $r/$repeat"
      measure "f-$kind-$c-$r" "$f_port" "$f_pid" "$c" "$tmp/hit.keys"
      best "f-$kind-$c" "f-$kind-$c-$r"
      if [[ $kind == hit ]]; then
        measure "r-$kind-$c-$r" "$r_port" "$r_pid" "$c" "$tmp/hit.keys"
      else
        miss_keys "$tmp/miss.keys" "c$c-r$r" "$miss_n"
        measure "r-$kind-$c-$r" "$r_port" "$r_pid" "$c" "$tmp/miss.keys" -u
      fi
      best "r-$kind-$c" "r-$kind-$c-$r"
    done
  done
done
rm -f "$tmp/miss.keys"

say "1000 connections"
step_saved=$step
step=5
measure f-1000 "$f_port" "$f_pid" 1000 "$tmp/hit.keys"
measure r-1000 "$r_port" "$r_pid" 1000 "$tmp/hit.keys"
step=$step_saved
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
busy_after=$(cpu_busy)
drops=$(($(udp_drops) - drops_before))
drops_note=""
((drops > 0)) && drops_note=" A dropped DNS query or answer makes the router wait out its 2 s DNS timeout: look for a max near 2 000 000 µs in the cache-miss rows."
miss_total=0
for row in "${rows[@]}"; do
  [[ $row == miss-* ]] || continue
  for ((r = 1; r <= repeat; r++)); do miss_total=$((miss_total + $(field "${res[r-$row-$r]}" requests))); done
done
rss_after_load=$(rss_kb "$r_pid")

# ---------------------------------------------------------------- allocations, GCs, profile
# Uprobes on the runtime's allocation helpers and on the GC entry point count, from the
# outside, what the router allocates per request. They need root, perf and the symbols
# (out/postfix-mx-smart-router.dbg next to the binary, or an unstripped binary).
alloc_note="" gc_note="" alloc_table="" profile="" sites=""
gc_hit="" gc_miss="" allocs_hit="" allocs_miss="" bytes_hit="" bytes_miss=""
symfile=""
for s in "$router.dbg" "$router"; do
  [[ -f $s ]] && nm "$s" 2>/dev/null | awk '$3 == "RhpNewFast" { f = 1 } END { exit !f }' && { symfile=$s; break; }
done
if [[ $use_perf != 1 ]]; then
  alloc_note="not measured (BENCH_PERF=0)"
elif ! command -v perf >/dev/null; then
  alloc_note="not measured: perf is not installed"
elif [[ $(id -u) != 0 ]]; then
  alloc_note="not measured: uprobes need root"
elif [[ -z $symfile ]]; then
  alloc_note="not measured: no symbols (no $router.dbg and the binary is stripped)"
fi
gc_note=$alloc_note

# sym_off NAME: file offset of symbol NAME in the router binary, for a uprobe.
sym_off() {
  local addr
  addr=$(nm "$symfile" | awk -v s="$1" '$3 == s { print $1; exit }')
  [[ -n $addr ]] || return 1
  local type off va pa fsz msz flags
  while read -r type off va pa fsz msz flags; do
    [[ $type == LOAD && $flags == *E* ]] || continue
    if ((16#$addr >= va && 16#$addr < va + msz)); then
      printf '0x%x\n' $((16#$addr - va + off))
      return 0
    fi
  done < <(readelf -lW "$router")
  return 1
}

alloc_syms=(RhpNewFast RhpNewFinalizable RhpNewArrayFast RhpNewPtrArrayFast RhNewString RhpGcAlloc RhpThrowEx)
gc_syms=(_ZN3WKS6GCHeap24GarbageCollectGenerationEj9gc_reason _ZN3SVR6GCHeap24GarbageCollectGenerationEj9gc_reason)
alloc_events=() gc_events=()
if [[ -z $alloc_note ]]; then
  perf probe -q -d 'mxbench:*' >/dev/null 2>&1 || true
  probes=1
  for s in "${alloc_syms[@]}"; do
    off=$(sym_off "$s") || continue
    perf probe -q -x "$router" -a "mxbench:$s=$off" >>"$tmp/perf-probe.log" 2>&1 && alloc_events+=("mxbench:$s")
  done
  n=0
  for s in "${gc_syms[@]}"; do
    off=$(sym_off "$s") || continue
    n=$((n + 1))
    # entry and return: the time between them is the pause the GC imposes on the threads
    perf probe -q -x "$router" -a "mxbench:gc$n=$off" >>"$tmp/perf-probe.log" 2>&1 &&
      perf probe -q -x "$router" -a "mxbench:gcend$n=$off%return" >>"$tmp/perf-probe.log" 2>&1 &&
      gc_events+=("mxbench:gc$n" "mxbench:gcend${n}__return")
  done
  ((${#alloc_events[@]})) || alloc_note="not measured: perf probe failed (is tracefs mounted?), see perf-probe.log"
  ((${#gc_events[@]})) || gc_note="not measured: no GC entry point found, or perf probe failed"
fi

# count_events OUT EVENTS LOADGEN-ARGS...: perf stat the router while loadgen runs.
count_events() {
  local out=$1 events=$2
  shift 2
  perf stat -x, -e "$events" -p "$r_pid" -o "$out.perf" &
  local pp=$!
  sleep 0.3
  "$tmp/loadgen" "$@" >"$out.load" 2>>"$tmp/loadgen.err"
  kill -INT "$pp"
  wait "$pp" 2>/dev/null || true
}
# event_sum FILE REGEX: total of the matching counters in a perf stat -x, file.
event_sum() { awk -F, -v re="$2" '$3 ~ re { s += $1 } END { print s + 0 }' "$1.perf"; }

if [[ -z $alloc_note ]]; then
  say "allocations per request (uprobes on the allocation helpers)"
  ev=$(IFS=,; echo "${alloc_events[*]}")
  count_events "$tmp/alloc-hit" "$ev" -n 20000 127.0.0.1 "$r_port" 1 60 "$tmp/hit.keys"
  miss_keys "$tmp/alloc-miss.keys" alloc 5000
  count_events "$tmp/alloc-miss" "$ev" -u -n 5000 127.0.0.1 "$r_port" 1 60 "$tmp/alloc-miss.keys"
  alloc_table="| Helper | per cache-hit request | per cache-miss request |"$'\n'"|---|---|---|"
  for kind in hit miss; do
    n=$(field "$(cat "$tmp/alloc-$kind.load")" requests)
    declare "req_$kind=$n"
  done
  for e in "${alloc_events[@]}"; do
    h=$(awk -v a="$(event_sum "$tmp/alloc-hit" "^$e\$")" -v n="$req_hit" 'BEGIN { printf "%.2f", a / n }')
    m=$(awk -v a="$(event_sum "$tmp/alloc-miss" "^$e\$")" -v n="$req_miss" 'BEGIN { printf "%.2f", a / n }')
    label="\`${e#mxbench:}\`"
    [[ $e == *RhpGcAlloc ]] && label+=" (a new allocation context)"
    [[ $e == *RhpThrowEx ]] && label+=" (an exception thrown)"
    alloc_table+=$'\n'"| $label | $h | $m |"
  done
  objects_re='^mxbench:(RhpNewFast|RhpNewFinalizable|RhpNewArrayFast|RhpNewPtrArrayFast|RhNewString)$'
  allocs_hit=$(awk -v a="$(event_sum "$tmp/alloc-hit" "$objects_re")" -v n="$req_hit" 'BEGIN { printf "%.2f", a / n }')
  allocs_miss=$(awk -v a="$(event_sum "$tmp/alloc-miss" "$objects_re")" -v n="$req_miss" 'BEGIN { printf "%.2f", a / n }')
  # RhpGcAlloc runs when a thread's allocation context (about 8 KB) is used up.
  bytes_hit=$(awk -v a="$(event_sum "$tmp/alloc-hit" '^mxbench:RhpGcAlloc$')" -v n="$req_hit" 'BEGIN { printf "%.0f", a * 8192 / n }')
  bytes_miss=$(awk -v a="$(event_sum "$tmp/alloc-miss" '^mxbench:RhpGcAlloc$')" -v n="$req_miss" 'BEGIN { printf "%.0f", a * 8192 / n }')

  # Where the objects come from: the same probes, sampled with call stacks.
  say "allocation sites"
  obj_events=$(printf '%s\n' "${alloc_events[@]}" | grep -v -e RhpGcAlloc -e RhpThrowEx | paste -sd, -)
  miss_keys "$tmp/sites-miss.keys" sites 1000
  for kind in hit miss; do
    keys=$tmp/hit.keys flags=()
    [[ $kind == miss ]] && keys=$tmp/sites-miss.keys flags=(-u)
    perf record -q -e "$obj_events" -g -p "$r_pid" -o "$tmp/sites-$kind.data" >/dev/null 2>&1 &
    pp=$!
    sleep 0.5
    out=$("$tmp/loadgen" "${flags[@]}" -n 1000 127.0.0.1 "$r_port" 1 60 "$keys" 2>>"$tmp/loadgen.err")
    kill -INT "$pp" 2>/dev/null || true
    wait "$pp" 2>/dev/null || true
    sites+=$'\n'"Cache-$kind request, objects per request by the nearest router function on the stack"
    sites+=$'\n'"(or, when none, by the function that called the allocation helper):"$'\n'
    sites+=$(perf script -i "$tmp/sites-$kind.data" -F event,ip,sym 2>/dev/null | awk -v n="$(field "$out" requests)" '
      function flush() {
        if (k >= 2) { r = ""; for (i = 2; i <= k; i++) if (f[i] ~ /Router_Core|Router_Native/) { r = f[i]; break }
          if (r == "") r = "(called from) " f[2]; c[r]++ }
        k = 0 }
      /^ *mxbench:/ { flush(); next }
      NF == 0 { flush(); next }
      { f[++k] = $2 }
      END { flush(); for (x in c) printf "%8.2f  %s\n", c[x] / n, x }' | sort -rn | awk 'NR <= 15' | cut -c1-150)$'\n'
  done
fi

# profile_summary FILE: a perf report (percent, dso, [.], symbol) grouped by what the
# code does, as a markdown table. The first pattern that matches a symbol wins.
profile_summary() {
  awk '
    { pct = $1; sub(/%/, "", pct); dso = $2; sym = $4
      if (dso ~ /kernel/) c = "kernel: syscalls, loopback TCP, scheduler"
      else if (sym ~ /WKS::|SVR::|gc_heap|GCHeap|Rhp?New|RhpGcAlloc|AssignRef|RhpByRef|memset|GCToEE|RhpGcPoll|RhpWaitForGC|RedhawkGCInterface/) c = "GC and allocation"
      else if (sym ~ /DnsClient/) c = "DnsClient (DNS queries and parsing)"
      else if (sym ~ /Router_Core|FSharp_Core|Router_Native/) c = "router code: core (F#) and shell (C#)"
      else if (sym ~ /System_Net_Sockets|SocketAsync|SystemNative_|Interop_Sys|SafeHandle|__libc_recv|__libc_send|__send|__recv|epoll|sendto|recvfrom|^read$|^write$/) c = "sockets: System.Net.Sockets and its epoll engine"
      else if (sym ~ /System_Threading|Monitor|Timer|ThreadPool|AsyncMethodBuilder|AsyncTaskMethodBuilder|ValueTask|Task_|ExecutionContext|Cancellation|pthread|futex|sched_yield|RhSpinWait|Lock/) c = "async, thread pool, timers, locks"
      else if (sym ~ /Concurrent|Dictionary|HashSet|List_/) c = "collections (cache lookups)"
      else if (sym ~ /String|Globalization|Text|Span|Char|memmove|memcpy|memcmp|strlen|IndexOf|Encoding/) c = "strings and bytes"
      else c = "other runtime and libraries"
      share[c] += pct; total += pct }
    END { print "| Where | Share of the router'"'"'s CPU samples |"; print "|---|---|"
      n = 0; for (c in share) keys[++n] = c
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (share[keys[j]] > share[keys[i]]) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
      for (i = 1; i <= n; i++) printf "| %s | %.1f%% |\n", keys[i], share[keys[i]] }' "$1"
}

# Syscalls and context switches per cache-hit request, floor against router: how much of
# the difference is the kernel's doing.
sys_table=""
if [[ $use_perf == 1 ]] && command -v perf >/dev/null; then
  say "syscalls and context switches per request"
  sys_ev=context-switches
  perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1 && sys_ev=raw_syscalls:sys_enter,context-switches
  sys_table="| Cache-hit keys | floor syscalls | router syscalls | floor context switches | router context switches |"$'\n'"|---|---|---|---|---|"
  for c in 1 16; do
    row="| $c connections "
    ((c == 1)) && row="| 1 connection "
    declare -A per=()
    for who in f r; do
      if [[ $who == f ]]; then pid=$f_pid port=$f_port; else pid=$r_pid port=$r_port; fi
      perf stat -x, -e "$sys_ev" -p "$pid" -o "$tmp/sys-$who-$c.perf" &
      pp=$!
      sleep 0.3
      out=$("$tmp/loadgen" -n 50000 127.0.0.1 "$port" "$c" 30 "$tmp/hit.keys" 2>>"$tmp/loadgen.err")
      kill -INT "$pp"
      wait "$pp" 2>/dev/null || true
      n=$(field "$out" requests)
      per[$who-sys]=$(awk -F, -v n="$n" '$3 == "raw_syscalls:sys_enter" { printf "%.2f", $1 / n; f = 1 } END { if (!f) printf "n/a" }' "$tmp/sys-$who-$c.perf")
      per[$who-cs]=$(awk -F, -v n="$n" '$3 == "context-switches" { printf "%.2f", $1 / n; f = 1 } END { if (!f) printf "n/a" }' "$tmp/sys-$who-$c.perf")
    done
    sys_table+=$'\n'"$row| ${per[f-sys]} | ${per[r-sys]} | ${per[f-cs]} | ${per[r-cs]} |"
  done
fi

if [[ $use_perf == 1 ]] && command -v perf >/dev/null; then
  for kind in hit miss; do
    say "profile: cache-$kind keys, 16 connections"
    keys=$tmp/hit.keys flags=()
    if [[ $kind == miss ]]; then miss_keys "$tmp/prof.keys" prof "$miss_n"; keys=$tmp/prof.keys flags=(-u); fi
    perf record -q -e cpu-clock -F 1999 -g -p "$r_pid" -o "$tmp/perf-$kind.data" >/dev/null 2>&1 &
    pp=$!
    sleep 0.5
    "$tmp/loadgen" "${flags[@]}" 127.0.0.1 "$r_port" 16 "$step" "$keys" >"$tmp/prof-$kind.load" 2>>"$tmp/loadgen.err"
    kill -INT "$pp" 2>/dev/null || true
    wait "$pp" 2>/dev/null || true
    if [[ -s $tmp/perf-$kind.data ]]; then
      perf report -i "$tmp/perf-$kind.data" --no-children --stdio -g none --sort dso,sym 2>/dev/null |
        awk '!/^#/ && NF >= 4' >"$tmp/perf-$kind.txt"
      top=$(awk '!/kernel.kallsyms/ && ++n <= 25' "$tmp/perf-$kind.txt" | cut -c1-170)
      profile+=$'\n'"Cache-$kind keys, 16 connections ($(field "$(cat "$tmp/prof-$kind.load")" rps) rps while sampled):"
      profile+=$'\n\n'"$(profile_summary "$tmp/perf-$kind.txt")"
      profile+=$'\n\n'"Top user-space symbols (share of all the router's samples):"$'\n\n```\n'"$top"$'\n```\n'
    fi
  done
  rm -f "$tmp/prof.keys"
fi

# ---------------------------------------------------------------- 100 000 cached domains
say "resident memory with 100 000 cached domains (MX answers from bench/mxdns)"
free_port m_port
start_router m_pid "$m_port" "$mx_port" "${mem_flags[@]}"
fill=$("$tmp/loadgen" -u -n 100000 127.0.0.1 "$m_port" 16 300 "$tmp/mem.keys" 2>>"$tmp/loadgen.err")
kill -USR1 "$mx_pid"
sleep 0.2
q1=$(sed -n 's/^queries=//p' "$tmp/mxdns.err" | tail -1)
again=$("$tmp/loadgen" -n 100000 127.0.0.1 "$m_port" 16 300 "$tmp/mem.keys" 2>>"$tmp/loadgen.err")
kill -USR1 "$mx_pid"
sleep 1
q2=$(sed -n 's/^queries=//p' "$tmp/mxdns.err" | tail -1)
rss_100k=$(rss_kb "$m_pid")
hwm_100k=$(awk '/^VmHWM:/ {print $2}' "/proc/$m_pid/status")
refetched=$((q2 - q1))
say "  fill: $fill"
say "  second pass: $again ($refetched DNS queries)"

if [[ -z $gc_note ]]; then
  # On the router holding 100 000 domains: a GC's pause grows with what it must scan.
  say "GC collections and pauses (router with 100 000 cached domains)"
  "$tmp/loadgen" -n 1000 127.0.0.1 "$m_port" 4 30 "$tmp/hit.keys" >/dev/null 2>>"$tmp/loadgen.err"
  ev=$(IFS=,; echo "${gc_events[*]}")
  miss_keys "$tmp/gc-miss.keys" gc 100000
  for kind in hit miss; do
    keys=$tmp/hit.keys flags=() c=64 count=300000
    [[ $kind == miss ]] && keys=$tmp/gc-miss.keys flags=(-u) c=16 count=100000
    perf record -q -e "$ev" -p "$m_pid" -o "$tmp/gc-$kind.data" >/dev/null 2>&1 &
    pp=$!
    sleep 0.5
    out=$("$tmp/loadgen" "${flags[@]}" -n "$count" 127.0.0.1 "$m_port" $c 60 "$keys" 2>>"$tmp/loadgen.err")
    kill -INT "$pp" 2>/dev/null || true
    wait "$pp" 2>/dev/null || true
    # count, mean and longest pause (entry to return of GarbageCollectGeneration)
    stats=$(perf script -i "$tmp/gc-$kind.data" -F tid,time,event 2>/dev/null | awk '
      { t = $2; sub(/:$/, "", t) }
      $3 ~ /__return/ { if ($1 in s) { d = (t - s[$1]) * 1e6; n++; sum += d; if (d > mx) mx = d; delete s[$1] } next }
      { s[$1] = t }
      END { printf "%d %.0f %.0f", n, n ? sum / n : 0, mx }')
    read -r g mean longest <<<"$stats"
    n=$(field "$out" requests)
    declare "gc_$kind=$(awk -v g="$g" -v n="$n" 'BEGIN { printf "%.0f", g * 1e6 / n }') per million cache-$kind requests ($g in $n at $c connections, $(field "$out" rps) rps; pauses $mean µs on average, $longest µs at most)"
  done
fi

# ---------------------------------------------------------------- report
size=$(stat -c %s "$router")
startup_ms=$(field "$startup" median_ms)
ver=$(timeout 5 "$router" --version 2>&1 | awk 'NR == 1' || true)
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
machine="$(nproc) cores, $cpu, Linux $(uname -r), $(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM"

table="| Keys | Conns | floor rps | router rps | ratio | p50 µs floor / router | p99 µs floor / router | p99 ratio | max µs floor / router | CPU µs per request floor / router | router replies |"
table+=$'\n'"|---|---|---|---|---|---|---|---|---|---|---|"
for row in "${rows[@]}" 1000; do
  if [[ $row == 1000 ]]; then fk=f-1000 rk=r-1000 kind=hit c=1000
  else fk=f-$row rk=r-$row kind=${row%%-*} c=${row#*-}
  fi
  f=${res[$fk]} r=${res[$rk]}
  replies="200: $(field "$r" ok200)"
  for k in tmp400 no500 other errors; do
    v=$(field "$r" $k)
    [[ $v != 0 ]] && replies+=", ${k//[0-9]/}: $v"
  done
  [[ $(field "$r" served_conns) != "$c" ]] && replies+=", served conns: $(field "$r" served_conns)/$c"
  [[ $kind == miss ]] && replies+="; dnsmasq ${dns[$rk]}% of a core"
  table+=$'\n'"| cache-$kind | $c | $(field "$f" rps) | $(field "$r" rps) | $(ratio "$(field "$r" rps)" "$(field "$f" rps)") "
  table+="| $(field "$f" p50_us) / $(field "$r" p50_us) | $(field "$f" p99_us) / $(field "$r" p99_us) "
  table+="| $(ratio "$(field "$r" p99_us)" "$(field "$f" p99_us)") | $(field "$f" max_us) / $(field "$r" max_us) "
  table+="| ${cpu[$fk]} / ${cpu[$rk]} | $replies |"
done

# verdict OK: "met" or "missed"
verdict() { if [[ $1 == 1 ]]; then echo "**met**"; else echo "**missed**"; fi; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "n/a" && a >= b) ? 1 : 0 }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "n/a" && a != "" && a <= b) ? 1 : 0 }'; }
has_row() { [[ -n ${res[r-$1]:-} ]]; }
t_hit1=n/a t_hit16=n/a t_p99=n/a
has_row hit-1 && t_hit1=$(ratio "$(field "${res[r-hit-1]}" rps)" "$(field "${res[f-hit-1]}" rps)")
has_row hit-16 && t_hit16=$(ratio "$(field "${res[r-hit-16]}" rps)" "$(field "${res[f-hit-16]}" rps)")
has_row hit-64 && t_p99=$(ratio "$(field "${res[r-hit-64]}" p99_us)" "$(field "${res[f-hit-64]}" p99_us)")
r1000=${res[r-1000]}
ok1000=0
[[ $(field "$r1000" errors) == 0 && $(field "$r1000" served_conns) == 1000 && $(field "$r1000" other) == 0 &&
  $(field "$r1000" tmp400) == 0 && $(field "$r1000" requests) == $(field "$r1000" ok200) ]] && ok1000=1
cache_note=""
((refetched > 0)) && cache_note=" (the second pass asked DNS $refetched times: the cache did not hold all 100 000)"
[[ $(field "$fill" ok200) != 100000 ]] && cache_note+=" (fill: $(field "$fill" ok200) of 100000 answered 200)"

if [[ -n $allocs_hit ]]; then
  alloc_value="$allocs_hit objects per cache-hit request (≈ $bytes_hit bytes), $allocs_miss per cache-miss request (≈ $bytes_miss bytes)"
  alloc_ok=$(le "$allocs_hit" 1.05)
  alloc_verdict=$(verdict "$alloc_ok")
else
  alloc_value=$alloc_note alloc_verdict="not measured"
fi
if [[ -n $gc_hit ]]; then
  gc_value="$gc_hit; $gc_miss"
else
  gc_value=$gc_note
fi

targets="| What | Target | Measured | |"$'\n'"|---|---|---|---|"
targets+=$'\n'"| Cache-hit throughput, 1 connection | ≥ 0.90 × floor | $t_hit1 × | $(verdict "$(ge "$t_hit1" 0.90)") |"
targets+=$'\n'"| Cache-hit throughput, 16 connections | ≥ 0.70 × floor | $t_hit16 × | $(verdict "$(ge "$t_hit16" 0.70)") |"
targets+=$'\n'"| p99 latency, 64 connections (cache-hit) | ≤ 2 × floor | $t_p99 × | $(verdict "$(le "$t_p99" 2)") |"
targets+=$'\n'"| 1000 concurrent connections | no errors | $(field "$r1000" served_conns)/1000 served, $(field "$r1000" errors) errors, $(field "$r1000" ok200) of $(field "$r1000" requests) replies 200 | $(verdict $ok1000) |"
targets+=$'\n'"| Resident memory, idle | ≤ 20 MB | $(mb "$rss_idle") MB | $(verdict "$(le "$rss_idle" 20480)") |"
targets+=$'\n'"| Resident memory, 100 000 cached domains | ≤ 60 MB | $(mb "$rss_100k") MB$cache_note | $(verdict "$(le "$rss_100k" 61440)") |"
targets+=$'\n'"| Start to first answer | ≤ 50 ms | $startup_ms ms (median of 5) | $(verdict "$(le "$startup_ms" 50)") |"
targets+=$'\n'"| Binary size | ≤ 12 MB | $(mb $((size / 1024))) MB | $(verdict "$(le "$size" $((12 * 1024 * 1024)))") |"
targets+=$'\n'"| Steady-state allocation per request | none beyond the reply (≤ 1 object) | $alloc_value | $alloc_verdict |"

body="## Results of the last run

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Machine: $machine
- Router: \`$router\` (${ver:-no --version}), checkout $rev, $size bytes
- Load steps: $step s each, best of $repeat, floor and router alternating; loadgen threads: ${BENCH_THREADS:-1}; every process of the run at nice $(ps -o ni= -p $$ | tr -d ' ')
- Other work on the machine: CPU ${busy_before}% busy just before the table, ${busy_after}% just after it (idle servers, no load; above ~15% the numbers are noisy); load average $load_before before, $load_after after
- Floor reply (the router's own reply to a cache-hit key): \`$reply\`

### Throughput and latency, router against the floor

$table

Ratio = router rps / floor rps; p99 ratio = router p99 / floor p99. CPU µs per request is
the server's own CPU time (all threads, user + kernel) divided by the requests it answered:
unlike rps it hardly moves when other work shares the cores. The cache-miss rows ask a new
domain each request (dnsmasq answers NXDOMAIN, and its own CPU use is shown); the floor
does no DNS, so it is the same server in both halves of the table.

### Targets

$targets

### Other measurements

- Resident memory: $(mb "$rss_idle") MB idle after start, $(mb "$rss_after_load") MB idle after the load table (whose cache-miss runs asked $miss_total distinct domains; the router keeps at most its \`--cache-size\` of them, if it has one), $(mb "$rss_100k") MB with 100 000 cached domains (peak $(mb "$hwm_100k") MB).
- 100 000 domains: fill $(field "$fill" rps) rps ($(field "$fill" ok200) replies 200, $(field "$fill" errors) errors); a second pass over the same domains sent $refetched queries to DNS.
- UDP datagrams dropped on a full receive buffer during the table (whole machine): $drops.$drops_note
- Start to first answer: $startup.
- GC collections, in the router holding the 100 000 domains (its cache-miss domains answered with an MX host by mxdns): $gc_value.
- Open file limit of this shell: $(ulimit -Sn) soft, $(ulimit -Hn) hard."
if [[ -n $alloc_table ]]; then
  body+="

Runtime helpers called per request, counted with uprobes (RhpGcAlloc takes a new ~8 KB
allocation context, so bytes per request ≈ its count × 8192):

$alloc_table"
fi
if [[ -n $sites ]]; then
  body+="

\`\`\`$sites\`\`\`"
fi
if [[ -n $sys_table ]]; then
  body+="

Per request, counted with \`perf stat\` on each server while it answers 50 000 requests:

$sys_table"
fi
if [[ -n $profile ]]; then
  body+="

### Where the router's time goes (perf, router process only, kernel included)
$profile"
fi

say ""
say "$table"
say ""
say "$targets"

if [[ $report != - ]]; then
  mkdir -p "$(dirname "$report")"
  begin='<!-- bench:begin (written by bench/run.sh; edit outside these markers) -->'
  end='<!-- bench:end -->'
  printf '%s\n%s\n%s\n' "$begin" "$body" "$end" >"$tmp/body.md"
  if [[ -f $report ]] && grep -q '^<!-- bench:begin' "$report"; then
    awk -v bodyfile="$tmp/body.md" '
      /^<!-- bench:begin/ { while ((getline line < bodyfile) > 0) print line; skip = 1; next }
      /^<!-- bench:end/ { skip = 0; next }
      !skip' "$report" >"$tmp/report.md"
    cat "$tmp/report.md" >"$report"
  else
    {
      echo "# Benchmarks"
      echo
      echo "Measured with \`bench/run.sh\` (run it after \`./build.sh\`). Compare ratios, never"
      echo "absolute numbers: the floor is \`bench/floor.c\`, a one-thread epoll server that"
      echo "answers every line with a fixed reply, loaded by \`bench/loadgen.c\` the same way."
      echo
      cat "$tmp/body.md"
    } >"$report"
  fi
  say "wrote $report"
fi
