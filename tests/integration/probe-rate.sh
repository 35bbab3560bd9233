#!/bin/sh
# probe_interval on a tunnel with a rate_limit that its connections use up:
# the probe's token (16 bytes through a channel of its own) must not wait
# for its turn behind them.  100 uploads through a local forward keep
# 1K/s taken (51 bytes a tick, one waiter a tick: a turn every 5 s); the
# probe waits at most connect_timeout = 3 s.  Queued behind them, its
# token missed its deadline: "does not reach this tunnel", the forward
# failed, the listener asked for again, then the session replaced (every
# connection dropped).  The probe must keep coming back.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; T=$SERVER_PORT
start_server count; COUNT=$SERVER_PORT
L=$(free_port); P=$(free_port)
write_conf "
  pr = { host = \"127.0.0.1\"; connect_timeout = 3; probe_interval = 1;
    rate_limit = \"1K\";
    local = [ \"$L:127.0.0.1:$COUNT\" ];
    remote = [ \"$P:127.0.0.1:$T\" ]; };"
start_tunneld
check "up" wait_state pr up
probe_ok() { [ "$(json_get pr "t['forwards'][1].get('probe_ok')")" = True ]; }
check "the probe comes back" wait_until 15 probe_ok

# 100 uploads that never end, in one process
$PYTHON3 - "$L" "$WORK/uploads" <<'PY' 2>>"$WORK/netio.log" &
import socket, sys, time
cs = []
for i in range(100):
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
    c.setblocking(False)
    try:
        c.send(b"u" * 65536)
    except BlockingIOError:
        pass
    cs.append(c)
open(sys.argv[2], "w").write("connected\n")
time.sleep(600)
PY
UPL=$!
PIDS="$PIDS $UPL"
check "100 uploads share the limit" wait_file "$WORK/uploads"
waiting() { [ "$(json_get pr "t['forwards'][0]['connections']")" -ge 100 ]; }
check "... all of them connected" wait_until 20 waiting
n=$(json_get pr "t['forwards'][1]['probe_failures']")
last() { json_get pr "t['forwards'][1].get('probe', {}).get('last', 0)"; }
l0=$(last)
passed() { [ "$(last)" -ge $((l0 + 4)) ]; }
check "four probes later" wait_until 30 passed
check "... none failed" \
    test "$(json_get pr "t['forwards'][1]['probe_failures']")" = "$n"
check "... the forward is up" \
    test "$(json_get pr "t['forwards'][1]['state']")" = up
check "... the log has no false alarm" \
    sh -c "! grep -q 'does not reach this tunnel' '$WORK/tunneld.log'"
check "... the same session" test "$(json_get pr "t['reconnects']")" = 0
kill "$UPL"
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
