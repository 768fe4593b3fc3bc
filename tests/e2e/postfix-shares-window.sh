#!/usr/bin/env bash
# No master.cf change, the router's --repeat-window on; with
# transport_maps and distinct recipients over SMTP the shares must be within +-1 again,
# and the routing log must show one decision per message (the other lookup of each
# pair is a repeat). The sender-dependent scenarios are reported (INFO), not checked:
# with one sender, concurrent sessions interleave the lookups of the one key.
exec "$(dirname "$0")/postfix-shares.sh" --plain --repeat-window "${E2E_REPEAT_WINDOW:-60}" "$@"
