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
i=0; while [ ! -s "$WORK/blackhole.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
HOLE=$(cat "$WORK/blackhole.port")
L=$(free_port); LH=$(free_port)
write_conf "
  k = {
    host = \"127.0.0.1\";
    keepalive_interval = 1;
    keepalive_count = 2;
    connect_timeout = 3;
    reconnect_min = 0.2;
    reconnect_max = 1;
    local = [ \"$L:127.0.0.1:$ECHO\", \"$LH:127.0.0.1:$HOLE\" ];
  };"
start_tunneld
check "k up" wait_state k up
check "the kernel's backstop: TCP keepalive armed on the SSH socket" \
	sh -c "ss -tnoH state established '( dport = :$SSHD_PORT )' | grep -q keepalive"

# 1. an idle tunnel stays up, and every round trip is timed
sleep 4
check "idle for four keepalive intervals: still up, no reconnect" \
	test "$(json_get k "t['state']") $(json_get k "t['reconnects']")" = "up 0"
check "rtt_ms is measured (an SSH-level round trip)" \
	$PYTHON3 -c "import sys; sys.exit(not 0 <= float('$(json_get k "t['rtt_ms']")') < 1000)"

# 2. an open stuck behind a target that never answers (sshd tries for up
# to two minutes; libssh2 1.10 opens one channel at a time, so new opens
# wait behind it - README, Limitations)
$NETIO chat "$L" 5 > "$WORK/chat.out" 2>&1 &
CHAT=$!
sleep 0.3
$NETIO closed "$LH" > "$WORK/stuck.out" 2>&1 &
STUCK=$!
sleep 4.5
check "an open stuck for 4.5 s (2 x keepalive_count intervals) is no false verdict" \
	test "$(json_get k "t['state']") $(json_get k "t['reconnects']")" = "up 0"
wait "$STUCK"
check "... its client was closed after connect_timeout, cleanly" test $? -eq 0
check "... saying why" wait_log "has not opened the channel within 3s"
wait "$CHAT"
check "... connections already open carried data all along" test $? -eq 0

# 3. the server freezes (SIGSTOP): its kernel still ACKs
frozen=$(descendants "$SSHD_PID" | tr '\n' ' ')
t0=$($PYTHON3 -c 'import time; print(time.time())')
kill -STOP $frozen
check "a frozen sshd is noticed" \
	wait_log 'k: up -> backoff (no answer from .* keepalives unanswered)' 10
t1=$($PYTHON3 -c 'import time; print(time.time())')
dt=$($PYTHON3 -c "print('%.1f' % ($t1 - $t0))")
diag "noticed after $dt s (keepalive 1 s x 2)"
check "... within keepalive_interval x keepalive_count + 1 s (+ polling)" \
	$PYTHON3 -c "import sys; sys.exit(not $dt <= 3.5)"
check "... and replaced by a new session" wait_state k up 10
check "... which carries data" $NETIO roundtrip "$L" 500000
kill -CONT $frozen 2>/dev/null; kill $frozen 2>/dev/null
done_testing
