#!/bin/sh
# systemd.sh - what tunneld tells systemd, against a datagram socket this
# test listens on as NOTIFY_SOCKET: READY (only once the control socket
# listens), STATUS kept current, RELOADING+MONOTONIC_USEC then READY around
# reloads (also a refused one), WATCHDOG at half WatchdogSec, STOPPING.
# Then socket activation with systemd-socket-activate, structured journal
# fields on a journal socket this test provides, `systemd-analyze verify`
# on the generated units, and what `make install DESTDIR=` puts where.
. "$(dirname "$0")/lib.sh"

if ! grep -q '^#define HAVE_SYSTEMD 1' "$top_builddir/config.h" 2>/dev/null; then
	echo "1..0 # SKIP built without libsystemd"; exit 0
fi
start_sshd
start_server echo
ECHO=$SERVER_PORT
DEAD=$($NETIO refuse)
L=$(free_port)
write_conf "
  t = { host = \"127.0.0.1\"; local = [ \"$L:127.0.0.1:$ECHO\" ]; };
  dead = { host = \"127.0.0.1\"; port = $DEAD; reconnect_min = 30;
           reconnect_max = 60; };"

notify_listen
NOTIFY_SOCKET=$WORK/notify.sock WATCHDOG_USEC=1000000 start_tunneld
check "READY=1" wait_notify " READY=1"
check "... only once the control socket listens" \
	sh -c "! grep -q 'noctl READY=1' '$WORK/notify.log'"
check "... without waiting for the servers (STATUS then said not all up)" \
	sh -c "grep -B1 ' READY=1' '$WORK/notify.log' | head -1 | grep -q 'STATUS=0/2 up'"
wait_state t up
check "STATUS= kept current: 1/2 up; dead: backoff Ns" wait_notify "STATUS=1/2 up; dead: backoff [0-9]*s"
tctl reload >/dev/null
check "reload: RELOADING=1 with MONOTONIC_USEC" \
	sh -c "grep -A1 ' RELOADING=1' '$WORK/notify.log' | grep -q 'MONOTONIC_USEC=[0-9]'"
check "... then READY=1 again" \
	sh -c "sed -n '/RELOADING=1/,\$p' '$WORK/notify.log' | grep -q ' READY=1'"
n0=$(grep -c ' RELOADING=1' "$WORK/notify.log")
echo "bogus = 1;" >> "$CONF"
tctl reload >/dev/null 2>&1
sed -i '$d' "$CONF"
check "a refused reload is also bracketed: RELOADING=1 ... READY=1" \
	sh -c "[ \$(grep -c ' RELOADING=1' '$WORK/notify.log') -gt $n0 ] && sed -n '/RELOADING=1/,\$p' '$WORK/notify.log' | tail -n +3 | grep -q ' READY=1'"
# the watchdog, while tunnel t carries data without a pause: 6 more
# WATCHDOG=1 by a deadline, at intervals (the listener's clock) of half of
# WatchdogSec; the median, as a busy machine delays a few of them
w0=$(grep -c 'WATCHDOG=1' "$WORK/notify.log")
( while [ ! -e "$WORK/busy.stop" ]; do
	$NETIO roundtrip "$L" 4000000 >> "$WORK/busy.out" 2>&1 || exit 1
  done ) &
BUSY=$!
watchdogs() { [ "$(grep -c 'WATCHDOG=1' "$WORK/notify.log")" -ge "$1" ]; }
check "WATCHDOG=1 keeps coming while a tunnel carries data (6 within 10 s)" \
	wait_until 10 watchdogs $((w0 + 6))
touch "$WORK/busy.stop"
wait "$BUSY"
check "... which it did all along" test $? -eq 0
gaps=$(grep 'WATCHDOG=1' "$WORK/notify.log" | tail -n +"$w0" | awk '
	NR > 1 { print $1 - last } { last = $1 }' | sort -n)
median=$(echo "$gaps" | awk '{ g[NR] = $1 } END { print g[int((NR + 1) / 2)] }')
diag "WATCHDOG=1 intervals (s): $(echo $gaps)"
check "... every 0.5 s: half of WatchdogSec (1 s); the median $median s" \
	between "$median" 0.35 0.9
stop_tunneld
check "STOPPING=1 on SIGTERM" wait_notify " STOPPING=1"
check "... and no WATCHDOG=1 after it" \
	sh -c "! sed -n '/ STOPPING=1/,\$p' '$WORK/notify.log' | grep -q WATCHDOG=1"

# socket activation: systemd holds the socket, tunneld takes it
if command -v systemd-socket-activate >/dev/null 2>&1; then
	ACT=$WORK/act.sock
	# it passes its children no environment but what -E names: the
	# sanitizers' options (the suppressions of libssh2's own leaks) too
	senv=
	for v in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; do
		eval "[ -n \"\${$v:-}\" ]" && senv="$senv -E $v"
	done
	systemd-socket-activate $senv -l "$ACT" $TUNNELD -c "$CONF" \
	    --log-level debug >> "$WORK/tunneld.act.log" 2>&1 &
	APID=$!		# systemd-socket-activate execs tunneld: this is it
	PIDS="$PIDS $APID"
	i=0; while [ ! -S "$ACT" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
	check "socket activation: tunnelctl reaches tunneld through systemd's socket" \
		sh -c "$TUNNELCTL -s '$ACT' status t >/dev/null"
	check "... tunneld used the socket it was given" \
		grep -q "from systemd" "$WORK/tunneld.act.log"
	kill "$APID"
	wait_exit "$APID" 20 || kill -9 "$APID"
	wait "$APID"
	check "... exits with status 0 on SIGTERM" exited_with $? 0
	check "... and leaves it to systemd on exit" test -S "$ACT"
else
	skip "socket activation: no systemd-socket-activate"
fi

# structured journal fields, on a journal socket of our own
if journal_listen; then
	: > "$WORK/tunneld.journal.err"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK/tunneld.journal.err") \
	    $TUNNELD -c "$CONF" 2>> "$WORK/tunneld.journal.err" &
	JPID=$!
	PIDS="$PIDS $JPID"
	wait_until 10 grep -q "STATE=up" "$WORK/journal.log"
	kill "$JPID"
	wait_exit "$JPID" 20 || kill -9 "$JPID"
	wait "$JPID"
	check "journal: tunneld exits with status 0 on SIGTERM" exited_with $? 0
	check "journal: a transition carries TUNNEL= and STATE=" \
		grep -q "TUNNEL=t | STATE=up | MESSAGE=t: connecting -> up" "$WORK/journal.log"
	check "... with its priority" grep -q "PRIORITY=5 | TUNNEL=t" "$WORK/journal.log"
	check "... the transport's messages carry TUNNEL= too" \
		grep -q "TUNNEL=t | MESSAGE=t: authenticated to" "$WORK/journal.log"
	check "... messages about no tunnel carry no TUNNEL=" \
		sh -c "grep 'MESSAGE=control socket' '$WORK/journal.log' | grep -vq TUNNEL="
	check "... and nothing went to stderr" test ! -s "$WORK/tunneld.journal.err"
	rm -f "$JS"
else
	skip "journal fields: needs root and no journald running here"
fi

# the units, verified by systemd itself (paths pointed at this build)
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$WORK/units"
	for u in tunneld.service tunneld.socket; do
		sed -e "s|^ExecStartPre=[^ ]*|ExecStartPre=$TUNNELD|" \
		    -e "s|^ExecStart=[^ ]*|ExecStart=$TUNNELD|" \
		    -e "s|^ExecReload=[^ ]*|ExecReload=$TUNNELCTL|" \
		    "$top_builddir/systemd/$u" > "$WORK/units/$u"
	done
	out=$(cd "$WORK/units" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify \
	    --man=no ./tunneld.service ./tunneld.socket 2>&1); rc=$?
	diag "$out"
	check "systemd-analyze verify: tunneld.service and tunneld.socket" \
		sh -c "[ $rc -eq 0 ] && ! echo '$out' | grep -qi -e 'unknown' -e 'invalid' -e 'failed'"
	check "... hardened as promised" says "$(cat "$top_builddir/systemd/tunneld.service")" \
		"Type=notify" "WatchdogSec=" "ExecReload=" "User=tunneld" "ProtectSystem=strict" \
		"ProtectHome=yes" "PrivateTmp=yes" "PrivateDevices=yes" "NoNewPrivileges=yes" \
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" "RestrictNamespaces=yes" \
		"LockPersonality=yes" "MemoryDenyWriteExecute=yes" "SystemCallArchitectures=native" \
		"CapabilityBoundingSet=" "RuntimeDirectory=tunneld" "ConfigurationDirectory=tunneld" \
		"StateDirectory=tunneld" "After=network-online.target" \
		"RuntimeDirectoryPreserve=yes" "ConfigurationDirectoryMode=0750" \
		"tunneld --system -c" "tunnelctl -s /run/tunneld/tunneld.sock reload"
else
	skip "systemd-analyze is not installed"
fi

# make install DESTDIR=...: what lands where
make -C "$top_builddir" install DESTDIR="$WORK/dest" > "$WORK/install.log" 2>&1
check "make install DESTDIR= succeeds" test $? -eq 0
landed() { find "$WORK/dest" -path "*$1" | grep -q .; }
for f in sbin/tunneld bin/tunnelctl man8/tunneld.8 man1/tunnelctl.1 man5/tunneld.conf.5 \
    completions/tunnelctl system/tunneld.service system/tunneld.socket \
    user/tunneld.service sysusers.d/tunneld.conf tmpfiles.d/tunneld.conf; do
	check "... installs $f" landed "$f"
done
check "... nothing outside DESTDIR" sh -c "! grep -q 'Permission denied\|Read-only' '$WORK/install.log'"
check "the installed unit runs the installed binary" \
	sh -c "grep -q '^ExecStart=.*/sbin/tunneld --system -c /etc/tunneld.conf' \$(find '$WORK/dest' -path '*system/tunneld.service')"
done_testing
