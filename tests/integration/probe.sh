#!/bin/sh
# probe.sh - the end-to-end probe of remote forwards (probe_interval): sshd
# in a network namespace of the test's own, with a non-loopback address;
# tunneld here.  A healthy forward (loopback and "*" binds) probes ok, with
# no false alarm over several intervals; "*" under GatewayPorts no is
# bound on the server's loopback only; a target that refuses; a listener
# that does not reach this tunnel (another program holds the server's
# [::1]:PORT), re-requested, then reconnected, while real connections
# arriving during a probe still work; probe_target = false never connects
# the target.
. "$(dirname "$0")/lib.sh"

netns_require
NS=tunneld-probe-$$
netns_add "$NS"
netns_veth "$NS" "tpr$$a" "tpr$$b"
SERVER=$NET.2

# the target: an echo server that writes a line per accepted connection
$PYTHON3 - "$WORK/target.log" > "$WORK/target.port" 2>>"$WORK/netio.log" <<'PY' &
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
log = open(sys.argv[1], "a")
def echo(c):
    while True:
        try:
            d = c.recv(65536)
        except OSError:
            break
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    log.write("accept\n"); log.flush()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
PY
PIDS="$PIDS $!"
wait_file "$WORK/target.port" || bail "the target did not start"
T=$(cat "$WORK/target.port")
: > "$WORK/target.log"
accepts() { wc -l < "$WORK/target.log" | tr -d ' '; }

P1=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port)
P5=$(free_port); P6=$(free_port)
DOWN=$(free_port)	# nothing listens there

# fwd NAME I EXPR: Python EXPR on forward I's status (f)
fwd() { json_get "$1" "(lambda f: $3)(t['forwards'][$2])"; }
# probed NAME I: a probe of forward I has finished since the last call
# for the same forward (its "last" changed)
probe_last() { fwd "$1" "$2" "f.get('probe', {}).get('last', 0)"; }
probe_is() { [ "$(fwd "$1" "$2" "f.get('probe_ok')")" = "$3" ]; }
# probes_pass NAME I N: N more probes of forward I finish
probes_pass() {
	last=$(probe_last "$1" "$2"); i=0
	while [ $i -lt "$3" ]; do
		wait_until 10 sh -c "[ \"\$($TUNNELCTL -s $CTL --json status $1 |
		    $PYTHON3 -c 'import json,sys; t=json.load(sys.stdin)[\"tunnels\"][0]; print(t[\"forwards\"][$2].get(\"probe\",{}).get(\"last\",0))')\" != $last ]" ||
		    return 1
		last=$(probe_last "$1" "$2"); i=$((i + 1))
	done
}
in_ns() { ip netns exec "$NS" "$@"; }

conf() {
	write_conf "
  pr = {
    host = \"$SERVER\";
    connect_timeout = 3;
    probe_interval = ${INTERVAL:-1};
    $1
  };"
}

# --- (a) healthy: loopback and "*" binds ---------------------------------
SSHD_NETNS=$NS SSHD_ADDR=$SERVER start_sshd "GatewayPorts clientspecified"
conf "remote = [ \"$P1:127.0.0.1:$T\", \"*:$P2:127.0.0.1:$T\", \"$P4\",
    \"$SERVER:$P6:127.0.0.1:$T\" ];"
start_tunneld
check "(a) healthy: up" wait_state pr up
check "... the loopback bind's probe comes back" wait_until 15 probe_is pr 0 True
check "... the \"*\" bind's probe comes back" wait_until 15 probe_is pr 1 True
check "... the remote dynamic forward's probe comes back" wait_until 15 probe_is pr 2 True
check "... an explicit address's probe comes back" wait_until 15 probe_is pr 3 True
check "... over three more intervals" probes_pass pr 1 3
check "... with no false alarm" test "$(fwd pr 0 "f['probe_failures']")$(fwd pr 1 "f['probe_failures']")$(fwd pr 2 "f['probe_failures']")$(fwd pr 3 "f['probe_failures']")" = 0000
check "... still up" test "$(json_get pr "t['state']")" = up
check "... the log says so once" test "$(grep -c ":$P2:127.0.0.1:$T\": the probe came back" "$WORK/tunneld.log")" = 1
check "... the probe's status" says "$(fwd pr 1 "f['probe']")" "'state'" "'last'"
m=$(tctl metrics)
check "... metrics: probe_ok 1" says "$m" "tunneld_forward_probe_ok{tunnel=\"pr\",forward=\"*:$P2:127.0.0.1:$T\"" 
check "... metrics: the failures and the last success" says "$m" \
	tunneld_forward_probe_failures_total tunneld_forward_probe_last_success_timestamp_seconds
n=$(accepts)
check "... probe_target: the target sees each probe connect ($n)" test "$n" -ge 2
check "... a real connection through the server's $SERVER:$P2" sh -c "ip netns exec $NS $PYTHON3 -c \"
import socket; c=socket.create_connection(('$SERVER',$P2),5); c.sendall(b'hello'); assert c.recv(5)==b'hello'\""
stop_tunneld

