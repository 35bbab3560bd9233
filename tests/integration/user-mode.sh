#!/bin/sh
# user-mode.sh - any user runs tunneld with $XDG_CONFIG_HOME/tunneld/
# tunneld.conf and $XDG_RUNTIME_DIR/tunneld.sock, and that user's tunnelctl
# finds it without options.  A second tunneld on the same socket refuses to
# start, saying why.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	echo "1..0 # SKIP needs root (to become another user) and setpriv"; exit 0
fi
start_sshd
start_server echo
ECHO=$SERVER_PORT
L=$(free_port)
U=$WORK/user
mkdir -p "$U/cfg/tunneld" "$U/run"
cp "$WORK/id_ed25519" "$WORK/known_hosts" "$U/cfg/tunneld/"
cat > "$U/cfg/tunneld/tunneld.conf" <<EOF2
tunnels = {
  mine = {
    host = "127.0.0.1"; port = $SSHD_PORT; user = "root";
    identity_file = "id_ed25519"; known_hosts = "known_hosts";
    local = [ "$L:127.0.0.1:$ECHO" ];
  };
};
EOF2
chown -R 65534:65534 "$U"
chmod 700 "$U/run"
chmod 755 "$WORK"
CLEANUP_EXTRA='chmod 700 "$WORK"'
asuser() {
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	    env -i PATH="$PATH" HOME="$U" XDG_CONFIG_HOME="$U/cfg" \
	    XDG_RUNTIME_DIR="$U/run" ${LSAN_OPTIONS:+LSAN_OPTIONS="$LSAN_OPTIONS"} \
	    ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} "$@"
}
asuser "$TUNNELD" --log-level debug >> "$WORK/tunneld.user.log" 2>&1 &
UJOB=$!		# the subshell: its status is tunneld's (setpriv, env exec)
PIDS="$PIDS $UJOB"
i=0
until asuser "$TUNNELCTL" status >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1
done
UPID=$(pgrep -n -u 65534 -f "$TUNNELD --log-level debug")
diag "tunneld as nobody: pid $UPID: $(ps -o pid,user,args -p $UPID | tail -1)"
PIDS="$PIDS $UPID"
check "tunneld as an ordinary user: its socket is in \$XDG_RUNTIME_DIR" \
	test -S "$U/run/tunneld.sock"
check "... its configuration from \$XDG_CONFIG_HOME (relative paths beside it)" \
	grep -q "started with $U/cfg/tunneld/tunneld.conf" "$WORK/tunneld.user.log"
check "tunnelctl finds it without options" \
	sh -c "$(command -v setpriv) --reuid=65534 --regid=65534 --clear-groups env -i PATH=$PATH XDG_RUNTIME_DIR=$U/run $TUNNELCTL status mine >/dev/null"
state() { asuser "$TUNNELCTL" --json status mine 2>/dev/null | $PYTHON3 -c 'import json,sys; print(json.load(sys.stdin)["tunnels"][0]["state"])'; }
i=0; until [ "$(state)" = up ]; do
	i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1; done
check "the user's tunnel comes up" test "$(state)" = up
check "... and carries data" $NETIO roundtrip "$L" 500000
downup() { asuser "$TUNNELCTL" down mine >/dev/null && asuser "$TUNNELCTL" up mine >/dev/null; }
check "the daemon's own user may take it down and up" downup
check "... and it is up" test "$(state)" = up
out=$(asuser "$TUNNELD" 2>&1); rc=$?
diag "$out"
check "a second tunneld on the same socket refuses to start" test $rc -ne 0
check "... saying why" says "$out" "another tunneld (pid $UPID) is listening on $U/run/tunneld.sock"
check "... and the first one is untouched" $NETIO roundtrip "$L" 100000
kill "$UPID"
wait_exit "$UJOB" 20 || kill -9 "$UPID"
wait "$UJOB"
check "tunneld as an ordinary user exits with status 0 on SIGTERM" exited_with $? 0
check "... and removes its socket" test ! -e "$U/run/tunneld.sock"

# --system / --user pick the paths, whatever the uid (SPEC.md "Default paths")
out=$(asuser "$TUNNELD" --system -n 2>&1)
check "--system as an ordinary user reads $(printf '%s' /etc/tunneld.conf)" \
	says "$out" "/etc/tunneld.conf"
# (the file is nobody's: root's own daemon does not trust it, file.c)
out=$(env XDG_CONFIG_HOME="$U/cfg" "$TUNNELD" --user -n 2>&1)
check "--user as root reads \$XDG_CONFIG_HOME/tunneld/tunneld.conf" \
	says "$out" "configuration file $U/cfg/tunneld/tunneld.conf is owned by nobody"

# A user without a daemon of their own reaches the system daemon with
# plain tunnelctl.  /run is a tmpfs of a private mount namespace here, so
# the host's /run/tunneld is never touched.
cat > "$WORK/system.conf" <<EOF2
control_group = "$(id -gn 65534)";
tunnels = {
  sys = { host = "127.0.0.1"; port = $SSHD_PORT; user = "root";
    identity_file = "$WORK/id_ed25519"; known_hosts = "$WORK/known_hosts";
    autostart = false; local = [ "$(free_port):127.0.0.1:$ECHO" ]; };
};
EOF2
cat > "$WORK/system.sh" <<'EOF2'
mount -t tmpfs -o mode=755 tmpfs /run || exit 1
"$TUNNELD" --system -c "$WORK/system.conf" >>"$WORK/tunneld.system.log" 2>&1 &
pid=$!
i=0
until [ -S /run/tunneld/tunneld.sock ] || [ $i -ge 100 ]; do
	i=$((i + 1)); sleep 0.1
done
echo "== status"
setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH="$PATH" \
    XDG_RUNTIME_DIR="$U/run" "$TUNNELCTL" status 2>&1
echo "== reload: $(setpriv --reuid=65534 --regid=65534 --init-groups env -i \
    PATH="$PATH" XDG_RUNTIME_DIR="$U/run" "$TUNNELCTL" reload 2>&1; echo rc=$?)"
kill $pid; wait $pid
echo "== exit status $?"
echo "== none: $(setpriv --reuid=65534 --regid=65534 --clear-groups env -i \
    PATH="$PATH" XDG_RUNTIME_DIR="$U/run" "$TUNNELCTL" status 2>&1; echo rc=$?)"
EOF2
out=$(WORK=$WORK U=$U TUNNELD=$TUNNELD TUNNELCTL=$TUNNELCTL \
    unshare -m --propagation private sh "$WORK/system.sh" 2>&1)
diag "$out"
check "a user with no daemon of their own gets the system daemon, no -s" \
	sh -c "printf '%s\n' \"\$1\" | grep -q '^sys  *down'" - "$out"
check "... and, in control_group, may reload it" says "$out" "reload: " "rc=0"
check "with no daemon at all, the error names both paths tried" \
	says "$out" "none: tunnelctl: cannot reach tunneld: not at $U/run/tunneld.sock" \
	"nor at /run/tunneld/tunneld.sock"
check "... the system daemon exits with status 0 on SIGTERM" \
	says "$out" "== exit status 0"
check "no sanitizer report" sanitizer_quiet "$WORK/tunneld.user.log"
done_testing
