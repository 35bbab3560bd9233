#!/bin/sh
# SSH certificates.  User certificates (certificate_file) are presented with
# identity_file's key to an sshd that trusts the CA (TrustedUserCAKeys) and
# has no authorized_keys entry for the key: ECDSA with any libssh2, ed25519
# and RSA where the linked libssh2 can present them, and where it cannot,
# the error says so.  A certificate of another key or of a host is refused
# before the network; an expired one is sent, and the refusal says it
# expired.  Host certificates: no libssh2 release negotiates one (tunneld(8),
# SECURITY), so a server with HostCertificate is still verified by its
# plain key, a host known only by @cert-authority is an unknown host whose
# error says why, and asking for a certificate host key algorithm fails.
. "$(dirname "$0")/lib.sh"

ME=$(id -un)
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/user_ca" -C user-ca || bail keygen
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/host_ca" -C host-ca || bail keygen
# the host keys are start_sshd's, made before it writes sshd_config
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/host_ed25519" || bail keygen
$SSH_KEYGEN -q -t ecdsa -N '' -f "$WORK/host_ecdsa" || bail keygen
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/id_ed25519" || bail keygen
# only the CA lets the u_* keys in; id_ed25519 is in authorized_keys
cp "$WORK/id_ed25519.pub" "$WORK/authorized_keys"
for h in host_ed25519 host_ecdsa; do
	$SSH_KEYGEN -q -s "$WORK/host_ca" -h -I "$h" -n 127.0.0.1 \
	    "$WORK/$h.pub" || bail "host cert"
done

start_sshd "TrustedUserCAKeys $WORK/user_ca.pub
HostCertificate $WORK/host_ed25519-cert.pub
HostCertificate $WORK/host_ecdsa-cert.pub"
start_server echo; ECHO=$SERVER_PORT

# user keys and their certificates
ukey() {	# name type [ssh-keygen -s options]
	n=$1; ty=$2; shift 2
	$SSH_KEYGEN -q -t "$ty" -N '' -f "$WORK/$n" || bail keygen
	$SSH_KEYGEN -q -s "$WORK/user_ca" -I "$n" -n "$ME" "$@" \
	    "$WORK/$n.pub" 2>/dev/null || bail "user cert $n"
}
ukey u_ecdsa ecdsa
ukey u_ed25519 ed25519
ukey u_rsa rsa
ukey u_expired ecdsa -V 20200101:20200102
ukey u_wrongname ecdsa -n "someone-else"
ukey u_nocert ecdsa
ukey u_other ecdsa
ukey u_fallback ecdsa -n "someone-else"
cat "$WORK/u_fallback.pub" >> "$WORK/authorized_keys"
$SSH_KEYGEN -q -s "$WORK/host_ca" -h -I hostcert -n 127.0.0.1 \
    "$WORK/u_nocert.pub" || bail "host cert"
mv "$WORK/u_nocert-cert.pub" "$WORK/hostcert-cert.pub"

L1=$(free_port)
t() {	# name key [cert] [more]
	echo "  $1 = { host = \"127.0.0.1\"; identity_file = \"$WORK/$2\";"
	if [ -n "${3:-}" ]; then echo "    certificate_file = \"$WORK/$3\";"; fi
	echo "    ${4:-} };"
}
write_conf "$(t ecdsa u_ecdsa u_ecdsa-cert.pub "local = [ \"$L1:127.0.0.1:$ECHO\" ];")
$(t ed25519 u_ed25519 u_ed25519-cert.pub)
$(t rsa u_rsa u_rsa-cert.pub)
$(t nocert u_nocert)
$(t expired u_expired u_expired-cert.pub)
$(t wrongname u_wrongname u_wrongname-cert.pub)
$(t otherkey u_other u_ecdsa-cert.pub)
$(t hostcert u_nocert hostcert-cert.pub)
$(t missing u_ecdsa nonexistent-cert.pub)
$(t fallback u_fallback u_fallback-cert.pub)
$(t plainkey id_ed25519)"
start_tunneld

check "ECDSA user certificate: up" wait_state ecdsa up 10
check "... data passes" $NETIO roundtrip "$L1" 100000
check "... the server took the certificate" grep -q \
    "Accepted publickey for $ME .*ECDSA-CERT" "$WORK/sshd.log"