# --- (e) probe_target = false never touches the target ------------------
conf "probe_target = false; remote = [ \"$P1:127.0.0.1:$T\" ];"
start_tunneld
check "(e) probe_target = false: the probe comes back" wait_until 15 probe_is pr 0 True
n=$(accepts)
check "... over three more intervals" probes_pass pr 0 3
check "... and the target saw no connection ($n, $(accepts))" test "$(accepts)" = "$n"
stop_tunneld

# --- (c) the target refuses ----------------------------------------------
conf "remote = [ \"$P1:127.0.0.1:$DOWN\" ];"
start_tunneld
check "(c) the target refuses: the log says so" wait_log "the target 127.0.0.1:$DOWN refuses connections"
check "... probe_ok false" wait_until 15 probe_is pr 0 False
check "... status has the error" says "$(fwd pr 0 "f['probe']['error']")" "refuses connections"
check "... the forward stays up" test "$(fwd pr 0 "f['state']")" = up
check "... one line, not one per interval" probes_pass pr 0 2
check "... (still one)" test "$(grep -c "127.0.0.1:$DOWN refuses" "$WORK/tunneld.log")" = 1
check "... counted" test "$(fwd pr 0 "f['probe_failures']")" -ge 3
check "... metrics: probe_ok 0" sh -c "$TUNNELCTL -s $CTL metrics | grep '^tunneld_forward_probe_ok{' | grep -q ' 0\$'"
# probe_interval on reload: re-armed on the live session
INTERVAL=0; conf "remote = [ \"$P1:127.0.0.1:$DOWN\" ];"; INTERVAL=1
tctl reload >/dev/null
no_probe() { [ "$(fwd pr 0 "'probe_ok' in f")" = False ]; }
check "reload, probe_interval = 0: the probe's fields are gone" wait_until 10 no_probe
check "... the same session" test "$(json_get pr "t['reconnects']")" = 0
probes() { grep -c "probing $P1:127.0.0.1:$DOWN" "$WORK/tunneld.log"; }
n=$(probes)
sleep 3		# three of the old intervals: no probe may start in them
check "... and no probe runs" test "$(probes)" -le $((n + 1))
conf "remote = [ \"$P1:127.0.0.1:$DOWN\" ];"
tctl reload >/dev/null
check "reload, probe_interval = 1 again: probing again" probes_pass pr 0 2
stop_tunneld

# --- (b) GatewayPorts no, "*" asked: the server's loopback only ----------
stop_sshd
SSHD_NETNS=$NS SSHD_ADDR=$SERVER start_sshd
conf "remote = [ \"*:$P2:127.0.0.1:$T\" ];"
start_tunneld
check "(b) GatewayPorts no: the loopback-only message" \
	wait_log "the server bound \\*:$P2 on its loopback only: set GatewayPorts clientspecified (or yes) in its sshd_config"
fwd_is() { [ "$(fwd pr 0 "f['state']")" = "$1" ]; }	# polled, not read once
nfwds_is() { [ "$(json_get pr "len(t['forwards'])")" = "$1" ]; }
check "... the forward is failed" wait_until 10 fwd_is failed
check "... the tunnel degraded" wait_state pr degraded
check "... probe_ok false" probe_is pr 0 False
check "... last_error says what to do" says "$(fwd pr 0 "f['last_error']")" GatewayPorts
check "... two more probes" probes_pass pr 0 2
check "... one line, not one per interval" test "$(grep -c "warning: pr: remote forward .*on its loopback only" "$WORK/tunneld.log")" = 1
check "... counted" test "$(fwd pr 0 "f['probe_failures']")" -ge 3
stop_tunneld
stop_sshd

# --- (d) the listener does not reach this tunnel; (f) real connections ---
# another program holds the server's [::1]:P3 and [::1]:P5: sshd binds
# 127.0.0.1 only
in_ns $PYTHON3 -c "
import socket,select
ls=[]
for p in ($P5,$P3):
    s=socket.socket(socket.AF_INET6); s.bind(('::1',p)); s.listen(8); ls.append(s)
cs=[]
while True:
    for s in select.select(ls,[],[])[0]:
        c,_=s.accept(); cs.append(c)" &
PIDS="$PIDS $!"
wait_until 10 in_ns $PYTHON3 -c "import socket; socket.create_connection(('::1',$P3),1)" 2>/dev/null ||
    bail "the holder of [::1]:$P3 did not start"
SSHD_NETNS=$NS SSHD_ADDR=$SERVER start_sshd "GatewayPorts clientspecified"
conf "remote = [ \"$P3:127.0.0.1:$T\", \"$P5\" ];"
start_tunneld
check "(d) the listener does not reach: the message" \
	wait_log "the server's \[::1\]:$P3 does not reach this tunnel" 20
