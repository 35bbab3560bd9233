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
check "... and the evictions are logged" wait_log "control: .* clients connected; dropping uid 0 pid"

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
check "... logged" wait_log "\\(does not\\|did not\\) read its replies"

wait "$CHAT"
check "meanwhile a connection through the tunnel kept talking" test $? -eq 0
wait "$BULK"
check "... and 50 MB each way arrived intact" test $? -eq 0
check "the tunnel never left up" \
	test "$(json_get t "str(t['reconnects']) + t['state']")" = "0up"

# --- the protocol: replies are JSON, names and types exact (issue 18) ------
# ask REQUEST-BYTES...: one reply line per request (on a new connection
# each), printed as JSON; fails unless every reply is UTF-8 and JSON
ask() {
	$PYTHON3 - "$CTL" "$@" <<'PY'
import json, socket, sys
for req in sys.argv[2:]:
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
    s.sendall(req.encode("utf-8", "surrogateescape") + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    def strict(c):
        raise ValueError("not JSON: " + c)
    r = json.loads(buf.decode("utf-8"), parse_constant=strict)
    print(json.dumps(r))
PY
}
# refused REQUEST WORDS...: the reply is ok:false and its error says WORDS
refused() {
	r=$(ask "$1") || { diag "$1: no valid JSON reply"; return 1; }
	shift
	says "$r" '"ok": false' "$@" || { diag "reply: $r"; return 1; }
}
check "invalid UTF-8 in a request: a JSON reply that says so" \
	refused "$(printf '{"cmd":"st\377\376atus"}')" "invalid UTF-8 at byte 11"
check "invalid UTF-8 inside a name: refused the same way" \
	refused "$(printf '{"cmd":"status","tunnels":["t\300\200"]}')" "invalid UTF-8"
check "a surrogate encoded in UTF-8 is not UTF-8" \
	refused "$(printf '{"cmd":"status","tunnels":["\355\240\200"]}')" "invalid UTF-8"
check "an unknown command is quoted in ASCII" \
	refused '{"cmd":"stätus\u0001"}' 'unknown command \"st\\xc3\\xa4tus\\x01\"'
check "a name with an embedded NUL does not match tunnel t" \
	refused '{"cmd":"status","tunnels":["t\u0000junk"]}' "contains a NUL character"
check "... nor for a command" \
	refused '{"cmd":"up","tunnels":["t\u0000"]}' "contains a NUL character"
check "a command with an embedded NUL is not that command" \
	refused '{"cmd":"status\u0000junk"}' 'unknown command \"status\\x00junk\"'
check "\"protocol\":\"1\" is a type error, not a version" \
	refused '{"cmd":"status","protocol":"1"}' '\"protocol\" must be an integer, not string'
check "\"protocol\":1.0 too" \
	refused '{"cmd":"status","protocol":1.0}' 'must be an integer, not double'
check "\"protocol\":2 is a version this tunneld does not speak" \
	refused '{"cmd":"status","protocol":2}' "protocol version 2 is not spoken here"
check "\"cmd\":[\"status\"] is a type error" \
	refused '{"cmd":["status"]}' '\"cmd\" must be a string, not array'
check "\"tunnels\":[1] says which element" \
	refused '{"cmd":"status","tunnels":["t",1]}' '\"tunnels\"[1] must be a name (a string), not int'
check "\"tunnels\" where the command takes none" \
	refused '{"cmd":"reload","tunnels":["t"]}' '\"reload\" takes no \"tunnels\"'
check "an id that JSON cannot carry is refused, not echoed" \
	refused '{"cmd":"status","id":[NaN,1e999]}' '\"id\" holds a number that is not finite'
check "json-c's extensions are not JSON: refused" \
	refused '{"cmd":"status","id":07}' 'not one JSON object'
r=$(ask '{"cmd":"status","tunnels":["t"],"protocol":1,"id":{"n":[1.,-0,"\ud800",1.5e300]}}')
check "a request that is right in every field is answered, id echoed as JSON" \
	says "$r" '"ok": true' '"name": "t"' '"id": {"n": [1.0, 0, "\ufffd", 1.5'

# --- no lock-out through the control socket (issue 18) ----------------------
# Other users' processes (setuid) and a mount namespace need root.
if [ "$(id -u)" -ne 0 ]; then
	skip "the lock-out and control_group checks need root"
	done_testing
	exit
fi
# The socket is 0666 in a directory nobody may cross; let nobody cross it.
# The flooder is user nobody (python drops to it: the interpreter may live
# where nobody cannot run it).
chmod 711 "$WORK"
mkdir -m 1777 "$WORK/out"
$PYTHON3 - "$CTL" "$WORK/out/flood" <<'PY' > "$WORK/flood.log" 2>&1 &
import json, os, pwd, signal, socket, sys
nobody = pwd.getpwnam("nobody")
os.setgroups([]); os.setgid(nobody.pw_gid); os.setuid(nobody.pw_uid)
held, ok, refused, other = [], 0, [], []
for i in range(300):
    s = socket.socket(socket.AF_UNIX); s.settimeout(20)
    s.connect(sys.argv[1])
    try:                                 # a refusal may come first
        s.sendall(b'{"cmd":"events"}\n')
    except OSError:
        pass
    try:
        r = s.recv(65536)
    except OSError as e:
        r = repr(e).encode()
    if b'"ok":true' in r:
        ok += 1; held.append(s)
    elif b'too many connections from uid' in r:
        refused.append(r.decode()); s.close()
    else:
        other.append(r.decode()); s.close()
with open(sys.argv[2] + ".tmp", "w") as f:
    json.dump({"ok": ok, "refused": len(refused), "other": other[:3],
               "first": json.loads(refused[0])["error"] if refused else None}, f)
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
signal.pause()                           # hold the connections until killed
PY
FLOOD=$!
PIDS="$PIDS $FLOOD"
i=0
while [ ! -s "$WORK/out/flood" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
diag "flooder as nobody: $(cat "$WORK/out/flood" 2>/dev/null) $(cat "$WORK/flood.log")"
flood() { $PYTHON3 -c "import json; r=json.load(open('$WORK/out/flood')); print($1)"; }
check "one unprivileged uid holds at most 16 connections, subscribers too" \
	test "$(flood "r['ok']")" = 16
check "... the rest are refused with a clear reason" \
	test "$(flood "r['refused'], r['other']")" = "284 []"
check "... in a JSON reply that says why" \
	says "$(flood "r['first']")" "too many connections from uid $(id -u nobody) (16 at most"
check "meanwhile root's status works" sh -c "$TUNNELCTL -s $CTL status t >/dev/null"
check "... and root's restart" sh -c "$TUNNELCTL -s $CTL restart t >/dev/null"
check "... and the tunnel comes back" wait_state t up
check "the refusals are logged" wait_log "control: uid $(id -u nobody) pid [0-9]* refused: too many connections"
kill "$FLOOD"; wait "$FLOOD" 2>/dev/null

# 17 unprivileged uids, 16 events subscriptions each: the socket is full;
# root still gets in, in the place of one of them.
$PYTHON3 - "$CTL" "$WORK/out/fill" <<'PY' > "$WORK/fill.log" 2>&1 &
import os, signal, socket, sys, time
kids = []
for k in range(17):
    pid = os.fork()
    if pid == 0:
        os.setgroups([]); os.setgid(20000 + k); os.setuid(20000 + k)
        n = 0; held = []
        for i in range(16):
            s = socket.socket(socket.AF_UNIX); s.settimeout(20)
            try:
                s.connect(sys.argv[1]); s.sendall(b'{"cmd":"events"}\n')
                if b'"ok":true' in s.recv(65536):
                    n += 1; held.append(s)
            except OSError:
                pass
        with open("%s.%d" % (sys.argv[2], k), "w") as f:
            f.write("%d\n" % n)
        signal.pause()
    kids.append(pid)
    while not os.path.exists("%s.%d" % (sys.argv[2], k)):
        time.sleep(0.05)                 # until child k holds its share
with open(sys.argv[2], "w") as f:
    f.write(" ".join(open("%s.%d" % (sys.argv[2], k)).read().strip()
                     for k in range(17)) + "\n")
def stop(*a):
    for p in kids:
        os.kill(p, signal.SIGKILL)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
signal.pause()
PY
FILL=$!
PIDS="$PIDS $FILL"
i=0
while [ ! -s "$WORK/out/fill" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
diag "subscriptions held per uid: $(cat "$WORK/out/fill" 2>/dev/null) $(cat "$WORK/fill.log")"
check "256 connections at most: the 17th uid is refused" \
	test "$(cat "$WORK/out/fill" 2>/dev/null)" = "16 16 16 16 16 16 16 16 16 16 16 16 16 16 16 16 0"
check "root gets in all the same" sh -c "$TUNNELCTL -s $CTL status t >/dev/null"
check "... in the place of a subscriber of an unprivileged uid" \
	wait_log "control: 256 clients connected; dropping uid 200[0-9][0-9] pid [0-9]* (events)"
kill "$FILL"; wait "$FILL" 2>/dev/null

# --- control_group membership however many groups (issue 19) -------------
# A second tunneld, in a mount namespace of its own, sees an /etc/group where
# user "many" (uid 30000) is in 300 groups, the last of them control_group,
# and "few" (uid 30001) in the 299 others.
chmod 711 "$WORK"
cp /etc/passwd "$WORK/passwd"
cp /etc/group "$WORK/group"
echo "many:x:30000:30000::/nonexistent:/usr/sbin/nologin" >> "$WORK/passwd"
echo "few:x:30001:30001::/nonexistent:/usr/sbin/nologin" >> "$WORK/passwd"
i=1
while [ $i -le 300 ]; do
	if [ $i -lt 300 ]; then echo "many$i:x:$((30000 + i)):many,few"
	else echo "many$i:x:$((30000 + i)):many"; fi
	i=$((i + 1))
done >> "$WORK/group"
printf 'control_socket = "%s";\ncontrol_group = "many300";\ntunnels = { };\n' \
	"$WORK/many.sock" > "$WORK/many.conf"
unshare -m sh -c "mount --bind '$WORK/passwd' /etc/passwd &&
	mount --bind '$WORK/group' /etc/group &&
	exec '$TUNNELD' -c '$WORK/many.conf'" >> "$WORK/tunneld-many.log" 2>&1 &
MANY=$!
PIDS="$PIDS $MANY"
i=0
while ! $TUNNELCTL -s "$WORK/many.sock" status >/dev/null 2>&1 && [ $i -lt 200 ]; do
	sleep 0.05; i=$((i + 1))
done
# as_uid UID REQUEST: the reply to REQUEST from a process of uid UID
as_uid() {
	$PYTHON3 - "$WORK/many.sock" "$1" "$2" <<'PY'
import os, socket, sys
uid = int(sys.argv[2])
os.setgroups([]); os.setgid(uid); os.setuid(uid)
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(20)
s.sendall(sys.argv[3].encode() + b"\n")
print(s.recv(65536).decode())
PY
}
r=$(as_uid 30000 '{"cmd":"reload"}')
check "a member of control_group through its 300th group may reload" \
	says "$r" '"ok":true'
diag "$r"
r=$(as_uid 30001 '{"cmd":"reload"}')
check "... one in 299 groups but not that one may not" \
	says "$r" '"code":"permission"'
kill "$MANY"
wait_exit "$MANY" 20 || kill -9 "$MANY"
wait "$MANY"
check "... and that tunneld exits with status 0 on SIGTERM" exited_with $? 0
check "... with no sanitizer report" sanitizer_quiet "$WORK/tunneld-many.log"

check "tunnelctl works" sh -c "$TUNNELCTL -s $CTL status >/dev/null"
done_testing
