# shellcheck shell=bash
# The share checks: counts per sink against the weights, and the share scenarios' config.
# Sourced by tests/e2e/lib.sh.

# ---------------------------------------------------------------------------- shares

# expect_shares NAME TOTAL WEIGHTS SINKS [info]: each sink within +-1 of weight share *
# TOTAL. WEIGHTS and SINKS are space-separated lists of the same length. Prints PASS or
# FAIL; with "info", an INFO line with the counts that never fails.
expect_shares() {
    local name=$1 total=$2 info=${5:-}
    local -a w s
    read -ra w <<<"$3"
    read -ra s <<<"$4"
    local sum=0 x i got detail="" ok=1
    for x in "${w[@]}"; do sum=$((sum + x)); done
    for i in "${!s[@]}"; do
        got=$(sink_count "${s[i]}")
        # |got - total*w/sum| <= 1  <=>  |got*sum - total*w| <= sum
        local diff=$((got * sum - total * w[i]))
        [ "${diff#-}" -le "$sum" ] || ok=0
        detail+="sink${s[i]}=$got/$(awk -v t="$total" -v a="${w[i]}" -v b="$sum" 'BEGIN{printf "%.1f", t*a/b}') "
    done
    SHARES_DETAIL=${detail% }
    if [ -n "$info" ]; then
        echo "INFO $name: got/expected $SHARES_DETAIL$([ $ok = 1 ] || echo ' (outside +-1)')"
        return 0
    fi
    if [ $ok = 1 ]; then pass "$name ($SHARES_DETAIL)"; else fail "$name" "got/expected: $SHARES_DETAIL"; fi
    [ $ok = 1 ]
}

# expect_domain_only NAME DOMAIN SINK...: every recipient those sinks got is in DOMAIN
expect_domain_only() {
    local name=$1 domain=$2; shift 2
    local i bad
    for i in "$@"; do
        bad=$(sink_rcpts "$i" | grep -v "@$domain\$" | head -3)
        if [ -n "$bad" ]; then
            fail "$name" "sink$i got mail for other domains: $(echo "$bad" | tr '\n' ' ')"
            return 1
        fi
    done
    pass "$name"
}

# tri_duo_servers: the servers and rules of the share scenarios, printed as YAML. Group tri
# (60/30/10, sinks 1-3) takes tri.test, group duo (50/50, sinks 4-5) takes duo.test, and
# anything else goes to sink 6, which must stay empty. Needs SINK_PORT (sinks_start 6).
tri_duo_servers() {
    cat <<EOF
servers:
  names:
    t60:
      address: smtp:[127.0.0.1]:${SINK_PORT[1]}
      perc: 60
    t30:
      address: smtp:[127.0.0.1]:${SINK_PORT[2]}
      perc: 30
    t10:
      address: smtp:[127.0.0.1]:${SINK_PORT[3]}
      perc: 10
    d1:
      address: smtp:[127.0.0.1]:${SINK_PORT[4]}
      perc: 50
    d2:
      address: smtp:[127.0.0.1]:${SINK_PORT[5]}
      perc: 50
    other:
      address: smtp:[127.0.0.1]:${SINK_PORT[6]}
  tri: [t60, t30, t10]
  duo: [d1, d2]
sender_rules:
  default: other
  tri.test: tri
  duo.test: duo
EOF
}
