#!/usr/bin/env bash
# Writes the man page postfix-mx-smart-router(8) to standard output, in roff, from
# sections of README.md: the README stays the one place where the behaviour is written.
#
#   docs/man.sh [README] [VERSION] > postfix-mx-smart-router.8
#
# README defaults to the README.md next to this folder, VERSION to <Version> in
# Directory.Build.props. The date is SOURCE_DATE_EPOCH's, else the README's last commit's,
# so that two builds of one commit give the same page.
#
# Which README sections become which man sections is the table below: "required" ones
# must exist (the script fails otherwise), "optional" ones are taken when present. The
# converter knows the Markdown the README uses: paragraphs, `###` subsections, fenced
# code blocks, "- " and "1. " lists (with indented continuation lines), `code`, **bold**,
# *emphasis* and [links](url). Plain awk (mawk or gawk): no pandoc needed.
set -euo pipefail

here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
root="$(dirname "$here")"
readme="${1:-$root/README.md}"
version="${2:-$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n1)}"

if [[ ! -r "$readme" ]]; then
    echo "man.sh: cannot read $readme" >&2
    exit 1
fi

epoch="${SOURCE_DATE_EPOCH:-}"
if [[ -z "$epoch" ]]; then
    epoch=$(git -C "$(dirname "$readme")" log -1 --format=%ct -- "$(basename "$readme")" 2>/dev/null || true)
fi
if [[ -z "$epoch" ]]; then
    epoch=$(stat -c %Y "$readme")
fi
date=$(date -u -d "@$epoch" +%Y-%m-%d)

# README heading | man section | required or optional
sections='
(intro)|DESCRIPTION|required
How a lookup is answered|HOW A LOOKUP IS ANSWERED|optional
Command line|OPTIONS|required
Configuration|CONFIGURATION|required
DNS|DNS|optional
Postfix setup|POSTFIX SETUP|optional
Reloading the config|RELOADING THE CONFIG|optional
Metrics|METRICS|optional
Stats and the routing log|STATS AND THE ROUTING LOG|optional
Running it as a service|SYSTEMD|optional
'

awk -v version="$version" -v date="$date" -v sections="$sections" '
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }

# Text that roff must not interpret: backslashes, and the dashes and quotes it would turn
# into typographic ones, in code.
function esc_code(s) {
    gsub(/\\/, "\\e", s)
    gsub(/-/, "\\-", s)
    return s
}

function esc_prose(s) {
    gsub(/\\/, "\\e", s)
    gsub(/\342\200\224/, "\\(em", s)   # em dash
    gsub(/\342\200\223/, "\\(en", s)   # en dash
    return s
}

# **bold**, *emphasis* and [text](url) in prose without code spans.
function prose(s,    out, pre, inner) {
    s = esc_prose(s)
    out = ""
    while (match(s, /\[[^]]*\]\([^)]*\)/)) {
        pre = substr(s, 1, RSTART - 1)
        inner = substr(s, RSTART + 1, RLENGTH - 1)
        sub(/\]\(.*$/, "", inner)
        out = out pre inner
        s = substr(s, RSTART + RLENGTH)
    }
    s = out s
    out = ""
    while (match(s, /\*\*[^*]+\*\*/)) {
        out = out substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 2, RLENGTH - 4) "\\fR"
        s = substr(s, RSTART + RLENGTH)
    }
    s = out s
    out = ""
    while (match(s, /\*[^* ][^*]*\*/)) {
        out = out substr(s, 1, RSTART - 1) "\\fI" substr(s, RSTART + 1, RLENGTH - 2) "\\fR"
        s = substr(s, RSTART + RLENGTH)
    }
    return out s
}

