#!/bin/sh
# jump-chain.sh - two jump hosts: T (a namespace of its own) reaches A;
# A reaches B (another namespace); the target C is on B's loopback, where
# only B reaches it.  The chain carries data; a pinned host_key is the
# target's alone; a frozen middle hop (SIGSTOP) is noticed within the
# keepalive deadline and the tunnel comes back through the chain by
# itself; accept-new learns every hop's key; a reload re-arms every
# hop's keepalives; a hop with a wrong host key fails the tunnel naming
# the hop; a target the last hop cannot reach, and a malformed jump list,
# say so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jump-lib.sh"

keygen_user
ns_make T
ns_make B
PA=$(free_port); PB=$(free_port); PC=$(free_port); L=$(free_port)
L2=$(free_port); NOWHERE=$(free_port)
sshd_make A - "$PA" "$NET_T.1"
sshd_make B B "$PB" "$NET_B.2"
sshd_make C B "$PC" 127.0.0.1
in_ns B $NETIO echo > "$WORK/echo.port" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/echo.port" || bail "netio echo did not start in B"
ECHO=$(cat "$WORK/echo.port")

check "T cannot reach B" in_ns T $PYTHON3 -c "
import socket, sys
try: socket.create_connection(('$NET_B.2', $PB), 1)
except OSError: sys.exit(0)
sys.exit(1)"

HOPS="$NET_T.1:$PA,$NET_B.2:$PB"
{ known A "$NET_T.1" "$PA"; known B "$NET_B.2" "$PB"; known C 127.0.0.1 "$PC"; } \
	> "$WORK/t.known_hosts"
# wrong: B's entry holds A's key
{ known A "$NET_T.1" "$PA"; known A "$NET_B.2" "$PB"; known C 127.0.0.1 "$PC"; } \
	> "$WORK/wrong.known_hosts"
