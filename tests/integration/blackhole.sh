#!/bin/sh
# blackhole.sh - no head-of-line blocking (issue 24, item 1).  A -L
# connection to a target whose SYNs are dropped (a firewalled host: sshd's
# connect() hangs for minutes) holds its session's one channel-open slot,
# and keeps holding it after connect_timeout, when tunneld gives up on the
# connection but libssh2's open is still in flight.  The session must say
# so - the open counts as opening, status shows it stuck (target, age) -
# and round trips to a healthy target on the same tunnel, with the default
# settings, must go elsewhere and each come back within 4 s.
# The blackhole is real: sshd runs in a network namespace where SYNs to
# the target vanish (blackhole-lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blackhole-lib.sh"

SSHD_NETNS=$NS SSHD_ADDR=$NET.2 start_sshd
ip netns exec "$NS" $NETIO echo > "$WORK/server.echo.port" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/server.echo.port" || bail "netio echo did not start in $NS"
ECHO=$(cat "$WORK/server.echo.port")
L=$(free_port); B=$(free_port)
# the default settings (sessions 16), and lib.sh's (connect_timeout 5 s,
# keepalive_interval 5 s)
write_conf "
  fwd = {
    host = \"$NET.2\";
    local = [ \"$L:127.0.0.1:$ECHO\", \"$B:$BH:80\" ];
  };"
start_tunneld
events_start
check "tunnel up" wait_state fwd up 15
check "... carries data" $NETIO roundtrip "$L" 1000

# the stuck connection: the client waits; tunneld drops it after
# connect_timeout, while the server's connect goes on
$NETIO stalled "$B" 30 > "$WORK/stuck.out" 2>&1 &
STUCK=$!
stuck() { json_get fwd "' '.join(s['stuck_open']['target'] for s in t['sessions'] if s.get('stuck_open'))"; }
is_stuck() { [ "$(stuck)" = "$BH:80" ]; }
check "status shows the stuck open and its target" wait_until 10 is_stuck

# 8 sporadic round trips to the healthy target, about 1.5 s apart, so that
# they span connect_timeout: before and after the stuck one is abandoned
i=1; slow=0; failed=0
while [ $i -le 8 ]; do
	t0=$(now)
	if timeout 20 $NETIO roundtrip "$L" 1000 > "$WORK/rt.$i" 2>&1; then
		dt=$(elapsed "$t0")
		between "$dt" 0 4 || slow=$((slow + 1))
	else
		dt=$(elapsed "$t0"); failed=$((failed + 1))
	fi
	diag "round trip $i: $dt s $(cat "$WORK/rt.$i")"
	i=$((i + 1))
	sleep 1.5	# sporadic: the pace of the round trips, not a wait
done
check "8 round trips to a healthy target beside the blackhole: none failed" [ "$failed" = 0 ]
check "... none took more than 4 s" [ "$slow" = 0 ]

wait "$STUCK"
check "the stuck client was dropped after connect_timeout" [ $? = 0 ]
# the open is still in flight: the session still counts it
age() { json_get fwd "max([s['stuck_open']['age_s'] for s in t['sessions'] if s.get('stuck_open')] or [0])"; }
check "after connect_timeout the abandoned open is still shown, older" \
	awk -v a="$(age)" 'BEGIN { exit !(a >= 5) }'
held() { json_get fwd "max([s['opens_queued'] for s in t['sessions'] if s.get('stuck_open')] or [0])"; }
check "... and its session counts it as opening (no new connection for it)" \
	[ "$(held)" -ge 1 ]
diag "sessions: $(json_get fwd "[(s['id'], s['state'], s['channels'], s['opens_queued'], s.get('stuck_open')) for s in t['sessions']]")"
tctl status fwd > "$WORK/status.txt" 2>&1
check "the text status says so" grep -q "an open stuck for .*: $BH:80" "$WORK/status.txt"
tctl metrics > "$WORK/metrics" 2>&1
check "the metrics give the open's age" \
	grep -q '^tunneld_session_oldest_open_seconds{tunnel="fwd",session="[0-9]*",role="[a-z]*"} [1-9]' "$WORK/metrics"
check "the tunnel never left up" no_event fwd up '*'
done_testing
