#!/usr/bin/env bash
# Build, run and test postfix-mx-smart-router.
#
#   ./build.sh            publish the native binary to out/postfix-mx-smart-router, show its
#                         size and check with ldd that it links nothing but the C library
#   ./build.sh run [ARG]  build, then serve the example config (extra arguments pass through)
#   ./build.sh test       build, run every test (F# properties, integration tests over
#                         loopback, tests/e2e/*.sh), end with one line "N passed, N failed"
#
# Works from any directory. With CI set, anything missing (a test project, tests/e2e, a
# script that ran no test) is a failure, never a skip.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
cd "$root"

bin="$root/out/postfix-mx-smart-router"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { printf '%s\n' "build.sh: $*" >&2; }

publish() {
    # A failed publish must not leave an older binary behind for the tests to run against.
    rm -f "$bin"
    dotnet publish src/Router.Native -c Release -o out
    [[ -x "$bin" ]] || { say "publish did not produce $bin"; return 1; }
}

check_binary() {
    local size
    size=$(stat -c %s "$bin")
    say "binary: $bin, $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }') MiB)"
    local ldd_out
    ldd_out=$(ldd "$bin" 2>&1) || { say "ldd failed:"; printf '%s\n' "$ldd_out" >&2; return 1; }
    printf '%s\n' "$ldd_out" >&2
    # Only the C library and its glibc parts: no .NET runtime, no libstdc++, no OpenSSL, no ICU.
    local bad
    bad=$(printf '%s\n' "$ldd_out" \
        | grep -Ev '^[[:space:]]*(linux-vdso\.so|libc\.so|libm\.so|ld-linux[-a-z0-9_.]*\.so|/lib(64)?/ld-linux[-a-z0-9_.]*\.so|libpthread\.so|libdl\.so|librt\.so)' \
        | grep -v '^[[:space:]]*$' || true)
    if [[ -n "$bad" ]]; then
        say "the binary links more than the C library:"
        printf '%s\n' "$bad" >&2
        return 1
    fi
    say "ldd: only the C library"
}

build() {
    # Explicit returns: errexit does not apply inside "if ! build".
    publish || return 1
    check_binary || return 1
}

# ---- test ---------------------------------------------------------------------------------

passed=0
failed=0
notes=()

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
    if (( ${#notes[@]} > 0 )); then
        say "not counted as test results above:"
        local n
        for n in "${notes[@]}"; do say "  - $n"; done
    fi
    echo "$passed passed, $failed failed"
    (( failed == 0 ))
}

case "${1:-build}" in
    build)
        build
        ;;
    run)
        shift
        build
        exec "$bin" -c "$root/postfix-mx-smart-router.yaml.example" "$@"
        ;;
    test)
        run_tests
        ;;
    -h|--help|help)
        sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
        ;;
    *)
        say "unknown command: $1 (use: build, run, test)"
        exit 2
        ;;
esac
