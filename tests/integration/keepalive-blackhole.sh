#!/bin/sh
# keepalive-blackhole.sh - the keepalive probe never waits behind a stuck
# open (issue 24, item 4).  The server refuses session channels (sshd's
# MaxSessions 0), so tunneld's keepalive cannot be an "env" request on a
# channel of its own; its fallback is an open, and an open would wait for
# the one in flight - here, one to a blackholed target (blackhole-lib.sh)
# that sshd keeps trying for minutes.  The session must stay up: the probe
# goes on an open data channel instead, or, with none open, the verdict
# waits while the server's kernel acknowledges.  Keepalives every second,
# 3 unanswered is dead: a wrong verdict would come within 4 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blackhole-lib.sh"

SSHD_MAXSESSIONS=0 SSHD_NETNS=$NS SSHD_ADDR=$NET.2 start_sshd
ip netns exec "$NS" $NETIO echo > "$WORK/server.echo.port" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/server.echo.port" || bail "netio echo did not start in $NS"
ECHO=$(cat "$WORK/server.echo.port")
L=$(free_port); B=$(free_port)
# one session, so that the stuck open and the idle connection share it;
# connect_timeout longer than libssh2's own wait for an open's answer (60
# s): the stuck client is not dropped before libssh2 gives up
write_conf "
  fwd = {
    host = \"$NET.2\";
    sessions = 1;
    keepalive_interval = 1;
    keepalive_count = 3;
    connect_timeout = 90;
    local = [ \"$L:127.0.0.1:$ECHO\", \"$B:$BH:80\" ];
  };"
start_tunneld
events_start
check "tunnel up" wait_state fwd up 15
check "... the server refuses session channels: keepalives fall back" \
	wait_log "refuses session channels"
check "... carries data" $NETIO roundtrip "$L" 1000

# an idle connection (open, nothing moving), then the stuck one
$NETIO idle "$L" 60 > "$WORK/idle.out" 2>&1 &
IDLE=$!
check "an idle connection" wait_file "$WORK/idle.out"
$NETIO stalled "$B" 100 > "$WORK/stuck.out" 2>&1 &
STUCK=$!
stuck() { [ "$(json_get fwd "(t['sessions'][0].get('stuck_open') or {}).get('target')")" = "$BH:80" ]; }
check "an open stuck behind the blackhole" wait_until 10 stuck

# a client that gives up (a reset) while its open waits behind the stuck
# one is let go at once, not at connect_timeout (90 s)
bconns() { json_get fwd "t['forwards'][1]['connections']"; }
$NETIO reset "$B" "$WORK/reset.go" > "$WORK/reset.out" 2>&1 &
RESET=$!
two() { [ "$(bconns)" = 2 ]; }
one() { [ "$(bconns)" = 1 ]; }
check "a second client waits behind the stuck open" wait_until 15 two
touch "$WORK/reset.go"
t0=$(now)
wait "$RESET"
check "... it resets: let go at once (well before connect_timeout)" \
	wait_until 15 one
diag "let go after $(elapsed "$t0") s"

# a wrong verdict comes 3 keepalives + 1 s after the last byte: wait well
# past it (the time passing is what is tested)
sleep 8
check "the session stays up while an open is stuck (probes on a data channel)" \
	no_event fwd up '*'
check "... and its idle connection too" kill -0 "$IDLE"
check "... answered: the verdict never had to wait" \
	sh -c "! grep -q 'an open holds the slot' '$WORK/tunneld.log'"

kill "$IDLE" 2>/dev/null; wait "$IDLE" 2>/dev/null
conns() { [ "$(json_get fwd "t['forwards'][0]['connections']")" = 0 ]; }
check "the idle connection is gone" wait_until 5 conns
sleep 8
check "... with no channel open, the session still stays up" \
	no_event fwd up '*'
check "... still the same open stuck" stuck
check "... the log says why" wait_log "an open holds the slot"

# libssh2 stops waiting for the open's answer after 60 s (its
# LIBSSH2_READ_TIMEOUT) with LIBSSH2_ERROR_TIMEOUT: that open failed, not
# the session, and the slot is free again
check "libssh2 gives up the open after 60 s" \
	wait_log "did not answer the open within 60s" 70
check "... its client is dropped" wait_until 10 sh -c "! kill -0 $STUCK 2>/dev/null"
# the probes while the open held the slot were nudges, which have no
# answer: the next verdict (within keepalive_interval of the open's end)
# must ask for a round trip first, not count them unanswered and end the
# session (its reconnect would then be the event below)
trip() { sed -n '/did not answer the open within 60s/,$p' "$WORK/tunneld.log" |
	grep -q "round trip"; }
check "... a round trip after it" wait_until 10 trip
check "... the session stays up" no_event fwd up '*'
unstuck() { ! stuck; }
check "... no open stuck any more" unstuck
check "... and the next connection goes through" $NETIO roundtrip "$L" 1000
done_testing
