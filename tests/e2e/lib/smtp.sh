# shellcheck shell=bash
# The SMTP client: messages through smtp-source or sendmail, and one session by hand.
# Sourced by tests/e2e/lib.sh.

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
