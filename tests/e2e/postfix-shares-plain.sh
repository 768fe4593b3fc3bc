#!/usr/bin/env bash
# The counts with no master.cf change (plain transport_maps and
# sender_dependent_default_transport_maps), where smtpd asks the router too and the
# shares skew. Delivery, bounces and misrouting are checked; the shares and lookup
# counts are INFO lines (README.md has the measured numbers). A script of its own so
# that ./build.sh test, which runs every executable tests/e2e/*.sh, runs it too.
exec "$(dirname "$0")/postfix-shares.sh" --plain "$@"
