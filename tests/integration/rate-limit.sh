#!/bin/sh
# rate_limit: the bytes a tunnel's forwards move per second, each way, all
# together.  A transfer of N bytes at limit L takes at least about N/L (a
# lower bound, less the bucket's burst: robust on a busy machine), up and
# down; a second tunnel without a limit in the same daemon is not slowed
# (much faster than L); status and metrics show the limit; a reload
# changes it.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server count; COUNT=$SERVER_PORT
start_server source; SOURCE=$SERVER_PORT
UP=$(free_port); DOWN=$(free_port); FUP=$(free_port); FDOWN=$(free_port)
M=1048576
N=$((3 * M))			# 3 MiB: 3 s at 1M
conf() {
	write_conf "
  lim = { host = \"127.0.0.1\"; rate_limit = \"$1\";
    local = [ \"$UP:127.0.0.1:$COUNT\", \"$DOWN:127.0.0.1:$SOURCE\" ]; };
  free = { host = \"127.0.0.1\";
    local = [ \"$FUP:127.0.0.1:$COUNT\", \"$FDOWN:127.0.0.1:$SOURCE\" ]; };"
}
conf 1M
start_tunneld
check "lim up" wait_state lim up
check "free up" wait_state free up

# at least N/L, less the burst (0.2 s of the rate) and a tick: 2.7 s
t=$($NETIO blast "$UP" "$N"); diag "up: $N bytes at 1M in ${t:-?} s"
check "up: $N bytes at 1M/s take at least 2.7 s" between "${t:-0}" 2.7 60
t=$($NETIO drain "$DOWN" "$N"); diag "down: $N bytes at 1M in ${t:-?} s"
check "down: the same the other way" between "${t:-0}" 2.7 60
# both at once: each way has its own 1M
$NETIO blast "$UP" "$N" > "$WORK/both.up" &
b=$!
t=$($NETIO drain "$DOWN" "$N")
wait "$b"
diag "both ways at once: up $(cat "$WORK/both.up") s, down ${t:-?} s"
check "... both ways at once: each has its own limit (under 6 s)" \
    between "${t:-0}" 2.7 6
check "... and at least 2.7 s up too" between "$(cat "$WORK/both.up")" 2.7 6
# two connections share it: together still 1M/s
$NETIO blast "$UP" "$N" > "$WORK/share.1" &
b=$!
t=$($NETIO blast "$UP" "$N")
wait "$b"
diag "two connections up at once: ${t:-?} s and $(cat "$WORK/share.1") s"
check "two connections together: 2 x $N bytes take at least 5.4 s" \
    between "$(awk -v a="${t:-0}" -v b="$(cat "$WORK/share.1")" \
    'BEGIN { print (a > b ? a : b) }')" 5.4 120
check "... shared fairly: neither finished in less than 4 s" \
    between "$(awk -v a="${t:-0}" -v b="$(cat "$WORK/share.1")" \
    'BEGIN { print (a < b ? a : b) }')" 4 120

t=$($NETIO blast "$FUP" "$N"); diag "free tunnel up: ${t:-?} s"
check "a tunnel without a limit in the same daemon: much faster (under 1 s)" \
    between "${t:-9}" 0 1
t=$($NETIO drain "$FDOWN" "$N"); diag "free tunnel down: ${t:-?} s"
check "... down too" between "${t:-9}" 0 1

check "status shows the limit in bytes per second" \
    test "$(json_get lim "t['rate_limit']")" = $M
check "... and none for the other tunnel" \
    test "$(json_get free "t.get('rate_limit')")" = None
check "tunnelctl status NAME shows it" \
    sh -c "$TUNNELCTL -s '$CTL' status lim | grep -q 'rate limit:  1.0M/s each way'"
tctl metrics > "$WORK/metrics.txt"
check "metrics: tunneld_tunnel_rate_limit_bytes" \
    grep -qx "tunneld_tunnel_rate_limit_bytes{tunnel=\"lim\"} $M" "$WORK/metrics.txt"
check "... absent for the tunnel without one" \
    sh -c "! grep -q 'tunneld_tunnel_rate_limit_bytes{tunnel=\"free\"}' '$WORK/metrics.txt'"

conf 256K
out=$(tctl reload 2>&1); diag "$out"
check "reload: the new limit in status" \
    test "$(json_get lim "t['rate_limit']")" = 262144
check "... without a new session" sh -c "! grep -q 'lim: up -> ' '$WORK/tunneld.log'"
t=$($NETIO blast "$UP" "$M"); diag "up: $M bytes at 256K in ${t:-?} s"
check "... applied: 1 MiB at 256K/s takes at least 3.6 s" between "${t:-0}" 3.6 60
conf 0
tctl reload >/dev/null 2>&1
check "rate_limit = 0: none" \
    test "$(json_get lim "t.get('rate_limit')")" = None
t=$($NETIO blast "$UP" "$N"); diag "up without the limit: ${t:-?} s"
check "... and the tunnel is as fast as the other (under 1 s)" between "${t:-9}" 0 1
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
