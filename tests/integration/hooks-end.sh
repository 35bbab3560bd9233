#!/bin/sh
# on_state: the end of a run whose tunnel changed meanwhile, when the
# change it delivers next cannot be run: the tunnel's on_state removed by
# a reload, or the program made writable by others since.  The change is
# dropped (the second said and counted as a failure) and tunneld goes on:
# the hook's record was used after it was freed there (hook_exit_cb), a
# double free that aborted tunneld.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
L1=$(free_port)
HOOK=$WORK/hook
RUNS=$WORK/runs
cat > "$HOOK" <<EOF
#!/bin/sh
echo "start \$STATE" >> "$RUNS"
while [ -e "$WORK/block" ]; do sleep 0.05; done
echo "end \$STATE" >> "$RUNS"
EOF
chmod 755 "$HOOK"
: > "$RUNS"
conf() {
	write_conf "  a = { host = \"127.0.0.1\"; local = [ \"$L1:127.0.0.1:$ECHO\" ];
    $1 };"
}
conf "on_state = [ \"$HOOK\" ]; on_state_timeout = 60;"
start_tunneld
wait_state a up
wait_until 10 grep -q '^end up' "$RUNS"

# block: a run that lasts until unblock; the tunnel's other changes
# (connecting, then up after a restart) wait for it
block() {
	: > "$RUNS"
	touch "$WORK/block"
	events_mark
	tctl restart a >/dev/null
	wait_until 10 grep -q '^start' "$RUNS"
	wait_state a up
}
alive() { kill -0 "$TUNNELD_PID" 2>/dev/null && tctl status a >/dev/null; }

events_start
block
conf ""
out=$(tctl reload 2>&1)
check "a reload removing on_state while it runs: accepted" [ $? -eq 0 ]
diag "$out"
rm -f "$WORK/block"
check "... the run ends" wait_until 10 grep -q '^end' "$RUNS"
check "... and is logged" wait_log "a: on_state $HOOK (.*): done in"
check "... tunneld goes on" alive
check "... the change that waited is not run" \
	[ "$(grep -c '^start' "$RUNS")" -eq 1 ]

conf "on_state = [ \"$HOOK\" ]; on_state_timeout = 60;"
tctl reload >/dev/null
block
chmod 777 "$HOOK"
rm -f "$WORK/block"
check "a program made writable by others while it runs: the next change is not run" \
	wait_log "a: on_state $HOOK (.*): not run: on_state $HOOK is writable"
check "... tunneld goes on" alive
chmod 755 "$HOOK"
check "... no sanitizer report" sanitizer_quiet

done_testing
