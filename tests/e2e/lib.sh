# shellcheck shell=bash
# Shared helpers for the end-to-end scripts: real Postfix, dnsmasq and smtp-sink on
# loopback, driven against the built router. Source it, call e2e_init, then use the
# helpers; e2e_finish prints the summary and gives the exit status.
#
# Everything a script starts is registered here and torn down by the EXIT trap:
# Postfix instances (postfix stop, then abort), smtp-sinks, dnsmasq and the router.
# Nothing talks to the system resolver: the router gets --dns-server, Postfix has
# smtp_dns_support_level = disabled and only delivers to [127.0.0.1]:PORT.
#
# Environment:
#   ROUTER_BIN  router binary (default <repo>/out/postfix-mx-smart-router)
#   CI          when set, a missing tool or router binary is a FAIL, never a SKIP
#   E2E_KEEP    when set, keep the scratch directory (always kept after a failure)
#   E2E_VERBOSE when set, echo what the helpers do
#   E2E_TIMEOUT time limit of one script in seconds (default 600), then FAIL
#   E2E_TMPDIR  where the scratch directory goes (default /tmp; user postfix must be
#               able to reach it)

set -u -o pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$E2E_DIR/../.." && pwd)
ROUTER_BIN=${ROUTER_BIN:-$REPO_ROOT/out/postfix-mx-smart-router}

E2E_FAILS=0
E2E_PASSES=0
E2E_TMP=
E2E_PIDS=()        # background processes we started (sinks, dnsmasq, router)
E2E_POSTFIX=()     # config directories of Postfix instances we started
E2E_PORTS=" "      # ports handed out by free_port, so two calls never collide
E2E_START=$SECONDS

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

# ---------------------------------------------------------------------------- sinks

# sinks_start N: N smtp-sink relays; SINK_PORT[i] and SINK_DIR[i] for i in 1..N.
# Every message a sink accepts becomes one file in SINK_DIR[i].
SINK_PORT=()
SINK_DIR=()
SINK_PID=()
sinks_start() {
    local n=$1 i
    for i in $(seq "$n"); do
        port_alloc "SINK_PORT[$i]"
        SINK_DIR[i]=$E2E_TMP/sink$i
        mkdir -p "${SINK_DIR[i]}"
        chown postfix "${SINK_DIR[i]}"
        # -u postfix: smtp-sink refuses to run as root; 256 connections at most
        bg_start "$E2E_TMP/sink$i.out" smtp-sink -u postfix -d "${SINK_DIR[i]}/%H%M%S." \
            "127.0.0.1:${SINK_PORT[i]}" 256
        SINK_PID[i]=$BG_PID
    done
    for i in $(seq "$n"); do
        wait_tcp "${SINK_PORT[i]}" 10 || die "smtp-sink start" "sink $i on ${SINK_PORT[i]}"
    done
}

# sink_count I: messages sink I received since the last sinks_clear
sink_count() {
    find "${SINK_DIR[$1]}" -type f | wc -l
}

# sink_rcpts I: the envelope recipients sink I received, one a line
sink_rcpts() {
    find "${SINK_DIR[$1]}" -type f -exec grep -h '^X-Rcpt-Args:' {} + 2>/dev/null |
        sed 's/^X-Rcpt-Args: <\([^>]*\)>.*/\1/'
}

sinks_clear() {
    local d
    for d in "${SINK_DIR[@]}"; do
        find "$d" -mindepth 1 -delete
    done
}

# sinks_total: messages received by all sinks
sinks_total() {
    local i n=0
    for i in "${!SINK_DIR[@]}"; do n=$((n + $(sink_count "$i"))); done
    echo "$n"
}

# ---------------------------------------------------------------------------- Postfix

