#!/bin/sh
# pool-teardown.sh - connections held for extra sessions being set up (the
# pool's one waiting queue) are let go on every path that ends what they
# wait for: their forward removed by a reload, the tunnel stopped, tunneld
# ended (SIGTERM).  Each time the clients are dropped at once, the count
# of held connections is 0, and (built with ASan) nothing leaks.  As in
# sessions-held.sh, the tunnel's own sshd process and sshd's listener are
# stopped, so that the extras stay in set-up and hold what they are given.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
L1=$(free_port); L2=$(free_port)
conf() {
	write_conf "
  fwd = {
    host = \"127.0.0.1\";
    sessions = 4;
    keepalive_interval = 30;
    connect_timeout = 60;
    reconnect_min = 1;
    local = [ $1 ];
  };"
}
conf "\"$L1:127.0.0.1:$ECHO\", \"$L2:127.0.0.1:$ECHO\""
start_tunneld
check "tunnel up" wait_state fwd up 15

freeze() { MAIN=$(descendants "$SSHD_PID"); kill -STOP $MAIN "$SSHD_PID"; }
thaw()   { kill -CONT "$SSHD_PID" $MAIN; }
held()   { json_get fwd "sum(s['channels'] for s in t['sessions'] if s['role'] == 'extra')"; }
some_held() { [ "$(held)" -ge 1 ]; }
none_held() { [ "$(held)" = 0 ]; }
# clients PORT N: N connections that wait to be dropped (60 s at most)
clients() {
	C=; i=0
	while [ $i -lt "$2" ]; do
		$NETIO stalled "$1" 60 > /dev/null 2>&1 &
		C="$C $!"; i=$((i + 1))
	done
}
alive() { n=0; for p in $1; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done; echo $n; }
at_most() { [ "$(alive "$1")" -le "$2" ]; }

# 1. a reload removes the forward whose connections are held
freeze
clients "$L1" 8; C1=$C
check "L1's connections held for extras being set up" wait_until 15 some_held
H=$(held)
diag "held $H of 8"
conf "\"$L2:127.0.0.1:$ECHO\""
check "reload: L1 removed" tctl reload
check "... none held any more" wait_until 5 none_held
# those held are closed; those given to the tunnel's session go on
check "... the held clients dropped at once" wait_until 5 at_most "$C1" $((8 - H))
check "... the extras are still being set up" \
	[ "$(json_get fwd "len([s for s in t['sessions'] if s['role'] == 'extra'])")" -ge 1 ]

# 2. the tunnel goes down while L2's connections are held
clients "$L2" 8; C2=$C
check "L2's connections held" wait_until 15 some_held
check "tunnelctl down" tctl down fwd
check "... down" wait_state fwd down 10
check "... every client dropped at once" wait_until 5 at_most "$C1 $C2" 0
thaw
kill $C1 $C2 2>/dev/null; wait $C1 $C2 2>/dev/null

# 3. tunneld ends (SIGTERM) while connections are held: done_testing
# checks the exit status and that ASan found no leak
check "tunnelctl up" tctl up --no-wait fwd
check "... up" wait_state fwd up 15
freeze
clients "$L2" 8; C3=$C
check "connections held again" wait_until 15 some_held
stop_tunneld
check "... every client dropped" wait_until 5 at_most "$C3" 0
check "... and no sanitizer report in its log" sanitizer_quiet
thaw
kill $C3 2>/dev/null; wait $C3 2>/dev/null
done_testing
