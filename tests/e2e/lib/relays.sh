# shellcheck shell=bash
# Relays that fail: a relay port that refuses, one that accepts and never greets, one that
# is an smtp-sink again; the router's view of them (relay_up and health check metrics, the
# down and up log lines); and a Postfix instance with Postfix's default retry timings.
# Sourced by tests/e2e/lib.sh. Used by the relays-*.sh scripts.

# Postfix's defaults, written out: lib/postfix.sh shortens them for the other scripts, and
# here the long waits are the point (a deferred message waits 300 s, a relay that never
# greets holds a delivery 300 s).
POSTFIX_DEFAULT_RETRY=(
    "queue_run_delay = 300s" "minimal_backoff_time = 300s" "maximal_backoff_time = 4000s"
    "smtp_connect_timeout = 30s" "smtp_helo_timeout = 300s"
)

# relay_ports N: ports for relays 1..N, nothing started (a port nobody listens on refuses)
relay_ports() {
    local i
    for i in $(seq "$1"); do
        port_alloc "SINK_PORT[$i]"
        SINK_DIR[i]=$E2E_TMP/sink$i
        mkdir -p "${SINK_DIR[i]}"
        chown postfix "${SINK_DIR[i]}"
        SINK_PID[i]=
    done
}

# relay_sink I: an smtp-sink on relay I's port (its messages go to SINK_DIR[I])
relay_sink() {
    local i=$1
    relay_stop "$i"
    bg_start "$E2E_TMP/sink$i.$SECONDS.out" smtp-sink -u postfix -d "${SINK_DIR[i]}/%H%M%S." \
        "127.0.0.1:${SINK_PORT[i]}" 256
    SINK_PID[i]=$BG_PID
    wait_tcp "${SINK_PORT[i]}" 10 || die "smtp-sink start" "relay $i on ${SINK_PORT[i]}"
}

# relay_hang I: a listener on relay I's port that accepts every connection and holds it,
# never sending a byte (no 220 greeting). It prints one line per connection accepted.
relay_hang() {
    local i=$1
    relay_stop "$i"
    bg_start "$E2E_TMP/hang$i.out" python3 -u -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(256)
print("listening", flush=True)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    print("accepted", len(held), flush=True)
' "${SINK_PORT[i]}"
    SINK_PID[i]=$BG_PID
    wait_tcp "${SINK_PORT[i]}" 10 || die "hanging listener start" "relay $i on ${SINK_PORT[i]}"
}

# relay_stop I: nothing listens on relay I's port any more (connections are refused)
relay_stop() {
    local i=$1
    [ -n "${SINK_PID[i]:-}" ] && bg_stop "${SINK_PID[i]}"
    SINK_PID[i]=
    local n
    for n in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/${SINK_PORT[i]}") 2>/dev/null || return 0
        sleep 0.05
    done
    die "relay stop" "relay $i still accepts on ${SINK_PORT[i]}"
}

# ---------------------------------------------------------------------------- the router's view

# metric NAME LABELS: the value of one sample on the router's /metrics ($METRICS_PORT),
# e.g. metric postfix_mx_smart_router_relay_up 'server="t30"'; empty when absent
metric() {
    curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
        awk -v want="$1{$2}" '$1 == want { print $2; exit }'
}
relay_up() { metric postfix_mx_smart_router_relay_up "server=\"$1\""; }
checks_total() {   # checks_total NAME ok|fail
    metric postfix_mx_smart_router_health_checks_total "server=\"$1\",result=\"$2\""
}

# down_lines NAME ADDRESS / up_lines NAME ADDRESS: the router's transition log lines
down_lines() { grep -F "warn: " "$ROUTER_OUT" | grep -F "relay $1 ($2) is down: "; }
up_lines() { grep -F "info: " "$ROUTER_OUT" | grep -E "relay $1 \\(.*\\) is up\$" | grep -F "relay $1 ($2) is up"; }

# wait_relay NAME 0|1 [SECONDS]: until /metrics shows relay_up{server=NAME} at that value;
# sets WAITED_MS, the milliseconds it took. 1 on time-out.
wait_relay() {
    local name=$1 want=$2 limit=${3:-30} t0 i
    t0=$(date +%s%3N)
    for i in $(seq $((limit * 10))); do
        if [ "$(relay_up "$name")" = "$want" ]; then
            WAITED_MS=$(($(date +%s%3N) - t0))
            return 0
        fi
        sleep 0.1
    done
    WAITED_MS=$(($(date +%s%3N) - t0))
    return 1
}

# ms_to_s MS: "3.42" (seconds, two decimals)
ms_to_s() { awk -v m="$1" 'BEGIN { printf "%.2f", m / 1000 }'; }

# ---------------------------------------------------------------------------- the queue

# pf_queued NAME: messages postqueue -j lists (the queue as Postfix reports it)
pf_queued() {
    postqueue -c "$(pf_etc "$1")" -j 2>/dev/null | grep -c '"queue_id"'
}

# pf_wait_queued NAME N [SECONDS]: until postqueue -j lists exactly N messages
pf_wait_queued() {
    local name=$1 want=$2 limit=${3:-30} i
    for i in $(seq $((limit * 5))); do
        [ "$(pf_queued "$name")" = "$want" ] && return 0
        sleep 0.2
    done
    return 1
}

# bounces NAME: lines of the maillog that show a bounce or a delivery status notification
bounces() {
    grep -cE 'status=bounced|sender non-delivery notification|sender delivery status notification' \
        "$(pf_log "$1")"
}

# tri_config FILE ROUTING_LOG [CONFIG LINE...]: group tri (t60/t30/t10 on relays 1-3) takes
# tri.test, group duo (relays 4-5) duo.test, the default is relay 6; extra lines go under
# config: (e.g. "health_fall: 3")
tri_config() {
    local file=$1 rlog=$2 line; shift 2
    {
        printf 'config:\n  log_file: %s\n' "$rlog"
        for line in "$@"; do printf '  %s\n' "$line"; done
        tri_duo_servers
    } >"$file"
}