# pf_create NAME SMTPD_PORT MODE [MAIN.CF LINE...]: a private Postfix instance in
# $E2E_TMP/NAME (config in NAME/etc, queue in NAME/queue, log in NAME/maillog).
# MODE plain: smtpd uses the normal trivial-rewrite, so it asks the router too.
# MODE recommended: smtpd has its own trivial-rewrite without the router's maps
# (the master.cf lines the README recommends), so only qmgr asks.
# Extra arguments are main.cf settings such as "transport_maps = tcp:[127.0.0.1]:PORT"
# (applied with postconf -e, so they may override the defaults here).
pf_create() {
    local name=$1 port=$2 mode=$3; shift 3
    local top=$E2E_TMP/$name
    local etc=$top/etc
    mkdir -p "$etc" "$top/queue" "$top/data"
    chown postfix "$top/data"
    cat >"$etc/main.cf" <<EOF
# private e2e instance: every path lives under $top
compatibility_level = 3.6
queue_directory = $top/queue
data_directory = $top/data
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-e2e-$name
maillog_file = $top/maillog
maillog_file_prefixes = $top
myhostname = mta.e2e.test
mydomain = e2e.test
myorigin = \$myhostname
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtpd_relay_restrictions = permit_mynetworks, reject
# mail the router gives no relay for bounces instead of looking up a real host: it
# shows up as status=bounced, and nothing ever reaches the system resolver. Not the
# "error" transport itself: smtpd would reject such recipients at RCPT time, and with
# the recommended setup smtpd never sees the router's answers.
default_transport = noroute:5.3.0 no route from the router
smtpd_tls_security_level = none
smtp_tls_security_level = none
biff = no
notify_classes =
# no flow-control sleeps, quick retries of deferred mail
in_flow_delay = 0
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
# a sink that is not up is an error right away, not a 30 s wait
smtp_connect_timeout = 5s
# the relays all live on 127.0.0.1; never treat them as a loop back to ourselves
smtp_address_preference = ipv4
EOF
    local line
    for line in "$@"; do postconf -c "$etc" -e "$line" || die "postconf $name" "$line"; done

    {
        echo "127.0.0.1:$port inet n - n - - smtpd"
        if [ "$mode" = recommended ]; then
            echo "  -o rewrite_service_name=rewrite-nt"
            echo "rewrite-nt unix - - n - - trivial-rewrite"
            echo "  -o transport_maps="
            echo "  -o sender_dependent_default_transport_maps="
        fi
        cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
noroute   unix  -       -       n       -       -       error
EOF
    } >"$etc/master.cf"
    local out
    if ! out=$(postfix -c "$etc" check 2>&1) || [ -n "$out" ]; then
        die "postfix check $name" "$(echo "$out" | head -3 | tr '\n' ' ')"
    fi
}

pf_etc() { echo "$E2E_TMP/$1/etc"; }
pf_log() { echo "$E2E_TMP/$1/maillog"; }

pf_start() {
    local etc=$E2E_TMP/$1/etc out
    E2E_POSTFIX+=("$etc")     # before the start: a half-started instance is stopped too
    out=$(postfix -c "$etc" start 2>&1) || die "postfix start $1" "$(echo "$out" | tail -3 | tr '\n' ' ')"
    local i
    for i in $(seq 100); do
        postfix -c "$etc" status >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "postfix start $1" "master did not come up"
}

pf_wait_stopped() {
    local i
    for i in $(seq 100); do
        postfix -c "$1" status >/dev/null 2>&1 || return 0
        sleep 0.1
    done
    return 1
}

pf_stop() {
    local etc=$E2E_TMP/$1/etc
    postfix -c "$etc" stop >/dev/null 2>&1
    pf_wait_stopped "$etc" || postfix -c "$etc" abort >/dev/null 2>&1
    local keep=() d
    for d in "${E2E_POSTFIX[@]}"; do [ "$d" = "$etc" ] || keep+=("$d"); done
    E2E_POSTFIX=("${keep[@]}")
}

