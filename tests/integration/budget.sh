#!/bin/sh
# budget.sh - what a local user may make tunneld spend (issue 23): an
# unprivileged flood of idle SOCKS connections under systemd's default
# descriptor limit, the reserve kept for the control socket and metrics
# when the limit cannot be raised, max_connections and
# max_forward_connections (refused at once, counted), 300 control clients
# that never read, a 54 KB status request, and the log's volume meanwhile.
. "$(dirname "$0")/lib.sh"
LOG_RATE_LIMIT=20	# the default: this test checks the limit itself

# nobody's processes connect to the control socket in $WORK, and write
# in $WORK/nobody
chmod o+x "$WORK"
mkdir "$WORK/nobody"
chmod 1777 "$WORK/nobody"
HOLD=$WORK/hold.py
cat > "$HOLD" <<'PY'
# hold.py PORT N READY STOP: hold N idle connections to PORT (opened again
# when tunneld closes them) until the file STOP exists; write the number
# held to READY once they are open.
import os, selectors, socket, sys, time
port, n, ready, stop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
sel = selectors.DefaultSelector()
def conn(timeout):
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        return False
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    return True
held = 0
while held < n and conn(2):
    held += 1
with open(ready + ".tmp", "w") as f:
    f.write("%d\n" % held)
os.rename(ready + ".tmp", ready)
while not os.path.exists(stop):
    lost = 0
    for key, _ in sel.select(0.2):
        try:
            d = key.fileobj.recv(4096)
        except OSError:
            d = b""
        if not d:
            sel.unregister(key.fileobj)
            key.fileobj.close()
            lost += 1
    for i in range(lost):
        conn(0.5)
PY
chmod o+r "$HOLD"
NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"
# a python3 nobody may run (not one under root's home)
NOBODY_PY=$(command -v /usr/bin/python3 || command -v python3)

# as_nobody_hold PORT N NAME: start the holder, wait for it to hold N
as_nobody_hold() {
	prlimit --nofile=8192:8192 $NOBODY $NOBODY_PY "$HOLD" "$1" "$2" \
	    "$WORK/nobody/$3.ready" "$WORK/nobody/$3.stop" \
	    2>>"$WORK/netio.log" &
	HOLDER=$!
	PIDS="$PIDS $HOLDER"
	wait_file "$WORK/nobody/$3.ready" ||
	    { diag "the holder did not start"; return 1; }
	diag "$3: $(cat "$WORK/nobody/$3.ready") connections held by nobody"
	[ "$(cat "$WORK/nobody/$3.ready")" -ge "$2" ]
}
# end_hold NAME
end_hold() {
	touch "$WORK/nobody/$1.stop"
	wait "$HOLDER" 2>/dev/null
}
# cpu PID: utime + stime, in clock ticks
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# core_use C0 T0: the share of a core tunneld used since C0 ticks, T0
core_use() {
	awk -v c="$(( $(cpu "$TUNNELD_PID") - $1 ))" -v hz="$(getconf CLK_TCK)" \
	    -v s="$(elapsed "$2")" 'BEGIN { printf "%.2f", c / hz / s }'
}
# status_within SECONDS: root's tunnelctl status answers in time
status_within() {
	s=$(now)
	timeout 10 $TUNNELCTL -s "$CTL" status > /dev/null || return 1
	e=$(elapsed "$s")
	diag "root's status answered in ${e}s"
	awk -v e="$e" -v m="$1" 'BEGIN { exit !(e < m) }'
}
metrics_within() {
	curl -sf -m "$1" "http://127.0.0.1:$MPORT/metrics" > "$WORK/metrics.out"
}
log_size() { stat -c %s "$WORK/tunneld.log"; }
# next_part N: this tunneld's log is kept apart, checked as done_testing
# checks the last one's
next_part() {
	stop_tunneld
	check "... tunneld $1: no sanitizer report in its log" sanitizer_quiet
	mv "$WORK/tunneld.log" "$WORK/tunneld.$1.log"
}

start_sshd
start_server echo
ECHO=$SERVER_PORT
D=$(free_port)
L1=$(free_port)
L2=$(free_port)
R=$(free_port)
MPORT=$(free_port)

