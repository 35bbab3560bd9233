#!/bin/sh
# journal-fields.sh - every message that starts "NAME: " about a tunnel
# carries TUNNEL=NAME in the journal (tunneld(8): `journalctl -u tunneld
# TUNNEL=NAME` tells the tunnel's story), now that the fields are passed by
# the caller and no longer read back from the text: a connection that
# waits for the tunnel's session and is closed when none comes, a control
# client's "down", a forward's messages (FORWARD= too), the pool's
# messages about an extra session (NAME#2: ...).  On a journal
# socket of our own, as systemd.sh.
. "$(dirname "$0")/lib.sh"

if ! journal_listen; then
	echo "1..0 # SKIP needs root and no journald running here"
	exit 0
fi
start_sshd
start_server echo
ECHO=$SERVER_PORT
L=$(free_port); PL=$(free_port)
# p: a pool (the open stuck on its session while sshd's process for it is
# stopped is no dead server: long connect_timeout and keepalives)
write_conf "
  t = { host = \"127.0.0.1\"; connect_timeout = 2; reconnect_min = 5;
        reconnect_max = 5; local = [ \"$L:127.0.0.1:$ECHO\" ]; };
  p = { host = \"127.0.0.1\"; sessions = 4; sessions_idle = 30;
        keepalive_interval = 30; connect_timeout = 60;
        local = [ \"$PL:127.0.0.1:$ECHO\" ]; };"
sed -i '1i log_level = "debug";' "$CONF"

: > "$WORK/tunneld.journal.err"
JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK/tunneld.journal.err") \
    $TUNNELD -c "$CONF" 2>> "$WORK/tunneld.journal.err" &
TUNNELD_PID=$!
PIDS="$PIDS $TUNNELD_PID"
journal() { grep -q "$1" "$WORK/journal.log"; }
check "t up" wait_state t up 30
check "p up" wait_state p up 30

# an extra session of p's: an open stuck on its session (sessions.sh)
GROW=
nup() { json_get p "len([s for s in t['sessions'] if s['state'] == 'up'])"; }
grow_to() {
	$NETIO roundtrip "$PL" 1000 >> "$WORK/grow.out" 2>&1 &
	GROW="$GROW $!"
	[ "$(nup)" -ge "$1" ]
}
MAIN=$(descendants "$SSHD_PID")
$NETIO chat "$PL" 12 > "$WORK/chat.main" 2>&1 &
check "a long connection on p's session" wait_file "$WORK/chat.main"
kill -STOP $MAIN
$NETIO concurrent "$PL" 12 100000 > "$WORK/burst.out" 2>&1 &
BURST=$!
check "p grows an extra session" wait_until 30 grow_to 2
check "... its start carries TUNNEL=p" \
	wait_until 10 journal "TUNNEL=p | MESSAGE=p#2: extra session starting"
check "... and its being up" \
	wait_until 10 journal "TUNNEL=p | MESSAGE=p#2: extra session up in"
kill -CONT $MAIN
wait "$BURST"
for g in $GROW; do wait "$g"; done

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
