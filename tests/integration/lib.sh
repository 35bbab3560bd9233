# lib.sh - shared by the integration tests, in the manner of OpenSSH's
# regress/test-exec.sh: a real sshd on 127.0.0.1 with keys generated in a
# temporary directory, on a port the kernel assigns; TAP output.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${SSHD:=/usr/sbin/sshd}"
: "${SSH:=ssh}"
: "${SSH_KEYGEN:=ssh-keygen}"
: "${PYTHON3:=python3}"
TUNNELD=$top_builddir/daemon/tunneld
TUNNELCTL=$top_builddir/ctl/tunnelctl
NETIO="$PYTHON3 $top_srcdir/tests/helpers/netio.py"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tunneld-test.XXXXXX")
CTL=$WORK/ctl.sock
CONF=$WORK/tunneld.conf
T_N=0
T_FAILED=0
PIDS=""

cleanup() {
	[ -z "${CLEANUP_EXTRA:-}" ] || eval "$CLEANUP_EXTRA"
	for p in $PIDS; do
		kill -CONT "$p" 2>/dev/null
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$T_FAILED" -ne 0 ] || [ -n "${KEEP_WORK:-}" ]; then
		for f in "$WORK"/*.log; do
			[ -f "$f" ] || continue
			echo "# ---- $f (last 40 lines)"
			tail -n 40 "$f" | sed 's/^/# /'
		done
	fi
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# says TEXT STRING...: TEXT contains every STRING (fixed strings)
says()    { t=$1; shift; for w in "$@"; do case $t in *"$w"*) ;; *) return 1;; esac; done; }
ok()      { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok()  { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
skip()    { T_N=$((T_N + 1)); echo "ok $T_N - # SKIP $*"; }
# check DESCRIPTION COMMAND...: one TAP line from a command's status
check()   { d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
diag()    { echo "$*" | sed 's/^/# /'; }
# done_testing: stop tunneld (so a leak report is written) and check that
# the sanitizers, when built in, found nothing; then the plan.
done_testing() {
	if [ -n "${TUNNELD_PID:-}" ]; then
		stop_tunneld
		check "tunneld exits cleanly on SIGTERM" sh -c "! grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error:' '$WORK/tunneld.log'"
	fi
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}
bail()    { echo "Bail out! $*"; exit 1; }

# a port the kernel gives out, free at the time of asking
free_port() {
	$PYTHON3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_sshd [extra sshd_config lines]: keys, config, sshd -D on $SSHD_PORT
start_sshd() {
	if [ ! -x "$SSHD" ]; then echo "1..0 # SKIP no sshd at $SSHD"; exit 0; fi
	[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd
	if [ ! -f "$WORK/host_ed25519" ]; then
		$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/host_ed25519" || bail keygen
		$SSH_KEYGEN -q -t ecdsa -N '' -f "$WORK/host_ecdsa" || bail keygen
		$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/id_ed25519" -C tunneld-test || bail keygen
		cat "$WORK/id_ed25519.pub" > "$WORK/authorized_keys"
	fi
	SSHD_PORT=${SSHD_PORT:-$(free_port)}
	cat > "$WORK/sshd_config" <<CONF
Port $SSHD_PORT
ListenAddress ${SSHD_ADDR:-127.0.0.1}
HostKey $WORK/host_ed25519
HostKey $WORK/host_ecdsa
AuthorizedKeysFile $WORK/authorized_keys
PidFile $WORK/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
MaxStartups ${SSHD_MAXSTARTUPS:-200}
MaxSessions 1000
LogLevel VERBOSE
${1:-}
CONF
	# SSHD_NETNS: run it inside that network namespace
	${SSHD_NETNS:+ip netns exec "$SSHD_NETNS"} $SSHD -f "$WORK/sshd_config" \
	    -D -e >> "$WORK/sshd.log" 2>&1 &
	SSHD_PID=$!
	PIDS="$PIDS $SSHD_PID"
	wait_port "$SSHD_PORT" "${SSHD_ADDR:-127.0.0.1}" || bail "sshd did not start: $(tail -5 "$WORK/sshd.log")"
	# known_hosts as ssh would record it: ed25519, [host]:port
	echo "[${SSHD_ADDR:-127.0.0.1}]:$SSHD_PORT $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")" > "$WORK/known_hosts"
}

# descendants PID: the processes below PID (sshd's per-session children)
descendants() {
	for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done
}

# stop_sshd: the listener and every session it started, as a crash would
stop_sshd() {
	kids=$(descendants "$SSHD_PID")
	kill -CONT "$SSHD_PID" $kids 2>/dev/null
	kill "$SSHD_PID" $kids 2>/dev/null
	wait "$SSHD_PID" 2>/dev/null
	return 0
}

# wait_port PORT [HOST]
wait_port() {
	i=0
	while [ $i -lt 100 ]; do
		$PYTHON3 -c "import socket,sys; socket.create_connection(('${2:-127.0.0.1}',$1),1)" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# start_server MODE: a netio server in the background; its port in SERVER_PORT
start_server() {
	$NETIO "$1" > "$WORK/server.$1.port" 2>>"$WORK/netio.log" &
	PIDS="$PIDS $!"
	i=0
	while [ ! -s "$WORK/server.$1.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
	SERVER_PORT=$(cat "$WORK/server.$1.port")
}

# write_conf: the global part; tunnels follow through add_tunnel
write_conf() {
	cat > "$CONF" <<CONF
control_socket = "$CTL";
defaults = {
  port = $SSHD_PORT;
  user = "$(id -un)";
  identity_file = "$WORK/id_ed25519";
  known_hosts = "$WORK/known_hosts";
  keepalive_interval = 5;
  connect_timeout = 5;
  reconnect_min = 0.2;
  reconnect_max = 2;
};
tunnels = {
$1
};
CONF
}

start_tunneld() {
	$TUNNELD -c "$CONF" --log-level debug "$@" >> "$WORK/tunneld.log" 2>&1 &
	TUNNELD_PID=$!
	PIDS="$PIDS $TUNNELD_PID"
	i=0	# until it answers: a stale socket file may be there already
	while ! $TUNNELCTL -s "$CTL" status >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || bail "tunneld did not start: $(tail -5 "$WORK/tunneld.log")"
		sleep 0.05
	done
}

stop_tunneld() {
	kill "$TUNNELD_PID" 2>/dev/null
	wait "$TUNNELD_PID" 2>/dev/null
	TUNNELD_PID=
}

tctl() { $TUNNELCTL -s "$CTL" "$@"; }

# json_get NAME EXPR: evaluate a Python expression on tunnel NAME's status (t)
json_get() {
	tctl --json status "$1" 2>/dev/null | $PYTHON3 -c "
import json,sys
t=json.load(sys.stdin)['tunnels'][0]
print($2)" 2>/dev/null
}

# wait_log PATTERN [SECONDS]: poll tunneld's log for a line (transient states)
wait_log() {
	deadline=$(( $(date +%s) + ${2:-15} ))
	while [ "$(date +%s)" -le "$deadline" ]; do
		grep -q "$1" "$WORK/tunneld.log" && return 0
		sleep 0.1
	done
	diag "no line matching \"$1\" in tunneld's log"
	return 1
}

# wait_state NAME STATE [SECONDS]: poll until the tunnel is in STATE
wait_state() {
	deadline=$(( $(date +%s) + ${3:-15} ))
	while [ "$(date +%s)" -le "$deadline" ]; do
		[ "$(json_get "$1" "t['state']")" = "$2" ] && return 0
		sleep 0.1
	done
	diag "tunnel $1: wanted $2, is $(json_get "$1" "t['state']"): $(json_get "$1" "t['last_error']")"
	return 1
}