# --- 1. the flood, under systemd's default soft limit -----------------------
# (0.4.0: root's status hangs, metrics too, the daemon spins on the control
# listener's EMFILE and logs it a million times).  connect_timeout = 60:
# the SOCKS clients that say nothing are not dropped while it is measured.
write_conf "
  t = { host = \"127.0.0.1\"; dynamic = [ \"$D\" ]; connect_timeout = 60;
        max_connections = 100000; max_forward_connections = 100000; };"
sed -i "1i metrics_listen = \"127.0.0.1:$MPORT\";" "$CONF"
TUNNELD_REAL=$TUNNELD
TUNNELD="prlimit --nofile=1024:2048 $TUNNELD_REAL"
start_tunneld
TUNNELD=$TUNNELD_REAL
check "t up" wait_state t up
check "the soft limit was raised to the hard one" \
    grep -q "Max open files *2048 *2048" "/proc/$TUNNELD_PID/limits"

SIZE0=$(log_size)
check "nobody holds 1100 connections to the SOCKS forward" \
    as_nobody_hold "$D" 1100 flood
C0=$(cpu "$TUNNELD_PID"); T0=$(now)
check "during the flood, root's status answers within 2 s" status_within 2
check "... and the metrics endpoint answers" metrics_within 2
while [ "$(elapsed "$T0")" \< 3.00 ]; do sleep 0.2; done
USE=$(core_use "$C0" "$T0")
diag "tunneld used $USE of a core during the flood"
check "... the daemon uses under half a core" awk -v u="$USE" 'BEGIN { exit !(u < 0.5) }'
end_hold flood
SIZE1=$(log_size)
diag "the log grew by $((SIZE1 - SIZE0)) bytes"
check "... its log grew under 1 MB" test $((SIZE1 - SIZE0)) -lt 1000000
check "the forward works again after the flood" \
    wait_until 15 $NETIO socks-roundtrip "$D" 5 127.0.0.1 "$ECHO" 10000
next_part flood

# --- 2. a limit that cannot be raised: the reserve ---------------------------
TUNNELD="prlimit --nofile=512:512 $TUNNELD_REAL"
start_tunneld
TUNNELD=$TUNNELD_REAL
check "t up (512 descriptors)" wait_state t up
as_nobody_hold "$D" 700 reserve	# not all of them: the forward pauses
C0=$(cpu "$TUNNELD_PID"); T0=$(now)
check "forwards stop short of the limit: root's status answers within 2 s" \
    status_within 2
check "... the metrics endpoint answers" metrics_within 2
check "... the refusals are counted" \
    test "$(json_get t "t['forwards'][0]['refused']")" -gt 0
check "... and logged as out of descriptors" \
    wait_log "refused: out of descriptors for forwarded connections"
while [ "$(elapsed "$T0")" \< 3.00 ]; do sleep 0.2; done
USE=$(core_use "$C0" "$T0")
diag "tunneld used $USE of a core at its descriptors' reserve"
check "... the daemon uses under half a core" awk -v u="$USE" 'BEGIN { exit !(u < 0.5) }'
end_hold reserve
check "the forward works again after the flood" \
    wait_until 15 $NETIO socks-roundtrip "$D" 5 127.0.0.1 "$ECHO" 10000
check "repeated lines were folded into a summary" \
    wait_log "similar messages suppressed in 10s" 25
next_part reserve