# One line of Markdown prose with `code` spans.
function inline(s,    out, start, length_) {
    out = ""
    gsub(/\*\*`/, "`", s)   # **`perc`**: code is bold already
    gsub(/`\*\*/, "`", s)
    while (match(s, /`[^`]+`/)) {
        start = RSTART; length_ = RLENGTH   # prose() matches too
        out = out prose(substr(s, 1, start - 1)) "\\fB" esc_code(substr(s, start + 1, length_ - 2)) "\\fR"
        s = substr(s, start + length_)
    }
    return out prose(s)
}

# A roff text line must not start with a control character.
function emit(s) {
    if (s ~ /^[.\047]/) s = "\\&" s
    print s
}

BEGIN {
    n = split(sections, rows, "\n")
    count = 0
    for (i = 1; i <= n; i++) {
        if (rows[i] == "") continue
        split(rows[i], f, "|")
        count++
        heading[count] = f[1]; mansec[count] = f[2]; need[count] = f[3]
        index_of[f[1]] = count
    }
    current = "(intro)"
    seen_title = 0
}

# Collect the README: lines per top-level (##) section, in order.
/^# / && !seen_title { seen_title = 1; next }
/^## / { current = trim(substr($0, 4)); next }
/^!\[/ { next }   # an image (a screenshot) has no place in a man page
{
    body[current] = body[current] $0 "\n"
    present[current] = 1
}

# A paragraph or list item is gathered first, so that a `code span` or **bold** may run
# over a line break.
function flush() {
    if (pending != "") emit(prefix inline(pending))
    pending = ""; prefix = ""
}

function add(text) { pending = pending (pending == "" ? "" : " ") trim(text) }

function render(text,    lines, m, i, line, in_code, in_list, para, num) {
    m = split(text, lines, "\n")
    in_code = 0; in_list = 0; para = 0; pending = ""; prefix = ""
    for (i = 1; i <= m; i++) {
        line = lines[i]
        if (in_code) {
            if (line ~ /^[ \t]*```/) { print ".fi"; print ".RE"; in_code = 0; para = 0; continue }
            emit(esc_code(line))
            continue
        }
        if (line ~ /^[ \t]*```/) {
            flush()
            print ".PP"; print ".RS 4"; print ".nf"
            in_code = 1; in_list = 0; para = 0
            continue
        }
        if (line ~ /^[ \t]*$/) { flush(); para = 0; in_list = 0; continue }
        if (line ~ /^### /) {
            flush()
            print ".SS " esc_prose(trim(substr(line, 5)))
            para = 1; in_list = 0
            continue
        }
        if (line ~ /^- /) {
            flush()
            print ".IP \\(bu 2"
            add(substr(line, 3))
            in_list = 1; para = 1
            continue
        }
        if (line ~ /^[0-9]+\. /) {
            flush()
            num = line; sub(/\..*/, "", num)
            print ".IP " num ". 4"
            sub(/^[0-9]+\. /, "", line)
            add(line)
            in_list = 1; para = 1
            continue
        }
        if (in_list && line ~ /^[ \t]+- /) {   # a list inside a list item: one line per item
            flush()
            print ".br"
            prefix = "\\(bu "
            add(substr(trim(line), 3))
            continue
        }
        if (in_list && line ~ /^[ \t]+/) { add(line); continue }
        if (!para) { flush(); print ".PP"; para = 1 }
        in_list = 0
        add(line)
    }
    flush()
    if (in_code) { print ".fi"; print ".RE" }
}

END {
    for (i = 1; i <= count; i++) {
        if (need[i] == "required" && !present[heading[i]]) {
            print "man.sh: README has no section \"" heading[i] "\"" > "/dev/stderr"
            failed = 1
        }
    }
    if (failed) exit 1

    print ".\\\" Generated by docs/man.sh from README.md; edit the README, not this file."
    print ".TH POSTFIX\\-MX\\-SMART\\-ROUTER 8 \"" date "\" \"postfix\\-mx\\-smart\\-router " version "\" \"System Manager\\(aqs Manual\""
    print ".SH NAME"
    print "postfix\\-mx\\-smart\\-router \\- MX\\-aware weighted relay chooser for Postfix transport_maps"
    print ".SH SYNOPSIS"
    print ".B postfix\\-mx\\-smart\\-router"
    print "[\\fIoptions\\fR]"
    for (i = 1; i <= count; i++) {
        if (!present[heading[i]]) continue
        print ".SH " mansec[i]
        render(body[heading[i]])
    }
    print ".SH FILES"
    print ".TP"
    print ".I /etc/postfix/postfix\\-mx\\-smart\\-router.yaml"
    print "The config file (\\fB\\-c\\fR changes it)."
    print ".TP"
    print ".I /var/log/postfix\\-mx\\-smart\\-router/"
    print "Where the packaged systemd unit lets the router write its routing log."
    print ".SH SEE ALSO"
    print ".BR postfix (1),"
    print ".BR transport (5),"
    print ".BR tcp_table (5),"
    print ".BR socketmap_table (5),"
    print ".BR systemd.service (5),"
    print ".BR systemctl (1)"
}
' "$readme"