# pf_queue_count NAME [QUEUE...]: files in the named queues (default: all of them that
# hold mail not yet delivered). Reading the queue directories is quicker than showq.
pf_queue_count() {
    local name=$1; shift
    local q=("$@")
    [ ${#q[@]} -gt 0 ] || q=(maildrop incoming active deferred hold)
    local d n=0
    for d in "${q[@]}"; do
        [ -d "$E2E_TMP/$name/queue/$d" ] && n=$((n + $(find "$E2E_TMP/$name/queue/$d" -type f | wc -l)))
    done
    echo "$n"
}

# pf_wait_drain NAME [SECONDS]: until the queue is empty; 1 on timeout
pf_wait_drain() {
    local name=$1 limit=${2:-60} i
    for i in $(seq $((limit * 10))); do
        [ "$(pf_queue_count "$name")" = 0 ] && return 0
        sleep 0.1
    done
    return 1
}

# pf_wait_sinks TOTAL [SECONDS]: until the sinks together hold TOTAL messages and
# stay there a moment (a late extra delivery would show up)
pf_wait_sinks() {
    local want=$1 limit=${2:-60} i
    for i in $(seq $((limit * 10))); do
        if [ "$(sinks_total)" -ge "$want" ]; then
            sleep 0.3
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# pf_flush NAME: postqueue -f, once no message is in flight. A flush that meets a
# message still being deferred makes qmgr log "skipped, still being delivered" and
# push that message's next try a minute ahead.
pf_flush() {
    local i
    for i in $(seq 300); do
        [ "$(pf_queue_count "$1" maildrop incoming active)" = 0 ] && break
        sleep 0.1
    done
    postqueue -c "$(pf_etc "$1")" -f
}

# ---------------------------------------------------------------------------- sending

# send_smtp NAME PORT COUNT SESSIONS RCPT [SENDER]: COUNT messages over SMTP, SESSIONS
# at once, each to a distinct recipient (smtp-source -N prepends a sequence number to
# the local part of RCPT).
send_smtp() {
    local name=$1 port=$2 count=$3 sessions=$4 rcpt=$5 sender=${6:-sender@e2e.test}
    smtp-source -4 -N -A -m "$count" -s "$sessions" -f "$sender" -t "$rcpt" \
        -M mta.e2e.test "127.0.0.1:$port" >"$E2E_TMP/$name.smtp-source.out" 2>&1
}

# send_sendmail NAME COUNT LOCAL DOMAIN [SENDER]: COUNT messages through sendmail (the
# pickup path), to LOCAL1@DOMAIN .. LOCALn@DOMAIN
send_sendmail() {
    local name=$1 count=$2 local=$3 domain=$4 sender=${5:-sender@e2e.test} i
    local etc
    etc=$(pf_etc "$name")
    for i in $(seq "$count"); do
        printf 'Subject: e2e %s\n\nmessage %s\n' "$i" "$i" |
            sendmail -C "$etc" -f "$sender" "$local$i@$domain" || return 1
    done
}

# ---------------------------------------------------------------------------- shares

# expect_shares NAME TOTAL WEIGHTS SINKS [info]: each sink within +-1 of weight share *
# TOTAL. WEIGHTS and SINKS are space-separated lists of the same length. Prints PASS or
# FAIL; with "info", an INFO line with the counts that never fails.
expect_shares() {
    local name=$1 total=$2 info=${5:-}
    local -a w s
    read -ra w <<<"$3"
    read -ra s <<<"$4"
    local sum=0 x i got detail="" ok=1
    for x in "${w[@]}"; do sum=$((sum + x)); done
    for i in "${!s[@]}"; do
        got=$(sink_count "${s[i]}")
        # |got - total*w/sum| <= 1  <=>  |got*sum - total*w| <= sum
        local diff=$((got * sum - total * w[i]))
        [ "${diff#-}" -le "$sum" ] || ok=0
        detail+="sink${s[i]}=$got/$(awk -v t="$total" -v a="${w[i]}" -v b="$sum" 'BEGIN{printf "%.1f", t*a/b}') "
    done
    SHARES_DETAIL=${detail% }
    if [ -n "$info" ]; then
        echo "INFO $name: got/expected $SHARES_DETAIL$([ $ok = 1 ] || echo ' (outside +-1)')"
        return 0
    fi
    if [ $ok = 1 ]; then pass "$name ($SHARES_DETAIL)"; else fail "$name" "got/expected: $SHARES_DETAIL"; fi
    [ $ok = 1 ]
}

# expect_domain_only NAME DOMAIN SINK...: every recipient those sinks got is in DOMAIN
expect_domain_only() {
    local name=$1 domain=$2; shift 2
    local i bad
    for i in "$@"; do
        bad=$(sink_rcpts "$i" | grep -v "@$domain\$" | head -3)
        if [ -n "$bad" ]; then
            fail "$name" "sink$i got mail for other domains: $(echo "$bad" | tr '\n' ' ')"
            return 1
        fi
    done
    pass "$name"
}

# smtp_session NAME PORT FROM RCPT...: one SMTP transaction by hand, so that every reply
# can be checked (smtp-source only counts). Sends DATA only when a recipient was
# accepted. Sets SMTP_MAIL (reply code to MAIL FROM), SMTP_RCPT (codes to each RCPT, in
# order), SMTP_DATA (code after the message, or empty); the transcript goes to
# $E2E_TMP/NAME.smtp.log.
smtp_session() {
    local name=$1 port=$2 from=$3; shift 3
    local logf=$E2E_TMP/$name.smtp.log
    SMTP_MAIL= SMTP_RCPT=() SMTP_DATA=
    exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
    _smtp_reply() { # read one (multi-line) reply, set SMTP_CODE
        local line
        SMTP_CODE=
        while IFS= read -r -t 30 -u "$fd" line; do
            line=${line%$'\r'}
            echo "<<< $line" >>"$logf"
            if [ "${line:3:1}" != - ]; then SMTP_CODE=${line:0:3}; return 0; fi
        done
        SMTP_CODE=timeout
        return 1
    }
    _smtp_cmd() { echo ">>> $1" >>"$logf"; printf '%s\r\n' "$1" >&"$fd"; _smtp_reply; }
    _smtp_reply
    _smtp_cmd "EHLO client.e2e.test"
    _smtp_cmd "MAIL FROM:<$from>"
    SMTP_MAIL=$SMTP_CODE
    local r ok=0
    for r in "$@"; do
        _smtp_cmd "RCPT TO:<$r>"
        SMTP_RCPT+=("$SMTP_CODE")
        [ "${SMTP_CODE:0:1}" = 2 ] && ok=1
    done
    if [ $ok = 1 ]; then
        _smtp_cmd DATA
        if [ "$SMTP_CODE" = 354 ]; then
            printf 'Subject: %s\r\n\r\nhand-made message\r\n.\r\n' "$name" >&"$fd"
            _smtp_reply
            SMTP_DATA=$SMTP_CODE
        fi
    fi
    _smtp_cmd QUIT
    exec {fd}>&-
    return 0
}

# tri_duo_servers: the servers and rules of the share scenarios, printed as YAML. Group tri
# (60/30/10, sinks 1-3) takes tri.test, group duo (50/50, sinks 4-5) takes duo.test, and
# anything else goes to sink 6, which must stay empty. Needs SINK_PORT (sinks_start 6).
tri_duo_servers() {
    cat <<EOF
servers:
  names:
    t60:
      address: smtp:[127.0.0.1]:${SINK_PORT[1]}
      perc: 60
    t30:
      address: smtp:[127.0.0.1]:${SINK_PORT[2]}
      perc: 30
    t10:
      address: smtp:[127.0.0.1]:${SINK_PORT[3]}
      perc: 10
    d1:
      address: smtp:[127.0.0.1]:${SINK_PORT[4]}
      perc: 50
    d2:
      address: smtp:[127.0.0.1]:${SINK_PORT[5]}
      perc: 50
    other:
      address: smtp:[127.0.0.1]:${SINK_PORT[6]}
  tri: [t60, t30, t10]
  duo: [d1, d2]
sender_rules:
  default: other
  tri.test: tri
  duo.test: duo
EOF
}
