#!/usr/bin/env bash
# Run every end-to-end script against the built router (ROUTER_BIN, default
# <repo>/out/postfix-mx-smart-router) and exit non-zero when any of them failed.
# Each script prints PASS/FAIL/INFO lines and cleans up after itself; under CI (env CI
# set) a missing tool is a failure, elsewhere the script is skipped.
#
#   tests/e2e/run.sh             all scripts
#   tests/e2e/run.sh postmap     only the named ones
if [ -n "${ROUTER_BIN:-}" ] && [ "${ROUTER_BIN#/}" = "$ROUTER_BIN" ]; then
    ROUTER_BIN=$PWD/$ROUTER_BIN     # the scripts run from tests/e2e
fi
export ROUTER_BIN
[ -n "$ROUTER_BIN" ] || unset ROUTER_BIN
cd "$(dirname "$0")" || exit 1
scripts=("$@")
if [ ${#scripts[@]} = 0 ]; then
    scripts=(postmap postfix-shares postfix-shares-plain postfix-defer)
    # issue 3's --repeat-window: once the router has it, the plain setup must give the
    # +-1 shares too (transport_maps, distinct recipients)
    router=${ROUTER_BIN:-../../out/postfix-mx-smart-router}
    if [ -x "$router" ] && "$router" --help 2>&1 | grep -q -- --repeat-window; then
        scripts+=(postfix-shares-window)
    fi
fi
failed=()
for s in "${scripts[@]}"; do
    t0=$SECONDS
    case $s in
    postfix-shares-plain) ./postfix-shares.sh --plain ;;
    postfix-shares-window) ./postfix-shares.sh --plain --repeat-window "${E2E_REPEAT_WINDOW:-60}" ;;
    *) "./$s.sh" ;;
    esac || failed+=("$s")
    echo "# $s: $((SECONDS - t0)) s"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "# e2e failed: ${failed[*]}"
    exit 1
fi
echo "# e2e: all passed"
