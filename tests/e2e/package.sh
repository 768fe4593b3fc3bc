#!/usr/bin/env bash
# Package and systemd: builds the .deb from out/ (./build.sh deb), checks it
# with lintian (no E: line) and dpkg-deb, installs it into this system with dpkg -i, runs
# the installed binary, checks the installed unit with systemd-analyze verify and
# systemd-analyze security --offline=true (exposure 2.0 or less), then removes and purges
# the package again.
#
# It installs into the real system, so it refuses to touch a system that already has the
# router installed (a package, or any of its files): SKIP outside CI, FAIL under CI.
. "$(dirname "$0")/lib.sh"
e2e_init package dpkg dpkg-deb lintian systemd-analyze gzip

NAME=postfix-mx-smart-router
UNIT=/lib/systemd/system/$NAME.service
CONFIG=/etc/postfix/$NAME.yaml
export DEBIAN_FRONTEND=noninteractive

# ---- build and inspect -------------------------------------------------------------------

deb_log="$E2E_TMP/deb.log"
if ! deb=$("$REPO_ROOT/build.sh" deb 2>"$deb_log" | tail -n1) || [ ! -f "$deb" ]; then
    cat "$deb_log"
    die "deb builds" "./build.sh deb failed"
fi
pass "deb builds: $(basename "$deb")"

version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$REPO_ROOT/Directory.Build.props" | head -n1)
check "deb version is the project's" "$(dpkg-deb -f "$deb" Version)" \
    '[ "$(dpkg-deb -f "$deb" Version)" = "$version-${DEB_REVISION:-1}" ]'

lintian_out="$E2E_TMP/lintian.txt"
lintian "$deb" >"$lintian_out" 2>&1
lintian_rc=$?
while IFS= read -r line; do info "lintian: $line"; done <"$lintian_out"
check "lintian reports no error" "$(grep -c '^E:' "$lintian_out") E: lines, exit $lintian_rc" \
    '! grep -q "^E:" "$lintian_out" && [ $lintian_rc = 0 ]'

depends=$(dpkg-deb -f "$deb" Depends)
info "Depends: $depends"
check "Depends is only the C library" "$depends" \
    '[[ "$depends" =~ ^libc6\ \(\>=\ [0-9]+\.[0-9]+\)$ ]]'

check "the config is a conffile" "$(dpkg-deb -f "$deb" Conffiles 2>/dev/null; dpkg-deb -I "$deb" conffiles)" \
    'dpkg-deb -I "$deb" conffiles | grep -qx "$CONFIG"'

contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
for f in ./usr/sbin/$NAME ./lib/systemd/system/$NAME.service ./etc/postfix/$NAME.yaml \
    ./usr/share/man/man8/$NAME.8.gz ./usr/share/doc/$NAME/copyright \
    ./usr/share/doc/$NAME/changelog.Debian.gz ./etc/logrotate.d/$NAME; do
    check "the package has $f" "missing" 'grep -qx "$f" <<<"$contents"'
done
check "the package has md5sums" "missing" 'dpkg-deb -I "$deb" md5sums >/dev/null'

# The man page renders without a warning (what lintian's groff check does).
dpkg-deb -x "$deb" "$E2E_TMP/root"
if command -v man >/dev/null 2>&1; then
    man_warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z \
        "$E2E_TMP/root/usr/share/man/man8/$NAME.8.gz" 2>&1 >/dev/null)
    check "the man page renders without warnings" "$man_warnings" '[ -z "$man_warnings" ]'
    check "the man page has the options" "no --config" \
        'LC_ALL=C.UTF-8 man -l "$E2E_TMP/root/usr/share/man/man8/$NAME.8.gz" 2>/dev/null | grep -q -- "--config"'
elif [ -n "${CI:-}" ]; then
    fail "the man page renders without warnings" "man is missing under CI"
else
    echo "SKIP the man page renders (no man)"
fi

# ---- install into this system --------------------------------------------------------------

