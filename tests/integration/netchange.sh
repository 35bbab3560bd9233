#!/bin/sh
# netchange.sh - the network changes under a live tunnel whose keepalives
# (30 s x 3) would take 90 s to notice: tunneld hears it from the kernel
# (rtnetlink) and acts at once.  Everything runs in network namespaces of
# the test's own: this script runs itself again inside a client namespace
# (tunneld's: its address and route changes are the test's alone), which
# reaches the server namespace (sshd, the echo server) over a veth pair.
#   - the client's address is moved to another one: the session, bound to
#     the address that went, is replaced at once; up again with data
#     flowing within seconds, not 90 s;
#   - an address and a route elsewhere change nothing; a route to the
#     server's network has the session probed: it answers and stays up;
#   - the route to the server is blackholed: the probe goes unanswered and
#     the session is dead after the probe's deadline (5 s), not 90 s; the
#     route comes back: the tunnel in backoff tries again at once.
if [ -z "${NETCHANGE_INSIDE:-}" ]; then
	if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null 2>&1; then
		echo "1..0 # SKIP needs root and ip(8) for network namespaces"
		exit 0
	fi
	NSC=tunneld-nc-$$
	ip netns add "$NSC" || { echo "Bail out! cannot create a namespace"; exit 1; }
	ip netns exec "$NSC" ip link set lo up
	NETCHANGE_INSIDE=$NSC ip netns exec "$NSC" sh "$0"
	rc=$?
	ip netns pids "$NSC" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$NSC"
	exit $rc
fi
. "$(dirname "$0")/lib.sh"
EV_TIME=; EV_REASON=	# read below even after a failed wait

NS=tunneld-ns-$$		# the server's
VA=tnc$$a; VB=tnc$$b
netns_add "$NS"
netns_veth "$NS" "$VA" "$VB"	# NET: the first client address and the server
MOV=10.199.$(free_subnet)	# where the client's address moves to
ip netns exec "$NS" ip addr add "$MOV.2/30" dev "$VB"

SSHD_NETNS=$NS SSHD_ADDR=$NET.2 start_sshd
ip netns exec "$NS" $NETIO echo > "$WORK/server.echo.port" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/server.echo.port" || bail "netio echo did not start in $NS"
ECHO=$(cat "$WORK/server.echo.port")
L=$(free_port)
far() {	# far RECONNECT_MIN RECONNECT_MAX
	write_conf "
  far = {
    host = \"$NET.2\";
    keepalive_interval = 30;
    keepalive_count = 3;
    connect_timeout = 5;
    reconnect_min = $1;
    reconnect_max = $2;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
  };"
}
# log_mark, logged PATTERN [SECONDS]: a line of tunneld's log after the mark
log_mark() { LOG_MARK=$(wc -l < "$WORK/tunneld.log"); }
logged() {
	wait_until "${2:-10}" sh -c 'tail -n +"$1" "$2" | grep -q "$3"' _ \
	    "$((LOG_MARK + 1))" "$WORK/tunneld.log" "$1"
}
far 1 2
start_tunneld
events_start
check "a tunnel over the veth pair: up" wait_state far up
check "... carries data" $NETIO roundtrip "$L" 200000
check "tunneld watches rtnetlink" sh -c '! grep -q "rtnetlink:" "$1"' _ \
	"$WORK/tunneld.log"

# 1. the client's address moves: the old one is removed, a new one added
# (and the server reached from it); keepalives alone: 90 s of "up"
events_mark
t0=$(now)
ip addr del "$NET.1/30" dev "$VA"
ip addr add "$MOV.1/30" dev "$VA"
ip route add "$NET.2/32" dev "$VA" src "$MOV.1"
check "the local address is removed: the session is replaced at once" \
	wait_event far up backoff 10
diag "after $(elapsed "$t0" "$EV_TIME") s: $EV_REASON"
check "... saying why" says "$EV_REASON" "local address was removed"
check "... and is up again, well before the keepalives (90 s) would have noticed" \
	wait_event far connecting up 20
dt=$(elapsed "$t0" "$EV_TIME")
diag "up again $dt s after the address moved (connect_timeout 5 s, reconnect_max 2 s)"
check "... within connect_timeout + reconnect_max + margin, not 90 s" \
	between "$dt" 0 15
check "... and carries data, from the new address" $NETIO roundtrip "$L" 200000
check "... the server sees it from there" \
	grep -q "Accepted publickey .* from $MOV.1 " "$WORK/sshd.log"

# 2. changes that do not concern the server (an address, a route elsewhere)
# leave the session alone; a route that leads to the server has it probed,
# and a live one answers and stays
events_mark
log_mark
ip addr add "10.199.254.$(( $$ % 200 + 1 ))/32" dev lo
ip route add 10.199.253.0/24 dev "$VA"
check "a route elsewhere: tunneld hears of it" \
	logged "network changed: 0 addresses removed, 1 route changed" 10
ip route add 10.199.0.0/16 dev "$VA"
check "a route to the server's network: the session is probed" \
	logged "far: probing $NET.2" 10
check "... not for the address and the route elsewhere before it" \
	sh -c 'tail -n +"$1" "$2" | sed -n "1,/far: probing/p" |
	    grep -c "network changed" | grep -qx 2' _ "$((LOG_MARK + 1))" \
	"$WORK/tunneld.log"
check "... answers (logged at the probe's deadline, 5 s)" \
	logged "far: answered .* after the probe" 15
check "... and stays up" no_event far up backoff
check "... carrying data" $NETIO roundtrip "$L" 100000

# 3. the route to the server is blackholed: nothing comes back, no error.
# Retries every 10 s from now on, so that one at once is told from one on
# schedule
far 10 10
check "reload: retries every 10 s" tctl reload
events_mark
t0=$(now)
ip route replace blackhole "$NET.2/32"
check "the route is blackholed: the probe goes unanswered, the session is dead" \
	wait_event far up backoff 20
dt=$(elapsed "$t0" "$EV_TIME")
diag "dead after $dt s: $EV_REASON"
check "... after the probe's deadline (5 s), not the keepalives' 90 s" \
	between "$dt" 4.9 12
check "... saying why" says "$EV_REASON" "of a probe"
check "... attempts fail while it is blackholed" wait_event far connecting backoff 20
events_mark
t0=$(now)
ip route replace "$NET.2/32" dev "$VA" src "$MOV.1"
check "the route comes back: the tunnel tries again at once" \
	wait_event far backoff connecting 15
dt=$(elapsed "$t0" "$EV_TIME")
check "... at once, not at its next retry in up to 10 s ($dt s)" \
	between "$dt" 0 2
check "... and is up" wait_event far connecting up 15
check "... carrying data" $NETIO roundtrip "$L" 100000
done_testing