if $TUNNELD -V 2>&1 | grep -q 'libssh2 1\.10'; then
	check "ed25519 certificate on libssh2 1.10: failed" \
	    wait_state ed25519 failed 10
	err=$(json_get ed25519 "t['last_error']")
	diag "$err"
	check "... the error says libssh2 cannot present it" says "$err" \
	    'libssh2 1.10' 'cannot present ssh-ed25519-cert-v01@openssh.com'
	check "RSA certificate on libssh2 1.10: failed" wait_state rsa failed 10
	err=$(json_get rsa "t['last_error']")
	check "... the error says libssh2 1.10 cannot sign with it" says \
	    "$err" 'RSA key' 'ssh-rsa (SHA-1)'
else
	check "ed25519 user certificate: up" wait_state ed25519 up 10
	check "RSA user certificate: up" wait_state rsa up 10
	check "... with rsa-sha2" grep -q \
	    "Accepted publickey for $ME .*RSA-CERT" "$WORK/sshd.log"
fi
check "the same kind of key without its certificate: backoff" \
    wait_state nocert backoff 10
check "expired certificate: backoff (it may be renewed)" \
    wait_state expired backoff 10
err=$(json_get expired "t['last_error']")
diag "$err"
check "... the error says it expired, and when" says "$err" \
    'u_expired-cert.pub (expired at 2020-01-02T00:00:00Z)'
check "certificate for another user name: backoff" \
    wait_state wrongname backoff 10
check "certificate refused, key in authorized_keys: up (as ssh: the key next)" \
    wait_state fallback up 10
check "... the certificate was tried first" grep -q \
    "ECDSA-CERT .* ID u_fallback" "$WORK/sshd.log"
err=$(json_get wrongname "t['last_error']")
check "certificate refused, key unknown: the error names both tries" says \
    "$err" "u_wrongname with certificate_file $WORK/u_wrongname-cert.pub" \
    "the key $WORK/u_wrongname for"
check "certificate of another key: failed" wait_state otherkey failed 10
err=$(json_get otherkey "t['last_error']")
check "... the error says so" says "$err" 'certifies another key' u_other
check "a host certificate as certificate_file: failed" \
    wait_state hostcert failed 10
err=$(json_get hostcert "t['last_error']")
check "... the error says so" says "$err" 'host certificate'
check "missing certificate_file: failed" wait_state missing failed 10
err=$(json_get missing "t['last_error']")
check "... the error names it" says "$err" 'nonexistent-cert.pub'

# host certificates
check "a server with host certificates: verified by its plain key" \
    wait_state plainkey up 10
stop_tunneld
cp "$WORK/known_hosts" "$WORK/known_hosts.plain"
echo "@cert-authority [127.0.0.1]:$SSHD_PORT $(cat "$WORK/host_ca.pub")" \
    > "$WORK/known_hosts"
kh_plain='known_hosts = "'"$WORK/known_hosts.plain"'";'
alg() { echo "$kh_plain host_key_algorithms = \"$1-cert-v01@openssh.com\";"; }
# libssh2 1.11 lists an ed25519 certificate host key method (1.10 none)
ED=
$TUNNELD -V 2>&1 | grep -q 'libssh2 1\.10' ||
    ED=$(t certalg_ed id_ed25519 '' "$(alg ssh-ed25519)")
write_conf "$(t caonly id_ed25519)
$(t certalg id_ed25519 '' "$(alg ecdsa-sha2-nistp256)")
$ED"
start_tunneld
check "known by @cert-authority only: failed, as an unknown host" \
    wait_state caonly failed 10
err=$(json_get caonly "t['last_error']")
diag "$err"
check "... the error names the @cert-authority line and libssh2" says \
    "$err" 'is unknown' '@cert-authority' 'cannot negotiate a host certificate' \
    "$WORK/known_hosts:1"
down() { wait_state "$1" backoff 10 || wait_state "$1" failed 1; }
check "an ECDSA certificate host key algorithm: not up (libssh2 can't)" \
    down certalg
diag "$(json_get certalg "t['last_error']")"
if [ -n "$ED" ]; then
	check "an ed25519 certificate host key algorithm: not up" down \
	    certalg_ed
	diag "$(json_get certalg_ed "t['last_error']")"
fi
for c in "valid" "expired" "not yet valid" "wrong principal" "another CA" \
    "@revoked"; do
	skip "host certificate $c: libssh2 $($TUNNELD -V 2>&1 |
	    sed -n 's/.*libssh2 \([0-9.]*\).*/\1/p') negotiates no host" \
	    "certificate type"
done
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
