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

# One file per job: measure (load table, memory), profile (allocations, GCs, perf), report.
for part in measure profile report; do
  # shellcheck source=/dev/null
  . "$here/$part.sh"
done
