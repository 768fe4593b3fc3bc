# shellcheck shell=bash
# bench/run.sh, the profiling (perf, as root): allocations and GCs per request, syscalls
# and context switches, where the CPU time goes. Sourced by bench/run.sh after measure.sh.

# ---------------------------------------------------------------- allocations, GCs, profile
# Uprobes on the runtime's allocation helpers and on the GC entry point count, from the
# outside, what the router allocates per request. They need root, perf and the symbols
# (out/postfix-mx-smart-router.dbg next to the binary, or an unstripped binary).
alloc_note="" gc_note="" alloc_table="" profile="" sites=""
gc_hit="" gc_miss="" allocs_hit="" allocs_miss="" bytes_hit="" bytes_miss="" allocs_sm="" bytes_sm=""
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

# count_events OUT EVENTS LOADGEN-ARGS...: perf stat the router (count_pid, else the
# table's router) while loadgen runs.
count_events() {
  local out=$1 events=$2
  shift 2
  perf stat -x, -e "$events" -p "${count_pid:-$r_pid}" -o "$out.perf" &
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
  # The same cache-hit keys over socketmap, on a router that also serves it (when it can).
  sm_kinds=""
  if timeout 5 "$router" --help 2>&1 | grep -q -- "--socketmap-port"; then
    free_port s_port
    free_port sm_port
    start_router s_pid "$s_port" "$dns_port" --socketmap-port "$sm_port"
    "$tmp/loadgen" -n 1000 127.0.0.1 "$s_port" 4 30 "$tmp/hit.keys" >/dev/null 2>>"$tmp/loadgen.err"
    count_pid=$s_pid count_events "$tmp/alloc-sm" "$ev" -m transport -n 20000 127.0.0.1 "$sm_port" 1 60 "$tmp/hit.keys"
    [[ $(field "$(cat "$tmp/alloc-sm.load")" ok200) -gt 0 ]] && sm_kinds=sm
    kill "$s_pid" 2>/dev/null || true
  fi
  alloc_table="| Helper | per cache-hit request | per cache-miss request |${sm_kinds:+ per socketmap cache-hit request |}"
  alloc_table+=$'\n'"|---|---|---|${sm_kinds:+---|}"
  for kind in hit miss $sm_kinds; do
    n=$(field "$(cat "$tmp/alloc-$kind.load")" requests)
    declare "req_$kind=$n"
  done
  for e in "${alloc_events[@]}"; do
    label="\`${e#mxbench:}\`"
    [[ $e == *RhpGcAlloc ]] && label+=" (a new allocation context)"
    [[ $e == *RhpThrowEx ]] && label+=" (an exception thrown)"
    row="| $label |"
    for kind in hit miss $sm_kinds; do
      n_var=req_$kind
      row+=" $(awk -v a="$(event_sum "$tmp/alloc-$kind" "^$e\$")" -v n="${!n_var}" 'BEGIN { printf "%.2f", a / n }') |"
    done
    alloc_table+=$'\n'"$row"
  done
  objects_re='^mxbench:(RhpNewFast|RhpNewFinalizable|RhpNewArrayFast|RhpNewPtrArrayFast|RhNewString)$'
  allocs_hit=$(awk -v a="$(event_sum "$tmp/alloc-hit" "$objects_re")" -v n="$req_hit" 'BEGIN { printf "%.2f", a / n }')
  allocs_miss=$(awk -v a="$(event_sum "$tmp/alloc-miss" "$objects_re")" -v n="$req_miss" 'BEGIN { printf "%.2f", a / n }')
  # RhpGcAlloc runs when a thread's allocation context (about 8 KB) is used up.
  bytes_hit=$(awk -v a="$(event_sum "$tmp/alloc-hit" '^mxbench:RhpGcAlloc$')" -v n="$req_hit" 'BEGIN { printf "%.0f", a * 8192 / n }')
  bytes_miss=$(awk -v a="$(event_sum "$tmp/alloc-miss" '^mxbench:RhpGcAlloc$')" -v n="$req_miss" 'BEGIN { printf "%.0f", a * 8192 / n }')
  if [[ -n $sm_kinds ]]; then
    allocs_sm=$(awk -v a="$(event_sum "$tmp/alloc-sm" "$objects_re")" -v n="$req_sm" 'BEGIN { printf "%.2f", a / n }')
    bytes_sm=$(awk -v a="$(event_sum "$tmp/alloc-sm" '^mxbench:RhpGcAlloc$')" -v n="$req_sm" 'BEGIN { printf "%.0f", a * 8192 / n }')
  fi

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
