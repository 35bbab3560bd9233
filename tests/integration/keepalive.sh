#!/bin/sh
# keepalive.sh - dead-peer detection: a frozen sshd (its kernel still ACKs)
# is noticed within keepalive_interval x keepalive_count (+1 s) and replaced
# by a new session; an open stuck on a target that never answers does not
# starve the keepalives into a false verdict; an idle tunnel stays up; the
# kernel's backstop is armed on the socket.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo
ECHO=$SERVER_PORT
# a target that never answers a SYN: a listener whose backlog is full
$PYTHON3 -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
print(s.getsockname()[1], flush=True)
held = []
for i in range(4):
    try:
        c = socket.socket(); c.setblocking(False); c.connect_ex(s.getsockname()); held.append(c)
    except OSError:
        pass
time.sleep(600)" > "$WORK/blackhole.port" &
PIDS="$PIDS $!"
wait_file "$WORK/blackhole.port" || bail "the blackhole did not start"
HOLE=$(cat "$WORK/blackhole.port")
L=$(free_port); LH=$(free_port)
write_conf "
  k = {
    host = \"127.0.0.1\";
    keepalive_interval = 1;
    keepalive_count = 2;
    connect_timeout = 6;
    reconnect_min = 0.2;
    reconnect_max = 1;
    local = [ \"$L:127.0.0.1:$ECHO\", \"$LH:127.0.0.1:$HOLE\" ];
  };"
start_tunneld
events_start
check "k up" wait_state k up
check "the kernel's backstop: TCP keepalive armed on the SSH socket" \
	sh -c "ss -tnoH state established '( dport = :$SSHD_PORT )' | grep -q keepalive"

# 1. an idle tunnel stays up, and every round trip is timed (sleep: the
# observation window, four keepalive intervals)
sleep 4
check "idle for four keepalive intervals: k never left up" no_event k up '*'
check "... still up, no reconnect" \
	test "$(json_get k "t['state']") $(json_get k "t['reconnects']")" = "up 0"
check "rtt_ms is measured (an SSH-level round trip)" \
	$PYTHON3 -c "import sys; sys.exit(not 0 <= float('$(json_get k "t['rtt_ms']")') < 1000)"

# 2. an open stuck behind a target that never answers (sshd tries for up
# to two minutes; libssh2 1.10 opens one channel at a time, so new opens
# wait behind it - README, Limitations).  It stays stuck for
# connect_timeout (6 s); the connection beside it talks for 1.5 s of them,
# so the session is silent (but for keepalives) for longer than the
# verdict takes (1 s x 2 + 1 s): keepalives that waited behind the stuck
# open would end the session.
$NETIO chat "$L" 1.5 > "$WORK/chat.out" 2>&1 &
CHAT=$!
chat_open() { wait_file "$WORK/chat.out" && grep -q '^# connected' "$WORK/chat.out"; }
check "a connection carries data through k" chat_open
$NETIO closed "$LH" > "$WORK/stuck.out" 2>&1 &
STUCK=$!
wait "$STUCK"
check "an open stuck behind a blackholed target: its client is closed, cleanly" \
	test $? -eq 0
check "... after connect_timeout (6 s)" \
	between "$(sed -n 's/^# closed after \([0-9.]*\) s$/\1/p' "$WORK/stuck.out")" 5.9 30
check "... saying why" wait_log "has not opened the channel within 6s"
check "... and the stuck open was no false verdict: k never left up" \
	no_event k up '*'
check "... still up, no reconnect" \
	test "$(json_get k "t['state']") $(json_get k "t['reconnects']")" = "up 0"
wait "$CHAT"
check "... connections already open carried data all along" test $? -eq 0

# 3. the server freezes (SIGSTOP): its kernel still ACKs.  Silence is
# judged from the last byte received: dead after interval x count + 1 s of
# it, and the last byte came at most one interval before the freeze; a
# busy machine gets 1.5 s more.
frozen=$(descendants "$SSHD_PID" | tr '\n' ' ')
events_mark
t0=$(now)
kill -STOP $frozen
check "a frozen sshd is noticed" wait_event k up backoff 15
dt=$(elapsed "$t0" "$EV_TIME")
diag "noticed after $dt s (keepalive 1 s x 2 + 1 s): $EV_REASON"
check "... saying why" says "$EV_REASON" "no answer from" "keepalives unanswered"
check "... after interval x count + 1 s, not an interval sooner, nor 1.5 s later" \
	between "$dt" 1.95 4.5
check "... and the silence it reports is interval x count + 1 s (+1 s)" \
	between "$(echo "$EV_REASON" | sed -n 's/.* for \([0-9.]*\)s .*/\1/p')" 3 4
check "... and replaced by a new session" wait_state k up 30
check "... which carries data" $NETIO roundtrip "$L" 500000
kill -CONT $frozen 2>/dev/null; kill $frozen 2>/dev/null
done_testing
