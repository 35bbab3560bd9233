#!/bin/sh
# sessions-open-timeout.sh - an extra session where libssh2 gave up an open
# retires (the transport review's item 5).  libssh2 stops waiting for an
# open's answer after 60 s (doc/libssh2.md rule 15); the server may still
# open that channel later and keep it, with its connection to the target,
# for the session's life.  An extra session where that happened takes no
# new connections and closes once its own are gone - here at once, long
# before sessions_idle.  The target is a real blackhole (blackhole-lib.sh):
# sshd's connect() to it hangs for minutes.  About 70 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blackhole-lib.sh"

SSHD_NETNS=$NS SSHD_ADDR=$NET.2 start_sshd
ip netns exec "$NS" $NETIO echo > "$WORK/server.echo.port" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/server.echo.port" || bail "netio echo did not start in $NS"
ECHO=$(cat "$WORK/server.echo.port")
L=$(free_port); B=$(free_port)
write_conf "
  fwd = {
    host = \"$NET.2\";
    sessions = 4;		# one forward's late opens hold at most 2
    sessions_idle = 300;
    local = [ \"$L:127.0.0.1:$ECHO\", \"$B:$BH:80\" ];
  };"
start_tunneld
check "tunnel up" wait_state fwd up 15

stuck_on() { [ "$(json_get fwd "(t['sessions'][$1].get('stuck_open') or {}).get('target')")" = "$BH:80" ]; }
nup() { json_get fwd "len([s for s in t['sessions'] if s['state'] == 'up'])"; }
$NETIO stalled "$B" 10 > /dev/null 2>&1 &
check "an open stuck on the tunnel's session" wait_until 10 stuck_on 0
GROW=
grow() {
	$NETIO roundtrip "$L" 1000 >> "$WORK/grow.out" 2>&1 &
	GROW="$GROW $!"
	[ "$(nup)" -ge 2 ]
}
check "an extra session starts" wait_until 20 grow
$NETIO stalled "$B" 10 > /dev/null 2>&1 &
check "... an open stuck on it too" wait_until 10 stuck_on 1
check "libssh2 gives up the extra's open after 60 s" \
	wait_log "fwd#2: open of $BH:80: the server did not answer" 75
check "... the extra retires and closes" \
	wait_log "fwd#2: extra session closed: libssh2 gave up an open" 10
check "... as status counts it" \
	[ "$(json_get fwd "t['pool']['closed']['open-timeout']")" = 1 ]
check "... the tunnel is up and carries data" $NETIO roundtrip "$L" 1000
for p in $GROW; do wait "$p"; done
done_testing
