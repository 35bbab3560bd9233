#!/bin/sh
# reload-storm.sh - reloads back to back while tunnels flap and carry
# connections: the pool (sessions = 4) changes size, forwards come and go,
# a tunnel is removed and added, the server's sessions are killed under
# them; then connections wait for a session that cannot come, and SIGTERM.
# tunneld answers throughout, exits 0, and the sanitizers say nothing.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo
ECHO=$SERVER_PORT
L=$(free_port); L2=$(free_port); L3=$(free_port)
fwd() { echo "\"$1:127.0.0.1:$ECHO\""; }
conf() {	# conf SESSIONS FORWARDS-OF-t WITH-u
	write_conf "
  t = { host = \"127.0.0.1\"; sessions = $1; connect_timeout = 3;
        local = [ $2 ]; };
  $3"
}
A_U="u = { host = \"127.0.0.1\"; local = [ $(fwd $L2) ]; };"
conf 4 "$(fwd $L)" "$A_U"
start_tunneld
check "t up" wait_state t up
check "u up" wait_state u up

# traffic all along: short connections on both tunnels' forwards
( while [ ! -e "$WORK/stop" ]; do
	$NETIO concurrent "$L" 8 20000 >/dev/null 2>&1
	$NETIO roundtrip "$L2" 20000 >/dev/null 2>&1
	$NETIO roundtrip "$L3" 20000 >/dev/null 2>&1
  done ) &
TRAFFIC=$!
PIDS="$PIDS $TRAFFIC"
fails=0
i=0
while [ $i -lt 24 ]; do
	case $((i % 4)) in
	0) conf 1 "$(fwd $L), $(fwd $L3)" "" ;;
	1) conf 4 "$(fwd $L3)" "$A_U" ;;
	2) conf 2 "$(fwd $L)" "$A_U" ;;
	3) conf 4 "$(fwd $L)" "" ;;
	esac
	tctl reload >/dev/null 2>&1 || fails=$((fails + 1))
	# the server drops every session now and then
	[ $((i % 3)) -eq 2 ] && kill $(descendants "$SSHD_PID") 2>/dev/null
	i=$((i + 1))
done
check "24 reloads under flapping tunnels: every one answered ok" test "$fails" -eq 0
check "tunneld answers status" sh -c "$TUNNELCTL -s '$CTL' status >/dev/null"
conf 4 "$(fwd $L)" "$A_U"
check "reload back to the first file" tctl reload
check "t up again" wait_state t up 30
check "... data flows through it" $NETIO roundtrip "$L" 100000
touch "$WORK/stop"
wait "$TRAFFIC" 2>/dev/null

# the server goes for good: connections wait for a session; SIGTERM then
stop_sshd
check "t reconnecting" wait_until 30 sh -c "[ \"\$(tctl --json status t 2>/dev/null | $PYTHON3 -c 'import json,sys; print(json.load(sys.stdin)[\"tunnels\"][0][\"state\"])')\" != up ]"
for n in 1 2 3 4 5 6; do $NETIO roundtrip "$L" 10 >/dev/null 2>&1 & done
check "connections wait for the session" wait_log "waiting for the session"
stop_tunneld
check "no sanitizer report in its log" sanitizer_quiet
done_testing
