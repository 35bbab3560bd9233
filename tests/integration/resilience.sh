#!/bin/sh
# The daemon stays: a lost session goes to backoff and comes back, other
# tunnels are untouched, a frozen server is noticed by keepalives, an idle
# tunnel stays up.
. "$(dirname "$0")/lib.sh"

start_sshd
A_PID=$SSHD_PID
# a second, independent sshd for the tunnel that must stay untouched
B_PORT=$(free_port)
$SSHD -f "$WORK/sshd_config" -p "$B_PORT" -o "PidFile=$WORK/sshd_b.pid" -D -e >> "$WORK/sshd_b.log" 2>&1 &
B_PID=$!
PIDS="$PIDS $B_PID"
wait_port "$B_PORT" || bail "second sshd did not start"
echo "[127.0.0.1]:$B_PORT $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")" >> "$WORK/known_hosts"
start_server echo; ECHO=$SERVER_PORT
LX=$(free_port); LY=$(free_port)
write_conf "  x = { host = \"127.0.0.1\"; keepalive_interval = 0.5; keepalive_count = 2; reconnect_min = 1;
        local = [ \"$LX:127.0.0.1:$ECHO\" ]; };
  y = { host = \"127.0.0.1\"; port = $B_PORT; keepalive_interval = 0.5;
        local = [ \"$LY:127.0.0.1:$ECHO\" ]; };"
start_tunneld
events_start
check "x up" wait_state x up 30
check "y up" wait_state y up 30
check "x carries data" $NETIO roundtrip "$LX" 1000000

# 1. The server goes away entirely.
events_mark
stop_sshd
check "sshd killed: x goes to backoff" wait_event x up backoff 10
diag "x: $EV_REASON"
# (closed, or reset when the killed process had unread bytes: a keepalive
# probe on its way)
closed_or_reset() {
	case $1 in
	*"connection closed by 127.0.0.1"*|*"127.0.0.1:"*"Connection reset by peer"*) true ;;
	*) false ;;
	esac
}
check "... the reason: the connection was closed (or reset)" closed_or_reset "$EV_REASON"
# (polled: the state may be connecting between two retries)
retry_shown() {
	test "$(json_get x "t['state'] == 'backoff' and isinstance(t['next_retry'], int) and
	    abs(t['next_retry'] - __import__('time').time()) <= 4")" = True
}
check "... and the next retry time, within reconnect_max" wait_until 10 retry_shown
check "y is untouched: up" [ "$(json_get y "t['state']")" = up ]
check "y is untouched: carries data" $NETIO roundtrip "$LY" 2000000
check "x keeps retrying while the server is away (a retry fails)" \
	wait_event x connecting backoff 10
check "... and counts them (reconnects > 0)" \
	test "$(json_get x "t['reconnects'] > 0")" = True
check "x's listener stays bound while it is away (a connection waits, then is closed cleanly)" $NETIO closed "$LX"

# 2. The server comes back on the same port.
$SSHD -f "$WORK/sshd_config" -D -e >> "$WORK/sshd.log" 2>&1 &
SSHD_PID=$!; PIDS="$PIDS $SSHD_PID"
check "sshd back: x up again by itself" wait_state x up 15
check "x carries data again" $NETIO roundtrip "$LX" 1000000

# 3. The server freezes: its kernel still ACKs, only keepalives notice.
# Silence is judged from the last byte received: dead after interval x
# count + 1 s of it, and the last byte came at most one interval before
# the freeze (resilience of the bound: 1.5 s for a busy machine).
frozen=$(descendants "$SSHD_PID" | tr '\n' ' ')
diag "freezing sshd session processes:$frozen"
events_mark
t0=$(now)
kill -STOP $frozen
check "sshd frozen (SIGSTOP): keepalives take x to backoff" wait_event x up backoff 10
dt=$(elapsed "$t0" "$EV_TIME")
diag "noticed after $dt s (interval 0.5 s x 2 + 1 s): $EV_REASON"
check "... saying why" says "$EV_REASON" "no answer from" "keepalives unanswered"
check "... after interval x count + 1 s, not an interval sooner, nor 1.5 s later" \
	between "$dt" 1.45 3.5
check "... and the silence it reports is interval x count + 1 s (+1 s)" \
	between "$(echo "$EV_REASON" | sed -n 's/.* for \([0-9.]*\)s .*/\1/p')" 2 3
kill -CONT $frozen; kill $frozen 2>/dev/null
check "... and x reconnects to the live listener" wait_state x up 15
check "y never noticed any of it" sh -c "[ \"\$1\" = up ] && [ \"\$2\" = 0 ]" _ "$(json_get y "t['state']")" "$(json_get y "t['reconnects']")"

# 4. An idle tunnel stays up (the ssh -Nf problem): no connections for
# six of its keepalive intervals (an observation window, not a wait)
sleep 3
EV_MARK=0	# all along
check "an idle tunnel stays up: y never left up" no_event y up '*'
check "... and is up" test "$(json_get y "t['state']")" = up
check "rtt_ms is measured" \
	test "$(json_get y "isinstance(t['rtt_ms'], (int, float)) and t['rtt_ms'] > 0")" = True
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
