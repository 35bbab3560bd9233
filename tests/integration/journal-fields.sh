#!/bin/sh
# journal-fields.sh - every message that starts "NAME: " about a tunnel
# carries TUNNEL=NAME in the journal (tunneld(8): `journalctl -u tunneld
# TUNNEL=NAME` tells the tunnel's story), now that the fields are passed by
# the caller and no longer read back from the text: a connection that
# waits for the tunnel's session and is closed when none comes, a control
# client's "down", a forward's messages (FORWARD= too).  On a journal
# socket of our own, as systemd.sh.
. "$(dirname "$0")/lib.sh"

JS=/run/systemd/journal/socket
if [ "$(id -u)" -ne 0 ] || [ -e "$JS" ]; then
	echo "1..0 # SKIP needs root and no journald running here"
	exit 0
fi
start_sshd
start_server echo
ECHO=$SERVER_PORT
L=$(free_port)
write_conf "
  t = { host = \"127.0.0.1\"; connect_timeout = 2; reconnect_min = 5;
        reconnect_max = 5; local = [ \"$L:127.0.0.1:$ECHO\" ]; };"
sed -i '1i log_level = "debug";' "$CONF"

mkdir -p /run/systemd/journal
CLEANUP_EXTRA='rm -f /run/systemd/journal/socket'
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
wait_until 10 grep -q listening "$WORK/journal.log" || bail "no journal socket"
: > "$WORK/tunneld.journal.err"
JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK/tunneld.journal.err") \
    $TUNNELD -c "$CONF" 2>> "$WORK/tunneld.journal.err" &
TUNNELD_PID=$!
PIDS="$PIDS $TUNNELD_PID"
journal() { grep -q "$1" "$WORK/journal.log"; }
check "t up" wait_until 30 journal "STATE=up"

# the server goes: the tunnel waits to reconnect, its listener stays; a
# connection waits for the session, at most connect_timeout
stop_sshd
check "t in backoff" wait_until 30 journal "STATE=backoff"
$NETIO roundtrip "$L" 10 >/dev/null 2>&1
check "a connection closed for want of a session: logged" \
	wait_until 30 journal "MESSAGE=t: $L:127.0.0.1:$ECHO from .*no session within"
check "... with TUNNEL=t" \
	journal "TUNNEL=t | .*MESSAGE=t: $L:127.0.0.1:$ECHO from .*no session within"
check "... and its wait, with TUNNEL=t" \
	journal "TUNNEL=t | .*MESSAGE=t: $L:127.0.0.1:$ECHO from .*waiting for the session"
tctl down t >/dev/null 2>&1
check "a control client's down: logged" wait_until 10 journal "MESSAGE=t: down by uid"
check "... with TUNNEL=t" journal "TUNNEL=t | MESSAGE=t: down by uid"
check "a forward's message carries TUNNEL= and FORWARD=" \
	journal "TUNNEL=t | FORWARD=$L:127.0.0.1:$ECHO | MESSAGE=t: "
check "messages about no tunnel carry no TUNNEL=" \
	sh -c "grep 'MESSAGE=control socket' '$WORK/journal.log' | grep -vq TUNNEL="
stop_tunneld
check "nothing went to stderr" test ! -s "$WORK/tunneld.journal.err"
rm -f "$JS"
done_testing
