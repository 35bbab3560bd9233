#!/bin/sh
# on_state (issue 27): a tunnel's program run on each state change, with
# no shell (an argument with ; or $(...) reaches it as written), an
# environment of TUNNEL, STATE, PREVIOUS, REASON, SERVER, PATH and LANG
# only (nothing of tunneld's own), from /, with /dev/null for input and
# none of tunneld's descriptors.  One runs at a time per tunnel: the
# changes made while it runs are coalesced and the latest delivered after.
# Its output is in the log; a failure is logged and counted (status
# hook_failures, the metric) and leaves the tunnel up; on_state_timeout
# kills it and what it started; at most 16 run at once over all tunnels,
# the others in turn.  A program that anyone but its owner may
# write, or below such a directory, is refused as a configuration file is.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
L1=$(free_port)
HOOK=$WORK/hook
RUNS=$WORK/runs		# a line per run: "start|end STATE PREVIOUS"
mkfifo "$WORK/fifo"

# What it was given, then what the test asks of it by files in $WORK.
cat > "$HOOK" <<EOF
#!/bin/sh
case \$TUNNEL in q*) echo "start \$TUNNEL" >> "$WORK/q"; exec "$WORK/qsleep" 1000;; esac
echo "start \$STATE \$PREVIOUS" >> "$RUNS"
tr '\\0' '\\n' < /proc/\$\$/environ > "$WORK/env.\$TUNNEL"
for a in "\$@"; do printf '%s\\n' "\$a"; done > "$WORK/args.\$TUNNEL"
readlink /proc/\$\$/cwd > "$WORK/cwd.\$TUNNEL"
for f in /proc/\$\$/fd/*; do
	echo "\${f##*/} \$(readlink "\$f")"
done > "$WORK/fds.\$TUNNEL"
echo "hook says hello, \$TUNNEL is \$STATE"
echo "hook writes to stderr" >&2
[ -e "$WORK/block" ] && cat "$WORK/fifo" > /dev/null
if [ -e "$WORK/chatty" ]; then
	head -c 5000 /dev/zero | tr '\\0' y; echo
	yes "chatty line" | head -n 20000
fi
if [ "\$TUNNEL" = slow ]; then
	sleep 1000 &
	echo \$! > "$WORK/child.pid"
	trap '' TERM
	while :; do sleep 1; done
fi
echo "end \$STATE \$PREVIOUS" >> "$RUNS"
[ -e "$WORK/fail" ] && exit 3
exit 0
EOF
chmod 755 "$HOOK"
ln -s "$(command -v sleep)" "$WORK/qsleep"
: > "$RUNS"

