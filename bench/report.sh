# shellcheck shell=bash
# bench/run.sh, the report: the tables, the targets and docs/BENCHMARKS.md. Sourced by
# bench/run.sh after measure.sh and profile.sh.

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
  [[ -n $allocs_sm ]] && alloc_value+=", $allocs_sm per socketmap cache-hit request (≈ $bytes_sm bytes)"
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
