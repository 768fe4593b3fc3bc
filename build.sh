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

# ---- install and package -----------------------------------------------------------------

name=postfix-mx-smart-router

version() { sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n1; }

# A binary to install: out/'s, built first when there is none.
need_binary() {
    if [[ ! -x "$bin" ]]; then
        say "no $bin yet: building it"
        build
    fi
}

# install_tree DESTDIR PREFIX UNITDIR: the files every installation has.
install_tree() {
    local dest="$1" prefix="$2" unitdir="$3"
    install -d -m 0755 "$dest$prefix/sbin" "$dest$unitdir" "$dest$prefix/share/man/man8" \
        "$dest$prefix/share/doc/$name" "$dest/etc/postfix"
    install -m 0755 "$bin" "$dest$prefix/sbin/$name"
    # The unit names the binary by its path: point it at this PREFIX.
    sed "s#/usr/sbin/$name#$prefix/sbin/$name#g" "$root/contrib/$name.service" > "$dest$unitdir/$name.service"
    chmod 0644 "$dest$unitdir/$name.service"
    "$root/docs/man.sh" "$root/README.md" "$(version)" | gzip -9n > "$dest$prefix/share/man/man8/$name.8.gz"
    chmod 0644 "$dest$prefix/share/man/man8/$name.8.gz"
    install -m 0644 "$root/README.md" "$dest$prefix/share/doc/$name/README.md"
}

install_cmd() {
    local prefix="${PREFIX:-/usr/local}" dest="${DESTDIR:-}"
    prefix="${prefix%/}"
    need_binary
    install_tree "$dest" "$prefix" "$prefix/lib/systemd/system"
    install -m 0644 "$root/$name.yaml.example" "$dest/etc/postfix/$name.yaml.example"
    # The admin's own copies are never overwritten.
    if [[ ! -e "$dest/etc/logrotate.d/$name" ]]; then
        install -D -m 0644 "$root/contrib/$name.logrotate" "$dest/etc/logrotate.d/$name"
    fi
    say "installed under ${dest:-/} with PREFIX=$prefix:"
    say "  $prefix/sbin/$name, $prefix/lib/systemd/system/$name.service,"
    say "  /etc/postfix/$name.yaml.example, /etc/logrotate.d/$name, $prefix/share/man/man8/$name.8.gz"
    if [[ ! -e "$dest/etc/postfix/$name.yaml" ]]; then
        say "next: cp /etc/postfix/$name.yaml.example /etc/postfix/$name.yaml, edit it, then"
    fi
    say "  systemctl daemon-reload && systemctl enable --now $name"
}

