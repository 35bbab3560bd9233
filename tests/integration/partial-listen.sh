#!/bin/sh
# A listener that is only half there is not up.  While another program
# holds 127.0.0.1:P, a forward on "localhost" (127.0.0.1 and ::1) is not up,
# its error names 127.0.0.1:P and why, it does not listen on [::1]:P alone,
# and it is tried again: once the port is free it comes up on both
# addresses.  (Before: it bound [::1]:P alone and said "up", while clients
# of 127.0.0.1 reached the other program.)
. "$(dirname "$0")/lib.sh"

if ! $PYTHON3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
	echo "1..0 # SKIP no IPv6 loopback"; exit 0
fi
start_sshd
start_server echo; ECHO=$SERVER_PORT

# the other program: holds 127.0.0.1:P (listening) until it is killed;
# [::1]:P was free when it started
$PYTHON3 -c '
import socket, signal
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
p = s.getsockname()[1]
t = socket.socket(socket.AF_INET6)
t.bind(("::1", p))
t.close()
print(p, flush=True)
signal.pause()' > "$WORK/holder.port" 2>>"$WORK/netio.log" &
HOLDER=$!
PIDS="$PIDS $HOLDER"
i=0; while [ ! -s "$WORK/holder.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
P=$(cat "$WORK/holder.port")
[ -n "$P" ] || bail "the port holder did not start"

# six: a round trip through [::1]:PORT
six() {
	$PYTHON3 -c '
import socket, sys
c = socket.create_connection(("::1", int(sys.argv[1])), 5)
c.sendall(b"through ::1\n")
c.shutdown(socket.SHUT_WR)
d = b""
while True:
    b = c.recv(100)
    if not b:
        break
    d += b
sys.exit(d != b"through ::1\n")' "$1" 2>/dev/null
}

L2=$(free_port)
write_conf "  half = { host = \"127.0.0.1\"; local = [ \"$P:127.0.0.1:$ECHO\" ]; };
  whole = { host = \"127.0.0.1\"; local = [ \"$L2:127.0.0.1:$ECHO\" ]; };"
start_tunneld

check "127.0.0.1:$P held by another program: the tunnel is degraded" wait_state half degraded 10
st=$(json_get half "t['forwards'][0]['state']")
check "... the forward is not up ($st)" [ "$st" = failed ]
err=$(json_get half "t['forwards'][0]['last_error']")
diag "$err"
check "... its error names the address and why" says "$err" "127.0.0.1:$P" 'Address already in use'
check "... and it does not listen on [::1]:$P alone" sh -c "! $PYTHON3 -c 'import socket; socket.create_connection((\"::1\", $P), 2)' 2>/dev/null"
check "the other tunnel is up" wait_state whole up 30
check "... on 127.0.0.1" $NETIO roundtrip "$L2" 1000
check "... and on [::1]" six "$L2"

kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
# tried again within reconnect_max (2 s here): tunnelctl up waits for it
check "the port released: up within the retry interval" sh -c "$TUNNELCTL -s '$CTL' up --timeout 15 half >/dev/null"
check "... 127.0.0.1:$P carries data" $NETIO roundtrip "$P" 10000
check "... [::1]:$P too" six "$P"
st=$(json_get half "t['forwards'][0]['state']")
check "... the forward is up ($st)" [ "$st" = up ]
check "the daemon is still running" kill -0 "$TUNNELD_PID"
stop_tunneld

# A host without IPv6: "localhost" is 127.0.0.1 alone, not a failure.  A
# second daemon in a network namespace whose loopback has IPv6 disabled
# (its control socket is a file, reachable from here).
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null 2>&1 &&
    ip netns add "tunneld-test-$$" 2>/dev/null; then
	NS=tunneld-test-$$
	NETNS_ALL=$NS		# lib.sh's netns_add, but for the skip below
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" sysctl -qw net.ipv6.conf.lo.disable_ipv6=1
	write_conf "  v4 = { host = \"127.0.0.1\"; local = [ \"$P:127.0.0.1:$ECHO\" ]; };"
	ip netns exec "$NS" $TUNNELD -c "$CONF" --log-level debug >> "$WORK/tunneld.log" 2>&1 &
	TUNNELD_PID=$!
	PIDS="$PIDS $TUNNELD_PID"
	i=0
	while ! tctl status >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	# the server is out of reach from there: the session does not come
	# up, but the listener is set up before it is tried
	wait_log 'v4: \(listening on\|local forward\)' 10
	l=$(json_get v4 "t['forwards'][0]['listen']")
	check "no IPv6: listening on 127.0.0.1:$P alone ($l)" [ "$l" = "127.0.0.1:$P" ]
	st=$(json_get v4 "t['forwards'][0]['state']")
	err=$(json_get v4 "t['forwards'][0]['last_error']")
	check "... the forward is not failed ($st: $err)" [ "$st" != failed ]
else
	skip "needs root and ip(8): no IPv6-less namespace"
	skip "needs root and ip(8)"
fi
done_testing
