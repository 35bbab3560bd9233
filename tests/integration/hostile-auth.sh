#!/bin/sh
# A hostile server's text never reaches the log, status or an on_state
# program raw: the methods a server says can continue (USERAUTH_FAILURE's
# name-list) are the server's bytes, and tunneld names them in the error
# when it has nothing to try for them.  A control character (a newline
# forging a log line, an escape sequence for whoever reads the log on a
# terminal) is written as ?, and a long list is cut short.  So is the key
# ID of a host certificate it sends (the host known by a @cert-authority
# line only): tunneld names it when it refuses the certificate, and a
# certificate naming the trusted CA with a garbage signature is anyone's
# to make.
. "$(dirname "$0")/lib.sh"

HOSTILE=$top_srcdir/tests/helpers/hostile_sshd.py
# "gssapi-with-mic" + newline + a forged log line + escape sequences, then
# 4000 more bytes
forged="FORGED tunneld: tunnel bank is up"
methods=$(printf 'gssapi-with-mic\n%s\033[2J\033]0;pwned\007,' "$forged" |
	od -An -v -tx1 | tr -d ' \n')$(printf '%04000d' 0 | od -An -v -tx1 | tr -d ' \n')
# the configured python3, or Debian's, where python3-cryptography is
for PY in "$PYTHON3" /usr/bin/python3 ""; do
	[ -n "$PY" ] && "$PY" -c 'import cryptography' 2>/dev/null && break
done
[ -n "$PY" ] ||
	{ echo "1..0 # SKIP hostile_sshd.py needs python3-cryptography"; exit 0; }
"$PY" "$HOSTILE" "$methods" "$WORK/known_hosts" > "$WORK/hostile.port" \
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

# the certificate's key ID: the same forged line and escapes, 4000 bytes
stop_tunneld
: > "$WORK/tunneld.log"
"$PY" "$HOSTILE" 00 "$WORK/known_hosts" "$methods" > "$WORK/hostile2.port" \
	2>"$WORK/hostile2.log" &
PIDS="$PIDS $!"
wait_file "$WORK/hostile2.port" || bail "hostile_sshd.py: $(cat "$WORK/hostile2.log")"
SSHD_PORT=$(head -n 1 "$WORK/hostile2.port")
write_conf "  c = { host = \"127.0.0.1\"; };"
start_tunneld
check "a certificate with a garbage signature: refused" \
	wait_log "c: .*host certificate of .* refused: the CA signature does not verify" 15
check "... no escape or bell byte of its key ID in the log" \
	sh -c "! grep -q \"\$(printf '[\\033\\007]')\" '$WORK/tunneld.log'"
check "... no line of the log begins with its forged text" \
	sh -c "! grep -q '^$forged' '$WORK/tunneld.log'"
err=$(json_get c "t['last_error']")
check "... last_error cut short (${#err} characters)" [ "${#err}" -lt 1200 ]

done_testing
