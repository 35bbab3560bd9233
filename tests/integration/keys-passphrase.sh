#!/bin/sh
# passphrase_file: an encrypted key (OpenSSH format, and PEM) with its
# passphrase in a file authenticates; a wrong passphrase is failed, says
# so, and the passphrase is nowhere in the log or the status; a passphrase
# file others can read is refused as a key file is; an encrypted key
# without passphrase_file is failed and says what to set.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
PASS='correct horse battery staple'
WRONG='incorrect donkey'
# -a 2: few KDF rounds (each attempt decrypts the key on the worker,
# twice with libssh2; the default 16 rounds cost ~0.15 s of CPU each)
$SSH_KEYGEN -q -t ed25519 -a 2 -N "$PASS" -f "$WORK/id_enc" || bail keygen
$SSH_KEYGEN -q -t ecdsa -m PEM -N "$PASS" -f "$WORK/id_enc_pem" || bail keygen
cat "$WORK/id_enc.pub" "$WORK/id_enc_pem.pub" >> "$WORK/authorized_keys"
printf '%s\n' "$PASS" > "$WORK/pass"; chmod 600 "$WORK/pass"
printf '%s\n' "$WRONG" > "$WORK/wrong"; chmod 600 "$WORK/wrong"
printf '%s\n' "$PASS" > "$WORK/pass_open"; chmod 640 "$WORK/pass_open"
mkfifo -m 600 "$WORK/pass_fifo"		# nobody writes: open() would wait
# as systemd's LoadCredential= leaves a credential on a file system with
# ACLs: root's, 0400, "user:SERVICE-UID:r" (stat shows the mask: 0440);
# and the same granting another user too
acl() {	# FILE UID...: that ACL, written as the kernel stores it
	$PYTHON3 - "$@" <<'PY'
import os, struct, sys
path, uids = sys.argv[1], [int(u) for u in sys.argv[2:]]
e = [(0x01, 4, 0xffffffff)] + [(0x02, 4, u) for u in uids] + \
    [(0x04, 0, 0xffffffff), (0x10, 4, 0xffffffff), (0x20, 0, 0xffffffff)]
os.setxattr(path, "system.posix_acl_access",
    struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *x) for x in e))
PY
}
HAVE_ACL=
for f in pass_cred pass_acl_other; do
	printf '%s\n' "$PASS" > "$WORK/$f"; chmod 400 "$WORK/$f"
done
if [ "$(id -u)" -eq 0 ] && acl "$WORK/pass_cred" 0 2>/dev/null &&
    acl "$WORK/pass_acl_other" 0 65534 2>/dev/null &&
    [ "$(stat -c %a "$WORK/pass_cred")" = 440 ]; then
	HAVE_ACL=1
fi

L1=$(free_port); L2=$(free_port)
t() { echo "  $1 = { host = \"127.0.0.1\"; identity_file = \"$WORK/$2\"; ${3:-} };"; }
write_conf "$(t good id_enc "passphrase_file = \"$WORK/pass\"; local = [ \"$L1:127.0.0.1:$ECHO\" ];")
$(t pem id_enc_pem "passphrase_file = \"$WORK/pass\"; local = [ \"$L2:127.0.0.1:$ECHO\" ];")
$(t wrong id_enc "passphrase_file = \"$WORK/wrong\";")
$(t open id_enc "passphrase_file = \"$WORK/pass_open\";")
$(t nopass id_enc)
$(t missing id_enc "passphrase_file = \"$WORK/no-such-file\";")
$(t fifo id_enc "passphrase_file = \"$WORK/pass_fifo\";")
$(t cred id_enc "passphrase_file = \"$WORK/pass_cred\";")
$(t aclother id_enc "passphrase_file = \"$WORK/pass_acl_other\";")"
start_tunneld

check "encrypted key + passphrase_file: up" wait_state good up 30
check "... data passes" $NETIO roundtrip "$L1" 100000
check "encrypted PEM ECDSA key + passphrase_file: up" wait_state pem up 30
check "... data passes" $NETIO roundtrip "$L2" 100000
check "wrong passphrase: failed (not retried)" wait_state wrong failed 10
err=$(json_get wrong "t['last_error']")
diag "$err"
check "... the message says the passphrase is wrong, names both files" \
    says "$err" 'passphrase' 'does not decrypt' "$WORK/id_enc" "$WORK/wrong"
check "passphrase file readable by group: failed" wait_state open failed 10
err=$(json_get open "t['last_error']")
diag "$err"
check "... 'too open', with the fix" says "$err" passphrase_file 'too open' 'chmod 600'
check "encrypted key without passphrase_file: failed" wait_state nopass failed 10
err=$(json_get nopass "t['last_error']")
diag "$err"
check "... says to set passphrase_file" says "$err" 'protected by a passphrase' passphrase_file
check "missing passphrase file: failed" wait_state missing failed 10
err=$(json_get missing "t['last_error']")
check "... the message names it" says "$err" "$WORK/no-such-file" 'No such file'
check "a FIFO as passphrase_file: failed, without blocking" wait_state fifo failed 10
err=$(json_get fifo "t['last_error']")
check "... says what it is" says "$err" passphrase_file 'FIFO'
if [ -n "$HAVE_ACL" ]; then
	check "a credential as systemd leaves it (0440: an ACL for us alone): up" wait_state cred up 30
	check "an ACL that lets another user read: failed" wait_state aclother failed 10
	err=$(json_get aclother "t['last_error']")
	diag "$err"
	check "... says so" says "$err" 'too open' 'an ACL'
else
	skip "no POSIX ACLs here (root and an ACL-capable \$WORK needed)"
fi
tctl --json status > "$WORK/status.json" 2>&1
tctl status >> "$WORK/status.json" 2>&1
check "no passphrase in the log" sh -c "! grep -q -e '$PASS' -e '$WRONG' '$WORK/tunneld.log'"
check "no key material in the log" sh -c "! grep -q 'PRIVATE KEY' '$WORK/tunneld.log'"
check "no passphrase in the status" sh -c "! grep -q -e '$PASS' -e '$WRONG' '$WORK/status.json'"
check "the good tunnels are untouched" wait_state good up 1
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
