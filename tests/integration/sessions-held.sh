#!/bin/sh
# sessions-held.sh - connections held for an extra session being set up
# count in max_forward_connections (the transport review's item 4): they
# are sockets this machine holds, as much as forwarded ones.  The tunnel's
# own session has an open stuck (its sshd process stopped) and sshd's
# listener is stopped, so that the extras that start stay in set-up and
# hold the connections given to them.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
L=$(free_port)
write_conf "
  fwd = {
    host = \"127.0.0.1\";
    sessions = 4;
    max_forward_connections = 10;
    keepalive_interval = 30;
    connect_timeout = 60;
    reconnect_min = 1;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
  };"
start_tunneld
check "tunnel up" wait_state fwd up 15

MAIN=$(descendants "$SSHD_PID")
kill -STOP $MAIN
kill -STOP "$SSHD_PID"
fconns()  { json_get fwd "t['forwards'][0]['connections']"; }
refused() { json_get fwd "t['forwards'][0]['refused']"; }
held()    { json_get fwd "sum(s['channels'] for s in t['sessions'] if s['role'] == 'extra')"; }
CLIENTS=
i=0
while [ $i -lt 30 ]; do
	$NETIO idle "$L" 20 > /dev/null 2>&1 &
	CLIENTS="$CLIENTS $!"
	i=$((i + 1))
done
all_seen() { [ $(($(fconns) + $(refused))) -ge 30 ]; }
check "30 clients: each taken or refused" wait_until 45 all_seen
diag "connections $(fconns), refused $(refused), held for extras $(held), pool $(json_get fwd "t['pool']")"
check "... some held for an extra being set up" [ "$(held)" -ge 1 ]
check "... no more than max_forward_connections (10) taken" [ "$(fconns)" -le 10 ]
check "... the rest refused" [ "$(refused)" -ge 20 ]
check "... saying why" wait_log "refused: max_forward_connections" 2
kill -CONT "$SSHD_PID" $MAIN
kill $CLIENTS 2>/dev/null
wait $CLIENTS 2>/dev/null
done_testing
