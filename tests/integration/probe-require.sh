#!/bin/sh
# probe_interval with require_forwards: a probe that finds the remote
# forward's listener not reaching this tunnel fails the forward, and
# require_forwards then drops the session (backoff) - from inside the
# probe's verdict, which went on to re-request the listener on the session
# just freed.  sshd in a network namespace binds 127.0.0.1:P for
# "localhost"; another program holds [::1]:P, so the probe's ::1 leg never
# comes back.  The tunnel must go to backoff, say why, try again, and
# the daemon must live.  And the backoff grows, even where a probe's
# deadline (connect_timeout) holds each session past the 10 s that would
# make it a stable one: a session whose probes all failed is a flap.  The
# last session's verdict does not fail the next session's forward before
# its own probe has run (that dropped every new session at once, for
# good): once [::1]:P is free, the tunnel comes back up and stays.
. "$(dirname "$0")/lib.sh"

netns_require
NS=tunneld-prq-$$
netns_add "$NS"
netns_veth "$NS" "tpq$$a" "tpq$$b"
SERVER=$NET.2
start_server echo; T=$SERVER_PORT
P=$(free_port)
ip netns exec "$NS" $PYTHON3 -c "
import socket,select
s=socket.socket(socket.AF_INET6); s.bind(('::1',$P)); s.listen(8)
cs=[]
while True:
    c,_=s.accept(); cs.append(c)" &
HOLDER=$!
PIDS="$PIDS $HOLDER"
wait_until 10 ip netns exec "$NS" $PYTHON3 -c "import socket; socket.create_connection(('::1',$P),1)" 2>/dev/null ||
    bail "the holder of [::1]:$P did not start"
SSHD_NETNS=$NS SSHD_ADDR=$SERVER start_sshd "GatewayPorts clientspecified"
write_conf "
  pr = { host = \"$SERVER\"; connect_timeout = 3; probe_interval = 1;
    require_forwards = true; remote = [ \"$P:127.0.0.1:$T\" ]; };"
start_tunneld
check "the probe finds the listener does not reach" \
    wait_log "the server's \[::1\]:$P does not reach this tunnel" 30
check "... require_forwards drops the session: backoff" \
    wait_log "pr: .* -> backoff.*require_forwards" 10
check "the daemon is still running" kill -0 "$TUNNELD_PID"
check "... and tries again (a new session set up)" \
    wait_until 20 sh -c "[ \$(grep -c 'pr: .*-> connecting' '$WORK/tunneld.log') -ge 2 ]"
check "the daemon is still running after" kill -0 "$TUNNELD_PID"
stop_tunneld

# a probe waits connect_timeout, at most 10 s: the verdict, and the drop,
# come about 11 s after each session is up - past the stable period
write_conf "
  pr = { host = \"$SERVER\"; connect_timeout = 30; probe_interval = 1;
    reconnect_min = 0.5; reconnect_max = 60;
    require_forwards = true; remote = [ \"$P:127.0.0.1:$T\" ]; };"
from=$(wc -l < "$WORK/tunneld.log")
start_tunneld
new_log() { tail -n +$((from + 1)) "$WORK/tunneld.log"; }
steps() { new_log | sed -n 's/.*pr: backoff step \([0-9]*\): .*/\1/p'; }
# each session: from "-> up" to "up -> backoff", timed here (a late look
# at "up" only shortens it)
ups() { new_log | grep -c 'pr: connecting -> up'; }
drops() { new_log | grep -c 'pr: .* -> backoff'; }
held=
for n in 1 2; do
	wait_until 30 eval '[ "$(ups)" -ge $n ]' || break
	t0=$(now)
	[ $n = 2 ] && fresh=$(json_get pr "t['forwards'][0].get('probe_ok')")
	wait_until 60 eval '[ "$(drops)" -ge $n ]' || break
	held="$held $(elapsed "$t0")"
done
diag "sessions held (s):$held; backoff steps: $(steps | tr '\n' ' ')"
# (timed here: a loaded machine sees "up" late, so the bound is lower)
all_long() { [ $# -ge 2 ] && for h; do awk -v h="$h" 'BEGIN { exit !(h >= 7) }' || return 1; done; }
check "each session is dropped by its own probe, at its deadline (10 s)" \
	all_long $held
check "... never at once (the last session's verdict held against a new one)" \
	sh -c "! tail -n +$((from + 1)) '$WORK/tunneld.log' | grep -q 'pr: connecting -> backoff.*does not reach'"
check "... the new session's forward shows no probe result before its own" \
	[ "$fresh" = None ]
check "... the backoff grows: steps 1, then 2 (not 1 each time)" \
	[ "$(steps | head -n 2 | tr '\n' ' ')" = "1 2 " ]
kill "$HOLDER"
probe_ok() { [ "$(json_get pr "t['forwards'][0].get('probe_ok')")" = True ]; }
check "[::1]:$P free: a probe comes back, the tunnel is up" \
	wait_until 60 probe_ok
d0=$(drops)
plast() { json_get pr "t['forwards'][0].get('probe', {}).get('last', 0)"; }
l0=$(plast)
check "... probes go on coming back" wait_until 20 eval '[ "$(plast)" -ge $((l0 + 3)) ]'
check "... the forward up" [ "$(json_get pr "t['forwards'][0]['state']")" = up ]
check "... and the session was not dropped again" [ "$(drops)" = "$d0" ]
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
