#!/bin/sh
# channel-end.sh - every channel ends when either side ends it (issue 24,
# item 2).  A target that reads 1000 bytes and closes while the client is
# still uploading (a server refusing an upload): sshd sends its EOF and
# CLOSE while the channel's window is zero and the client's bytes wait;
# the CLOSE must be noticed then, the client's connection closed, nothing
# kept.  And a channel that makes no progress (a target that never reads)
# is closed after channel_stall_timeout, and counted.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server reject; REJECT=$SERVER_PORT
start_server stall; STALL=$SERVER_PORT
L=$(free_port); S=$(free_port); Z=$(free_port)
# sessions = 1 for "up": extra sessions would hold descriptors of their own
# (until sessions_idle) and blur the count this test compares
write_conf "
  up = {
    host = \"127.0.0.1\";
    sessions = 1;
    local = [ \"$L:127.0.0.1:$REJECT\", \"$Z:127.0.0.1:$STALL\" ];
  };
  st = {
    host = \"127.0.0.1\";
    sessions = 1;
    channel_stall_timeout = 2;
    local = [ \"$S:127.0.0.1:$STALL\" ];
  };"
start_tunneld
check "tunnels up" wait_state up up 15
check "... both" wait_state st up 15

fds() { ls "/proc/$TUNNELD_PID/fd" | wc -l; }
conns() { json_get up "t['forwards'][0]['connections']"; }
FDS0=$(fds)
diag "descriptors before: $FDS0"

# --- 30 rejected uploads at once ---------------------------------------
t0=$(now)
i=0; UPS=
while [ $i -lt 30 ]; do
	$NETIO upload "$L" 8000000 30 > "$WORK/upload.$i" 2>&1 &
	UPS="$UPS $!"
	i=$((i + 1))
done
settled() {
	for p in $UPS; do kill -0 "$p" 2>/dev/null && return 1; done
	[ "$(conns)" = 0 ] && [ "$(fds)" -le "$FDS0" ]
}
check "30 rejected uploads: connections and descriptors back" \
	wait_until 45 settled
diag "after $(elapsed "$t0") s: $(conns) connections on the forward, $(fds) descriptors (before: $FDS0)"
failed=0
for p in $UPS; do wait "$p" || failed=$((failed + 1)); done
check "... every client saw its connection ended" [ "$failed" = 0 ]
[ "$failed" = 0 ] || diag "$(cat "$WORK"/upload.* | sort | uniq -c | head -5)"
check "... the tunnel is still up" wait_state up up 5
check "... not counted as stalls" \
	[ "$(json_get up "t['forwards'][0]['stalled']")" = 0 ]

# --- the client resets while its bytes wait for the server's window -----
# (a target that never reads, channel_stall_timeout 300 s)
# is seen at once: the descriptor closed (sshd answers the CLOSE only
# once it has handed the target its bytes: the channel goes at its close
# timeout, as below)
$NETIO push "$Z" 2 reset > "$WORK/push.out" 2>&1
diag "pushed $(cat "$WORK/push.out") bytes, then reset"
t0=$(now)
fds_back() { [ "$(fds)" -le "$FDS0" ]; }
check "a reset while the upload waits on a zero window is seen at once" \
	wait_until 5 fds_back
diag "let go after $(elapsed "$t0") s"
check "... the log says why" \
	wait_log "$Z:127.0.0.1:$STALL from .*: Connection reset by peer" 2

# --- no progress: a target that never reads ------------------------------
t0=$(now)
check "a stalled upload is closed after channel_stall_timeout (2 s)" \
	$NETIO upload "$S" 200000000 20
diag "closed after $(elapsed "$t0") s"
stalled() { [ "$(json_get st "t['forwards'][0]['stalled']")" = 1 ]; }
check "... counted on the forward" wait_until 5 stalled
check "... and on its session" \
	[ "$(json_get st "t['sessions'][0]['channels_stalled']")" = 1 ]
tctl metrics > "$WORK/metrics" 2>&1
check "... and in the metrics" \
	grep -q '^tunneld_forward_stalled_total{tunnel="st",.*} 1$' "$WORK/metrics"
check "... per session too" \
	grep -q '^tunneld_session_channels_stalled_total{tunnel="st",session="1",role="tunnel"} 1$' "$WORK/metrics"
check "... the log says why" wait_log "no progress for"
# sshd never answers that CLOSE (it waits to hand the target its bytes):
# after 10 s (CLOSE_TIMEOUT) the channel is freed without it - released
# at once, and freed in libssh2 by the keepalive's answer
st_conns() { [ "$(json_get st "t['forwards'][0]['connections']")" = 0 ]; }
st_chans() { [ "$(json_get st "t['sessions'][0]['channels']")" = 0 ]; }
check "... its connection is released within 20 s" wait_until 20 st_conns
check "... and its session's channel" wait_until 2 st_chans
check "... and libssh2 freed it" \
	wait_log "freed without the server's CLOSE" 10
check "... the tunnel is still up" wait_state st up 5
done_testing
