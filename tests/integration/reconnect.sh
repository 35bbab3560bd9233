#!/bin/sh
# reconnect.sh - real outages: sshd killed and restarted again and again
# (-L and -R carry data again each time), a connection that arrives while
# the session is down waits for it, a refused key is retried slowly, and
# 200 outages leave no open descriptors or memory behind.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo
ECHO=$SERVER_PORT
L=$(free_port); R=$(free_port)
write_conf "
  x = {
    host = \"127.0.0.1\";
    keepalive_interval = 1;
    reconnect_min = 0.2;
    reconnect_max = 1;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
    remote = [ \"$R:127.0.0.1:$ECHO\" ];
  };"
start_tunneld
check "x up" wait_state x up

# ms since the epoch, for recovery times
now_ms() { $PYTHON3 -c 'import time; print(int(time.time()*1000))'; }

# 1. sshd killed and restarted, five times
worst=0
for cycle in 1 2 3 4 5; do
	stop_sshd
	wait_state x backoff 10 >/dev/null || true
	sleep 0.5
	start_sshd
	t0=$(now_ms)
	i=0
	until $NETIO roundtrip "$L" 1000 >/dev/null 2>&1 && \
	    $NETIO roundtrip "$R" 1000 >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 200 ] || break
		sleep 0.05
	done
	t=$(( $(now_ms) - t0 ))
	[ $t -gt $worst ] && worst=$t
	check "outage $cycle: -L and -R carry data again ($t ms after sshd returned)" \
		sh -c "$NETIO roundtrip $L 300000 && $NETIO roundtrip $R 300000"
done
diag "slowest recovery: $worst ms (reconnect_min 0.2 s, reconnect_max 1 s)"
check "recovery is bounded by reconnect_max + a handshake (< 2 s)" test "$worst" -lt 2000
check "reconnects are counted" test "$(json_get x "t['reconnects']")" -ge 5

# 2. a connection that arrives while the session is down waits for it
stop_sshd
wait_state x backoff 10
$NETIO roundtrip "$L" 200000 > "$WORK/waited.out" 2>&1 &
WAITER=$!
sleep 1
start_sshd
wait "$WAITER"
check "a connection made during the outage is served once the session is back" \
	test $? -eq 0
stop_sshd
wait_state x backoff 10
t0=$(now_ms)
check "... and closed cleanly if it does not come back within connect_timeout" \
	$NETIO closed "$L"
t=$(( $(now_ms) - t0 ))
diag "closed after $t ms (connect_timeout 5 s)"
check "... after connect_timeout, not before" sh -c "[ $t -ge 4500 ] && [ $t -lt 9000 ]"
start_sshd
check "x up again" wait_state x up

# 3. a key the server refuses: slow retries, not a storm
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/stranger" -C stranger
stop_tunneld
write_conf "
  x = {
    host = \"127.0.0.1\";
    reconnect_min = 0.2;
    reconnect_max = 1;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
    remote = [ \"$R:127.0.0.1:$ECHO\" ];
  };
  refused = {
    host = \"127.0.0.1\";
    identity_file = \"$WORK/stranger\";
    reconnect_min = 0.2;
    reconnect_max = 1;
  };"
before=$(grep -c 'Failed publickey' "$WORK/sshd.log")
start_tunneld
check "refused key: backoff" wait_state refused backoff
check "... saying so, and that it retries slowly" \
	says "$(json_get refused "t['last_error']")" "authentication failed" "retrying slowly"
check "... the next attempt is at least a minute away (reconnect_max is 1 s)" \
	$PYTHON3 -c "import sys,time; sys.exit(not ($(json_get refused "t['next_retry']") - time.time() >= 55))"
sleep 3
after=$(grep -c 'Failed publickey' "$WORK/sshd.log")
check "... and the server saw one attempt in 3 s, not a storm" test $((after - before)) -le 1
check "tunnelctl up on a tunnel in backoff retries at once" \
	sh -c "tctl() { $TUNNELCTL -s $CTL \"\$@\"; }; r0=\$(grep -c 'Failed publickey' $WORK/sshd.log); tctl up --timeout 3 refused >/dev/null 2>&1; sleep 0.5; r1=\$(grep -c 'Failed publickey' $WORK/sshd.log); [ \$r1 -gt \$r0 ]"
check "x was never disturbed" wait_state x up

# 4. 200 outages: nothing left behind
count_fds() { ls "/proc/$TUNNELD_PID/fd" | wc -l; }
kill_session() { kill $(descendants "$SSHD_PID") 2>/dev/null; }
cycles() {
	n=0
	while [ $n -lt "$1" ]; do
		r0=$(json_get x "t['reconnects']")
		kill_session
		i=0
		while [ "$(json_get x "str(t['reconnects']) + t['state']")" != "$((r0 + 1))up" ]; do
			i=$((i + 1)); [ $i -lt 100 ] || return 1
			sleep 0.05
		done
		n=$((n + 1))
	done
}
cycles 20 || diag "warm-up cycles did not complete"
$NETIO roundtrip "$L" 100000 >/dev/null
fd0=$(count_fds); rss0=$($NETIO rss "$TUNNELD_PID")
check "200 outages, each noticed and recovered" cycles 200
$NETIO roundtrip "$L" 100000 >/dev/null
fd1=$(count_fds); rss1=$($NETIO rss "$TUNNELD_PID")
diag "descriptors $fd0 -> $fd1, RSS $rss0 -> $rss1 KiB"
check "... no descriptor left behind" test "$fd1" -le "$fd0"
if grep -q __asan_init "$TUNNELD" 2>/dev/null; then
	skip "memory growth (an ASan build keeps freed memory in quarantine)"
else
	check "... no memory growth (< 1 MiB)" test $((rss1 - rss0)) -lt 1024
fi
check "... and x still carries data" $NETIO roundtrip "$L" 1000000
done_testing
