#!/bin/sh
# netns.sh - a real link failure: sshd runs in a network namespace this test
# creates, reached over a veth pair; the link is taken down (everything sent
# is lost, nothing is refused) and brought back.  The dead link must be
# noticed by the keepalives and the tunnel must come back by itself.
. "$(dirname "$0")/lib.sh"

netns_require
NS=tunneld-test-$$
VB=tdv$$b		# the server's end of the link, taken down below
netns_add "$NS"
netns_veth "$NS" "tdv$$a" "$VB"

SSHD_NETNS=$NS SSHD_ADDR=$NET.2 start_sshd
# the echo server lives in the namespace too, on its loopback
ip netns exec "$NS" $NETIO echo > "$WORK/server.echo.port" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/server.echo.port" || bail "netio echo did not start in $NS"
ECHO=$(cat "$WORK/server.echo.port")
L=$(free_port)
write_conf "
  far = {
    host = \"$NET.2\";
    keepalive_interval = 1;
    keepalive_count = 3;
    connect_timeout = 2;
    reconnect_min = 0.5;
    reconnect_max = 2;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
  };"
start_tunneld
events_start
check "a tunnel to a server in another network namespace: up" wait_state far up
check "... carries data" $NETIO roundtrip "$L" 1000000

# the far end of the link goes down: packets vanish, no error comes back.
# Silence is judged from the last byte received: dead after interval x
# count + 1 s of it (4 s), the last byte at most one interval before the
# link went down; a busy machine gets 1.5 s more.
events_mark
t0=$(now)
ip netns exec "$NS" ip link set "$VB" down
check "the link is down: noticed" wait_event far up backoff 15
dt=$(elapsed "$t0" "$EV_TIME")
diag "noticed after $dt s (keepalive 1 s x 3 + 1 s): $EV_REASON"
check "... after interval x count + 1 s, not an interval sooner, nor 1.5 s later" \
	between "$dt" 2.95 5.5
check "... attempts while it is down fail (time out, or no route) and back off" \
	wait_event far connecting backoff 15
diag "while down: $EV_REASON"
check "... saying why" \
	sh -c 'case "$1" in *"timed out"*|*"No route to host"*) true;; *) false;; esac' _ "$EV_REASON"
check "... the daemon is fine" kill -0 "$TUNNELD_PID"

t0=$(now)
ip netns exec "$NS" ip link set "$VB" up
check "the link is back: the tunnel comes back by itself" wait_event far connecting up 20
diag "up again $(elapsed "$t0" "$EV_TIME") s after the link returned (reconnect_max 2 s, connect_timeout 2 s)"
check "... and carries data" $NETIO roundtrip "$L" 1000000
done_testing
