#!/bin/sh
# rate_limit: a connection that waits for its turn is throttled, not
# stalled.  30 downloads share 2K/s (102 bytes a tick, dealt to one waiter
# a tick): each waits about 1.5 s between its turns, longer than
# channel_stall_timeout = 1, yet none may be closed as stalled; all of
# them get every byte.  Then connections closed while they wait for
# tokens, a reload that changes the limit under waiters and one that
# removes it, and the tunnel taken down with waiters (ASan: no timer on
# freed memory).
. "$(dirname "$0")/lib.sh"

start_sshd
start_server source; SOURCE=$SERVER_PORT
start_server count; COUNT=$SERVER_PORT
DOWN=$(free_port); UP=$(free_port)
conf() {
	write_conf "
  lim = { host = \"127.0.0.1\"; rate_limit = \"$1\";
    channel_stall_timeout = 1; sessions = 2;
    local = [ \"$DOWN:127.0.0.1:$SOURCE\", \"$UP:127.0.0.1:$COUNT\" ]; };"
}
conf 2K
start_tunneld
check "up" wait_state lim up

N=30
i=0
while [ $i -lt $N ]; do
	$NETIO drain "$DOWN" 400 > "$WORK/d.$i" 2>&1 &
	eval "p$i=\$!"
	i=$((i + 1))
done
fails=0
i=0
while [ $i -lt $N ]; do
	eval "wait \$p$i" || { fails=$((fails + 1)); diag "drain $i: $(cat "$WORK/d.$i")"; }
	i=$((i + 1))
done
check "$N connections waiting their turn at 2K/s: every byte came" \
    test "$fails" = 0
check "... none closed as stalled (channel_stall_timeout = 1)" \
    test "$(json_get lim "t['forwards'][0]['stalled']")" = 0
check "... the log says no stall" \
    sh -c "! grep -q 'no progress for' '$WORK/tunneld.log'"

# waiters that go: clients killed while their channels wait for tokens
i=0
while [ $i -lt 10 ]; do
	$NETIO blast "$UP" 1000000 >/dev/null 2>&1 &
	eval "b$i=\$!"
	$NETIO drain "$DOWN" 1000000 >/dev/null 2>&1 &
	eval "c$i=\$!"
	i=$((i + 1))
done
sleep 1	# an observation window: they queue for tokens meanwhile
i=0
while [ $i -lt 5 ]; do
	eval "kill \$b$i \$c$i"
	i=$((i + 1))
done
conf 1K
tctl reload >/dev/null 2>&1
check "reload under waiters: the new limit" \
    test "$(json_get lim "t['rate_limit']")" = 1024
conf 0
tctl reload >/dev/null 2>&1
fails=0
for i in 5 6 7 8 9; do
	eval "wait \$b$i" || fails=$((fails + 1))
	eval "wait \$c$i" || fails=$((fails + 1))
done
check "reload to no limit: the waiters finish, every byte" test "$fails" = 0
conf 2K
tctl reload >/dev/null 2>&1
i=0
while [ $i -lt 5 ]; do
	$NETIO drain "$DOWN" 1000000 >/dev/null 2>&1 &
	i=$((i + 1))
done
sleep 1	# they wait for tokens
check "the tunnel taken down with waiters" sh -c \
    "$TUNNELCTL -s '$CTL' down lim >/dev/null"
check "... down" wait_state lim down
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
