# shellcheck shell=bash
# ./build.sh test: installs what the tests drive, builds, runs the F# and C# test projects
# and every executable tests/e2e/*.sh, and ends with one line "N passed, N failed".
# Sourced by build.sh.

passed=0
failed=0
notes=()
failures=()   # the name (and first error line) of every failed test, repeated before the last line

note_failure() {   # one failure that is not a test's own (a project that did not run ...)
    failed=$((failed + 1))
    notes+=("$1")
    say "FAILURE: $1"
}

# Reads the counters of a .trx file: prints "total passed failed".
trx_counts() {
    local counters
    counters=$(grep -o '<Counters [^>]*>' "$1" | head -n1 || true)
    [[ -n "$counters" ]] || return 1
    local t p f
    t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters")
    p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
    f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
    # Errors, time-outs and aborts count as failures too.
    local e to ab
    e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
    to=$(sed -n 's/.* timeout="\([0-9]*\)".*/\1/p' <<<"$counters")
    ab=$(sed -n 's/.* aborted="\([0-9]*\)".*/\1/p' <<<"$counters")
    echo "${t:-0} ${p:-0} $(( ${f:-0} + ${e:-0} + ${to:-0} + ${ab:-0} ))"
}

# The failed tests of a .trx file, one line each: the test's name and its message's first line.
trx_failures() {
    python3 - "$1" <<'PY' 2>/dev/null || grep -o 'testName="[^"]*"[^>]*outcome="Failed"' "$1" | sed 's/testName="\([^"]*\)".*/\1/'
import sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for r in ET.parse(sys.argv[1]).getroot().iterfind(".//t:UnitTestResult", ns):
    if r.get("outcome") != "Failed":
        continue
    msg = r.findtext("t:Output/t:ErrorInfo/t:Message", default="", namespaces=ns).strip()
    first = msg.splitlines()[0][:200] if msg else ""
    print(r.get("testName") + (": " + first if first else ""))
PY
}

run_dotnet_tests() {   # $1: test project folder
    local dir="$1" name
    name=$(basename "$dir")
    if [[ ! -d "$dir" ]] || ! compgen -G "$dir/*.??proj" >/dev/null; then
        note_failure "$name: no test project at $dir"
        return
    fi
    local results="$root/TestResults/$name"
    rm -rf "$results"
    mkdir -p "$results"
    say "dotnet test $dir"
    local rc=0
    dotnet test "$dir" --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
        --blame-hang-timeout 10m --blame-hang-dump-type none || rc=$?
    local trx="$results/$name.trx"
    local counts
    if [[ ! -f "$trx" ]] || ! counts=$(trx_counts "$trx"); then
        note_failure "$name: did not run (dotnet test exit $rc, no results)"
        return
    fi
    local total p f
    read -r total p f <<<"$counts"
    say "$name: $p passed, $f failed, $total total"
    local line
    while IFS= read -r line; do
        [[ -n "$line" ]] && failures+=("$name: $line")
    done < <(trx_failures "$trx")
    passed=$((passed + p))
    failed=$((failed + f))
    if (( total == 0 )); then
        note_failure "$name: ran no test"
    elif (( rc != 0 && f == 0 )); then
        note_failure "$name: dotnet test exited $rc"
    fi
}

run_e2e() {
    local dir="$root/tests/e2e"
    local scripts=()
    if [[ -d "$dir" ]]; then
        local s
        for s in "$dir"/*.sh; do
            [[ -f "$s" && -x "$s" ]] && scripts+=("$s")
        done
    fi
    if (( ${#scripts[@]} == 0 )); then
        if [[ -n "${CI:-}" ]]; then
            note_failure "e2e: no executable tests/e2e/*.sh"
        else
            say "e2e: no executable tests/e2e/*.sh (not counted; a failure under CI)"
        fi
        return
    fi
    local script out rc p f
    for script in "${scripts[@]}"; do
        say "e2e: $script"
        out=$(mktemp)
        rc=0
        ROUTER_BIN="$bin" "$script" </dev/null 2>&1 | tee "$out" || rc=$?
        # pipefail: rc is the script's status (tee does not fail).
        p=$(grep -c '^PASS ' "$out" || true)
        f=$(grep -c '^FAIL ' "$out" || true)
        local line
        while IFS= read -r line; do
            failures+=("$(basename "$script"): ${line:0:200}")
        done < <(grep '^FAIL ' "$out" || true)
        rm -f "$out"
        passed=$((passed + p))
        failed=$((failed + f))
        if (( rc != 0 && f == 0 )); then
            note_failure "$(basename "$script"): exited $rc without a FAIL line"
        elif (( p + f == 0 )); then
            note_failure "$(basename "$script"): ran no test"
        fi
    done
}

# The tools the integration and end-to-end tests drive. Installed with apt-get when missing
# and running as root; otherwise the missing ones are named (and the tests that need them
# fail, never skip).
test_deps() {
    local missing=()
    command -v postfix >/dev/null 2>&1 || missing+=(postfix)
    command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base)
    command -v nc >/dev/null 2>&1 || missing+=(netcat-openbsd)
    command -v curl >/dev/null 2>&1 || missing+=(curl)                  # metrics tests scrape with it
    command -v lintian >/dev/null 2>&1 || missing+=(lintian)            # tests/e2e/package.sh
    command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)    # unit verify and security
    command -v chromium-headless-shell >/dev/null 2>&1 || missing+=(chromium-headless-shell)  # the status page in a browser
    command -v python3 >/dev/null 2>&1 || missing+=(python3)                # reads the browser's DOM in status-page.sh
    (( ${#missing[@]} == 0 )) && return 0
    if (( EUID == 0 )) && command -v apt-get >/dev/null 2>&1; then
        say "installing what the tests need: ${missing[*]}"
        if [[ " ${missing[*]} " == *" postfix "* ]]; then
            echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
            || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; } \
            || say "could not install: ${missing[*]}"
    else
        say "missing: ${missing[*]} (run as root to have them installed: sudo ./build.sh test)"
    fi
}

run_tests() {
    test_deps
    if ! build; then
        note_failure "build: publish or binary check failed"
    fi
    export ROUTER_BIN="$bin"
    run_dotnet_tests "$root/tests/Router.Core.Tests"
    run_dotnet_tests "$root/tests/Router.Native.Tests"
    run_e2e
    if (( ${#failures[@]} > 0 )); then
        say "failed tests:"
        local t
        for t in "${failures[@]}"; do say "  - $t"; done
    fi
    if (( ${#notes[@]} > 0 )); then
        say "not counted as test results above:"
        local n
        for n in "${notes[@]}"; do say "  - $n"; done
    fi
    echo "$passed passed, $failed failed"
    (( failed == 0 ))
}
