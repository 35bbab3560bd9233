#!/bin/sh
# failover.sh - host = [ a list ]: two real sshds; the one in use is killed
# and the tunnel moves to the other, its -R forward with it and data
# flowing; round the list; both dead: one backoff step per round of the
# list, not per server; each server's own known_hosts entry; the list's
# configuration errors as FILE:LINE.
. "$(dirname "$0")/lib.sh"

# --- configuration errors (a libconfig list in parentheses may mix types) --
cat > "$WORK/bad.conf" <<'CONF'
defaults = { user = "tunnel"; };
tunnels = {
  a = { host = [ ]; };
  b = { host = [ "r1", "r2:70000" ]; };
  c = { host = ( "r1", 5 ); };
  d = { host = [ "r1", "r1" ]; };
  e = { host = [ "r1:", "[::1", "r 2", ":22" ]; };
  f = { host = 7; };
};
CONF
out=$($TUNNELD -n -c "$WORK/bad.conf" 2>&1); rc=$?
check "a bad host list: -n exits 1" [ $rc -eq 1 ]
f="$WORK/bad.conf"
for want in "$f:3: host: an empty list" \
    "$f:4: host: \"r2:70000\": port 70000 is out of range (1-65535)" \
    "$f:5: host: entry 2: expected a string" \
    "$f:6: host: \"r1\" is listed twice" \
    "$f:7: host: \"r1:\": no port after the colon" \
    "$f:7: host: \"[::1\": expected [address] or [address]:port" \
    "$f:7: host: \"r 2\" is not a host name or address" \
    "$f:7: host: \":22\": no host before the port" \
    "$f:8: host: expected a string or a list of strings"; do
	check "error: $want" says "$out" "$want"
done
cat > "$WORK/good.conf" <<'CONF'
defaults = { user = "tunnel"; port = 2200; };
tunnels = {
  a = { host = [ "r1", "r2:2222", "[2001:db8::7]:22", "2001:db8::8" ]; };
  b = { host = "r1"; };
};
CONF
out=$($TUNNELD -n -c "$WORK/good.conf" 2>&1); rc=$?
check "a good host list: -n exits 0" [ $rc -eq 0 ]
out=$($TUNNELD --print-config -c "$WORK/good.conf" 2>&1)
check "--print-config writes the list back as written" says "$out" \
	'host = [ "r1", "r2:2222", "[2001:db8::7]:22", "2001:db8::8" ];' \
	'host = "r1";'

