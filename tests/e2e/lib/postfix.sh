# shellcheck shell=bash
# The Postfix lab: smtp-sinks standing in for relays, private Postfix instances, their
# queues and logs. Sourced by tests/e2e/lib.sh.

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

