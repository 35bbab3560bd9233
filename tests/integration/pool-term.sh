#!/bin/sh
# pool-term.sh - the pool's worst moments: connections held for extra
# sessions that are being set up (sshd answers nothing) when the tunnel's
# own session is lost; then again, and SIGTERM meanwhile.  Held
# connections are closed, not leaked nor served on a freed session;
# tunneld exits 0 and the sanitizers say nothing.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
L=$(free_port)
write_conf "  p = { host = \"127.0.0.1\"; sessions = 4; sessions_idle = 30;
        keepalive_interval = 30; connect_timeout = 60; reconnect_min = 0.2;
        local = [ \"$L:127.0.0.1:$ECHO\" ]; };"
start_tunneld
check "p up" wait_state p up
GROW=
in_setup() { json_get p "t.get('pool', {}).get('in_setup', 0)"; }
grow_setup() {
	$NETIO roundtrip "$L" 1000 >> "$WORK/grow.out" 2>&1 &
	GROW="$GROW $!"
	[ "$(in_setup)" -ge 1 ]
}
# hold: extras in set-up with connections held for them
hold() {
	MAIN=$(descendants "$SSHD_PID")
	$NETIO chat "$L" 30 > "$WORK/chat.$1" 2>&1 &
	wait_file "$WORK/chat.$1" || diag "chat did not connect"
	kill -STOP $MAIN
	kill -STOP "$SSHD_PID"
	$NETIO concurrent "$L" 12 1000 > "$WORK/burst.$1" 2>&1 &
	GROW="$GROW $!"
}
hold 1
check "extras being set up, connections held for them" wait_until 30 grow_setup
# the tunnel's own session is lost under them
kill -KILL $MAIN
kill -CONT "$SSHD_PID"
check "the tunnel's session lost: p reconnects" \
	wait_log "p: up -> \(backoff\|connecting\)" 30
check "... and comes up again" wait_state p up 30
check "the held connections ended (closed or served)" \
	wait_until 60 sh -c "for p in $GROW; do kill -0 \$p 2>/dev/null && exit 1; done; exit 0"
GROW=
check "data flows" $NETIO roundtrip "$L" 100000

hold 2
check "extras being set up again" wait_until 30 grow_setup
stop_tunneld
kill -CONT "$SSHD_PID" $MAIN 2>/dev/null
check "no sanitizer report in its log" sanitizer_quiet
done_testing
