#!/bin/sh
# probe_interval with require_forwards: a probe that finds the remote
# forward's listener not reaching this tunnel fails the forward, and
# require_forwards then drops the session (backoff) - from inside the
# probe's verdict, which went on to re-request the listener on the session
# just freed.  sshd in a network namespace binds 127.0.0.1:P for
# "localhost"; another program holds [::1]:P, so the probe's ::1 leg never
# comes back.  The tunnel must go to backoff, say why, try again, and
# the daemon must live.
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
PIDS="$PIDS $!"
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
done_testing
