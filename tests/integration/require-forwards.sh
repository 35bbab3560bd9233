#!/bin/sh
# require_forwards (ssh's ExitOnForwardFailure): a tunnel is up only with
# every forward established.  A remote forward the server refuses (its
# port held there) or a local listener that cannot bind drops the session:
# backoff, not degraded, retried with the backoff (reconnects grows), up
# once the port is free.  Without the setting the same tunnel is degraded.
# A forward added by a reload that cannot be established drops it too.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT

# hold NAME: a listener on 127.0.0.1 of another program's (the server's
# loopback is this machine's); its port in HELD, its pid in HOLDER
hold() {
	$PYTHON3 -c '
import socket, signal
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
signal.pause()' > "$WORK/holder.$1" 2>>"$WORK/netio.log" &
	HOLDER=$!
	PIDS="$PIDS $HOLDER"
	wait_file "$WORK/holder.$1" 10 || bail "the port holder did not start"
	HELD=$(cat "$WORK/holder.$1")
}
hold remote; HR=$HELD; HR_PID=$HOLDER
hold local; HL=$HELD; HL_PID=$HOLDER
hold other; HO=$HELD
A=$(free_port); B=$(free_port)

tunnels() {
	write_conf "
  req = { host = \"127.0.0.1\"; require_forwards = true;
    local = [ \"$A:127.0.0.1:$ECHO\" $1 ];
    remote = [ \"127.0.0.1:$HR:127.0.0.1:$ECHO\" ]; };
  loc = { host = \"127.0.0.1\"; require_forwards = true;
    local = [ \"127.0.0.1:$HL:127.0.0.1:$ECHO\" ]; };
  opt = { host = \"127.0.0.1\";
    local = [ \"$B:127.0.0.1:$ECHO\" ];
    remote = [ \"127.0.0.1:$HO:127.0.0.1:$ECHO\" ]; };"
}
tunnels ""
start_tunneld
events_start

check "a remote forward the server refuses: backoff, not degraded" \
    wait_event req connecting backoff 15
diag "reason: ${EV_REASON:-}"
check "... the reason names the forward and require_forwards" \
    says "${EV_REASON:-}" "remote forward \"127.0.0.1:$HR:127.0.0.1:$ECHO\"" \
    require_forwards "on 127.0.0.1:$HR"
err=$(json_get req "t['last_error']")
check "... and so does last_error" says "$err" "127.0.0.1:$HR:127.0.0.1:$ECHO" \
    require_forwards
check "... retried with the backoff: reconnects grows" wait_until 20 \
    sh -c "[ \"\$($TUNNELCTL -s $CTL --json status req | $PYTHON3 -c \
    'import json,sys; print(json.load(sys.stdin)[\"tunnels\"][0][\"reconnects\"])')\" -ge 3 ]"
# the log has every change, also those before the events follower started
check "... each time dropped again, never degraded" \
    sh -c "! grep -q 'req: [a-z]* -> degraded' '$WORK/tunneld.log'"
check "... never up" sh -c "! grep -q 'req: [a-z]* -> up' '$WORK/tunneld.log'"
check "a local listener that cannot bind: backoff too" \
    wait_log "loc: connecting -> backoff (local forward \"127.0.0.1:$HL:127.0.0.1:$ECHO\" not established (require_forwards): cannot listen on 127.0.0.1:$HL" 10
check "... never degraded" \
    sh -c "! grep -q 'loc: [a-z]* -> degraded' '$WORK/tunneld.log'"
check "without require_forwards the same refusal leaves it degraded" \
    wait_state opt degraded 15
check "status shows the setting" \
    test "$(json_get req "t['require_forwards']")/$(json_get opt "t['require_forwards']")" = True/False
check "tunnelctl status NAME says so" \
    sh -c "tctl() { $TUNNELCTL -s $CTL \"\$@\"; }; tctl status req | grep -q 'all required (require_forwards)'"

kill "$HR_PID"; kill "$HL_PID"
check "the server's port freed: up within the backoff" wait_state req up 15
check "... every forward up" \
    test "$(json_get req "[f['state'] for f in t['forwards']]")" = "['up', 'up']"
check "... and carrying" $NETIO roundtrip "$HR" 1000
check "the local port freed: up too" wait_state loc up 15

events_mark
tunnels ", \"127.0.0.1:$HO:127.0.0.1:$ECHO\""
tctl reload >/dev/null 2>&1
check "a forward added by a reload that cannot listen: dropped, backoff" \
    wait_event req up backoff 15
check "... named" says "${EV_REASON:-}" "local forward \"127.0.0.1:$HO:127.0.0.1:$ECHO\"" \
    require_forwards
check "... and the others are left alone" \
    test "$(json_get opt "t['state']")/$(json_get loc "t['state']")" = degraded/up
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
