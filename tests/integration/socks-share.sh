#!/bin/sh
# socks-share.sh - what a local user can make a dynamic forward cost the
# tunnel (issue 24, attacked): SOCKS clients that send nothing hold no
# open slot and start no extra session (their open goes where it waits
# least once their request is read); and SOCKS requests to a target that
# drops SYNs hold at most half the sessions' open slots, so the tunnel's
# other forward keeps working beside them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blackhole-lib.sh"

SSHD_NETNS=$NS SSHD_ADDR=$NET.2 start_sshd
ip netns exec "$NS" $NETIO echo > "$WORK/server.echo.port" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/server.echo.port" || bail "no echo server"
ECHO=$(cat "$WORK/server.echo.port")
L=$(free_port); D=$(free_port)
write_conf "  fwd = {
    host = \"$NET.2\";
    sessions = 8;
    connect_timeout = 20;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
    dynamic = [ \"127.0.0.1:$D\" ];
  };"
start_tunneld
check "tunnel up" wait_state fwd up 15
check "a round trip through -L" $NETIO roundtrip "$L" 1000
logins() { grep -c 'Accepted publickey' "$WORK/sshd.log"; }
nsess() { json_get fwd "len(t['sessions'])"; }
started() { json_get fwd "t['pool']['started'].get('queue', 0)"; }

# 16 clients connect to the SOCKS port at once and say nothing, until
# the checks are done (then SIGTERM)
$PYTHON3 - "$D" > "$WORK/idle.out" 2>&1 <<'PY' &
import socket, sys, time
cs = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(16)]
print("connected", flush=True)
time.sleep(120)
PY
IDLE=$!
check "16 idle SOCKS clients connected" wait_until 10 grep -q connected "$WORK/idle.out"
conns() { [ "$(json_get fwd "[f for f in t['forwards'] if f['kind'] == 'dynamic'][0]['connections']")" -ge 16 ]; }
check "... the forward counts them" wait_until 5 conns
# a connection through -L now would find the tunnel's session free
check "... a round trip through -L meanwhile" $NETIO roundtrip "$L" 1000
check "... no extra session started for them" [ "$(started)" = 0 ]
check "... one SSH connection" [ "$(nsess)" = 1 ]
check "... still all connected: the checks saw them together" mine "$IDLE"
kill "$IDLE"; wait "$IDLE" 2>/dev/null
none() { [ "$(json_get fwd "[f for f in t['forwards'] if f['kind'] == 'dynamic'][0]['connections']")" = 0 ]; }
check "... and once they leave, the forward counts none" wait_until 10 none

# 24 SOCKS CONNECTs to the blackhole, 0.1 s apart: each holds the open
# slot of the session it goes to until the server's connect gives up
$PYTHON3 - "$D" "$BH" > "$WORK/bh.out" 2>&1 <<'PY' &
import socket, struct, sys, time
cs = []
for i in range(24):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"\x05\x01\x00\x05\x01\x00\x01" + socket.inet_aton(sys.argv[2]) +
              struct.pack(">H", 80 + i))
    cs.append(s)
    time.sleep(0.1)
print("sent", flush=True)
time.sleep(30)
PY
BHC=$!
check "24 SOCKS requests to a blackholed target sent" wait_until 20 grep -q sent "$WORK/bh.out"
stuck() { json_get fwd "len([s for s in t['sessions'] if s['stuck_open']])"; }
has_stuck() { [ "$(stuck)" -ge 1 ]; }
check "... they hold open slots" wait_until 5 has_stuck
diag "sessions $(nsess), stuck $(stuck)"
check "... at most half the sessions (4 of 8)" [ "$(stuck)" -le 4 ]
fails=0 slow=0 i=1
while [ $i -le 8 ]; do
	t0=$(now)
	if $NETIO roundtrip "$L" 1000 > /dev/null 2>&1; then
		between "$(elapsed "$t0")" 0 4 > /dev/null || slow=$((slow + 1))
	else
		fails=$((fails + 1))
	fi
	i=$((i + 1))
done
check "8 round trips through -L beside them, each within 4 s" \
	[ "$fails" -eq 0 ] && [ "$slow" -eq 0 ]
diag "failed $fails, slow $slow; sessions $(nsess), logins $(logins)"
kill "$BHC" 2>/dev/null; wait "$BHC" 2>/dev/null
done_testing
