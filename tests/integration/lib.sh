# lib.sh - shared by the integration tests, in the manner of OpenSSH's
# regress/test-exec.sh: a real sshd on 127.0.0.1 with keys generated in a
# temporary directory, on a port reserved for this test; TAP output.
#
# Rules (HACKING.md, Tests): every check goes through check(), so it is
# counted and can fail; order by events (wait_event, wait_state, wait_log),
# never by sleep; bound times by the configured deadlines plus a margin, and
# measure them from event timestamps (events_start), not from polling.
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
# ports and subnets reserved by free_port/reserve, shared by every suite
# running on this machine at once (lock directories; see netio.py reserve)
: "${TUNNELD_TEST_LOCKS:=/tmp/tunneld-test-locks}"

# mine PID: PID is still a child of this shell.  A PID in $PIDS whose
# process ended (sshd stopped, a server killed) may since have been given
# to any process on the machine - another suite's tunneld, say: never
# signal it blindly.
mine() { [ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" = "$$" ]; }

# Everything the test starts, and what that starts in turn (an sshd's
# session processes, which outlive a listener the test killed; a server
# left in a namespace), runs in a cgroup of the test's own, and ends with
# the test however it ends (cgroup v2's cgroup.kill): nothing is left to
# hold a port another test is given next.  Without a cgroup v2 we may
# write to (a Debian root in a chroot), PIDS alone.
CG= CG_HOME=
cg_enter() {
	cg_root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$cg_root" ] || return 0
	cg_self=$(sed -n 's/^0:://p' /proc/self/cgroup)
	CG_HOME=$cg_root${cg_self%/}
	[ -w "$CG_HOME/cgroup.procs" ] || return 0
	CG=$CG_HOME/tunneld-test.${WORK##*.}
	if ! mkdir "$CG" 2>/dev/null || ! [ -f "$CG/cgroup.kill" ] ||
	    ! echo $$ > "$CG/cgroup.procs" 2>/dev/null; then
		rmdir "$CG" 2>/dev/null
		CG=
	fi
}
cg_end() {
	[ -n "$CG" ] || return 0
	echo $$ > "$CG_HOME/cgroup.procs" 2>/dev/null || return 0
	echo 1 > "$CG/cgroup.kill" 2>/dev/null
	i=0	# the kernel ends them at once; bounded all the same
	while grep -q '^populated 1' "$CG/cgroup.events" 2>/dev/null &&
	    [ $i -lt 100 ]; do
		sleep 0.05; i=$((i + 1))
	done
	rmdir "$CG" 2>/dev/null
}
cg_enter

cleanup() {
	[ -z "${CLEANUP_EXTRA:-}" ] || eval "$CLEANUP_EXTRA"
	netns_cleanup
	for p in $PIDS; do
		mine "$p" || continue
		kill -CONT "$p" 2>/dev/null
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	cg_end
	release_reserved
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
		check "... and no sanitizer report in its log" sanitizer_quiet
	fi
	echo "1..$T_N"
	# the TAP lines count the failures; the status is for runs by hand
	# (the harness is told --ignore-exit, so a failure is not also an ERROR)
	[ "$T_FAILED" -eq 0 ]
}
bail()    { echo "Bail out! $*"; exit 1; }
# sanitizer_quiet [LOG]: ASan, LSan and UBSan reported nothing in LOG
# (tunneld's log)
sanitizer_quiet() {
	! grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' \
	    -e 'runtime error:' "${1:-$WORK/tunneld.log}"
}

# free_port: a TCP port reserved for this test until it ends.  It is free
# on every address, below the kernel's ephemeral range (so no port-0 bind
# and no outgoing connection can take it meanwhile), and locked against
# every other test of every suite running at the same time.  Nothing
# listens on it until the test makes something listen: it doubles as a
# port that refuses connections.
free_port() {
	$NETIO reserve port "$TUNNELD_TEST_LOCKS" $$ >> "$WORK/reserved" ||
	    bail "no free port to reserve"
	tail -n 1 "$WORK/reserved" | sed 's/.*-//'
}

# free_subnet: a number 1..250 for 10.199.N.0/30, reserved like a port
free_subnet() {
	$NETIO reserve subnet "$TUNNELD_TEST_LOCKS" $$ >> "$WORK/reserved" ||
	    bail "no free subnet to reserve"
	tail -n 1 "$WORK/reserved" | sed 's/.*-//'
}

release_reserved() {
	[ -f "$WORK/reserved" ] || return 0
	while read -r r; do
		[ "$(cat "$TUNNELD_TEST_LOCKS/$r/pid" 2>/dev/null)" = $$ ] &&
		    rm -rf "$TUNNELD_TEST_LOCKS/$r"
	done < "$WORK/reserved"
}

# now: the time in seconds with fractions, for intervals
now() { date +%s.%N; }
# elapsed T0 [T1]: seconds from T0 to T1 (or now), to 0.01 s
elapsed() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.2f", b - a }'; }
# between X LO HI: LO <= X <= HI (decimal numbers)
between() {
	awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }' ||
	    { diag "$1 is not within [$2, $3]"; return 1; }
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
MaxSessions ${SSHD_MAXSESSIONS:-1000}
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

# wait_file FILE [SECONDS]: until FILE is not empty
wait_file() {
	deadline=$(( $(date +%s) + ${2:-30} ))
	while [ ! -s "$1" ]; do
		[ "$(date +%s)" -le "$deadline" ] || return 1
		sleep 0.05
	done
}

# start_server MODE: a netio server in the background; its port in SERVER_PORT
# (the kernel picks it, and the server holds it from the start)
start_server() {
	$NETIO "$1" > "$WORK/server.$1.port" 2>>"$WORK/netio.log" &
	SERVER_PID=$!
	PIDS="$PIDS $SERVER_PID"
	wait_file "$WORK/server.$1.port" || bail "netio $1 did not start"
	SERVER_PORT=$(head -n 1 "$WORK/server.$1.port")
}

# write_conf: the global part; tunnels follow through add_tunnel
# Tests read the log line by line: no rate limit unless a test sets
# LOG_RATE_LIMIT (budget.sh tests the limit itself).
write_conf() {
	cat > "$CONF" <<CONF
control_socket = "$CTL";
log_rate_limit = ${LOG_RATE_LIMIT:-0};
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
	# until it answers: a stale socket file may be there already
	deadline=$(( $(date +%s) + 30 ))
	while ! $TUNNELCTL -s "$CTL" status >/dev/null 2>&1; do
		kill -0 "$TUNNELD_PID" 2>/dev/null && [ "$(date +%s)" -le "$deadline" ] ||
		    bail "tunneld did not start: $(tail -5 "$WORK/tunneld.log")"
		sleep 0.05
	done
}

# stop_tunneld [STATUS [SIGNAL]]: send SIGNAL (TERM), and check as a TAP
# line that tunneld ended within 20 s with STATUS (0, tunneld(8)'s EXIT
# STATUS after SIGTERM or SIGINT; a sanitizer's report makes it non-zero)
stop_tunneld() {
	[ -n "${TUNNELD_PID:-}" ] || return 0
	mine "$TUNNELD_PID" && kill -"${2:-TERM}" "$TUNNELD_PID" 2>/dev/null
	if ! wait_exit "$TUNNELD_PID" 20; then
		diag "tunneld still runs 20 s after SIG${2:-TERM}: killed"
		kill -9 "$TUNNELD_PID" 2>/dev/null
	fi
	wait "$TUNNELD_PID" 2>/dev/null
	check "tunneld exits with status ${1:-0} on SIG${2:-TERM}" \
	    exited_with $? "${1:-0}"
	TUNNELD_PID=
}
# exited_with RC WANTED: RC is WANTED, or says why not
exited_with() {
	[ "$1" -eq "$2" ] && return 0
	if [ "$1" -gt 128 ]; then
		diag "killed by signal $(( $1 - 128 )) ($(kill -l $(( $1 - 128 )) 2>/dev/null))"
	else
		diag "exit status $1, not $2"
	fi
	return 1
}
# wait_exit PID SECONDS: until process PID (a child of this shell) has
# ended (a zombie counts as ended: only wait collects it)
wait_exit() {
	deadline=$(( $(date +%s) + $2 ))
	while [ -e "/proc/$1" ] &&
	    [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; do
		[ "$(date +%s)" -le "$deadline" ] || return 1
		sleep 0.05
	done
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

# events_start: follow tunneld's state changes in the background, one line
# per change in $WORK/events: "TIME TUNNEL OLD NEW REASON", TIME taken by
# the follower as the event arrives (seconds, 1 ms), so intervals measured
# from it do not include the test's polling.  Again after start_tunneld.
events_start() {
	events_stop
	: > "$WORK/events.ready"
	$NETIO events "$CTL" "$WORK/events.ready" >> "$WORK/events" 2>>"$WORK/netio.log" &
	EVENTS_PID=$!
	PIDS="$PIDS $EVENTS_PID"
	wait_file "$WORK/events.ready" || bail "cannot follow tunneld's events"
	events_mark
}
events_stop() {
	[ -n "${EVENTS_PID:-}" ] || return 0
	kill "$EVENTS_PID" 2>/dev/null
	wait "$EVENTS_PID" 2>/dev/null
	EVENTS_PID=
}
# events_mark: later waits look only at events from now on
events_mark() { EV_MARK=$(wc -l < "$WORK/events"); }

# find_event TUNNEL OLD NEW: the first line after the mark (OLD or NEW may
# be '*'); its number in EV_LINE, time in EV_TIME, reason in EV_REASON
find_event() {
	l=$(awk -v m="$EV_MARK" -v t="$1" -v o="$2" -v n="$3" '
	    NR > m && $2 == t && (o == "*" || $3 == o) && (n == "*" || $4 == n) {
		print NR " " $0; exit }' "$WORK/events")
	[ -n "$l" ] || return 1
	EV_LINE=${l%% *}
	EV_TIME=$(echo "$l" | awk '{ print $2 }')
	EV_REASON=$(echo "$l" | cut -d' ' -f6-)
}

# wait_event TUNNEL OLD NEW [SECONDS]: wait for that change after the mark,
# then move the mark past it (so the next wait_event finds the next one)
wait_event() {
	deadline=$(( $(date +%s) + ${4:-15} ))
	until find_event "$1" "$2" "$3"; do
		if [ "$(date +%s)" -gt "$deadline" ]; then
			diag "no event $1: $2 -> $3 within ${4:-15} s; since the mark:"
			mine "${EVENTS_PID:-0}" ||
			    diag "(the events follower is gone: $(tail -n 1 "$WORK/netio.log" 2>/dev/null))"
			tail -n +"$((EV_MARK + 1))" "$WORK/events" | diag
			return 1
		fi
		sleep 0.05
	done
	EV_MARK=$EV_LINE
}

# no_event TUNNEL OLD NEW: no such change since the mark
no_event() {
	! find_event "$1" "$2" "$3" ||
	    { diag "unexpected event: $(sed -n "${EV_LINE}p" "$WORK/events")"; return 1; }
}

# wait_until SECONDS COMMAND...: poll COMMAND until it succeeds, at most
# SECONDS (a deadline for something that happens by itself, not a delay)
wait_until() {
	deadline=$(( $(date +%s) + $1 )); shift
	until "$@"; do
		if [ "$(date +%s)" -gt "$deadline" ]; then
			diag "still not true after the deadline: $*"
			return 1
		fi
		sleep 0.1
	done
}

# journal_listen: a journal socket of the test's own at
# /run/systemd/journal/socket, its datagrams one per line (fields joined by
# " | ") in $WORK/journal.log.  Tests take it one at a time (a lock held
# until the test exits).  Returns 1 - the caller skips - when not root or
# when journald itself listens here.
journal_listen() {
	JS=/run/systemd/journal/socket
	[ "$(id -u)" -eq 0 ] || return 1
	exec 8>/run/tunneld-tests-journal.lock
	flock -w 600 8 || return 1
	[ ! -e "$JS" ] || return 1
	mkdir -p /run/systemd/journal
	CLEANUP_EXTRA="${CLEANUP_EXTRA:+$CLEANUP_EXTRA; }rm -f $JS"
	$PYTHON3 - "$JS" > "$WORK/journal.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    d = s.recv(65536).decode(errors="replace")
    print(" | ".join(d.strip().split("\n")), flush=True)
PY
	PIDS="$PIDS $!"
	wait_until 10 grep -q listening "$WORK/journal.log"
}

# notify_listen: the systemd side of sd_notify(3) on $WORK/notify.sock:
# every line of every datagram into $WORK/notify.log as "TIME ctl|noctl
# LINE" (TIME: this listener's monotonic clock; ctl: the control socket
# $CTL existed then).  For tunneld: NOTIFY_SOCKET=$WORK/notify.sock.
notify_listen() {
	$PYTHON3 - "$WORK/notify.sock" "$CTL" > "$WORK/notify.log" 2>&1 <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    d = s.recv(4096).decode()
    for line in d.split("\n"):
        ctl = "ctl" if os.path.exists(sys.argv[2]) else "noctl"
        print("%.3f %s %s" % (time.monotonic(), ctl, line), flush=True)
PY
	PIDS="$PIDS $!"
	wait_until 10 grep -q listening "$WORK/notify.log" ||
	    bail "the notify listener did not start"
}
# wait_notify TEXT: a line of $WORK/notify.log has TEXT (a regex), within 10 s
wait_notify() { wait_until 10 grep -q "$1" "$WORK/notify.log"; }

# --- network namespaces ------------------------------------------------
# The tests that need a real link, a blackhole or a network of their own
# make it with these (root and ip(8)); what they make goes with the test.
NETNS_ALL= NETNS_LINKS=

# netns_require: the test is skipped without root and ip(8)
netns_require() {
	if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null 2>&1; then
		echo "1..0 # SKIP needs root and ip(8) for a network namespace"
		exit 0
	fi
}

# netns_add NAME: a network namespace with its loopback up
netns_add() {
	ip netns add "$1" || bail "cannot create network namespace $1"
	NETNS_ALL="$NETNS_ALL $1"
	ip netns exec "$1" ip link set lo up
}

# netns_veth NAME HERE THERE: a veth pair joining this namespace (HERE)
# to NAME (THERE), both up, on 10.199.N.0/30 reserved by free_subnet:
# .1 here, .2 there, nothing else routed; 10.199.N in NET
netns_veth() {
	NET=10.199.$(free_subnet)
	ip link add "$2" type veth peer name "$3" ||
	    bail "cannot create a veth pair"
	NETNS_LINKS="$NETNS_LINKS $2"
	ip link set "$3" netns "$1"
	ip addr add "$NET.1/30" dev "$2"
	ip link set "$2" up
	ip netns exec "$1" ip addr add "$NET.2/30" dev "$3"
	ip netns exec "$1" ip link set "$3" up
}

# netns_cleanup: the processes in the namespaces (woken, then ended), the
# veth pairs, the namespaces
netns_cleanup() {
	for n in $NETNS_ALL; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -CONT 2>/dev/null
		ip netns pids "$n" 2>/dev/null | xargs -r kill 2>/dev/null
	done
	for l in $NETNS_LINKS; do ip link del "$l" 2>/dev/null; done
	for n in $NETNS_ALL; do ip netns del "$n" 2>/dev/null; done
	NETNS_ALL= NETNS_LINKS=
}

# refused PORT: nothing accepts a connection on PORT (any more)
refused() { ! $NETIO roundtrip "$1" 10 >/dev/null 2>&1; }
