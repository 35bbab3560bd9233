#!/bin/sh
# RSA user keys: with libssh2 1.11 or later they authenticate, signed with
# rsa-sha2-512/256 (sshd accepts no ssh-rsa SHA-1 signature), from a file
# (OpenSSH format and PEM) and from an agent; with libssh2 1.10 the file is
# refused with the reason before the network is touched, and an agent's
# RSA key is skipped and said.
. "$(dirname "$0")/lib.sh"

start_sshd "PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256,ssh-ed25519"
start_server echo; ECHO=$SERVER_PORT
$SSH_KEYGEN -q -t rsa -b 2048 -N '' -C rsa-file -f "$WORK/id_rsa" || bail keygen
$SSH_KEYGEN -q -t rsa -b 2048 -m PEM -N '' -f "$WORK/id_rsa_pem" || bail keygen
$SSH_KEYGEN -q -t rsa -b 2048 -N '' -C rsa-agent -f "$WORK/id_rsa_agent" || bail keygen
cat "$WORK/id_rsa.pub" "$WORK/id_rsa_pem.pub" "$WORK/id_rsa_agent.pub" >> "$WORK/authorized_keys"
FP=$($SSH_KEYGEN -lf "$WORK/id_rsa.pub" | cut -d' ' -f2)
HAVE_AGENT=
if command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null; then
	ssh-agent -D -a "$WORK/agent.sock" >> "$WORK/agent.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_until 10 test -S "$WORK/agent.sock" || bail "ssh-agent did not start"
	SSH_AUTH_SOCK=$WORK/agent.sock ssh-add -q "$WORK/id_rsa_agent" 2>/dev/null || bail ssh-add
	HAVE_AGENT=1
fi

L1=$(free_port); L2=$(free_port); L3=$(free_port)
t() { echo "  $1 = { host = \"127.0.0.1\"; $2 };"; }
write_conf "$(t rsa "identity_file = \"$WORK/id_rsa\"; local = [ \"$L1:127.0.0.1:$ECHO\" ];")
$(t rsapem "identity_file = \"$WORK/id_rsa_pem\"; local = [ \"$L2:127.0.0.1:$ECHO\" ];")
$(t agent "identity_agent = \"$WORK/agent.sock\"; local = [ \"$L3:127.0.0.1:$ECHO\" ];")"
sed -i '/^  identity_file/d' "$CONF"	# the agent tunnel: its agent only
start_tunneld

if $TUNNELD -V 2>&1 | grep -q 'libssh2 1\.10'; then
	diag "libssh2 1.10: RSA keys are refused"
	check "RSA key file: failed" wait_state rsa failed 10
	err=$(json_get rsa "t['last_error']")
	diag "$err"
	check "... the reason: SHA-1 signatures, and what to do" says "$err" \
	    'RSA key' 'ssh-rsa (SHA-1)' 'OpenSSH 8.8' 'ed25519' 'libssh2 1.11'
	check "RSA PEM key file: failed" wait_state rsapem failed 10
	check "... never offered to the server" sh -c "! grep -q 'RSA SHA256' '$WORK/sshd.log'"
	if [ -n "$HAVE_AGENT" ]; then
		check "RSA key in the agent: not tried (backoff)" wait_state agent backoff 10
		err=$(json_get agent "t['last_error']")
		diag "$err"
		check "... said, with the reason" says "$err" 'rsa-agent' 'libssh2 1.10 signs with SHA-1 only'
	fi
else
	check "RSA key file (OpenSSH format): up" wait_state rsa up 30
	check "... data passes" $NETIO roundtrip "$L1" 100000
	check "... sshd accepted it (rsa-sha2: it takes no ssh-rsa)" grep -q "Accepted publickey.*RSA $FP" "$WORK/sshd.log"
	check "RSA key file (PEM): up" wait_state rsapem up 30
	check "... data passes" $NETIO roundtrip "$L2" 100000
	if [ -n "$HAVE_AGENT" ]; then
		check "RSA key in the agent: up" wait_state agent up 30
		check "... data passes" $NETIO roundtrip "$L3" 100000
	fi
fi
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