# --- two servers ----------------------------------------------------------
start_sshd
P1=$SSHD_PORT; PID1=$SSHD_PID; cp "$WORK/known_hosts" "$WORK/kh1"
SSHD_PORT=; start_sshd
P2=$SSHD_PORT; PID2=$SSHD_PID; cat "$WORK/kh1" >> "$WORK/known_hosts"
start_server echo
ECHO=$SERVER_PORT
R=$(free_port)
fo_conf() {	# fo_conf HOST-LIST
	write_conf "
  fo = {
    host = [ $1 ];
    remote = [ \"$R:127.0.0.1:$ECHO\" ];
    reconnect_min = 1;
    reconnect_max = 4;
  };"
}
fo_conf "\"127.0.0.1:$P1\", \"127.0.0.1:$P2\""
start_tunneld
events_start
check "the tunnel comes up on the first server" wait_state fo up
check "status: server is the first ($P1)" \
	test "$(json_get fo "t['server']")" = "127.0.0.1:$P1"
check "status: host and port are the server in use" \
	test "$(json_get fo "t['port']")" = "$P1"
check "data flows through the -R forward" $NETIO roundtrip "$R" 200000
check "the text status names the server in use" \
	says "$(tctl status fo)" "127.0.0.1 port $P1"

# kill the server in use, as a crash would: the next one is tried at once
events_mark
SSHD_PID=$PID1; stop_sshd
check "the first server dies: the tunnel goes to backoff" \
	wait_event fo up backoff 20
check "... saying which server is next" \
	says "$EV_REASON" "trying 127.0.0.1:$P2 next"
check "... and is up again" wait_event fo connecting up 20
check "status: on the second server now ($P2)" \
	test "$(json_get fo "t['server']")" = "127.0.0.1:$P2"
check "the log says which server it is on" \
	grep -q "fo: connecting -> up, server 127.0.0.1:$P2" "$WORK/tunneld.log"
check "the -R forward came back on the new server: data flows" \
	wait_until 15 $NETIO roundtrip "$R" 200000

# the first comes back; the tunnel stays where it is, until that one fails
SSHD_PORT=$P1; start_sshd; PID1=$SSHD_PID; cat "$WORK/kh1" >> "$WORK/known_hosts"
events_mark
SSHD_PID=$PID2; stop_sshd
check "the second dies: back round the list to the first" \
	wait_event fo connecting up 20
check "... status: server $P1" \
	test "$(json_get fo "t['server']")" = "127.0.0.1:$P1"
check "... and data flows" wait_until 15 $NETIO roundtrip "$R" 100000

# reload: the same list keeps the session; a changed list restarts the
# tunnel from the first server of the new one (here the dead second)
events_mark
out=$(tctl reload 2>&1)
check "reload, the same list: the tunnel is unchanged" says "$out" unchanged
fo_conf "\"127.0.0.1:$P2\", \"127.0.0.1:$P1\""
out=$(tctl reload 2>&1)
check "reload, the list reversed: the tunnel restarts" says "$out" restart
check "... from the new first server ($P2, dead), then the next at once" \
	wait_event fo connecting backoff 20
check "... saying so" says "$EV_REASON" "trying 127.0.0.1:$P1 next"
check "... up on $P1 again" wait_event fo connecting up 20
check "... status: server $P1" \
	test "$(json_get fo "t['server']")" = "127.0.0.1:$P1"
check "... data flows" wait_until 15 $NETIO roundtrip "$R" 100000

# both dead: every round of the list is one step of the backoff
events_mark
SSHD_PID=$PID1; stop_sshd
check "both dead: rounds of the list are tried" wait_until 60 \
	sh -c "[ \$(tail -n +$((EV_MARK + 1)) '$WORK/events' | grep -c 'every server tried') -ge 4 ]"
tail -n +"$((EV_MARK + 1))" "$WORK/events" > "$WORK/dead"
# between the ends of two rounds: one attempt per server, and a wait of at
# least reconnect_min (1 s) and at most min(4, 2^(k-1)) s, plus the time
# the attempts took
check "... one attempt per server in each round, not more" \
	awk '/every server tried/ { r++; if (r > 1 && n != 2) bad = 1; n = 0 }
	    $3 == "backoff" && $4 == "connecting" && r > 0 { n++ }
	    END { exit bad || r < 4 }' "$WORK/dead"
# (times are when the follower read the events, which a loaded machine
# delays: 0.5 s of slack for that; the delays drawn are checked below,
# from the log)
check "... each round waited for the backoff: >= reconnect_min between rounds" \
	awk '/every server tried/ { if (t && $1 - t < 0.5) { print "# " $1 - t; bad = 1 } t = $1 }
	    END { exit bad }' "$WORK/dead"
grep 'every server tried' "$WORK/tunneld.log" | tail -n 4 | diag
# step k of the backoff draws from [1, min(4, 2^(k-1))] s: the step goes up
# by one per round, not per server
check "... one backoff step per round, delays within the step's bounds" \
	sh -c "grep 'fo: .*every server tried' '$WORK/tunneld.log' | tail -n 4 |
	sed 's/.*backoff step \([0-9]*\)), next round in \([0-9.]*\)s.*/\1 \2/' |
	awk '{ hi = 2 ^ (\$1 - 1); if (hi > 4) hi = 4
	    if (NR > 1 && \$1 != k + 1) { print \"# step \" \$1 \" after \" k; bad = 1 }
	    if (\$2 < 1 || \$2 > hi + 0.01) { print \"# step \" \$1 \": \" \$2; bad = 1 }
	    k = \$1 } END { exit bad || NR < 4 }'"

# known_hosts: each server is looked up under its own [host]:port.  Down
# while start_sshd writes its own entry, which is then taken out again
tctl down fo >/dev/null
SSHD_PORT=$P2; start_sshd; PID2=$SSHD_PID
cp "$WORK/kh1" "$WORK/known_hosts"	# the other server's entry only
tctl up --no-wait fo >/dev/null
check "a server whose own known_hosts entry is missing: failed" \
	wait_state fo failed 30
check "... the error names that server as known_hosts does" \
	says "$(json_get fo "t['last_error']")" "host key for [127.0.0.1]:$P2 is unknown"
done_testing
