#!/bin/sh
# control-hostile.sh - the control socket under abuse while tunnels carry
# traffic: random bytes, huge lines, broken JSON, wrong types, half
# messages, thousands of idle connections, a client that never reads.  Each
# costs only its own connection; tunnelctl keeps working, data keeps
# flowing, the daemon stays.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo
ECHO=$SERVER_PORT
L=$(free_port)
write_conf "
  t = { host = \"127.0.0.1\"; local = [ \"$L:127.0.0.1:$ECHO\" ]; };"
start_tunneld
check "t up" wait_state t up

$NETIO chat "$L" 12 > "$WORK/chat.out" 2>&1 &
CHAT=$!
$NETIO roundtrip "$L" 50000000 > "$WORK/bulk.out" 2>&1 &
BULK=$!

check "random bytes, broken JSON, wrong types, half messages: each answered or dropped" \
	$PYTHON3 - "$CTL" <<'PY'
import json, os, socket, sys
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(10); return s
def closed_or_error(s):
    try:
        d = s.recv(65536)
    except (ConnectionResetError, socket.timeout):
        return True
    return d == b"" or b'"ok":false' in d
for i in range(20):                      # random bytes, with and without newlines
    s = conn()
    try:
        s.sendall(os.urandom(4096) + (b"\n" if i % 2 else b""))
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    assert closed_or_error(s), "random bytes"
    s.close()
s = conn()                              # a line of 1 MiB
try:
    s.sendall(b"{" * (1 << 20))
except OSError:
    pass
assert closed_or_error(s), "huge line"
for req in (b'{"cmd":', b'{"cmd": "status", "tunnels": {"a": 1}}', b'{"cmd": null}',
            b'{"cmd": "up", "tunnels": [null]}', b'{"cmd": "down", "tunnels": "t"}',
            b'"status"', b'42', b'{"cmd": "status", "protocol": "x"}', b'\xff\xfe{}'):
    s = conn()
    s.sendall(req + b"\n")
    r = s.recv(65536)
    assert b'"ok":false' in r, (req, r)
    s.close()
s = conn(); s.sendall(b'{"cmd": "stat'); s.close()      # half a message
PY

check "3000 idle connections: tunnelctl still gets in" $PYTHON3 - "$CTL" "$TUNNELCTL" <<'PY'
import resource, socket, subprocess, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
held = []
for i in range(3000):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
r = subprocess.run([sys.argv[2], "-s", sys.argv[1], "status", "t"], capture_output=True, timeout=20)
assert r.returncode == 0, r
for s in held:
    s.close()
PY
check "... and the evictions are logged" wait_log "control: .* clients connected; dropping pid"

check "a client that never reads its replies is dropped, nobody else" \
	$PYTHON3 - "$CTL" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
req = b'{"cmd":"status"}\n' * 200
dropped = False
for i in range(2000):
    try:
        s.sendall(req)
    except (BrokenPipeError, ConnectionResetError):
        dropped = True
        break
    time.sleep(0.002)
assert dropped, "never dropped"
PY
check "... logged" wait_log "does not read its replies, dropped"

wait "$CHAT"
check "meanwhile a connection through the tunnel kept talking" test $? -eq 0
wait "$BULK"
check "... and 50 MB each way arrived intact" test $? -eq 0
check "the tunnel never left up" \
	test "$(json_get t "str(t['reconnects']) + t['state']")" = "0up"
check "tunnelctl works" sh -c "$TUNNELCTL -s $CTL status >/dev/null"
done_testing
