#!/bin/sh
# A hostile server's text never reaches the log, status or an on_state
# program raw: the methods a server says can continue (USERAUTH_FAILURE's
# name-list) are the server's bytes, and tunneld names them in the error
# when it has nothing to try for them.  A control character (a newline
# forging a log line, an escape sequence for whoever reads the log on a
# terminal) is written as ?, and a long list is cut short.
. "$(dirname "$0")/lib.sh"

HOSTILE=$top_srcdir/tests/helpers/hostile_sshd.py
# "gssapi-with-mic" + newline + a forged log line + escape sequences, then
# 4000 more bytes
forged="FORGED tunneld: tunnel bank is up"
methods=$(printf 'gssapi-with-mic\n%s\033[2J\033]0;pwned\007,' "$forged" |
	od -An -v -tx1 | tr -d ' \n')$(printf '%04000d' 0 | od -An -v -tx1 | tr -d ' \n')
$PYTHON3 -c 'import cryptography' 2>/dev/null ||
	{ echo "1..0 # SKIP hostile_sshd.py needs python3-cryptography"; exit 0; }
$PYTHON3 "$HOSTILE" "$methods" "$WORK/known_hosts" > "$WORK/hostile.port" \
	2>"$WORK/hostile.log" &
PIDS="$PIDS $!"
wait_file "$WORK/hostile.port" || bail "hostile_sshd.py: $(cat "$WORK/hostile.log")"
SSHD_PORT=$(head -n 1 "$WORK/hostile.port")
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/id_ed25519"

HOOK=$WORK/hook
cat > "$HOOK" <<EOF
#!/bin/sh
[ "\$STATE" = backoff ] && printf '%s' "\$REASON" > "$WORK/reason"
exit 0
EOF
chmod 755 "$HOOK"
write_conf "  h = { host = \"127.0.0.1\"; on_state = [ \"$HOOK\" ]; };"
start_tunneld
wait_log "h: .*offers gssapi-with-mic" 15
wait_until 15 test -s "$WORK/reason"

check "the server's methods are named in the log" \
	grep -q "offers gssapi-with-mic" "$WORK/tunneld.log"
check "... no escape or bell byte of the server's in the log" \
	sh -c "! grep -q \"\$(printf '[\\033\\007]')\" '$WORK/tunneld.log'"
check "... no line of the log begins with the server's forged text" \
	sh -c "! grep -q '^$forged' '$WORK/tunneld.log'"
err=$(json_get h "repr(t['last_error'])")
diag "last_error: $(printf '%s' "$err" | cut -c1-160)"
check "status last_error: the methods, no control character" \
	$PYTHON3 -c "
import json, subprocess, sys
e = json.loads(subprocess.check_output(['$TUNNELCTL', '-s', '$CTL',
    '--json', 'status', 'h']))['tunnels'][0]['last_error']
sys.exit(not ('gssapi-with-mic' in e and
    not any(ord(c) < 32 or ord(c) == 127 for c in e)))"
check "... cut short (${#err} characters)" [ "${#err}" -lt 1200 ]
check "on_state's REASON: no newline, escape or bell" \
	sh -c "! grep -q \"\$(printf '[\\033\\007]')\" '$WORK/reason' &&
	    [ \"\$(wc -l < '$WORK/reason')\" -eq 0 ]"
check "... cut short" [ "$(wc -c < "$WORK/reason")" -lt 1200 ]

done_testing
