#!/bin/sh
# stale-remote.sh - the classic reverse-tunnel failure: the session dies,
# tunneld reconnects, but the server's old sshd process has not noticed and
# still holds the remote port ("remote port forwarding failed for listen
# port").  The forward must be pending with that reason and the cure, the
# tunnel degraded, and the port asked for again until the server lets go.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo
ECHO=$SERVER_PORT
R=$(free_port); L=$(free_port)
write_conf "
  rev = {
    host = \"127.0.0.1\";
    keepalive_interval = 1;
    keepalive_count = 2;
    reconnect_min = 0.2;
    reconnect_max = 1;
    remote = [ \"$R:127.0.0.1:$ECHO\" ];
    local = [ \"$L:127.0.0.1:$ECHO\" ];
  };"
start_tunneld
check "rev up" wait_state rev up
check "the remote forward carries data" $NETIO roundtrip "$R" 100000

old=$(descendants "$SSHD_PID" | tr '\n' ' ')
kill -STOP $old
check "the old session is frozen: a new one is made" \
	wait_log 'rev: up -> backoff (no answer' 10
check "... and the server refuses the port, still held by the frozen one: degraded" \
	wait_state rev degraded 10
check "... the forward is pending, not failed" \
	test "$(json_get rev "t['forwards'][0]['state']")" = pending
err=$(json_get rev "t['forwards'][0]['last_error']")
check "... saying the server still holds the port for the old session" \
	says "$err" "still holds" "previous session"
check "... and naming the cure on the server" \
	says "$err" ClientAliveInterval ClientAliveCountMax
check "... the log says it too, once (not at every request)" \
	test "$(grep -c 'remote forward .* still holds' "$WORK/tunneld.log")" -eq 1
check "... the local forward of the same tunnel works meanwhile" \
	$NETIO roundtrip "$L" 100000
asked_again() { test "$(grep -c "cannot listen to port: $R" "$WORK/sshd.log")" -ge 2; }
check "... it keeps asking (the server has seen more than one request)" \
	wait_until 15 asked_again

kill -CONT $old	# it reads the end of its connection and exits
check "the old process lets go: the forward comes back, the tunnel up" \
	wait_state rev up 35
check "... and carries data on the new session" $NETIO roundtrip "$R" 100000
done_testing
