# shellcheck shell=bash
# Shared helpers for the end-to-end scripts: real Postfix, dnsmasq and smtp-sink on
# loopback, driven against the built router. Source it, call e2e_init, then use the
# helpers; e2e_finish prints the summary and gives the exit status.
#
# Everything a script starts is registered here and torn down by the EXIT trap:
# Postfix instances (postfix stop, then abort), smtp-sinks, dnsmasq and the router.
# Nothing talks to the system resolver: the router gets --dns-server, Postfix has
# smtp_dns_support_level = disabled and only delivers to [127.0.0.1]:PORT.
#
# Environment:
#   ROUTER_BIN  router binary (default <repo>/out/postfix-mx-smart-router)
#   CI          when set, a missing tool or router binary is a FAIL, never a SKIP
#   E2E_KEEP    when set, keep the scratch directory (always kept after a failure)
#   E2E_VERBOSE when set, echo what the helpers do
#   E2E_TIMEOUT time limit of one script in seconds (default 600), then FAIL
#   E2E_TMPDIR  where the scratch directory goes (default /tmp; user postfix must be
#               able to reach it)

set -u -o pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$E2E_DIR/../.." && pwd)
ROUTER_BIN=${ROUTER_BIN:-$REPO_ROOT/out/postfix-mx-smart-router}

E2E_FAILS=0
E2E_PASSES=0
E2E_TMP=
E2E_PIDS=()        # background processes we started (sinks, dnsmasq, router)
E2E_POSTFIX=()     # config directories of Postfix instances we started
E2E_PORTS=" "      # ports handed out by free_port, so two calls never collide
E2E_START=$SECONDS

# The helpers, one file per job: the harness (checks, scratch dir, ports, DNS, router), the
# Postfix lab (smtp-sinks and private Postfix instances), the SMTP client (smtp-source,
# sendmail, a session by hand), the share checks and relays that fail.
for _e2e_part in harness postfix smtp shares relays; do
    # shellcheck source=/dev/null
    . "$E2E_DIR/lib/$_e2e_part.sh"
done
unset _e2e_part