# --- 3. max_forward_connections and max_connections ------------------------
write_conf "
  campus = { host = \"127.0.0.1\";
        local = [ \"$L1:127.0.0.1:$ECHO\", \"$L2:127.0.0.1:$ECHO\" ];
        max_forward_connections = 3; max_connections = 5; };
  rev = { host = \"127.0.0.1\"; remote = [ \"$R:127.0.0.1:$ECHO\" ];
          max_forward_connections = 1; };"
sed -i "1i metrics_listen = \"127.0.0.1:$MPORT\";" "$CONF"
start_tunneld
check "campus up (limits)" wait_state campus up
check "nobody holds 3 connections to a forward" as_nobody_hold "$L1" 3 lim1
check "a 4th connection to a forward holding 3 is refused at once" \
    $NETIO closed "$L1"
refusals() {
	json_get campus "'%d %d %d' % (t['forwards'][0]['refused'], t['forwards'][1]['refused'], t['refused'])"
}
check "... counted for the forward and the tunnel" test "$(refusals)" = "1 0 1"
HOLD1=$HOLDER
check "... and 2 to the other" as_nobody_hold "$L2" 2 lim2
HOLD2=$HOLDER
check "the tunnel's 6th connection is refused (max_connections = 5)" \
    $NETIO closed "$L2"
check "... counted" test "$(refusals)" = "1 1 2"
check "tunnelctl status shows the refusals" sh -c \
    "$TUNNELCTL -s '$CTL' status | grep -q '2 connections refused' &&
     $TUNNELCTL -s '$CTL' status campus | grep -q 'refused: *2 connections' &&
     $TUNNELCTL -s '$CTL' status campus | grep -q '; 1 refused'"
check "the metrics count them" sh -c "metrics=\$(curl -sf http://127.0.0.1:$MPORT/metrics) &&
    echo \"\$metrics\" | grep -q '^tunneld_tunnel_connections_refused_total{tunnel=\"campus\"} 2' &&
    echo \"\$metrics\" | grep -q '^tunneld_forward_connections_refused_total{tunnel=\"campus\",forward=\"$L2:127.0.0.1:$ECHO\",kind=\"local\"} 1'"
HOLDER=$HOLD1; end_hold lim1
HOLDER=$HOLD2; end_hold lim2
check "below the limits again, a connection goes through" \
    wait_until 10 $NETIO roundtrip "$L1" 10000
check "rev up" wait_state rev up
check "nobody holds a connection to a remote forward" as_nobody_hold "$R" 1 rev1
check "... the server's next one is refused: its channel closed" \
    $NETIO closed "$R"
check "... counted" test "$(json_get rev "t['forwards'][0]['refused']")" = 1
end_hold rev1

# --- 4. 300 control clients of nobody that never read ----------------------
$NOBODY $NOBODY_PY - "$CTL" "$WORK/nobody/ctl300.ready" "$WORK/nobody/ctl300.stop" <<'PY' &
import os, socket, sys, time
# each one: requests whose replies (more than the socket holds) it never
# reads, then a malformed line that makes tunneld close it - once the
# first byte of a reply came, so that it is closing before the next one
held = []
req = b'{"cmd":"status"}\n' * 400 + b'not json\n'
for i in range(300):
    s = socket.socket(socket.AF_UNIX)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(2)
    try:
        s.connect(sys.argv[1])
        s.sendall(req)
        s.recv(1)
    except OSError:
        pass
    held.append(s)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.1)
PY
CTL300=$!
wait_file "$WORK/nobody/ctl300.ready"
check "300 unread control clients of nobody: root's status answers within 2 s" \
    status_within 2
check "... nobody holds at most 16, those closing included" sh -c "
    curl -sf http://127.0.0.1:$MPORT/metrics |
    awk '/^tunneld_control_clients / { exit !(\$2 <= 16) }'"
check "... the others are told why" \
    wait_log "too many connections from uid 65534"
check "... a client that does not read is dropped in time" \
    wait_log "did not read its \\(last reply\\|replies\\) within [0-9]*s, dropped" 20
touch "$WORK/nobody/ctl300.stop"
wait "$CTL300" 2>/dev/null

# --- 5. a 54 KB status request naming one tunnel 6000 times -----------------
# (0.4.0: a 10 MB reply, the daemon 150 MB larger for good)
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$TUNNELD_PID/status"; }
H0=$(hwm)
check "status naming campus 6000 times: one small answer" \
    $NOBODY $NOBODY_PY - "$CTL" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(30)
req = json.dumps({"cmd": "status", "tunnels": ["campus"] * 6000},
                 separators=(",", ":")).encode() + b"\n"
assert 50000 < len(req) < 65536, len(req)
s.sendall(req)
d = b""
while not d.endswith(b"\n"):
    k = s.recv(1 << 20)
    assert k, "closed"
    d += k
r = json.loads(d)
print("# reply of %d bytes" % len(d))
assert len(d) < 100000, len(d)
assert r["ok"] is False or len(r["tunnels"]) == 1, r
PY
H1=$(hwm)
diag "tunneld's VmHWM: $H0 KiB before, $H1 KiB after"
check "... the daemon grew by less than 8 MB" test $((H1 - H0)) -lt 8192