# The Depends line: what the binary's dynamic symbols need (dpkg-shlibdeps, else the
# highest GLIBC_ symbol version objdump shows).
deb_depends() {   # $1: folder with debian/control, $2: the staged binary, relative to $1
    local line
    if command -v dpkg-shlibdeps >/dev/null 2>&1 \
        && line=$(cd "$1" && dpkg-shlibdeps -O -e"$2" 2>/dev/null) && [[ "$line" == shlibs:Depends=* ]]; then
        echo "${line#shlibs:Depends=}"
        return
    fi
    local glibc
    glibc=$(objdump -T "$1/$2" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
    echo "libc6 (>= ${glibc:-2.34})"
}

deb_cmd() {
    need_binary
    local upstream revision pkgver arch work pkg maintainer epoch
    upstream=$(version)
    revision="${DEB_REVISION:-1}"
    pkgver="$upstream-$revision"
    arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
    epoch="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}"
    export SOURCE_DATE_EPOCH="$epoch"
    maintainer="${MAINTAINER:-}"
    if [[ -z "$maintainer" ]]; then
        local gname gmail
        gname=$(git -C "$root" config user.name 2>/dev/null || true)
        gmail=$(git -C "$root" config user.email 2>/dev/null || true)
        if [[ -n "$gname" && -n "$gmail" ]]; then maintainer="$gname <$gmail>"
        else maintainer="postfix-mx-smart-router maintainers <postfix-mx-smart-router@localhost.localdomain>"; fi
    fi

    work="$root/dist/deb"
    pkg="$work/debian/$name"
    rm -rf "$work"
    mkdir -p "$pkg/DEBIAN"
    printf 'Source: %s

Package: %s
Architecture: any
' "$name" "$name" > "$work/debian/control"

    # Debian 12 keeps units of packages in /lib/systemd/system.
    install_tree "$pkg" /usr /lib/systemd/system
    # The config is a conffile: dpkg keeps the admin's edits on upgrade and asks about conflicts.
    install -m 0644 "$root/$name.yaml.example" "$pkg/etc/postfix/$name.yaml"
    install -D -m 0644 "$root/$name.yaml.example" "$pkg/usr/share/doc/$name/examples/$name.yaml"
    install -D -m 0644 "$root/contrib/$name.logrotate" "$pkg/etc/logrotate.d/$name"

    local doc="$pkg/usr/share/doc/$name"
    local date
    date=$(date -u -R -d "@$epoch")
    {
        echo "$name ($pkgver) unstable; urgency=medium"
        echo
        echo "  * Built from commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown) of $name."
        echo
        echo " -- $maintainer  $date"
    } | gzip -9n > "$doc/changelog.Debian.gz"
    local year
    year=$(date -u -d "@$epoch" +%Y)
    if [[ -f "$root/LICENSE" ]]; then
        { echo "This is $name, packaged from its repository."; echo; cat "$root/LICENSE"; } > "$doc/copyright"
    else
        {
            echo "This is $name, packaged from its repository."
            echo
            echo "Copyright $year the $name authors"
            echo
            echo "No license file has been published with this software yet: it is distributed"
            echo "by its authors, who keep all rights until they choose a license."
        } > "$doc/copyright"
    fi
    chmod 0644 "$doc/changelog.Debian.gz" "$doc/copyright"

    cat > "$pkg/DEBIAN/conffiles" <<CONFFILES
/etc/postfix/$name.yaml
/etc/logrotate.d/$name
CONFFILES

    cat > "$pkg/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
# The unit is installed, not enabled: edit /etc/postfix/postfix-mx-smart-router.yaml, then
# run "systemctl enable --now postfix-mx-smart-router".
set -e
unit=postfix-mx-smart-router.service
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
    # Record the unit so that purge removes the links "systemctl enable" makes.
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper update-state "$unit" >/dev/null || true
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        # An upgrade restarts a router that runs (a reload cannot swap the binary).
        if [ -n "$2" ] && command -v deb-systemd-invoke >/dev/null 2>&1; then
            deb-systemd-invoke try-restart "$unit" >/dev/null || true
        fi
    fi
fi
exit 0
POSTINST

    cat > "$pkg/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = "remove" ] && [ -d /run/systemd/system ] && command -v deb-systemd-invoke >/dev/null 2>&1; then
    deb-systemd-invoke stop postfix-mx-smart-router.service >/dev/null || true
fi
exit 0
PRERM

    cat > "$pkg/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ]; then
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper purge postfix-mx-smart-router.service >/dev/null || true
    fi
    rm -rf /var/log/postfix-mx-smart-router /var/log/private/postfix-mx-smart-router
fi
exit 0
POSTRM
    chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

    local depends size
    depends=$(deb_depends "$work" "debian/$name/usr/sbin/$name")
    size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
    cat > "$pkg/DEBIAN/control" <<CONTROL
Package: $name
Version: $pkgver
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Suggests: postfix
Section: mail
Priority: optional
Description: MX-aware weighted relay chooser for Postfix transport_maps
 A small lookup daemon that tells Postfix which relay to use for each
 recipient (tcp_table protocol). It looks up the MX hosts of the
 recipient's domain, walks ordered rules to choose a group of relays and
 picks one of them by weighted round robin, so that mail for, say,
 Microsoft-hosted domains leaves through chosen relays in chosen shares.
 .
 One native executable, no runtime needed. The systemd unit is installed
 but not enabled; edit /etc/postfix/postfix-mx-smart-router.yaml first.
CONTROL

    (cd "$pkg" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | LC_ALL=C sort -z \
        | xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"
    chmod 0644 "$pkg/DEBIAN/md5sums" "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles"

    # Same commit, same bytes: every file dated by the commit, not by the build.
    find "$pkg" -exec touch -h -d "@$epoch" {} +

    local deb="$root/dist/${name}_${pkgver}_${arch}.deb"
    rm -f "$deb"
    dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >&2
    say "package: $deb"
    say "Depends: $depends"
    echo "$deb"
}

# ---- test ---------------------------------------------------------------------------------

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