check "... re-requested" wait_log "asking the server to listen again" 20
# (f) while probes wait for the token that does not come back, real
# connections to the server's 127.0.0.1:P3 are held for their first bytes
held() {
	in_ns $PYTHON3 -c "
import socket; c=socket.create_connection(('127.0.0.1',$P3),5); c.sendall(b'x'*100)
d=b''
while len(d)<100:
    r=c.recv(100)
    assert r
    d+=r
assert d==b'x'*100" || return 1
	grep -q ": $P3:127.0.0.1:$T: a connection arrived during a probe" "$WORK/tunneld.log"
}
check "(f) a real connection during a probe works" wait_until 30 held
socks_held() {
	in_ns $NETIO socks-roundtrip "$P5" 5 127.0.0.1 "$T" 1000 >/dev/null ||
	    return 1
	grep -q ": $P5: a connection arrived during a probe" "$WORK/tunneld.log"
}
check "... and a SOCKS client of a remote dynamic forward" wait_until 30 socks_held
check "(d) ... then reconnected" wait_log "lost.*does not reach this tunnel\|does not reach this tunnel.*backoff\|-> backoff" 30
failed_again() { says "$(fwd pr 0 "f['state']") $(fwd pr 0 "f['last_error']")" failed "does not reach"; }
check "... and on the new session the forward is failed again" wait_until 20 failed_again
# the re-request took effect: the server granted the listener again
# before the session was replaced
relistened() {
	awk -v s="for $P3:127.0.0.1:$T" 'index($0, "the server listens on") &&
	    index($0, s) { n++ } /-> backoff/ { print n + 0; exit }' \
	    "$WORK/tunneld.log"
}
check "... re-requested and granted before the reconnect ($(relistened))" test "$(relistened)" -ge 2
stop_tunneld
stop_sshd

# --- (g) the server stalls while probes are out; reloads meanwhile ------
# sshd's session process stopped (SIGSTOP): the probe's opens are not
# answered.  A reload then removes a probed forward (its probe out) and
# changes probe_interval; another sets it to 0 and back.  After SIGCONT
# the probes go on and no channel or open is left behind.
SSHD_NETNS=$NS SSHD_ADDR=$SERVER start_sshd "GatewayPorts clientspecified"
conf "remote = [ \"$P1:127.0.0.1:$T\", \"$P4\" ];"
start_tunneld
both_ok() { probe_is pr 0 True && probe_is pr 1 True; }
check "(g) both probes come back" wait_until 15 both_ok
kids() { descendants "$SSHD_PID"; }
probing() { grep -c "probing $1 on" "$WORK/tunneld.log"; }
probing_more() { [ "$(probing "$1")" -gt "$2" ]; }
# stall_probe SPEC: stop sshd's session once a probe of SPEC is out
stall_probe() {
	n=$(probing "$1")
	kill -STOP $(kids)
	wait_until 10 probing_more "$1" "$n"
}
n=$(probing "$P1:127.0.0.1:$T")
check "(g) the server stalls with a probe out" stall_probe "$P4"
check "... and one of the forward that stays" wait_until 10 probing_more "$P1:127.0.0.1:$T" "$n"
INTERVAL=2; conf "remote = [ \"$P1:127.0.0.1:$T\" ];"; INTERVAL=1
tctl reload >/dev/null
check "... reload removes the forward whose probe is out" wait_until 10 nfwds_is 1
# the probe out ends by its deadline: no verdict behind the removed
# forward's open, or its own open unanswered
probe_ended() {
	grep -q "probe of $P1:127.0.0.1:$T waited behind an open\|127.0.0.1:$P1 does not reach this tunnel (the server has not answered" "$WORK/tunneld.log"
}
check "... the probe out ends by its deadline, the server still stopped" wait_until 15 probe_ended
kill -CONT $(kids)
check "... the server resumes: probes every 2 s come back" probes_pass pr 0 2
check "... probe_ok" probe_is pr 0 True
idle() { [ "$(json_get pr "(t['sessions'][0]['channels'], t['sessions'][0].get('opens', 0))")" = "(0, 0)" ]; }
check "... no channel and no open left" wait_until 15 idle
check "(g) stalled again" stall_probe "$P1:127.0.0.1:$T"
INTERVAL=0; conf "remote = [ \"$P1:127.0.0.1:$T\" ];"; INTERVAL=1
tctl reload >/dev/null
check "... reload, probe_interval = 0 with the probe out: no probe fields" wait_until 10 no_probe
kill -CONT $(kids)
check "... the forward is up" wait_until 10 fwd_is up
check "... no channel and no open left" wait_until 15 idle
conf "remote = [ \"$P1:127.0.0.1:$T\" ];"
tctl reload >/dev/null
check "... probe_interval = 1 again: probes come back" probes_pass pr 0 2
check "... probe_ok" probe_is pr 0 True
stop_tunneld
stop_sshd

done_testing
