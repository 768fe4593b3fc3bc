# shellcheck shell=bash
# bench/run.sh, the measuring: the load tools, the keys, dnsmasq, the floor and the router,
# the load table (router against floor) and resident memory with 100 000 cached domains.
# Sourced by bench/run.sh.

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