# --- 5b. 16 control clients of nobody pipelining metrics requests ----------
# (0.4.0: all of a client's complete lines answered in one go, so root's
# status waited for 16 x 64 KB of requests; a client that read its replies
# more slowly than it asked was dropped as one that does not read)
$NOBODY $NOBODY_PY - "$CTL" 5 "$WORK/nobody/pipe" <<'PY' &
import json, os, selectors, socket, sys, time
req = b'{"cmd":"metrics"}\n' * 3600
sel = selectors.DefaultSelector()
dropped = []
def conn():                              # a dropped one comes back
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, {"out": req})
for i in range(16):
    conn()
replies = 0
open(sys.argv[3] + ".ready", "w").write("16\n")
end = time.time() + float(sys.argv[2])
while time.time() < end:
    for key, ev in sel.select(0.2):
        s, c = key.fileobj, key.data
        try:
            if ev & selectors.EVENT_WRITE:
                c["out"] = c["out"][s.send(c["out"]):] or req
            if ev & selectors.EVENT_READ:
                d = s.recv(1 << 20)
                if not d:
                    raise OSError("closed")
                replies += d.count(b"\n")
        except BlockingIOError:
            pass
        except OSError as e:
            dropped.append(str(e))
            sel.unregister(s); s.close(); conn()
with open(sys.argv[3] + ".tmp", "w") as f:
    json.dump({"replies": replies, "dropped": dropped[:3] + [len(dropped)]}, f)
os.rename(sys.argv[3] + ".tmp", sys.argv[3])
PY
PIPE=$!
wait_file "$WORK/nobody/pipe.ready"
slow=0
while [ ! -e "$WORK/nobody/pipe" ]; do
	status_within 3 || slow=$((slow + 1))
done
wait "$PIPE"
diag "pipelining clients: $(cat "$WORK/nobody/pipe")"
pipe() { $PYTHON3 -c "import json; r=json.load(open('$WORK/nobody/pipe')); print($1)"; }
check "16 clients of nobody pipelining metrics: root's status answers within 3 s each time" \
    test "$slow" -eq 0
check "... they are answered" test "$(pipe "r['replies'] > 0")" = True
check "... and none is dropped: they read their replies" \
    test "$(pipe "r['dropped'][-1]")" = 0

# --- 6. the control socket itself out of descriptors -----------------------
# Clients of five unprivileged uids, 16 each, take every descriptor tunneld
# has left: the control listener pauses instead of spinning on EMFILE
# (0.4.0: 99% of a core, root's status hanging), anyone else is told why,
# and root gets in through the spare descriptor.
next_part limits
write_conf "
  t = { host = \"127.0.0.1\"; local = [ \"$L1:127.0.0.1:$ECHO\" ]; };"
TUNNELD="prlimit --nofile=64:64 $TUNNELD_REAL"
start_tunneld
TUNNELD=$TUNNELD_REAL
check "t up (64 descriptors)" wait_state t up
for u in 1 2 3 4 5; do
	setpriv --reuid=$u --regid=$u --clear-groups $NOBODY_PY - "$CTL" 16 \
	    "$WORK/nobody/ctl.$u" "$WORK/nobody/ctl.stop" <<'PY' &
import os, socket, sys, time
held = []
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(0.5)
    try:
        s.connect(sys.argv[1])
        s.sendall(b'{"cmd":"hello"}\n')
        s.recv(4096)
    except OSError:
        pass
    held.append(s)
open(sys.argv[3], "w").write("%d\n" % len(held))    # wait_file: not empty
while not os.path.exists(sys.argv[4]):
    time.sleep(0.1)
PY
	PIDS="$PIDS $!"
done
for u in 1 2 3 4 5; do
	wait_file "$WORK/nobody/ctl.$u" || diag "the clients of uid $u did not start"
done
check "the control listener met EMFILE and paused" \
    wait_log "control: accept: Too many open files; not accepting"
C0=$(cpu "$TUNNELD_PID"); T0=$(now)
check "out of descriptors, root's status answers within 2 s" status_within 2
check "... and again" status_within 2
check "... the others are told why" \
    wait_log "tunneld is out of descriptors; only root"
while [ "$(elapsed "$T0")" \< 3.00 ]; do sleep 0.2; done
USE=$(core_use "$C0" "$T0")
diag "tunneld used $USE of a core out of descriptors"
check "... the daemon uses under half a core" awk -v u="$USE" 'BEGIN { exit !(u < 0.5) }'
touch "$WORK/nobody/ctl.stop"
check "the forward still works" wait_until 10 $NETIO roundtrip "$L1" 10000

done_testing