write_conf "  a = { host = \"127.0.0.1\"; local = [ \"$L1:127.0.0.1:$ECHO\" ];
    on_state = [ \"$HOOK\", \"one; touch $WORK/pwned\", \"\$(touch $WORK/pwned)\", \"two words\" ]; };
  slow = { host = \"127.0.0.1\"; autostart = false; on_state = [ \"$HOOK\" ];
    on_state_timeout = 1; };"
export TUNNELD_HOOK_SECRET=leaked
start_tunneld
unset TUNNELD_HOOK_SECRET
events_start

# runs: the start lines, in order
starts() { grep '^start' "$RUNS" | cut -d' ' -f2- | tr '\n' ','; }
has_line() { grep -qx "$1" "$2"; }

wait_state a up
wait_until 10 grep -q '^end up connecting$' "$RUNS"
check "up: the hook ran for connecting then up, in order" \
	says "$(starts)" "down,up connecting,"
diag "runs: $(starts)"
check "... its environment is TUNNEL, STATE, PREVIOUS, REASON, SERVER, PATH, LANG only" \
	[ "$(cut -d= -f1 "$WORK/env.a" | sort | tr '\n' ' ')" = "LANG PATH PREVIOUS REASON SERVER STATE TUNNEL " ]
diag "$(cat "$WORK/env.a")"
check "... TUNNEL, STATE, PREVIOUS, SERVER of the change" sh -c "
	grep -qx 'TUNNEL=a' '$WORK/env.a' && grep -qx 'STATE=up' '$WORK/env.a' &&
	grep -qx 'PREVIOUS=connecting' '$WORK/env.a' &&
	grep -qx 'SERVER=127.0.0.1:$SSHD_PORT' '$WORK/env.a' &&
	grep -qx 'PATH=/usr/sbin:/usr/bin:/sbin:/bin' '$WORK/env.a'"
check "... nothing of tunneld's own environment" \
	sh -c "! grep -q TUNNELD_HOOK_SECRET '$WORK/env.a'"
check "... no shell: its arguments as written, ; and \$(...) included" \
	[ "$(cat "$WORK/args.a")" = "one; touch $WORK/pwned
\$(touch $WORK/pwned)
two words" ]
check "... nothing ran them" [ ! -e "$WORK/pwned" ]
check "... from /" [ "$(cat "$WORK/cwd.a")" = / ]
check "... input /dev/null" grep -qx '0 /dev/null' "$WORK/fds.a"
diag "$(cat "$WORK/fds.a")"
check "... none of tunneld's descriptors (sockets, pidfds, epoll)" \
	sh -c "! grep -v '^[012] ' '$WORK/fds.a' | grep -q -e socket: -e anon_inode"
check "its output and errors are in the log, with the tunnel" \
	wait_log "a: on_state: hook says hello, a is up"
check "... standard error too" wait_log "a: on_state: hook writes to stderr"
check "status: hook_runs counts the runs, hook_failures 0" \
	[ "$(json_get a "t['hook_runs'] >= 2 and t['hook_failures'] == 0")" = True ]
check "tunnelctl metrics: tunneld_tunnel_hook_runs_total" \
	sh -c "$TUNNELCTL -s '$CTL' metrics | grep -q '^tunneld_tunnel_hook_runs_total{tunnel=\"a\"} [1-9]'"
check "... tunneld_tunnel_hook_failures_total 0" \
	sh -c "$TUNNELCTL -s '$CTL' metrics | grep -q '^tunneld_tunnel_hook_failures_total{tunnel=\"a\"} 0'"
check "... none for a tunnel without on_state" \
	sh -c "! $TUNNELCTL -s '$CTL' metrics | grep -q 'hook_runs_total{tunnel=\"slow\"}' || true"

# backoff: the reason is given
: > "$RUNS"
stop_sshd
wait_event a '*' backoff
check "the server gone: the hook hears backoff with the reason" \
	wait_until 10 grep -q '^end backoff' "$RUNS"
check "... REASON is not empty" sh -c "grep -q '^REASON=..*' '$WORK/env.a'"
diag "$(grep REASON "$WORK/env.a")"
start_sshd
wait_state a up 20
wait_until 10 grep -q '^end up' "$RUNS"

# coalescing: the down hook blocks while the tunnel goes up again
: > "$RUNS"
touch "$WORK/block"
events_mark
tctl down a >/dev/null
wait_until 10 grep -q '^start down up' "$RUNS"
tctl up a >/dev/null
wait_event a down connecting
wait_event a connecting up
check "changes while the hook runs: it is not run again meanwhile" \
	[ "$(starts)" = "down up," ]
rm -f "$WORK/block"
echo go > "$WORK/fifo"
check "... the latest change is delivered when it ends" \
	wait_until 10 grep -q '^end up connecting$' "$RUNS"
check "... and only it: connecting was coalesced away" \
	[ "$(starts)" = "down up,up connecting," ]
diag "runs: $(starts)"

# a failing hook: logged and counted, the tunnel stays up
touch "$WORK/fail"
f0=$(json_get a "t['hook_failures']")
events_mark
tctl restart a >/dev/null
wait_event a connecting up
check "a hook that fails is logged with its status" \
	wait_log "a: on_state $HOOK (up): exited with status 3"
check "... and counted" wait_until 10 sh -c \
	"[ \"\$($TUNNELCTL -s '$CTL' --json status a | $PYTHON3 -c 'import json,sys; print(json.load(sys.stdin)[\"tunnels\"][0][\"hook_failures\"])')\" -gt $f0 ]"
check "... the metric too" sh -c "$TUNNELCTL -s '$CTL' metrics | grep -q '^tunneld_tunnel_hook_failures_total{tunnel=\"a\"} [1-9]'"
check "... the tunnel stays up and forwards" \
	sh -c "[ \"\$1\" = up ] && $NETIO roundtrip $L1 10 >/dev/null" - "$(json_get a "t['state']")"
no_event a up '*'
check "... with no change of state after it" [ $? -eq 0 ]
rm -f "$WORK/fail"

# a chatty hook: lines cut, the run's output bounded, the rest counted
touch "$WORK/chatty"
size0=$(stat -c %s "$WORK/tunneld.log")
events_mark
tctl restart a >/dev/null
wait_event a connecting up
check "a chatty hook: what is not logged is counted, and said" \
	wait_log "a: on_state $HOOK (up): [0-9]* more bytes of output not logged"
rm -f "$WORK/chatty"
grown=$(( $(stat -c %s "$WORK/tunneld.log") - size0 ))
check "... the log grew by less than its output ($grown bytes)" \
	[ "$grown" -lt 100000 ]
check "... a long line is cut at 1024 bytes" \
	sh -c "grep -o 'on_state: yyy*' '$WORK/tunneld.log' | awk '{ if (length(\$2) != 1024) exit 1 }'"

# on_state_timeout: SIGTERM (ignored), then SIGKILL to the group
t0=$(now)
tctl up slow >/dev/null
check "a hook past on_state_timeout is killed, and counted as failed" \
	wait_log "slow: on_state $HOOK (connecting): timed out after 1 s" 20
t1=$(now)
check "... within the timeout and the grace ($(elapsed "$t0" "$t1") s)" \
	between "$(elapsed "$t0" "$t1")" 0.9 10
check "... and what it started with it" \
	wait_until 5 sh -c "! kill -0 \$(cat '$WORK/child.pid') 2>/dev/null"
check "... hook_failures counts it" \
	[ "$(json_get slow "t['hook_failures'] >= 1")" = True ]
check "... the tunnel is up all the same" wait_state slow up

# trust: the program as a configuration file
cp "$CONF" "$WORK/good.conf"
chmod 777 "$HOOK"
out=$($TUNNELD -n -c "$CONF" 2>&1); rc=$?
diag "$out"
check "a world-writable hook: tunneld -n exits 1" [ $rc -eq 1 ]
check "... naming it, its owner and mode" \
	says "$out" "on_state $HOOK is writable by group and others" "root" "0777"
out=$(tctl reload 2>&1); rc=$?
diag "$out"
check "... a reload is refused, saying so" \
	sh -c "[ $rc -ne 0 ] && case \"\$1\" in *'on_state $HOOK is writable'*) ;; *) exit 1;; esac" - "$out"
events_mark
tctl restart a >/dev/null
wait_event a connecting up
check "... made so after the load: not run, and said why" \
	wait_log "a: on_state $HOOK (up): not run: on_state $HOOK is writable by group and others"
chmod 755 "$HOOK"
mkdir "$WORK/open"; chmod 777 "$WORK/open"
cp "$HOOK" "$WORK/open/hook"
sed -i "s|\"$HOOK\"|\"$WORK/open/hook\"|" "$CONF"
out=$($TUNNELD -n -c "$CONF" 2>&1); rc=$?
diag "$out"
check "a hook in a world-writable directory: refused, naming the directory" \
	sh -c "[ $rc -eq 1 ] && case \"\$1\" in *'on_state $WORK/open/hook: the directory $WORK/open is writable by group and others'*0777*) ;; *) exit 1;; esac" - "$out"
chmod 644 "$WORK/open/hook"; chmod 755 "$WORK/open"
out=$($TUNNELD -n -c "$CONF" 2>&1); rc=$?
check "a hook that is not executable: refused" \
	sh -c "[ $rc -eq 1 ] && case \"\$1\" in *'on_state $WORK/open/hook is not executable'*) ;; *) exit 1;; esac" - "$out"
sed -i "s|\"$WORK/open/hook\"|\"hook\"|" "$CONF"
out=$($TUNNELD -n -c "$CONF" 2>&1); rc=$?
check "a relative path: refused" \
	sh -c "[ $rc -eq 1 ] && case \"\$1\" in *'on_state: \"hook\" is not an absolute path'*) ;; *) exit 1;; esac" - "$out"
cp "$WORK/good.conf" "$CONF"

# a reload that changes on_state: the next run has the new one
sed -i 's|"two words"|"three words"|' "$CONF"
out=$(tctl reload 2>&1)
check "a reload changing on_state is accepted" [ $? -eq 0 ]
diag "$out"
: > "$RUNS"
events_mark
tctl restart a >/dev/null
wait_event a connecting up
wait_until 10 grep -q '^end up' "$RUNS"
check "... the next run has the new arguments" grep -qx 'three words' "$WORK/args.a"

# shutdown with a hook running: prompt
touch "$WORK/block"
events_mark
tctl down a >/dev/null
wait_until 10 grep -q '^start down' "$RUNS"
t0=$(now)
stop_tunneld
check "... promptly with a hook running ($(elapsed "$t0") s)" \
	between "$(elapsed "$t0")" 0 5
check "... which got SIGTERM" grep -q "on_state $HOOK (down): still running at shutdown" "$WORK/tunneld.log"
check "... no sanitizer report" sanitizer_quiet
rm -f "$WORK/block"
# tunneld does not wait for them (tunneld.conf(5)): a run of slow's, which
# ignores SIGTERM, caught by the shutdown would outlive the test
left=$(pgrep -f "^/bin/sh $HOOK\$" | tr '\n' ' ')
[ -n "$left" ] && diag "hook runs left after the shutdown (SIGTERM ignored): $left"
pkill -KILL -f "^/bin/sh $HOOK\$" 2>/dev/null

# at most 16 at once over all tunnels, the others in turn: 20 tunnels
# changing state all the time, each run lasting its timeout (1 s)
REFUSE=$(free_port)
q=""
for i in $(seq 1 20); do
	q="$q  q$i = { host = \"127.0.0.1\"; port = $REFUSE; on_state = [ \"$HOOK\" ];
    on_state_timeout = 1; };
"
done
write_conf "$q"
: > "$WORK/q"
start_tunneld
max=0
deadline=$(( $(date +%s) + 30 ))
while :; do	# the count is taken after the last one started too
	seen=$(cut -d' ' -f2 "$WORK/q" | sort -u | wc -l)
	n=$(pgrep -c -f "^$WORK/qsleep 1000\$")
	[ "$n" -gt "$max" ] && max=$n
	[ "$seen" -lt 20 ] && [ "$(date +%s)" -le "$deadline" ] || break
	sleep 0.05
done
check "20 tunnels' hooks: each ran" \
	[ "$(cut -d' ' -f2 "$WORK/q" | sort -u | wc -l)" -eq 20 ]
check "... at most 16 at once (saw $max)" \
	sh -c '[ "$1" -le 16 ] && [ "$1" -ge 8 ]' - "$max"
stop_tunneld

# shutdown while a run that ignores SIGTERM is past on_state_timeout, in
# the grace before its SIGKILL: it gets the SIGKILL now, not later (the
# shutdown took the later one away, and it lived on)
write_conf "  slow = { host = \"127.0.0.1\"; on_state = [ \"$HOOK\" ];
    on_state_timeout = 1; };"
from=$(wc -l < "$WORK/tunneld.log")
start_tunneld
new_log() { tail -n +$((from + 1)) "$WORK/tunneld.log" | grep -q "$1"; }
check "a run past on_state_timeout: SIGTERM, said when sent" \
	wait_until 20 new_log "slow: on_state $HOOK (connecting): still running after 1 s (on_state_timeout): SIGTERM, SIGKILL in 2 s"
stop_tunneld
check "... shutdown in its grace: SIGKILL, said" \
	new_log "slow: on_state $HOOK (connecting): still running at shutdown: past on_state_timeout: SIGKILL\|slow: on_state $HOOK (connecting): timed out after 1 s"
none_left() { ! pgrep -f "^/bin/sh $HOOK\$" > /dev/null; }
check "... it does not outlive tunneld" wait_until 5 none_left
pkill -KILL -f "^/bin/sh $HOOK\$" 2>/dev/null

done_testing
