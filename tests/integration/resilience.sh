#!/bin/sh
# The daemon stays: a lost session goes to backoff and comes back, other
# tunnels are untouched, a frozen server is noticed by keepalives, an idle
# tunnel stays up.
. "$(dirname "$0")/lib.sh"

start_sshd
A_PID=$SSHD_PID
# a second, independent sshd for the tunnel that must stay untouched
B_PORT=$(free_port)
$SSHD -f "$WORK/sshd_config" -p "$B_PORT" -o "PidFile=$WORK/sshd_b.pid" -D -e >> "$WORK/sshd_b.log" 2>&1 &
B_PID=$!
PIDS="$PIDS $B_PID"
wait_port "$B_PORT" || bail "second sshd did not start"
echo "[127.0.0.1]:$B_PORT $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")" >> "$WORK/known_hosts"
start_server echo; ECHO=$SERVER_PORT
LX=$(free_port); LY=$(free_port)
write_conf "  x = { host = \"127.0.0.1\"; keepalive_interval = 0.5; keepalive_count = 2; reconnect_min = 1;
        local = [ \"$LX:127.0.0.1:$ECHO\" ]; };
  y = { host = \"127.0.0.1\"; port = $B_PORT; keepalive_interval = 0.5;
        local = [ \"$LY:127.0.0.1:$ECHO\" ]; };"
start_tunneld
check "x up" wait_state x up 10
check "y up" wait_state y up 10
check "x carries data" $NETIO roundtrip "$LX" 1000000

# 1. The server goes away entirely.
stop_sshd
check "sshd killed: x goes to backoff" wait_state x backoff 10
err=$(json_get x "t['last_error']"); diag "x: $err"
check "... the reason: the connection was closed" says "$err" 'connection closed by 127.0.0.1'
check "... and the next retry time" sh -c "[ \"\$1\" != None ]" _ "$(json_get x "t['next_retry']")"
check "y is untouched: up" [ "$(json_get y "t['state']")" = up ]
check "y is untouched: carries data" $NETIO roundtrip "$LY" 2000000
sleep 1
check "x keeps retrying while the server is away (reconnects > 0)" sh -c "[ \"\$1\" -gt 0 ]" _ "$(json_get x "t['reconnects']")"
check "x's listener stays bound while it is away (a connection waits, then is closed cleanly)" $NETIO closed "$LX"

# 2. The server comes back on the same port.
$SSHD -f "$WORK/sshd_config" -D -e >> "$WORK/sshd.log" 2>&1 &
SSHD_PID=$!; PIDS="$PIDS $SSHD_PID"
check "sshd back: x up again by itself" wait_state x up 15
check "x carries data again" $NETIO roundtrip "$LX" 1000000

# 3. The server freezes: its kernel still ACKs, only keepalives notice.
sleep 0.5
frozen=$(descendants "$SSHD_PID" | tr '\n' ' ')
diag "freezing sshd session processes:$frozen"
kill -STOP $frozen
t0=$(date +%s)
check "sshd frozen (SIGSTOP): keepalives take x to backoff" wait_log 'x: up -> backoff (no answer from .* keepalives unanswered)' 10
t1=$(date +%s)
diag "noticed after about $((t1 - t0)) s (interval 0.5 s x 2)"
kill -CONT $frozen; kill $frozen 2>/dev/null
check "... and x reconnects to the live listener" wait_state x up 15
check "y never noticed any of it" sh -c "[ \"\$1\" = up ] && [ \"\$2\" = 0 ]" _ "$(json_get y "t['state']")" "$(json_get y "t['reconnects']")"

# 4. An idle tunnel stays up (the ssh -Nf problem): no connections for a while
sleep 3
check "an idle tunnel stays up" sh -c "[ \"\$1\" = up ] && [ \"\$2\" = 0 ]" _ "$(json_get y "t['state']")" "$(json_get y "t['reconnects']")"
check "rtt_ms is measured" sh -c "[ \"\$1\" != None ]" _ "$(json_get y "t['rtt_ms']")"
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
