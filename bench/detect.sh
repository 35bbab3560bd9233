#!/bin/sh
# detect.sh - how long until a frozen server is noticed, and the tunnel is
# back: tunneld next to ssh -N with the same ServerAliveInterval and
# ServerAliveCountMax (default 15 and 3), on the same sshd, the same fault:
# every process serving a session is frozen with SIGSTOP (the server's
# kernel still ACKs; only SSH-level probes notice), the listener stays up.
# Usage: sh bench/detect.sh [INTERVAL [COUNT]]
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/integration/lib.sh"
IV=${1:-15}; CNT=${2:-3}
now() { $PYTHON3 -c 'import time; print("%.2f" % time.time())'; }

start_sshd
start_server echo
L=$(free_port); LS=$(free_port)
write_conf "
  t = {
    host = \"127.0.0.1\";
    keepalive_interval = $IV;
    keepalive_count = $CNT;
    reconnect_min = 1;
    local = [ \"$L:127.0.0.1:$SERVER_PORT\" ];
  };"
start_tunneld
wait_state t up >/dev/null
$SSH -N -o BatchMode=yes -i "$WORK/id_ed25519" \
    -o UserKnownHostsFile="$WORK/known_hosts" -o ServerAliveInterval="$IV" \
    -o ServerAliveCountMax="$CNT" -p "$SSHD_PORT" \
    -L "$LS:127.0.0.1:$SERVER_PORT" 127.0.0.1 2>>"$WORK/ssh.log" &
SSHPID=$!
PIDS="$PIDS $SSHPID"
wait_port "$LS"
sleep 1
frozen=$(descendants "$SSHD_PID" | tr '\n' ' ')
t0=$(now)
kill -STOP $frozen
td=""; ts=""; tu=""
while [ -z "$td" ] || [ -z "$ts" ] || [ -z "$tu" ]; do
	[ -n "$td" ] || ! grep -q 't: up -> backoff' "$WORK/tunneld.log" || td=$(now)
	[ -n "$td" ] && [ -z "$tu" ] && [ "$(json_get t "t['state']")" = up ] && tu=$(now)
	[ -n "$ts" ] || kill -0 "$SSHPID" 2>/dev/null || ts=$(now)
	[ "$($PYTHON3 -c "print(int($(now) - $t0))")" -lt $((IV * (CNT + 3))) ] || break
	sleep 0.2
done
kill -CONT $frozen; kill $frozen 2>/dev/null
d() { [ -n "$1" ] && $PYTHON3 -c "print('%.1f s' % ($1 - $t0))" || echo "not within $((IV * (CNT + 3))) s"; }
echo "ServerAliveInterval $IV, ServerAliveCountMax $CNT; the server frozen at t=0"
echo "tunneld: noticed after $(d "$td"); up again (new session) after $(d "$tu")"
echo "ssh -N:  exited after $(d "$ts") (it does not come back by itself; autossh would restart it then)"
done_testing >/dev/null
