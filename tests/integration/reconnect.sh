#!/bin/sh
# reconnect.sh - real outages: sshd killed and restarted again and again
# (-L and -R carry data again each time), a connection that arrives while
# the session is down waits for it, a refused key is retried slowly, and
# 200 outages leave no open descriptors or memory behind.  The delays are
# short (reconnect_min 0.1, reconnect_max 0.5, connect_timeout 5): what
# is measured is the daemon keeping to them, not their length.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo
ECHO=$SERVER_PORT
L=$(free_port); R=$(free_port)
write_conf "
  x = {
    host = \"127.0.0.1\";
    keepalive_interval = 1;
    connect_timeout = 5;
    reconnect_min = 0.1;
    reconnect_max = 0.5;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
    remote = [ \"$R:127.0.0.1:$ECHO\" ];
  };"
start_tunneld
events_start
check "x up" wait_state x up

# 1. sshd killed and restarted, five times.  Each time the daemon retries
# while the server is away until its delay has grown to reconnect_max
# (failed retries after up to 0.1, 0.2, 0.4 s), then comes back once sshd
# is back.  Every wait between a failure and the next retry must be at
# most reconnect_max (0.5 s; 1 s more for a busy machine), measured between
# the two events; the handshake takes what it takes (reported only).
# (Timing from sshd's return is no good: a busy machine takes seconds to
# see sshd listening, which hides a retry that came late.)
for cycle in 1 2 3 4 5; do
	events_mark
	m0=$EV_MARK
	stop_sshd
	lost() {
		wait_event x up backoff 10 &&
		wait_event x connecting backoff 10 &&
		wait_event x connecting backoff 10 &&
		wait_event x connecting backoff 10
	}
	check "outage $cycle: noticed, and retried three times while sshd is away" lost
	start_sshd
	if wait_event x connecting up 20; then
		gaps=$(awk -v m="$m0" -v l="$EV_LINE" 'NR > m && NR <= l && $2 == "x" {
			if ($4 == "backoff") a = $1
			else if ($3 == "backoff" && $4 == "connecting" && a != "") {
				g = $1 - a; n++
				if (g > max) max = g
				if (n == 1 || g < min) min = g
				a = ""
			}
			if ($4 == "up") up = $1 - last
			last = $1
		} END { printf "%d %.2f %.2f %.2f", n, min, max, up }' "$WORK/events")
		set -- $gaps
		diag "outage $cycle: $1 retries, waits $2 to $3 s; the last handshake $4 s"
		check "... every retry came within reconnect_max (+1 s)" \
			between "$3" 0 1.5
	else
		not_ok "outage $cycle: x up again"
	fi
	check "... -L and -R carry data again" \
		sh -c "$NETIO roundtrip $L 300000 && $NETIO roundtrip $R 300000"
done
check "reconnects are counted" test "$(json_get x "t['reconnects'] >= 5")" = True

# 2. a connection that arrives while the session is down waits for it
events_mark
stop_sshd
check "sshd stopped again: backoff" wait_event x up backoff 10
a0=$(grep -c "x: $L:.*: waiting for the session" "$WORK/tunneld.log")
$NETIO roundtrip "$L" 200000 > "$WORK/waited.out" 2>&1 &
WAITER=$!
held() { test "$(grep -c "x: $L:.*: waiting for the session" "$WORK/tunneld.log")" -gt "$a0"; }
# (it waits connect_timeout, 5 s: long enough for a busy machine to
# notice it and start sshd)
check "a connection made during the outage is taken, to wait for the session" \
	wait_until 4 held
start_sshd
wait "$WAITER"
check "... and served once the session is back" test $? -eq 0
events_mark
stop_sshd
check "sshd stopped again: backoff" wait_event x up backoff 10
$NETIO closed "$L" > "$WORK/closed.out" 2>&1
check "... a connection is closed cleanly if the session does not come back" \
	test $? -eq 0
t=$(sed -n 's/^# closed after \([0-9.]*\) s$/\1/p' "$WORK/closed.out")
diag "closed after $t s (connect_timeout 5 s)"
check "... after connect_timeout, not before (2 s for a busy machine)" \
	between "$t" 4.9 7
start_sshd
check "x up again" wait_state x up
events_mark

# 3. a key the server refuses: slow retries, not a storm (x and o1..o3
# for part 4: their outages 0.1 s each)
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/stranger" -C stranger
stop_tunneld
O1=$(free_port); O2=$(free_port); O3=$(free_port)
write_conf "
  x = {
    host = \"127.0.0.1\";
    reconnect_min = 0.1;
    reconnect_max = 0.1;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
    remote = [ \"$R:127.0.0.1:$ECHO\" ];
  };
  o1 = { host = \"127.0.0.1\"; reconnect_min = 0.1; reconnect_max = 0.1;
         local = [ \"$O1:127.0.0.1:$ECHO\" ]; };
  o2 = { host = \"127.0.0.1\"; reconnect_min = 0.1; reconnect_max = 0.1;
         local = [ \"$O2:127.0.0.1:$ECHO\" ]; };
  o3 = { host = \"127.0.0.1\"; reconnect_min = 0.1; reconnect_max = 0.1;
         local = [ \"$O3:127.0.0.1:$ECHO\" ]; };
  refused = {
    host = \"127.0.0.1\";
    identity_file = \"$WORK/stranger\";
    reconnect_min = 0.2;
    reconnect_max = 1;
  };"
before=$(grep -c 'Failed publickey' "$WORK/sshd.log")
start_tunneld
events_start
check "refused key: backoff" wait_state refused backoff
check "... saying so, and that it retries slowly" \
	says "$(json_get refused "t['last_error']")" "authentication failed" "retrying slowly"
check "... the next attempt is a minute after the failure (reconnect_max is 1 s)" \
	test "$(json_get refused "t['next_retry'] - t['since'] >= 55")" = True
sleep 3		# a window: a storm (reconnect_max 1 s) would retry in it
after=$(grep -c 'Failed publickey' "$WORK/sshd.log")
check "... and the server saw one attempt in 3 s, not a storm" test $((after - before)) -le 1
r0=$(grep -c 'Failed publickey' "$WORK/sshd.log")
tried() { test "$(grep -c 'Failed publickey' "$WORK/sshd.log")" -gt "$r0"; }
check "tunnelctl up on a tunnel in backoff: accepted" \
	sh -c "$TUNNELCTL -s $CTL up --no-wait refused >/dev/null"
check "... and it retries at once (within 10 s, not the minute)" wait_until 10 tried
check "x was never disturbed" wait_state x up
for o in o1 o2 o3; do wait_state $o up; done

# 4. 200 outages, four tunnels at a time: nothing left behind
count_fds() { ls "/proc/$TUNNELD_PID/fd" | wc -l; }
kill_session() { kill $(descendants "$SSHD_PID") 2>/dev/null; }
# quiet: the forwarded connections are gone (their descriptors closed)
quiet() { test "$(json_get x "t['forwards'][0]['connections']")" = 0; }
# cycles N: N rounds of every session killed at once, each of the four
# tunnels noticing and coming back (4 N outages)
cycles() {
	n=0
	while [ $n -lt "$1" ]; do
		events_mark
		m=$EV_MARK
		kill_session
		for t in x o1 o2 o3; do
			EV_MARK=$m
			wait_event $t up backoff 20 &&
			    wait_event $t connecting up 20 || return 1
		done
		n=$((n + 1))
	done
}
check "20 outages to warm up, each noticed and recovered" cycles 5
check "... x carries data" $NETIO roundtrip "$L" 100000
wait_until 10 quiet
fd0=$(count_fds); rss0=$($NETIO rss "$TUNNELD_PID")
check "200 outages, each noticed and recovered" cycles 50
check "... x carries data" $NETIO roundtrip "$L" 100000
wait_until 10 quiet
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
