#!/bin/sh
# authorized-key.sh - tunnelctl authorized-key against a real sshd whose
# authorized_keys holds only the line it printed: a profile with a -L, a -R
# and a -D comes up and each forward carries bytes; a -R port the line does
# not name is refused by the server.  Then the line of a profile without -D:
# its -L to a port and to a UNIX socket carry bytes, and a -L to a
# destination it does not name is refused by the server.
. "$(dirname "$0")/lib.sh"

start_sshd
: > "$WORK/authorized_keys"	# until the printed line is put there
start_server echo
ECHO=$SERVER_PORT
$NETIO echo-unix "$WORK/echo.sock" > /dev/null 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_until 30 test -S "$WORK/echo.sock" || bail "netio echo-unix did not start"
# a socket path with a comma and a space, inside permitopen's quotes
ODD="$WORK/echo, odd.sock"
$NETIO echo-unix "$ODD" > /dev/null 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_until 30 test -S "$ODD" || bail "netio echo-unix did not start"
L7=$(free_port); L8=$(free_port); L9=$(free_port)
# a key in a sticky directory that anyone may write (trusted, as /tmp is):
# its KEY.pub is anyone's to make unless it is checked as the key is
mkdir -m 1777 "$WORK/sticky"
cp "$WORK/id_ed25519" "$WORK/sticky/id"
chmod 755 "$WORK"
ATTACKER="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBoZvzXC+k50vV+Mml2fWxJPoWCY+hp76tRMyagXdXg3 attacker"
L=$(free_port); R=$(free_port); D=$(free_port); R2=$(free_port)
L3=$(free_port); L4=$(free_port); R3=$(free_port); L5=$(free_port)
L6=$(free_port); JP=$(free_port)
write_conf "
  ak = { host = \"127.0.0.1\"; autostart = false;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
    remote = [ \"$R:127.0.0.1:$ECHO\" ];
    dynamic = [ \"$D\" ]; };
  rogue = { host = \"127.0.0.1\"; autostart = false;
    remote = [ \"$R2:127.0.0.1:$ECHO\" ]; };
  fenced = { host = \"127.0.0.1\"; autostart = false;
    local = [ \"$L3:127.0.0.1:$ECHO\", \"$L5:$WORK/echo.sock\" ];
    remote = [ \"$R3:127.0.0.1:$ECHO\" ]; };
  astray = { host = \"127.0.0.1\"; autostart = false;
    local = [ \"$L4:127.0.0.1:$SSHD_PORT\" ]; };
  via = { host = \"127.0.0.1\"; autostart = false; jump = \"127.0.0.1:$JP\";
    local = [ \"$L6:127.0.0.1:$ECHO\" ]; };
  odd = { host = \"127.0.0.1\"; autostart = false;
    local = [ \"$L7:$ODD\" ]; };
  inject = { host = \"127.0.0.1\"; autostart = false;
    local = [ \"$L8:/run/x\\n$ATTACKER\\n#\" ]; };
  sticky = { host = \"127.0.0.1\"; autostart = false;
    identity_file = \"$WORK/sticky/id\"; };"
start_tunneld

# authkey NAME: its line, the one line that is not a comment
authkey() { tctl authorized-key "$1" > "$WORK/authkey.$1" &&
    grep -v '^#' "$WORK/authkey.$1"; }
LINE=$(authkey ak)
diag "$LINE"
check "authorized-key prints one line for the key" \
    test "$(grep -vc '^#' "$WORK/authkey.ak")" -eq 1
check "... restricted, with the -R's permitlisten and the -L's permitopen" \
    says "$LINE" "restrict,port-forwarding," "permitlisten=\"localhost:$R\"" \
    "permitopen=\"127.0.0.1:$ECHO\"" " tunneld:ak"
check "... -D allows any destination, and says so" sh -c "
    echo '$LINE' | grep -q 'permitopen=\"\*:\*\"' &&
    grep -q '^# -D $D: .*any destination' '$WORK/authkey.ak'"
check "... the key is identity_file's" \
    says "$LINE" "$(cut -d' ' -f1-2 "$WORK/id_ed25519.pub")"
check "--json: the same line" sh -c "
    tctl() { '$TUNNELCTL' -s '$CTL' \"\$@\"; }
    tctl --json authorized-key ak | $PYTHON3 -c '
import json, sys; o = json.load(sys.stdin); sys.exit(o[\"line\"] != sys.argv[1])' '$LINE'"
check "an unknown tunnel: exit status 1" sh -c \
    "'$TUNNELCTL' -s '$CTL' authorized-key nosuch 2>/dev/null; test \$? -eq 1"
check "no daemon: exit status 3" sh -c \
    "'$TUNNELCTL' -s '$WORK/none.sock' authorized-key ak 2>/dev/null; test \$? -eq 3"

# a newline in a forward's UNIX socket path would end the line, and the
# rest would be a key of its own, unrestricted: refused, with --json too
out=$(tctl authorized-key inject 2>"$WORK/inject.err")
check "a socket path with a newline: refused (exit 1)" [ $? -eq 1 ]
check "... nothing printed, the error says why" sh -c "
    [ -z '$out' ] && grep -q 'control character' '$WORK/inject.err'"
out=$(tctl --json authorized-key inject 2>/dev/null)
check "... --json: refused too (exit 1)" [ $? -eq 1 ]
check "... no line of its line, decoded, begins with the key in the path" \
    $PYTHON3 -c '
import json, sys
d = sys.argv[1].strip()
sys.exit(bool(d) and any(l.startswith(sys.argv[2])
    for l in json.loads(d).get("line", "").splitlines()))' "$out" "$ATTACKER"
# it names key files and jump hosts: not for anyone who may connect
chmod 755 "$WORK"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
    $TUNNELCTL -s "$CTL" authorized-key ak 2>&1); rc=$?
chmod 700 "$WORK"
check "an unprivileged user is refused: exit 4" [ "$rc" -eq 4 ]
check "... told what is needed" says "$out" "needs root, the tunneld user"
# a jump host's name with a quote would close the quotes of permitopen
# early: no host name has one, and tunneld.conf refuses it
cat > "$WORK/qjump.conf" <<EOF
tunnels = { qjump = { host = "127.0.0.1"; autostart = false;
    jump = "127.0.0.1:$JP,j\\"x"; local = [ "$L9:127.0.0.1:$ECHO" ]; }; };
EOF
out=$($TUNNELD -n -c "$WORK/qjump.conf" 2>&1)
check "a jump host named with a quote is refused by tunneld -n" \
    says "$out" "qjump.conf:2:" "jump: host name has '\"' at 2"

# another user's KEY.pub next to a trusted key: not taken for the key's
setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c \
    "echo '$ATTACKER' > '$WORK/sticky/id.pub'"
tctl authorized-key sticky > "$WORK/authkey.sticky" 2>&1
check "another user's KEY.pub in a sticky directory: refused" [ $? -eq 1 ]
diag "$(cat "$WORK/authkey.sticky")"
check "... its key is not printed" \
    sh -c "! grep -qF '$(echo "$ATTACKER" | cut -d' ' -f2)' '$WORK/authkey.sticky'"

echo "$LINE" > "$WORK/authorized_keys"
check "with only that line, the tunnel comes up" tctl up ak --timeout 20
check "... the -L carries bytes" $NETIO roundtrip "$L" 200000
check "... the -R carries bytes" $NETIO roundtrip "$R" 200000
check "... the -D carries bytes" \
    $NETIO socks-roundtrip "$D" 5 127.0.0.1 "$ECHO" 200000
check "... every forward up" \
    test "$(json_get ak "','.join(f['state'] for f in t['forwards'])")" = up,up,up

tctl up --no-wait rogue > /dev/null
check "a -R port the line does not name: degraded" wait_state rogue degraded 20
check "... refused by the server" \
    wait_log "rogue: remote forward \"$R2:127.0.0.1:$ECHO\": pending -> failed" 5
check "... sshd says it denied it" \
    wait_until 5 grep -q "remote forward to host localhost port $R2, but the request was denied" "$WORK/sshd.log"
tctl down ak rogue > /dev/null

LINE=$(authkey fenced)
diag "$LINE"
check "a profile without -D: only its destination is allowed" sh -c "
    echo '$LINE' | grep -q 'permitopen=\"127.0.0.1:$ECHO\"' &&
    ! echo '$LINE' | grep -q '\*:\*'"
echo "$LINE" > "$WORK/authorized_keys"
check "with only its line, that tunnel comes up" tctl up fenced --timeout 20
check "... its -L carries bytes" $NETIO roundtrip "$L3" 200000
check "... its -L to a UNIX socket on the server too ([PATH]:*)" \
    $NETIO roundtrip "$L5" 200000
check "a -L to a destination the line does not name: up (it listens here)" \
    tctl up astray --timeout 20
check "... and the server refuses to open it: the connection is closed" \
    $NETIO closed "$L4"
check "... the refusal is the server's" \
    wait_log "astray.*prohibited" 5
tctl down fenced astray > /dev/null

LINE=$(authkey odd)
diag "$LINE"
check "a socket path with a comma and a space: in the quotes" \
    says "$LINE" "permitopen=\"[$ODD]:*\""
echo "$LINE" > "$WORK/authorized_keys"
check "... with only that line, the tunnel comes up" tctl up odd --timeout 20
check "... its -L carries bytes" $NETIO roundtrip "$L7" 200000
tctl down odd > /dev/null

# a jump host: an sshd of its own (same host key) with its own
# authorized_keys, holding only the jump host's line printed as a comment
sed -e "s/^Port .*/Port $JP/" -e "s|^PidFile .*|PidFile $WORK/j.pid|" \
    -e "s|^AuthorizedKeysFile .*|AuthorizedKeysFile $WORK/j.authorized_keys|" \
    "$WORK/sshd_config" > "$WORK/j.sshd_config"
$SSHD -f "$WORK/j.sshd_config" -D -e >> "$WORK/j.sshd.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$JP" || bail "the jump host's sshd did not start"
echo "[127.0.0.1]:$JP $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")" >> "$WORK/known_hosts"
LINE=$(authkey via)
sed -n 's/^# on jump host 127.0.0.1:[0-9]*, its own line: //p' \
    "$WORK/authkey.via" > "$WORK/j.authorized_keys"
diag "jump host: $(cat "$WORK/j.authorized_keys")"
check "a jump host's line allows only the next hop" \
    grep -q "permitopen=\"127.0.0.1:$SSHD_PORT\" " "$WORK/j.authorized_keys"
echo "$LINE" > "$WORK/authorized_keys"
check "with only those lines, the tunnel through the jump host comes up" \
    tctl up via --timeout 20
check "... its -L carries bytes" $NETIO roundtrip "$L6" 200000
done_testing