if dpkg-query -W -f '${Status}' "$NAME" 2>/dev/null | grep -q "installed"; then
    present="the package $NAME is installed"
else
    present=
    for f in /usr/sbin/$NAME $UNIT $CONFIG /etc/logrotate.d/$NAME; do
        if [ -e "$f" ]; then present="$f exists"; break; fi
    done
fi
if [ -n "$present" ]; then
    if [ -n "${CI:-}" ]; then die "a clean system to install into" "$present"; fi
    echo "SKIP installing: $present (not replacing an installation on this system)"
    e2e_finish
fi

# From here on, whatever happens, take the package out again.
cleanup_package() { dpkg --purge "$NAME" >/dev/null 2>&1 || true; }
trap 'rc=$?; cleanup_package; (exit $rc); e2e_cleanup' EXIT

install_out=$(dpkg -i "$deb" 2>&1)
install_rc=$?
check "dpkg -i installs the package" "$install_out" '[ $install_rc = 0 ]' || e2e_finish

shown=$(postfix-mx-smart-router --version 2>&1)
check "postfix-mx-smart-router --version runs from PATH" "$shown" '[ "$shown" = "$NAME $version" ]'
check "the binary is /usr/sbin's" "$(command -v postfix-mx-smart-router)" \
    '[ "$(command -v postfix-mx-smart-router)" = /usr/sbin/$NAME ]'
checked=$(/usr/sbin/$NAME --check 2>&1)
check "the packaged config passes --check at its default path" "$checked" \
    '[[ "$checked" == "$CONFIG: OK"* ]]'
check "the unit is installed but not enabled" "$(find /etc/systemd/system -name "$NAME.service" 2>/dev/null)" \
    '[ -f "$UNIT" ] && [ -z "$(find /etc/systemd /lib/systemd -path "*.wants/*" -name "$NAME.service" 2>/dev/null)" ]'
check "the unit starts the packaged binary" "$(grep ^ExecStart= "$UNIT")" \
    'grep -qx "ExecStart=/usr/sbin/$NAME -c $CONFIG" "$UNIT"'

# systemd-analyze verify: with the man page check when man can find the page (Docker
# images often drop /usr/share/man at install time).
man_check=--man=no
if command -v man >/dev/null 2>&1 && man -w "$NAME" >/dev/null 2>&1; then man_check=--man=yes; fi
verify_out=$(systemd-analyze verify "$man_check" "$UNIT" 2>&1)
verify_rc=$?
check "systemd-analyze verify ($man_check) accepts the unit" "$verify_out" \
    '[ $verify_rc = 0 ] && ! grep -q "postfix-mx-smart-router" <<<"$verify_out"'

security_out=$(systemd-analyze security --offline=true "$UNIT" 2>&1)
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$security_out" | tail -n1)
info "systemd-analyze security --offline=true: exposure ${exposure:-?}"
check "exposure is 2.0 or less" "exposure '${exposure:-none}'" \
    '[ -n "$exposure" ] && awk -v e="$exposure" "BEGIN { exit !(e <= 2.0) }"'

# ---- remove and purge ----------------------------------------------------------------------

echo "# the admin's edit" >>"$CONFIG"
remove_out=$(dpkg -r "$NAME" 2>&1)
remove_rc=$?
check "dpkg -r removes the package" "$remove_out" '[ $remove_rc = 0 ] && [ ! -e /usr/sbin/$NAME ] && [ ! -e "$UNIT" ]'
check "dpkg -r keeps the conffile" "gone" 'grep -q "the admin" "$CONFIG"'
purge_out=$(dpkg --purge "$NAME" 2>&1)
purge_rc=$?
check "dpkg --purge removes the config too" "$purge_out" \
    '[ $purge_rc = 0 ] && [ ! -e "$CONFIG" ] && [ ! -e /etc/logrotate.d/$NAME ] && ! dpkg-query -W "$NAME" >/dev/null 2>&1'

e2e_finish
