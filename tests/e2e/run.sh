#!/usr/bin/env bash
# Run every end-to-end script against the built router (ROUTER_BIN, default
# <repo>/out/postfix-mx-smart-router) and exit non-zero when any of them failed.
# Each script prints PASS/FAIL/INFO lines and cleans up after itself; under CI (env CI
# set) a missing tool is a failure, elsewhere the script is skipped.
#
#   tests/e2e/run.sh             all scripts
#   tests/e2e/run.sh postmap     only the named ones
cd "$(dirname "$0")" || exit 1
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=(postmap postfix-shares postfix-shares-plain postfix-defer)
failed=()
for s in "${scripts[@]}"; do
    t0=$SECONDS
    case $s in
    postfix-shares-plain) ./postfix-shares.sh --plain ;;
    *) "./$s.sh" ;;
    esac || failed+=("$s")
    echo "# $s: $((SECONDS - t0)) s"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "# e2e failed: ${failed[*]}"
    exit 1
fi
echo "# e2e: all passed"
