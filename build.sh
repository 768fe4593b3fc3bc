#!/usr/bin/env bash
# Build, run and test postfix-mx-smart-router.
#
#   ./build.sh            publish the native binary to out/postfix-mx-smart-router, show its
#                         size and check with ldd that it links nothing but the C library
#   ./build.sh run [ARG]  build, then serve the example config (extra arguments pass through)
#   ./build.sh test       build, run every test (F# properties, integration tests over
#                         loopback, tests/e2e/*.sh), end with one line "N passed, N failed"
#   ./build.sh install    install the binary, the systemd unit, the example config, the
#                         logrotate snippet and the man page; honours PREFIX (default
#                         /usr/local) and DESTDIR; builds first when out/ has no binary
#   ./build.sh deb        build dist/postfix-mx-smart-router_VERSION_amd64.deb from out/
#                         (MAINTAINER="Name <mail>" and DEB_REVISION override the defaults)
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

# One file per job beside this one: installing, packaging, running the tests.
for part in install package test; do
    # shellcheck source=/dev/null
    . "$root/scripts/$part.sh"
done

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
    install)
        install_cmd
        ;;
    deb)
        deb_cmd
        ;;
    -h|--help|help)
        sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
        ;;
    *)
        say "unknown command: $1 (use: build, run, test, install, deb)"
        exit 2
        ;;
esac
