#!/bin/sh
# tunnelctl and the control socket: commands, waiting, JSON, exit codes,
# events, permissions from SO_PEERCRED, hostile input, socket ownership.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
DEAD=$(free_port)	# reserved, and nothing listens on it
LA=$(free_port); LB=$(free_port)
write_conf "  a = { host = \"127.0.0.1\"; local = [ \"$LA:127.0.0.1:$ECHO\" ]; };
  b = { host = \"127.0.0.1\"; autostart = false; local = [ \"$LB:127.0.0.1:$ECHO\" ]; };
  dead = { host = \"127.0.0.1\"; port = $DEAD; autostart = false; };"
start_tunneld
events_start
check "a up" wait_state a up

out=$(tctl status); rc=$?
check "status: exit 0" [ $rc -eq 0 ]
check "status: a table with a header and one row per tunnel" sh -c "echo \"\$1\" | head -1 | grep -q '^NAME *STATE' && [ \$(echo \"\$1\" | wc -l) -eq 4 ]" _ "$out"
check "status NAME: details of the forward" sh -c "$TUNNELCTL -s $CTL status a | grep -q 'listening on 127.0.0.1:$LA'"
tctl status nope >/dev/null 2>&1
check "status of an unknown tunnel: exit 1" [ $? -eq 1 ]
check "... saying so" sh -c "$TUNNELCTL -s $CTL status nope 2>&1 | grep -q 'no tunnel named \"nope\"'"
tctl >/dev/null 2>&1;        check "no command: exit 2" [ $? -eq 2 ]
tctl frob >/dev/null 2>&1;   check "unknown command: exit 2" [ $? -eq 2 ]
tctl up >/dev/null 2>&1;     check "up without a name: exit 2" [ $? -eq 2 ]
$TUNNELCTL -s "$WORK/nowhere.sock" status >/dev/null 2>&1
check "daemon unreachable: exit 3" [ $? -eq 3 ]
TUNNELD_SOCKET=$CTL $TUNNELCTL status >/dev/null 2>&1
check "\$TUNNELD_SOCKET names the socket" [ $? -eq 0 ]

check "b starts down (autostart = false)" [ "$(json_get b "t['state']")" = down ]
tctl up b >/dev/null; rc=$?
check "up waits until up: exit 0" [ $rc -eq 0 ]
check "... and it is up" [ "$(json_get b "t['state']")" = up ]
check "... data passes" $NETIO roundtrip "$LB" 100000
tctl down b >/dev/null; rc=$?
check "down: exit 0, state down" sh -c "[ $rc -eq 0 ] && [ \"\$1\" = down ]" _ "$(json_get b "t['state']")"
check "down: nothing listens any more" refused "$LB"
events_mark
sleep 2.5	# a window longer than reconnect_max (2 s): no retry in it
check "down: stays down" no_event b down '*'
check "... and says so" [ "$(json_get b "t['state']")" = down ]
tctl up --no-wait b >/dev/null; rc=$?
check "up --no-wait returns at once: exit 0" [ $rc -eq 0 ]
check "... and the tunnel comes up" wait_state b up 30
tctl restart a >/dev/null; rc=$?
check "restart: exit 0, up again" sh -c "[ $rc -eq 0 ] && [ \"\$1\" = up ]" _ "$(json_get a "t['state']")"
out=$(tctl up --timeout 2 dead 2>&1); rc=$?
diag "$out"
check "up on an unreachable server: exit 1 after the timeout" [ $rc -eq 1 ]
check "... with the reason" says "$out" "cannot connect to 127.0.0.1 port $DEAD"
check "... the tunnel keeps retrying (backoff or connecting)" sh -c "case \"\$1\" in backoff|connecting) true;; *) false;; esac" _ "$(json_get dead "t['state']")"
out=$(script -qec "$TUNNELCTL -s $CTL up --timeout 2 dead" /dev/null 2>&1)
diag "$out"
check "up on a terminal shows each step (here: the backoff and its reason)" \
	says "$out" "dead: backoff (retry in" "cannot connect to"
check "down dead: exit 0" sh -c "$TUNNELCTL -s $CTL down dead >/dev/null"
check "down b: exit 0" sh -c "$TUNNELCTL -s $CTL down b >/dev/null"
out=$(script -qec "$TUNNELCTL -s $CTL up b" /dev/null 2>&1)
check "... and a tunnel coming up ends its progress with up" says "$out" "b: up"
comp() { PATH=$top_builddir/ctl:$PATH bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tunnelctl; echo "${COMPREPLY[*]}"' _ "$top_srcdir/ctl/bash-completion/tunnelctl" "$@"; }
check "bash completion: commands" test "$(comp tunnelctl -s "$CTL" re)" = "restart reload"
check "bash completion: tunnel names from the daemon" \
	test "$(comp tunnelctl -s "$CTL" up "")" = "a b dead"
check "--json status parses, one object" sh -c "$TUNNELCTL -s $CTL --json status | $PYTHON3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d[\"tunnels\"])==3'"
check "--json up prints the tunnels" sh -c "$TUNNELCTL -s $CTL --json up a | $PYTHON3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"ok\"] and d[\"tunnels\"][0][\"state\"]==\"up\"'"

# events: one JSON object per line
tctl --json events > "$WORK/events.json" 2>&1 &
EV=$!
tctl events > "$WORK/events.txt" 2>&1 &
EVT=$!
# subscribed once a change of "dead" (down, connecting) reaches both
subscribed() {
	grep -q '"dead"' "$WORK/events.json" && grep -q 'dead' "$WORK/events.txt" &&
	    return 0
	tctl up --no-wait dead >/dev/null; tctl down dead >/dev/null
	return 1
}
check "events: tunnelctl events subscribes" wait_until 15 subscribed
tctl down b >/dev/null; tctl up b >/dev/null
b_seen() {
	grep -q '"tunnel":"b","old":"connecting","new":"up"' "$WORK/events.json" ||
	    grep -q '"tunnel": *"b".*"new": *"up"' "$WORK/events.json"
}
wait_until 15 b_seen
kill $EV $EVT 2>/dev/null; wait $EV $EVT 2>/dev/null
check "events: each transition, one JSON object per line" $PYTHON3 - "$WORK/events.json" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
seen = [(e["tunnel"], e["old"], e["new"]) for e in ev]
assert ("b", "up", "down") in seen, seen
assert ("b", "down", "connecting") in seen, seen
assert ("b", "connecting", "up") in seen, seen
assert all(isinstance(e["time"], int) for e in ev)
PY
diag "$(cat "$WORK/events.txt")"
check "events: readable without --json" grep -q 'b.*down' "$WORK/events.txt"

# Permissions: anyone who can open the socket reads; changes need rights.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$WORK"
	asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	asnobody $TUNNELCTL -s "$CTL" status >/dev/null 2>&1
	check "an unprivileged user may read status: exit 0" [ $? -eq 0 ]
	out=$(asnobody $TUNNELCTL -s "$CTL" down a 2>&1); rc=$?
	check "... but not take a tunnel down: exit 4" [ $rc -eq 4 ]
	check "... told what is needed" says "$out" 'needs root, the tunneld user or membership of control_group'
	check "... and the tunnel is still up" [ "$(json_get a "t['state']")" = up ]
	check "... the refusal is logged with uid and pid" grep -q 'down refused to uid 65534 pid' "$WORK/tunneld.log"
	chmod 700 "$WORK"
else
	skip "permission tests need root and setpriv"
fi

# Hostile input costs only its own connection.
check "malformed JSON: an error, then the connection is closed" $PYTHON3 - "$CTL" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"this is not json\n")
r = s.makefile().readline()
assert json.loads(r)["ok"] is False and json.loads(r)["code"] == "usage", r
assert s.recv(1) == b""
PY
check "an oversized line: an error, then closed" $PYTHON3 - "$CTL" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
try:
    s.sendall(b"x" * 200000)
except OSError:
    pass
r = s.makefile().readline()
assert "longer than" in json.loads(r)["error"], r
PY
check "wrong types and unknown commands are answered, not fatal" $PYTHON3 - "$CTL" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile()
for req in ({"cmd": 5}, {"cmd": "status", "tunnels": "a"}, {"cmd": "status", "tunnels": [1]},
            {"cmd": "frob"}, {"nocmd": 1}, {"cmd": "status", "protocol": 99}, [1, 2]):
    s.sendall((json.dumps(req) + "\n").encode())
    r = json.loads(f.readline())
    assert r["ok"] is False, (req, r)
    if isinstance(req, list):
        break
PY
$PYTHON3 - "$CTL" "$WORK/held" <<'PY' &
import socket, sys, time
held = []
for i in range(50):                       # idle clients, half messages
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    s.sendall(b'{"cmd": "sta')
    held.append(s)
open(sys.argv[2], "w").write("50\n")
time.sleep(600)
PY
HOLD=$!
PIDS="$PIDS $HOLD"
check "50 idle clients connected, each with half a request" wait_file "$WORK/held"
check "with 50 idle half-sent clients, status still answers" sh -c "$TUNNELCTL -s $CTL status a >/dev/null"
check "... and data still flows" $NETIO roundtrip "$LA" 1000000
kill $HOLD; wait $HOLD 2>/dev/null
check "hello reports the protocol version" $PYTHON3 - "$CTL" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"cmd":"hello","id":7}\n')
r = json.loads(s.makefile().readline())
assert r["ok"] and r["protocol"] == 1 and r["id"] == 7, r
PY

# The socket is never stolen from a live daemon; a stale one is replaced.
out=$($TUNNELD -c "$CONF" 2>&1); rc=$?
check "a second tunneld on the same socket refuses to start" sh -c "[ $rc -eq 1 ] && echo \"\$1\" | grep -q 'another tunneld (pid $TUNNELD_PID) is listening'" _ "$out"
check "... and the first one still answers" sh -c "$TUNNELCTL -s $CTL status >/dev/null"
stop_tunneld 137 KILL		# 128 + 9: the shell's status for SIGKILL
check "a killed daemon leaves its socket behind" test -S "$CTL"
start_tunneld
check "a new daemon replaces the stale socket" sh -c "$TUNNELCTL -s $CTL status >/dev/null"
check "... and serves again" wait_state a up 30

# A socket served by someone else (another user's process where tunnelctl
# looks) is not tunneld: refused, whatever it answers.  One of root (a
# test double of tunneld) with an ESC in a name: printed escaped.
SQUAT=$WORK/squat.py
cat > "$SQUAT" <<'PY'
# squat.py PATH READY: answer each line with a status naming "a<ESC>[31mX"
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
s.listen(5)
open(sys.argv[2], "w").write("1\n")
while True:
    c, _ = s.accept(); c.makefile("rb").readline()
    c.sendall(b'{"ok":true,"tunnels":[{"name":"a\\u001b[31mX\\u009b1m","state":"up",'
              b'"since":0,"forwards":[],"connections":0,"bytes_in":0,"bytes_out":0,'
              b'"last_error":"e\\r\\nforged: up"}]}\n')
    c.close()
PY
chmod o+rx "$WORK"
chmod o+r "$SQUAT"
mkdir -m 1777 "$WORK/squat"
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 "$SQUAT" \
    "$WORK/squat/nobody.sock" "$WORK/squat/nobody.ready" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
$PYTHON3 "$SQUAT" "$WORK/squat/root.sock" "$WORK/squat/root.ready" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/squat/nobody.ready"
wait_file "$WORK/squat/root.ready"
out=$($TUNNELCTL -s "$WORK/squat/nobody.sock" status 2>&1); rc=$?
check "a socket served by another user: refused (exit 3)" [ $rc -eq 3 ]
check "... naming the socket and the peer's uid" says "$out" \
    "$WORK/squat/nobody.sock is served by uid $(id -u nobody) (nobody)" "not tunneld"
out=$($TUNNELCTL -s "$WORK/squat/root.sock" status 2>&1)
check "control characters from the daemon are printed escaped" says "$out" \
    'a\x1b[31mX\xc2\x9b1m'
check "... never raw" sh -c "! printf '%s' \"\$1\" | LC_ALL=C grep -q \"\$(printf '[\033\r\302]')\"" _ "$out"
out=$($TUNNELCTL -s "$WORK/squat/root.sock" status "a$(printf '\033')[31mX" 2>&1)
check "... in the detail too" says "$out" 'a\x1b[31mX' 'last error:  e\x0d\x0aforged: up'
done_testing
