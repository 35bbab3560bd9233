#!/bin/sh
# Worker threads: tunnels spread over them, data through tunnels on every
# worker at once, commands and status reaching each, the per-server limit
# on sessions being set up, over all the workers (more tunnels than the
# limit all come up, without overrunning sshd's MaxStartups, on 1 worker
# and on 16), and the "workers" setting.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT

# all_up N: every one of N tunnels is up
all_up() {
	deadline=$(( $(date +%s) + ${2:-30} ))
	while [ "$(date +%s)" -le "$deadline" ]; do
		n=$(tctl --json status 2>/dev/null | $PYTHON3 -c "
import json,sys
print(sum(t['state'] == 'up' for t in json.load(sys.stdin)['tunnels']))")
		[ "$n" = "$1" ] && return 0
		sleep 0.2
	done
	diag "$n of $1 tunnels up"
	return 1
}
workers_used() {
	tctl --json status | $PYTHON3 -c "
import json,sys
print(' '.join(sorted(set(str(t['worker']) for t in json.load(sys.stdin)['tunnels']))))"
}

# --- two workers, four tunnels ---------------------------------------------
P1=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port)
write_conf "  a = { host = \"127.0.0.1\"; local = [ \"$P1:127.0.0.1:$ECHO\" ]; };
  b = { host = \"127.0.0.1\"; local = [ \"$P2:127.0.0.1:$ECHO\" ]; };
  c = { host = \"127.0.0.1\"; local = [ \"$P3:127.0.0.1:$ECHO\" ]; };
  d = { host = \"127.0.0.1\"; local = [ \"$P4:127.0.0.1:$ECHO\" ]; };"
sed -i '1i workers = 2;' "$CONF"
start_tunneld
check "four tunnels on two workers come up" all_up 4
check "the log names the worker threads" wait_log "2 worker threads"
check "status: the tunnels are spread over workers 1 and 2" \
    [ "$(workers_used)" = "1 2" ]
check "--print-config shows workers" sh -c \
    "$TUNNELD -c '$CONF' --print-config | grep -q '^workers = 2;'"

# every worker moves data at once, and each stream arrives intact
pids=""
for p in $P1 $P2 $P3 $P4; do
	$NETIO roundtrip "$p" 16000000 > "$WORK/rt.$p" 2>&1 & pids="$pids $!"
done
ok_all=1
for pid in $pids; do wait "$pid" || ok_all=0; done
check "16 MB both ways through four tunnels on two workers at once" [ $ok_all -eq 1 ]

# commands and status reach a tunnel on either worker
b_down_others_up() {
	[ "$(json_get b "t['state']")" = down ] &&
	    $NETIO roundtrip "$P1" 100000 && $NETIO roundtrip "$P3" 100000
}
check "down b (on worker $(json_get b "t['worker']"))" tctl down b
check "... b is down, the others carry data" b_down_others_up
check "up b" tctl up b
check "... and b carries data again" $NETIO roundtrip "$P2" 1000000
check "restart a" tctl restart a
check "... a is up again" wait_state a up 15

# a reload repoints tunnels on both workers without touching them: a
# connection through d (an echo every 0.2 s for 5 s) is open across it
$NETIO chat "$P4" 5 > "$WORK/chat.out" 2>&1 &
CHAT=$!
check "a connection through d exchanges data" \
    wait_until 30 grep -q '^# connected' "$WORK/chat.out"
check "reload" tctl reload
check "... done while that connection is still open (no summary yet)" \
    sh -c "! grep -q exchanges '$WORK/chat.out'"
wait "$CHAT"; chat_rc=$?
check "... a connection through a tunnel on either worker lives through it" \
    [ $chat_rc -eq 0 ]
stop_tunneld

# --- more tunnels than may be set up at once --------------------------------
# sshd as shipped refuses unauthenticated connections past MaxStartups
# 10:30:100; this one refuses every one past 10
stop_sshd
SSHD_MAXSTARTUPS=10
start_sshd
# 80 distinct ports: held open together while they are chosen
ports=$($PYTHON3 -c 'import socket
ss = [socket.socket() for _ in range(80)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
tl=""
i=0
for p in $ports; do
	tl="$tl  t$i = { host = \"127.0.0.1\"; local = [ \"$p:127.0.0.1:$ECHO\" ]; };
"
	i=$((i + 1))
done
# storm WORKERS: the 80 tunnels on that many workers; the limit of 8 in
# set-up at once is per server, over all the workers together
storm() {
	write_conf "$tl"
	sed -i "1i workers = $1;" "$CONF"
	: > "$WORK/tunneld.log"
	before=$(grep -c 'past MaxStartups' "$WORK/sshd.log")
	start_tunneld
	check "workers = $1: 80 tunnels to one server (8 set up at a time) all come up" \
	    all_up 80 60
	check "... with no handshake timeouts" sh -c \
	    "! grep -qi 'timed out' '$WORK/tunneld.log'"
	if [ "$1" -eq 1 ]; then
		check "... all on worker 1" [ "$(workers_used)" = "1" ]
	else
		check "... spread over all $1 workers" \
		    [ "$(workers_used | wc -w)" -eq "$1" ]
	fi
	check "... and some waited for a slot (phase queued)" \
	    grep -q "queued" "$WORK/tunneld.log"
	# sshd counts a session until its monitor has closed a pipe, a moment
	# after tunneld sees the session up: under load a few (0-20 seen)
	# still meet the limit; without it, about 170 do, and with the limit
	# shared out per worker (8/16 rounded up to 1 each: 16 at once) 79
	drops=$(( $(grep -c 'past MaxStartups' "$WORK/sshd.log") - before ))
	diag "sshd dropped $drops of the connections past MaxStartups 10"
	check "... and sshd dropped far fewer than 79 past MaxStartups 10" \
	    [ "$drops" -le 40 ]
	stop_tunneld
}
storm 1
storm 16

done_testing
