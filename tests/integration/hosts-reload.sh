#!/bin/sh
# hosts-reload.sh - /etc/hosts and /etc/resolv.conf are read again when they
# change, without a restart of tunneld: a name added to /etc/hosts is found
# at the next attempt, a name taken out is no longer found, a new
# resolv.conf is read.  tunneld runs in a mount namespace of the test's own
# with private copies bind-mounted on /etc/hosts and /etc/resolv.conf (the
# machine's files are never touched); they are edited in place, as a bind
# mount follows the file, not the name.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null 2>&1; then
	echo "1..0 # SKIP needs root and unshare(1)"; exit 0
fi
EV_TIME=; EV_REASON=

start_sshd
printf '127.0.0.1 localhost\n' > "$WORK/hosts"
# a name server that answers nothing at once: the name is not in DNS
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "$WORK/resolv.conf"
echo "[relay.test]:$SSHD_PORT $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")" >> "$WORK/known_hosts"
cat > "$WORK/with-files" <<SH
#!/bin/sh
mount --bind "$WORK/hosts" /etc/hosts || exit 1
mount --bind "$WORK/resolv.conf" /etc/resolv.conf || exit 1
exec "\$@"
SH
chmod +x "$WORK/with-files"
write_conf "
  byname = {
    host = \"relay.test\";
    connect_timeout = 5;
    reconnect_min = 0.5;
    reconnect_max = 2;
  };"
TUNNELD="unshare -m --propagation private $WORK/with-files $TUNNELD"
start_tunneld
events_start
check "a name in neither /etc/hosts nor DNS: the attempt fails" \
	wait_event byname connecting backoff 15
diag "$EV_REASON"
check "... saying which name" says "$EV_REASON" "relay.test"

events_mark
t0=$(now)
echo "127.0.0.1 relay.test" >> "$WORK/hosts"
check "the name is added to /etc/hosts: the tunnel comes up, no restart" \
	wait_event byname connecting up 15
diag "up $(elapsed "$t0" "$EV_TIME") s after the name was added (reconnect_max 2 s)"
check "... the worker said it read the file again" \
	grep -q "worker [0-9]*: /etc/hosts changed: read again" "$WORK/tunneld.log"
check "... the same tunneld: it was not restarted" kill -0 "$TUNNELD_PID"

# taken out again: found no more (the old entries are dropped, not kept)
printf '127.0.0.1 localhost\n' > "$WORK/hosts"
events_mark
tctl restart --no-wait byname >/dev/null	# (it cannot come up: no wait for it)
check "the name is taken out: the next session cannot find it" \
	wait_event byname connecting backoff 15
check "... saying which name" says "$EV_REASON" "relay.test"

# a new resolv.conf is read when it changes
n=$(grep -c "/etc/resolv.conf changed" "$WORK/tunneld.log")
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:2\n' > "$WORK/resolv.conf"
check "resolv.conf changes: read again at the next attempt" \
	wait_until 15 sh -c '[ "$(grep -c "/etc/resolv.conf changed" "$1")" -gt "$2" ]' _ \
	"$WORK/tunneld.log" "$n"
check "the machine's /etc/hosts was not touched" \
	sh -c '! grep -q "relay.test" /etc/hosts'
done_testing
