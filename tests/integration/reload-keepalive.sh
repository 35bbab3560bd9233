#!/bin/sh
# reload-keepalive.sh - keepalive_interval and keepalive_count are "re-arm"
# settings (config_keywords.c): a reload applies them to the live session.
# N -> 0 on an idle tunnel turns keepalives off and the session stays up
# (it used to die about a second later, "-2147483648 keepalives
# unanswered", a division by zero); 0 -> N arms them, so a frozen sshd is
# noticed within interval x count.  Neither restarts the session.
. "$(dirname "$0")/lib.sh"

IV=1; CNT=2	# the schedule the tests are bound by
LIMIT=$((IV * CNT + 1))	# interval x count + the grace for the last answer

# stays_up NAME SECONDS: NAME is up, with the same session, for that long
stays_up() {
	end=$($PYTHON3 -c "import time; print(time.time() + $2)")
	while $PYTHON3 -c "import time,sys; sys.exit(time.time() > $end)"; do
		s=$(json_get "$1" "t['state'], t['reconnects']")
		if [ "$s" != "up 0" ]; then
			diag "tunnel $1: $s: $(json_get "$1" "t['last_error']")"
			return 1
		fi
		sleep 0.2
	done
}

# rtt_measured NAME SECONDS: a round trip has been timed (rtt_ms is set)
rtt_measured() {
	deadline=$(( $(date +%s) + $2 ))
	while [ "$(date +%s)" -le "$deadline" ]; do
		[ "$(json_get "$1" "t['rtt_ms'] is not None")" = True ] && return 0
		sleep 0.1
	done
	return 1
}

start_sshd
start_server echo
ECHO=$SERVER_PORT
LA=$(free_port); LB=$(free_port)
conf() {	# conf A_INTERVAL B_INTERVAL
	write_conf "
  a = { host = \"127.0.0.1\"; keepalive_interval = $1; keepalive_count = $CNT;
        local = [ \"$LA:127.0.0.1:$ECHO\" ]; };
  b = { host = \"127.0.0.1\"; keepalive_interval = $2; keepalive_count = $CNT;
        local = [ \"$LB:127.0.0.1:$ECHO\" ]; };"
}
conf "$IV" 0
start_tunneld
check "a up (keepalives every ${IV}s)" wait_state a up
check "b up (keepalives off)" wait_state b up
check "b: no round trip is timed without keepalives" \
	test "$(json_get b "t['rtt_ms'] is None")" = True
sessions=$(grep -c ': authenticated' "$WORK/tunneld.log")

conf 0 "$IV"
out=$(tctl reload 2>&1); rc=$?
diag "$out"
check "reload: exit 0" test $rc -eq 0
check "... both tunnels changed, neither restarted" \
	sh -c 'case $1 in *restarted*) exit 1;; esac' - "$out"
check "... logged as re-arm settings" wait_log 'a: keepalive_interval changed (re-arm)'

# N -> 0: the old code's verdict came within LIMIT; watch for twice that
check "a: keepalives off, idle: up with the same session for $((2 * LIMIT))s" \
	stays_up a $((2 * LIMIT))
check "... and no keepalive verdict was logged" \
	sh -c "! grep -q 'keepalives unanswered' '$WORK/tunneld.log'"
check "... a carries data" $NETIO roundtrip "$LA" 100000

# 0 -> N: armed on the live session
check "b: keepalives armed: a round trip is timed within the interval" \
	rtt_measured b $((IV + 5))
frozen=$(descendants "$SSHD_PID" | tr '\n' ' ')
kill -STOP $frozen
check "b: a frozen sshd is noticed within interval x count (+ margin)" \
	wait_log 'b: up -> backoff (no answer from .* keepalives unanswered)' \
	$((LIMIT + 5))
check "... a (keepalives off) did not judge it" \
	sh -c "! grep -q 'a: up -> backoff' '$WORK/tunneld.log'"
kill -CONT $frozen 2>/dev/null
check "b: up again after the freeze" wait_state b up
check "... no session was restarted by the reload itself" \
	test "$(grep -c ': authenticated' "$WORK/tunneld.log")" -eq \
	$((sessions + 1))
done_testing
