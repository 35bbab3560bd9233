#!/bin/sh
# Public-key authentication: ed25519 and ECDSA work; RSA, keys readable by
# others, encrypted and missing keys are refused with a message that says
# what to do; a key the server does not accept means backoff, not failed.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
$SSH_KEYGEN -q -t ecdsa -N '' -f "$WORK/id_ecdsa" || bail keygen
$SSH_KEYGEN -q -t rsa -b 2048 -N '' -f "$WORK/id_rsa" || bail keygen
$SSH_KEYGEN -q -t rsa -b 2048 -m PEM -N '' -f "$WORK/id_rsa_pem" || bail keygen
$SSH_KEYGEN -q -t ed25519 -N 'secret passphrase' -f "$WORK/id_enc" || bail keygen
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/id_stranger" || bail keygen
cp "$WORK/id_ed25519" "$WORK/id_open"; chmod 644 "$WORK/id_open"
cat "$WORK/id_ecdsa.pub" "$WORK/id_rsa.pub" "$WORK/id_enc.pub" >> "$WORK/authorized_keys"

L1=$(free_port); L2=$(free_port)
t() { echo "  $1 = { host = \"127.0.0.1\"; identity_file = \"$WORK/$2\"; ${3:-} };"; }
write_conf "$(t ecdsa id_ecdsa "local = [ \"$L1:127.0.0.1:$ECHO\" ];")
$(t ed25519 id_ed25519 "local = [ \"$L2:127.0.0.1:$ECHO\" ];")
$(t rsa id_rsa)
$(t rsapem id_rsa_pem)
$(t open id_open)
$(t encrypted id_enc)
$(t missing id_nonexistent)
$(t stranger id_stranger)"
start_tunneld

check "ECDSA key: up" wait_state ecdsa up 30
check "ECDSA key: data passes" $NETIO roundtrip "$L1" 100000
check "ed25519 key: up" wait_state ed25519 up 30
if $TUNNELD -V 2>&1 | grep -q 'libssh2 1\.10'; then
	check "RSA key (OpenSSH format): failed" wait_state rsa failed 10
	err=$(json_get rsa "t['last_error']")
	diag "$err"
	check "RSA: the error explains rsa-sha2 and names ed25519" says "$err" 'RSA key' 'ssh-rsa (SHA-1)' 'ed25519'
	check "RSA key (PEM format): failed" wait_state rsapem failed 10
	err=$(json_get rsapem "t['last_error']")
	check "RSA PEM: message" says "$err" 'RSA key'
else	# libssh2 1.11: rsa-sha2 (keys-rsa.sh)
	check "RSA key (OpenSSH format): up" wait_state rsa up 30
	check "RSA key (PEM format): backoff (not in authorized_keys)" wait_state rsapem backoff 10
fi
check "key readable by others: failed" wait_state open failed 10
err=$(json_get open "t['last_error']")
diag "$err"
check "... 'too open', as ssh says, with the fix" says "$err" 'too open' 'chmod 600'
check "encrypted key: failed" wait_state encrypted failed 10
err=$(json_get encrypted "t['last_error']")
check "... passphrase message" says "$err" passphrase
check "missing key: failed" wait_state missing failed 10
err=$(json_get missing "t['last_error']")
check "... message names the file" says "$err" 'id_nonexistent: No such file'
check "a key the server does not know: backoff (retrying may help)" wait_state stranger backoff 10
err=$(json_get stranger "t['last_error']")
check "... 'authentication failed', naming user and key" says "$err" 'authentication failed' id_stranger
$TUNNELD -V 2>&1 | grep -q 'libssh2 1\.10' &&
    check "the refused keys never reached the server" sh -c "! grep -q 'RSA SHA256' '$WORK/sshd.log'"
check "no passphrase or key material in the log" sh -c "! grep -q -e 'secret passphrase' -e 'PRIVATE KEY' '$WORK/tunneld.log'"
check "the good tunnels are untouched" wait_state ecdsa up 1
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
