#!/bin/sh
# reload.sh - reload by difference: unchanged tunnels and their open
# connections are not touched (byte for byte), forwards are added and
# removed on a live session, a tunnel whose connection settings changed
# restarts, new tunnels start, removed ones stop; a broken file is refused
# with file:line while everything keeps running; SIGHUP does the same;
# drop-ins take part; --print-config parses back to itself.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo
ECHO=$SERVER_PORT
LA=$(free_port); LB=$(free_port); LB2=$(free_port); RB=$(free_port)
LC=$(free_port); LD=$(free_port); LE=$(free_port); LF=$(free_port)
mkdir "$WORK/conf.d"
tunnels_v1="
  a = { host = \"127.0.0.1\"; local = [ \"$LA:127.0.0.1:$ECHO\" ]; };
  b = { host = \"127.0.0.1\"; local = [ \"$LB:127.0.0.1:$ECHO\" ]; };
  c = { host = \"127.0.0.1\"; local = [ \"$LC:127.0.0.1:$ECHO\" ]; };
  e = { host = \"127.0.0.1\"; local = [ \"$LE:127.0.0.1:$ECHO\" ]; };"
write_conf "$tunnels_v1"
echo "include_dir = \"$WORK/conf.d\";" >> "$CONF"
echo "[localhost]:$SSHD_PORT $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")" >> "$WORK/known_hosts"
start_tunneld
for t in a b c e; do check "$t up" wait_state "$t" up; done

# connections that must live through the reload
$NETIO chat "$LA" 6 > "$WORK/chat.a" 2>&1 &
CHAT_A=$!
$NETIO chat "$LB" 6 > "$WORK/chat.b" 2>&1 &
CHAT_B=$!
# (chat says "# connected" once its first echo came back)
chats_open() {
	for f in "$@"; do
		wait_file "$f" && grep -q '^# connected' "$f" || return 1
	done
}
check "connections open through a and b" chats_open "$WORK/chat.a" "$WORK/chat.b"
session_a=$(grep -c 'a: authenticated' "$WORK/tunneld.log")

write_conf "
  a = { host = \"127.0.0.1\"; local = [ \"$LA:127.0.0.1:$ECHO\" ]; };
  b = { host = \"127.0.0.1\"; local = [ \"$LB:127.0.0.1:$ECHO\",
        \"$LB2:127.0.0.1:$ECHO\" ]; remote = [ \"$RB:127.0.0.1:$ECHO\" ]; };
  d = { host = \"127.0.0.1\"; local = [ \"$LD:127.0.0.1:$ECHO\" ]; };
  e = { host = \"localhost\"; local = [ \"$LE:127.0.0.1:$ECHO\" ]; };"
echo "include_dir = \"$WORK/conf.d\";" >> "$CONF"
out=$(tctl reload 2>&1); rc=$?
diag "$out"
check "reload: exit 0" test $rc -eq 0
check "... says what was added, removed, restarted, changed, unchanged" \
	says "$out" "added      d" "removed    c" "restarted  e" "changed    b" "unchanged  a"
out=$(tctl --json reload 2>&1)
diag "$out"
check "... and a second reload of the same file changes nothing (--json)" \
	$PYTHON3 -c "
import json,sys
r=json.loads(sys.argv[1])
sys.exit(not (r['ok'] and sorted(r['unchanged'])==['a','b','d','e']))" "$out"
wait "$CHAT_A"
check "an unchanged tunnel's open connection went on, byte for byte" test $? -eq 0
wait "$CHAT_B"
check "a changed tunnel's untouched forward kept its connection too" test $? -eq 0
check "... a's session was kept (no new authentication)" \
	test "$(grep -c 'a: authenticated' "$WORK/tunneld.log")" -eq "$session_a"
check "b: the added local forward works on the live session" \
	$NETIO roundtrip "$LB2" 100000
b_remote() { wait_state b up && $NETIO roundtrip "$RB" 100000; }
check "b: the added remote forward too" b_remote
check "c: removed, its listener closed" refused "$LC"
check "c: gone from status" sh -c "! $TUNNELCTL -s $CTL status c >/dev/null 2>&1"
check "d: added and started" wait_state d up
check "d: carries data" $NETIO roundtrip "$LD" 100000
check "e: restarted with its new host" \
	says "$(json_get e "t['host'] + ' ' + t['state']")" "localhost"
check "e: up again" wait_state e up

# remove a forward from a live tunnel
write_conf "
  a = { host = \"127.0.0.1\"; local = [ \"$LA:127.0.0.1:$ECHO\" ]; };
  b = { host = \"127.0.0.1\"; local = [ \"$LB2:127.0.0.1:$ECHO\" ]; };
  d = { host = \"127.0.0.1\"; local = [ \"$LD:127.0.0.1:$ECHO\" ]; };
  e = { host = \"localhost\"; local = [ \"$LE:127.0.0.1:$ECHO\" ]; };"
echo "include_dir = \"$WORK/conf.d\";" >> "$CONF"
check "reload with forwards removed: exit 0" sh -c "$TUNNELCTL -s $CTL reload >/dev/null"
check "b: forwards removed from a live session: the listener is closed" \
	refused "$LB"
check "... and the server's listener cancelled" wait_until 15 refused "$RB"
check "... the remaining forward works" $NETIO roundtrip "$LB2" 100000

# a broken file: refused with file:line, nothing changes
$NETIO chat "$LA" 3 > "$WORK/chat.a2" 2>&1 &
CHAT_A=$!
cp "$CONF" "$WORK/good.conf"
printf 'tunnels = {\n  z = {\n    host = "x";\n    prot = 22;\n  };\n};\n' > "$WORK/conf.d/bad.conf"
out=$(tctl reload 2>&1); rc=$?
diag "$out"
check "a broken drop-in: reload exits 1" test $rc -eq 1
check "... with file:line: what" says "$out" "$WORK/conf.d/bad.conf:4: unknown setting \"prot\""
check "... and the running configuration stays" test "$(json_get a "t['state']")" = up
wait "$CHAT_A"
check "... a connection through it never noticed" test $? -eq 0
rm "$WORK/conf.d/bad.conf"

# drop-ins take part; SIGHUP reloads as well
cat > "$WORK/conf.d/f.conf" <<EOF2
tunnels = { f = { host = "127.0.0.1"; port = $SSHD_PORT;
  user = "$(id -un)"; identity_file = "$WORK/id_ed25519";
  known_hosts = "$WORK/known_hosts"; local = [ "$LF:127.0.0.1:$ECHO" ]; }; };
EOF2
kill -HUP "$TUNNELD_PID"
check "SIGHUP: a drop-in's new tunnel is added and started" wait_state f up
check "... and carries data" $NETIO roundtrip "$LF" 100000
check "... logged with what changed" wait_log 'reload done: .*"added":\[ *"f"'

# the effective configuration parses back to itself
$TUNNELD --print-config -c "$CONF" > "$WORK/printed.conf" 2>&1
check "--print-config: the output is a valid configuration" \
	$TUNNELD -n -c "$WORK/printed.conf"
$TUNNELD --print-config -c "$WORK/printed.conf" > "$WORK/printed2.conf" 2>&1
sed -e '/^#/d' -e 's/#.*//' "$WORK/printed.conf" > "$WORK/p1"
sed -e '/^#/d' -e 's/#.*//' "$WORK/printed2.conf" > "$WORK/p2"
check "... which prints the same again (drop-ins merged, defaults applied)" \
	cmp -s "$WORK/p1" "$WORK/p2"
check "... with the drop-in's tunnel and the defaults in it" \
	says "$(cat "$WORK/printed.conf")" "f = {" "keepalive_count = 3;" "reconnect_max = 2;"

# permission: reload needs rights
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$WORK"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups $TUNNELCTL -s "$CTL" reload 2>&1); rc=$?
	chmod 700 "$WORK"
	check "an unprivileged user may not reload: exit 4" test $rc -eq 4
else
	skip "permission test needs root and setpriv"
fi
done_testing
