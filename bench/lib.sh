# Helpers shared by bench/run.sh and bench/dns.sh (sourced, not run).

taken=" "
# free_port VAR: a port nothing listens on (TCP or UDP) and that this run has not used.
free_port() {
  local p hex
  while :; do
    p=$((20000 + RANDOM % 40000))
    hex=$(printf '%04X' "$p")
    [[ $taken == *" $p "* ]] && continue
    grep -q ":$hex " /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 2>/dev/null && continue
    taken+="$p "
    printf -v "$1" '%s' "$p"
    return
  done
}

# wait_tcp PORT PID: until something accepts on 127.0.0.1:PORT (or PID dies).
wait_tcp() {
  local i
  for ((i = 0; i < 1000; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}

# ask PORT KEY: one request on a fresh connection, prints the reply line (waits up to
# ASK_TIMEOUT seconds, 5 unless set).
ask() {
  local line=""
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'get %s\n' "$2" >&3
  IFS= read -r -t "${ASK_TIMEOUT:-5}" line <&3 || true
  exec 3<&-
  printf '%s\n' "$line"
}

# field LINE NAME: the value of NAME= in a loadgen result line.
field() { sed -n "s/.*\<$2=\([^ ]*\).*/\1/p" <<<"$1"; }
