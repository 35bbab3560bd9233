#!/bin/sh
# Local forwards (ssh -L) through a real sshd: data both ways by hash, many
# connections at once, half-close, a refusing target, bounded memory.
. "$(dirname "$0")/lib.sh"
# connect_timeout 30: channels open one at a time (libssh2 1.10), so the
# last of 200 connections at once waits for 199 opens; on a busy machine
# that takes longer than the default 5 s allowed for its own open.

start_sshd
start_server echo;      ECHO=$SERVER_PORT
start_server halfclose; HALF=$SERVER_PORT
start_server stall;     STALL=$SERVER_PORT
start_server flood;     FLOOD=$SERVER_PORT
REFUSE=$(free_port)	# reserved, and nothing listens on it
L1=$(free_port); L2=$(free_port); L3=$(free_port); L4=$(free_port); L5=$(free_port)
write_conf "  fwd = {
    host = \"127.0.0.1\";
    connect_timeout = 30;
    local = [ \"$L1:127.0.0.1:$ECHO\", \"127.0.0.1:$L2:127.0.0.1:$HALF\",
              \"$L3:127.0.0.1:$REFUSE\", \"$L4:127.0.0.1:$STALL\",
              \"$L5:127.0.0.1:$FLOOD\" ];
  };"
start_tunneld

check "tunnel comes up" wait_state fwd up 15
check "random 8 MB both ways, compared by hash" $NETIO roundtrip "$L1" 8000000
check "random 64 MB both ways, compared by hash" $NETIO roundtrip "$L1" 64000000
check "200 concurrent connections, 256 KB each way each" $NETIO concurrent "$L1" 200 262144
check "half-close: EOF one way, the answer still comes back" $NETIO halfclose-client "$L2" 3000000
check "half-close with no data" $NETIO halfclose-client "$L2" 0

check "a refusing target closes that connection at once" $NETIO closed "$L3"
check "... and costs only that connection" $NETIO roundtrip "$L1" 1000000
check "... the tunnel stays up" [ "$(json_get fwd "t['state']")" = up ]
refused_says_why() { json_get fwd "t['forwards'][2]['last_error']" | grep -qi 'connect failed'; }
check "... and the forward tells why" refused_says_why

# A peer that does not read must not make tunneld buffer without bound.
rss0=$($NETIO rss "$TUNNELD_PID")
sent=$($NETIO push "$L4" 3)
rss1=$($NETIO rss "$TUNNELD_PID")
diag "client -> stalled server: $sent bytes taken, tunneld RSS $rss0 -> $rss1 KiB"
check "a stalled target: the client is held back (< 24 MB taken)" [ "$sent" -lt 24000000 ]
check "a stalled target: tunneld grows < 16 MB" [ $((rss1 - rss0)) -lt 16384 ]
$NETIO idle "$L5" 5 > "$WORK/idle.out" &
idle=$!
check "a client that does not read is connected to a flood" \
	wait_file "$WORK/idle.out"
sleep 2		# the window in which the flood meets the idle client
rss2=$($NETIO rss "$TUNNELD_PID")
wait $idle
diag "flooding server -> idle client: tunneld RSS $rss1 -> $rss2 KiB"
check "a client that does not read: tunneld grows < 16 MB" [ $((rss2 - rss1)) -lt 16384 ]
check "data still flows after the stalls" $NETIO roundtrip "$L1" 4000000

# Status as SPEC.md shapes it
tctl --json status > "$WORK/status.json"
check "status --json has SPEC.md's fields" $PYTHON3 - "$WORK/status.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t = d["tunnels"][0]
for k in ("name", "state", "since", "reconnects", "last_error", "next_retry", "forwards"):
    assert k in t, k
f = t["forwards"][0]
for k in ("kind", "spec", "state", "listen", "connections", "total_connections",
          "bytes_in", "bytes_out", "last_error"):
    assert k in f, k
assert f["kind"] == "local" and f["state"] == "up", f
assert f["listen"].startswith("127.0.0.1:"), f["listen"]
assert f["total_connections"] >= 203, f["total_connections"]
assert f["bytes_in"] >= 8000000 + 64000000 and f["bytes_out"] >= 72000000, f
assert isinstance(t["since"], int)
PY
all_closed() { test "$(json_get fwd "t['forwards'][0]['connections']")" = 0; }
check "connections are counted down when they close" wait_until 15 all_closed
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
