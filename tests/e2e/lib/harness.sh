# shellcheck shell=bash
# The harness: PASS/FAIL checks, the scratch directory and its EXIT trap, background
# processes, free ports, dnsmasq and the router. Sourced by tests/e2e/lib.sh.


log() { [ -n "${E2E_VERBOSE:-}" ] && echo "# $*" >&2; return 0; }
info() { echo "INFO $*"; }
pass() { echo "PASS $1"; E2E_PASSES=$((E2E_PASSES + 1)); }
fail() { echo "FAIL $1${2:+ ($2)}"; E2E_FAILS=$((E2E_FAILS + 1)); }
# check NAME DETAIL COMMAND...: PASS when COMMAND succeeds, else FAIL with DETAIL.
# A single COMMAND word is a shell condition for eval, so that it may hold && and ||:
#   check "name" "detail" '[ "$a" = 1 ] && [ -z "$b" ]'
check() {
    local _check_name=$1 _check_detail=$2; shift 2
    local _check_ok=0   # an unusual name: the eval'd condition sees the caller's variables
    if [ $# = 1 ]; then eval "$1" && _check_ok=1; else "$@" && _check_ok=1; fi
    if [ $_check_ok = 1 ]; then pass "$_check_name"; else fail "$_check_name" "$_check_detail"; fi
    [ $_check_ok = 1 ]
}
# die NAME DETAIL: a failure the script cannot go on after
die() { fail "$1" "${2:-}"; exit 1; }

# ---------------------------------------------------------------------------- setup

# e2e_init NAME TOOL...: scratch dir, trap, and the tools this script needs. A missing
# tool is a SKIP of the whole script outside CI and a FAIL under CI.
e2e_init() {
    local script=$1; shift
    E2E_NAME=$script
    local missing=() t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    if [ ! -x "$ROUTER_BIN" ]; then missing+=("router binary $ROUTER_BIN"); fi
    if [ "$(id -u)" != 0 ]; then missing+=("root (Postfix instances need it)"); fi
    if [ ${#missing[@]} -gt 0 ]; then
        if [ -n "${CI:-}" ]; then
            echo "FAIL $script (missing under CI: ${missing[*]})"
            exit 1
        fi
        echo "SKIP $script (missing: ${missing[*]})"
        exit 0
    fi
    # not $TMPDIR: the Postfix daemons (user postfix) must reach it through its parents
    E2E_TMP=$(mktemp -d "${E2E_TMPDIR:-/tmp}/e2e-$script.XXXXXX")
    chmod 755 "$E2E_TMP"          # Postfix daemons (user postfix) must traverse it
    trap e2e_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # Watchdog: a hung step (a client waiting forever) must not hang CI. At the limit
    # it says so, signals this script and ends its children (by parent id), so that
    # the foreground command returns and the EXIT trap can clean up.
    (
        trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
        sleep "${E2E_TIMEOUT:-600}" &
        sleeper=$!
        wait "$sleeper"
        echo "FAIL $script (time limit of ${E2E_TIMEOUT:-600} s reached)"
        kill -TERM $$
        pkill -TERM -P $$
    ) &
    E2E_WATCHDOG=$!
    log "scratch directory $E2E_TMP, router $ROUTER_BIN"
    # postmap reads a main.cf before it does anything, and a host where the package was
    # installed without a configuration (or never started) has none in /etc/postfix:
    # every postmap in these tests reads a minimal one of its own instead.
    E2E_POSTMAP_DIR="$E2E_TMP/postmap-etc"
    mkdir -p "$E2E_POSTMAP_DIR"
    echo 'compatibility_level = 3.6' >"$E2E_POSTMAP_DIR/main.cf"
}

# postmap with the tests' own main.cf (see e2e_init); functions reach $(...) subshells.
postmap() {
    command postmap -c "$E2E_POSTMAP_DIR" "$@"
}

e2e_cleanup() {
    local rc=$? dir pid
    trap - EXIT
    [ -n "${E2E_WATCHDOG:-}" ] && kill "$E2E_WATCHDOG" 2>/dev/null && wait "$E2E_WATCHDOG" 2>/dev/null
    for dir in "${E2E_POSTFIX[@]}"; do
        postfix -c "$dir" stop >/dev/null 2>&1 || postfix -c "$dir" abort >/dev/null 2>&1
    done
    for pid in "${E2E_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${E2E_PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    # postfix stop returns before master is gone; give it a moment, then make sure
    for dir in "${E2E_POSTFIX[@]}"; do
        pf_wait_stopped "$dir" || postfix -c "$dir" abort >/dev/null 2>&1
    done
    if [ -n "$E2E_TMP" ] && [ -d "$E2E_TMP" ]; then
        if [ "$rc" = 0 ] && [ "$E2E_FAILS" = 0 ] && [ -z "${E2E_KEEP:-}" ]; then
            rm -rf "$E2E_TMP"
        else
            echo "# kept $E2E_TMP" >&2
        fi
    fi
    exit "$rc"
}

# e2e_finish: summary line, exit status 1 when anything failed
e2e_finish() {
    echo "# $E2E_NAME: $E2E_PASSES passed, $E2E_FAILS failed, $((SECONDS - E2E_START)) s"
    [ "$E2E_FAILS" = 0 ] && exit 0
    exit 1
}

# bg_start LOGFILE CMD...: start a background process, register it, set BG_PID
bg_start() {
    local out=$1; shift
    "$@" >"$out" 2>&1 &
    BG_PID=$!
    E2E_PIDS+=("$BG_PID")
}

# bg_stop PID: TERM it and wait for it
bg_stop() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

# ---------------------------------------------------------------------------- ports

# port_busy PORT: any TCP or UDP socket on that port, in any state (a bind fails on a
# port that an established connection uses as its local port, too)
port_busy() {
    if command -v ss >/dev/null 2>&1; then
        ss -Htanu "( sport = :$1 )" 2>/dev/null | grep -q .
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# free_port: print a port that is free for TCP and UDP on loopback. Ports come from
# below the kernel's ephemeral range, so that outgoing connections (ours, Postfix's,
# other programs') cannot take them between the check and the bind.
free_port() {
    local lo=32768 p i
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null
    [ "$lo" -gt 12000 ] || lo=32768
    for i in $(seq 200); do
        p=$((10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000)))
        case $E2E_PORTS in *" $p "*) continue ;; esac
        port_busy "$p" && continue
        echo "$p"
        return 0
    done
    return 1
}
# port_alloc VAR: free_port into VAR (free_port runs in a subshell, which cannot record
# the port in E2E_PORTS, so record it here)
port_alloc() {
    local var=$1 p
    p=$(free_port) || die "free port" "no free port found"
    E2E_PORTS+="$p "
    printf -v "$var" %s "$p"
}

# wait_tcp PORT [SECONDS]: until something accepts on 127.0.0.1:PORT
wait_tcp() {
    local port=$1 limit=${2:-20} i
    for i in $(seq $((limit * 10))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------------------- DNS

# dns_start [ARG...]: dnsmasq on 127.0.0.1:$DNS_PORT (allocated on first use and kept,
# so DNS can be taken away and brought back on the same port). ARGs are dnsmasq
# options, e.g. --mx-host=alpha.test,mx.a.test,10 --local=/test/, remembered for the
# next call without ARGs. Only local data is served: --no-resolv and no upstream, so
# nothing ever reaches the system resolver.
DNS_PORT=
DNS_PID=
DNS_ARGS=()
dns_start() {
    [ $# -gt 0 ] && DNS_ARGS=("$@")
    _dns_launch "${DNS_ARGS[@]}"
}

# dns_refusing: a DNS server that is up but has no data and no upstream, as a resolver
# that lost its upstream: it answers REFUSED at once to every query
dns_refusing() {
    dns_stop
    _dns_launch
}

_dns_launch() {
    [ -n "$DNS_PORT" ] || port_alloc DNS_PORT
    local logf=$E2E_TMP/dnsmasq.log
    bg_start "$E2E_TMP/dnsmasq.out" dnsmasq --no-daemon --conf-file=/dev/null --pid-file= \
        --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces \
        --no-resolv --no-hosts --no-negcache --user=root --group=root \
        --log-queries --log-facility="$logf" "$@"
    DNS_PID=$BG_PID
    local i
    for i in $(seq 100); do
        if ! kill -0 "$DNS_PID" 2>/dev/null; then
            die "dnsmasq start" "port $DNS_PORT: $(tr '\n' ' ' <"$E2E_TMP/dnsmasq.out")"
        fi
        if command -v ss >/dev/null 2>&1; then
            ss -Hlun "( sport = :$DNS_PORT )" | grep -q . && return 0
        elif grep -q 'started, version' "$logf" 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    die "dnsmasq start" "not listening on $DNS_PORT"
}

dns_stop() {
    [ -n "$DNS_PID" ] && bg_stop "$DNS_PID"
    DNS_PID=
}

# ---------------------------------------------------------------------------- router

# router_start CONFIG [ARG...]: the router on 127.0.0.1:$ROUTER_PORT, talking to our
# dnsmasq. Its output (stats table on SIGTERM) goes to $ROUTER_OUT.
ROUTER_PORT=
ROUTER_PID=
ROUTER_OUT=
ROUTER_N=0
router_start() {
    local config=$1; shift
    port_alloc ROUTER_PORT
    ROUTER_N=$((ROUTER_N + 1))
    ROUTER_OUT=$E2E_TMP/router.$ROUTER_N.out
    log "router $ROUTER_BIN -c $config -p $ROUTER_PORT $*"
    bg_start "$ROUTER_OUT" "$ROUTER_BIN" -c "$config" -p "$ROUTER_PORT" -H 127.0.0.1 \
        --dns-server "127.0.0.1:$DNS_PORT" "$@"
    ROUTER_PID=$BG_PID
    if ! wait_tcp "$ROUTER_PORT" 20; then
        die "router start" "not listening on $ROUTER_PORT: $(tail -5 "$ROUTER_OUT" | tr '\n' ' ')"
    fi
}

# router_stop: SIGTERM (the router prints its stats table and exits 0)
router_stop() {
    [ -n "$ROUTER_PID" ] || return 0
    kill -TERM "$ROUTER_PID" 2>/dev/null
    local rc=0
    wait "$ROUTER_PID" 2>/dev/null || rc=$?
    ROUTER_PID=
    return $rc
}

# routing_log_keys FILE [decisions]: the key of every lookup in a routing log, one a
# line (lines are "DATE TIME LEVEL KEY<TAB>TARGET<TAB>RELAY"); with "decisions", only
# the lookups that made a decision, not the repeat window's repeats ("TARGET (repeat)")
routing_log_keys() {
    [ -f "$1" ] || return 0
    awk -F'\t' -v only="${2:-}" '
        only == "decisions" && $2 ~ / \(repeat\)$/ { next }
        { n = split($1, w, " "); print w[n] }' "$1"
}