# the hops' keys alone: C's is pinned
{ known A "$NET_T.1" "$PA"; known B "$NET_B.2" "$PB"; } > "$WORK/pin.known_hosts"
: > "$WORK/learn.known_hosts"
PIN=$($SSH_KEYGEN -lf "$WORK/C.host.pub" | cut -d' ' -f2)
tunneld_make t T "
  chain = {
    host = \"127.0.0.1\";
    port = $PC;
    jump = \"$HOPS\";
    local = [ \"$L:127.0.0.1:$ECHO\" ];
  };
  pinned = {
    host = \"127.0.0.1\";
    port = $PC;
    jump = \"ssh://$(id -un)@$NET_T.1:$PA,$NET_B.2:$PB\";
    known_hosts = \"$WORK/pin.known_hosts\";
    host_key = \"$PIN\";
    local = [ \"$L2:127.0.0.1:$ECHO\" ];
  };
  wrong = {
    host = \"127.0.0.1\";
    port = $PC;
    jump = \"$HOPS\";
    known_hosts = \"$WORK/wrong.known_hosts\";
  };
  learn = {
    host = \"127.0.0.1\";
    port = $PC;
    jump = \"$HOPS\";
    known_hosts = \"$WORK/learn.known_hosts\";
    strict_host_key_checking = \"accept-new\";
  };
  nowhere = {
    host = \"127.0.0.1\";
    port = $NOWHERE;
    jump = \"$NET_T.1:$PA\";
  };"
CTL=$WORK/t.sock
events_start

check "two hops: up" wait_state chain up 20
check "... carries data to the service on B's loopback" \
	in_ns T $NETIO roundtrip "$L" 1000000
check "... through A, then B (each authenticated, a hop without user@ as tunneld's user)" \
	sh -c "grep -n 'chain: jump host' '$WORK/t.log' | grep 'authenticated to' |
	    sed -n 's/.*jump host \([^ ]*\): auth.*as \(.*\)$/\1 \2/p' | uniq | head -3 |
	    tr '\n' ' ' | grep -qx '$NET_T.1:$PA $(id -un) $NET_B.2:$PB $(id -un) '"
check "a pinned host_key is the target's alone: the hops are checked in known_hosts" \
	wait_state pinned up 20
check "... and carries data" in_ns T $NETIO roundtrip "$L2" 100000
check "a hop with a wrong host key: failed" wait_state wrong failed 20
err=$(json_get wrong "t['last_error']")
diag "$err"
check "... naming the hop and why" says "$err" "jump host $NET_B.2:$PB:" "HOST KEY"
check "accept-new: the tunnel comes up, learning every hop's key" \
	wait_state learn up 20
check "... each under its own [host]:port, and the target's" sh -c "
	grep -qxF '$(known A "$NET_T.1" "$PA")' '$WORK/learn.known_hosts' &&
	grep -qxF '$(known B "$NET_B.2" "$PB")' '$WORK/learn.known_hosts' &&
	grep -qxF '$(known C 127.0.0.1 "$PC")' '$WORK/learn.known_hosts'"
check "a target the last hop cannot reach: backoff" wait_event nowhere connecting backoff 20
diag "$EV_REASON"
check "... naming the hop, the target and why" \
	says "$EV_REASON" "jump host $NET_T.1:$PA: cannot reach 127.0.0.1 port $NOWHERE" "connect failed"
tctl stop learn >/dev/null; tctl stop wrong >/dev/null; tctl stop nowhere >/dev/null; tctl stop pinned >/dev/null

# the middle hop freezes (its kernel still ACKs): silence is judged from
# the last byte received, dead after interval x count + 1 s (1 x 3 + 1),
# the last byte at most one interval before the freeze; a busy machine
# gets 1.5 s more
frozen="$SSHD_B $(descendants "$SSHD_B" | tr '\n' ' ')"
events_mark
t0=$(now)
kill -STOP $frozen
check "the middle hop frozen: noticed" wait_event chain up backoff 15
dt=$(elapsed "$t0" "$EV_TIME")
diag "noticed after $dt s (keepalive 1 s x 3 + 1 s): $EV_REASON"
check "... within the keepalive deadline (interval x count + 1 s), not an interval sooner" \
	between "$dt" 2.95 5.5
check "... saying there was no answer" says "$EV_REASON" "no answer from"
check "... while it stays frozen, attempts time out (connect_timeout 5 s)" \
	wait_event chain connecting backoff 15
diag "$EV_REASON"
kill -CONT $frozen
check "... thawed: the tunnel comes back through the chain by itself" \
	wait_event chain connecting up 20
check "... and carries data" in_ns T $NETIO roundtrip "$L" 1000000

# reload: new keepalive timers reach every hop of the live chain
events_mark
sed -i 's/keepalive_interval = 1;/keepalive_interval = 2;/' "$WORK/t.conf"
check "reload with a new keepalive_interval" tctl reload
check "... re-arms the first hop" wait_until 10 grep -q \
	"chain: jump host $NET_T.1:$PA: keepalives every 2s" "$WORK/t.log"
check "... and the second" wait_until 10 grep -q \
	"chain: jump host $NET_B.2:$PB: keepalives every 2s" "$WORK/t.log"
check "... and the target's session" wait_until 10 grep -q \
	"chain: keepalives every 2s" "$WORK/t.log"
check "... without a new session" no_event chain up '*'
check "... which carries data" in_ns T $NETIO roundtrip "$L" 100000

# a malformed list is a configuration error, said where
cat > "$WORK/bad.conf" <<CONF
tunnels = {
  bad = {
    host = "h";
    jump = "m.example:22,@n:2";
  };
};
CONF
out=$($TUNNELD -n -c "$WORK/bad.conf" 2>&1)
check "a malformed jump list: refused" test $? -ne 0
diag "$out"
check "... saying where and which hop" says "$out" "bad.conf:4" "\"@n:2\" is not [user@]host[:port]"
check "tunneld is fine" kill -0 "$TD_t"
done_testing
