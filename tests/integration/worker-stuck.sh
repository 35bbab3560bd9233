#!/bin/sh
# A worker thread stuck in a blocking system call must not hang the rest
# of tunneld (issue 18): status answers within a bound, from what the
# stuck worker last posted ("worker_busy": true), tunnels on the other
# worker carry data, commands and reload answer, and SIGTERM ends tunneld
# within a bound, leaving the stuck thread behind.  Built with libsystemd,
# the systemd watchdog is not fed meanwhile (no WATCHDOG=1).
#
# The block is real: the key file is on a FUSE file system whose server
# never answers, as a hung NFS mount behaves - open(), stat() and read()
# there wait for ever, O_NONBLOCK or not, so no way of opening the file
# avoids it.  (A FIFO would block only until identity.c opens files
# non-blocking.)  The FUSE connection is made with mount(2) on /dev/fuse
# directly, no libfuse needed.
. "$(dirname "$0")/lib.sh"

if [ ! -c /dev/fuse ] || [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root and /dev/fuse for a file system that hangs"
	exit 0
fi

# hang_fs DIR: mount a FUSE file system on DIR that never answers; its
# server is HANG_PID (killing it ends the hang: ENOTCONN)
hang_fs() {
	mkdir -p "$1"
	$PYTHON3 -c '
import os, signal, subprocess, sys, time
fd = os.open("/dev/fuse", os.O_RDWR)
subprocess.run(["mount", "-t", "fuse", "-o",
    "fd=%d,rootmode=40000,user_id=0,group_id=0" % fd, "tunneld-hang",
    sys.argv[1]], pass_fds=(fd,), check=True)
print("mounted", flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
	time.sleep(3600)' "$1" > "$WORK/hangfs.out" 2>&1 &
	HANG_PID=$!
	i=0
	while ! grep -q mounted "$WORK/hangfs.out" && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	grep -q mounted "$WORK/hangfs.out"
}
CLEANUP_EXTRA='kill "$HANG_PID" 2>/dev/null; umount -l "$WORK/hung" 2>/dev/null'
trap 'exit 1' INT TERM		# the mount goes also when the test is killed

hang_fs "$WORK/hung" || bail "cannot mount a FUSE file system: $(cat "$WORK/hangfs.out")"
# the mount really hangs: a reader is still waiting after a second
( cat "$WORK/hung/id_ed25519" >/dev/null 2>&1 & p=$!; sleep 1;
    kill -0 $p 2>/dev/null; rc=$?; kill -9 $p 2>/dev/null; exit $rc )
check "a file on the hung file system blocks its reader" [ $? -eq 0 ]

start_sshd
start_server echo; ECHO=$SERVER_PORT
P1=$(free_port); P2=$(free_port)
# ok on worker 1, stuck on worker 2 (each new tunnel takes the least loaded)
write_conf "  ok = { host = \"127.0.0.1\"; local = [ \"$P1:127.0.0.1:$ECHO\" ]; };
  stuck = { host = \"127.0.0.1\"; identity_file = \"$WORK/hung/id_ed25519\";
    local = [ \"$P2:127.0.0.1:$ECHO\" ]; };"
sed -i '1i workers = 2;' "$CONF"

# timed SECONDS CMD...: CMD ends within SECONDS (a hang is a failure);
# its output in $WORK/timed.out
timed() {
	lim=$1; shift
	t0=$(date +%s%N)
	timeout "$lim" "$@" > "$WORK/timed.out" 2>&1; rc=$?
	diag "$* answered in $(( ($(date +%s%N) - t0) / 1000000 )) ms, exit $rc"
	[ $rc -ne 124 ]
}
busy_of() {
	$PYTHON3 -c "
import json,sys
for t in json.load(open('$WORK/timed.out'))['tunnels']:
    if t['name'] == '$1': print(t.get('worker_busy'), t['state'], t['worker'])"
}

# started: tunneld answers status within 20 s (lib.sh's start_tunneld
# would wait for ever for a tunneld that hangs)
started() {
	deadline=$(( $(date +%s) + 20 ))
	while [ "$(date +%s)" -le "$deadline" ]; do
		timeout 5 $TUNNELCTL -s "$CTL" status > /dev/null 2>&1 &&
		    return 0
		sleep 0.05
	done
	return 1
}
# the systemd watchdog at WatchdogSec 1 s: WATCHDOG=1 every 0.5 s while
# every worker answers
WD=
if grep -q '^#define HAVE_SYSTEMD 1' "$top_builddir/config.h" 2>/dev/null; then
	WD="env NOTIFY_SOCKET=$WORK/notify.sock WATCHDOG_USEC=1000000"
	notify_listen
fi
T_START=$(now)
$WD $TUNNELD -c "$CONF" --log-level debug >> "$WORK/tunneld.log" 2>&1 &
TUNNELD_PID=$!		# (env execs tunneld)
PIDS="$PIDS $TUNNELD_PID"
check "tunneld answers while a worker is stuck at autostart" started
# (otherwise every tunnelctl below would hang too)
[ "$T_FAILED" -eq 0 ] || bail "tunneld does not answer while a worker is stuck"
check "ok comes up" wait_state ok up 15
check "... and carries data" $NETIO roundtrip "$P1" 100000
# WORKER_WAIT is 1.5 s: 15 s is far beyond it, and a hang never ends
check "status of every tunnel answers within a bound" \
    timed 15 $TUNNELCTL -s "$CTL" --json status
diag "stuck: $(busy_of stuck); ok: $(busy_of ok)"
check "... stuck is marked worker_busy, in the state it last posted" \
    [ "$(busy_of stuck)" = "True connecting 2" ]
check "... ok is not" [ "$(busy_of ok)" = "False up 1" ]
check "status of the stuck tunnel alone answers" \
    timed 15 $TUNNELCTL -s "$CTL" --json status stuck
check "the table says the stuck tunnel's worker is busy" sh -c \
    "timeout 15 $TUNNELCTL -s '$CTL' status | grep -E '^stuck .*worker 2 busy'"
check "the log says which worker is stuck" wait_log "worker 2 has not answered"
check "down of the stuck tunnel answers (carried out when it is free)" \
    timed 15 $TUNNELCTL -s "$CTL" down stuck
check "reload answers" timed 15 $TUNNELCTL -s "$CTL" --json reload
check "... and says a worker is busy" grep -q "busy" "$WORK/timed.out"
check "ok still carries data" $NETIO roundtrip "$P1" 100000
check "status still answers" timed 15 $TUNNELCTL -s "$CTL" status

if [ -n "$WD" ]; then
	check "systemd is told READY=1" wait_notify " READY=1"
	# an observation window: at least 3 s (6 pings' time) since the start
	sleep "$(awk -v t="$(elapsed "$T_START")" 'BEGIN { print (t < 3 ? 3 - t : 0) }')"
	check "... but no WATCHDOG=1 in the $(elapsed "$T_START") s a worker has been stuck" \
	    sh -c "! grep -q WATCHDOG=1 '$WORK/notify.log'"
else
	skip "the systemd watchdog: built without libsystemd"
	skip "the systemd watchdog: built without libsystemd"
fi

# SIGTERM: tunneld ends, leaving the stuck thread behind
kill "$TUNNELD_PID"
check "SIGTERM ends tunneld within a bound" wait_exit "$TUNNELD_PID" 15
# the hang ends (ENOTCONN); a tunneld that did not exit is killed
kill "$HANG_PID"
wait "$HANG_PID" 2>/dev/null
umount -l "$WORK/hung"
kill -9 "$TUNNELD_PID" 2>/dev/null
wait "$TUNNELD_PID" 2>/dev/null
check "... with status 0 (exited, not killed)" exited_with $? 0
check "... saying which worker it left behind" \
    grep -q "worker 2 did not stop" "$WORK/tunneld.log"
check "... and the control socket is gone" [ ! -e "$CTL" ]
TUNNELD_PID=
done_testing
