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

# OpenSSH 9.8+ penalises an address for key exchanges that fail (the
# cases below that libssh2 cannot negotiate, retried): this sshd is also
# the jump host of a later case, which must not be refused for them
NOPENALTY=
[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd	# sshd -t wants it
$SSHD -t -f /dev/null -o PerSourcePenalties=no -h "$WORK/host_ed25519" \
    2>/dev/null && NOPENALTY="PerSourcePenalties no"
start_sshd "TrustedUserCAKeys $WORK/user_ca.pub
HostCertificate $WORK/host_ed25519-cert.pub
HostCertificate $WORK/host_ecdsa-cert.pub
$NOPENALTY"
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

check "ECDSA user certificate: up" wait_state ecdsa up 30
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
	check "ed25519 user certificate: up" wait_state ed25519 up 30
	check "RSA user certificate: up" wait_state rsa up 30
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
    wait_state fallback up 30
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
    wait_state plainkey up 30
stop_tunneld
cp "$WORK/known_hosts" "$WORK/known_hosts.plain"
kh_plain='known_hosts = "'"$WORK/known_hosts.plain"'";'
alg() { echo "$kh_plain host_key_algorithms = \"$1-cert-v01@openssh.com\";"; }

# more CAs, and servers with the same host keys and other certificates
$SSH_KEYGEN -q -t ecdsa -b 384 -N '' -f "$WORK/ca_ecdsa" -C ca-ecdsa || bail keygen
$SSH_KEYGEN -q -t rsa -b 2048 -N '' -f "$WORK/ca_rsa" -C ca-rsa || bail keygen
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/ca_other" -C ca-other || bail keygen
hcert() {	# out-name key ca [ssh-keygen -s options]
	o=$1; k=$2; ca=$3; shift 3
	cp "$WORK/$k.pub" "$WORK/$o.pub"
	$SSH_KEYGEN -q -s "$WORK/$ca" -h -I "$o" -n 127.0.0.1 "$@" \
	    "$WORK/$o.pub" || bail "host cert $o"
}
hcert hc_valid host_ed25519 host_ca -I host1 -z 7 -V -1d:+1d
hcert hc_valid_ec host_ecdsa host_ca -V -1d:+1d
hcert hc_expired host_ed25519 host_ca -V -2d:-1d
hcert hc_future host_ed25519 host_ca -V +1d:+2d
hcert hc_byecdsa host_ed25519 ca_ecdsa
hcert hc_byrsa host_ed25519 ca_rsa
csshd() {	# var [HostCertificate files]: another sshd; its port in var
	v=$1; shift
	p=$(free_port)
	sed -e "s/^Port .*/Port $p/" -e "s|^PidFile .*|PidFile $WORK/sshd.$v.pid|" \
	    -e '/^HostCertificate/d' "$WORK/sshd_config" > "$WORK/sshd_config.$v"
	for c in "$@"; do
		echo "HostCertificate $WORK/$c-cert.pub" >> "$WORK/sshd_config.$v"
	done
	$SSHD -f "$WORK/sshd_config.$v" -D -e >> "$WORK/sshd.$v.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_port "$p" || bail "sshd $v did not start"
	eval "$v=$p"
}
csshd VALID hc_valid hc_valid_ec
csshd EXPIRED hc_expired
csshd FUTURE hc_future
csshd BYECDSA hc_byecdsa
csshd BYRSA hc_byrsa
csshd NOCERT
# a relay to VALID that holds the certificate fetch (known by its
# identification) without a word: the session waits for it
$PYTHON3 "$top_srcdir/tests/helpers/fetch_relay.py" "$VALID" hold \
    > "$WORK/hold.out" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/hold.out" || bail "fetch_relay.py did not start"
HOLD=$(head -n 1 "$WORK/hold.out")
ca() { echo "@cert-authority $1 $(cut -d' ' -f1-2 "$WORK/$2.pub")"; }
kh() {	# name lines: a known_hosts file
	printf '%s\n' "$2" > "$WORK/kh.$1"
}
kh valid "$(ca "[127.0.0.1]:$VALID" host_ca)"
kh expired "$(ca "[127.0.0.1]:$EXPIRED" host_ca)"
kh future "$(ca "[127.0.0.1]:$FUTURE" host_ca)"
kh byecdsa "$(ca "[127.0.0.1]:$BYECDSA" ca_ecdsa)"
kh byrsa "$(ca "[127.0.0.1]:$BYRSA" ca_rsa)"
kh nocert "$(ca "[127.0.0.1]:$NOCERT" host_ca)"
kh principal "$(ca "[localhost]:$VALID" host_ca)"
kh otherca "$(ca "[127.0.0.1]:$VALID" ca_other)"
kh elsewhere "$(ca "[127.0.0.1]:$VALID" ca_other)
$(ca "*.example.org,[localhost]:*" host_ca)"
kh revokedkey "$(ca "[127.0.0.1]:$VALID" host_ca)
@revoked * $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")"
kh revokedca "$(ca "[127.0.0.1]:$VALID" host_ca)
@revoked * $(cut -d' ' -f1-2 "$WORK/host_ca.pub")"
kh hold "$(ca "[127.0.0.1]:$HOLD" host_ca)"
kh jump "$(ca "[127.0.0.1]:$VALID" host_ca)
[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")"
L2=$(free_port)
h() {	# name port known_hosts [host] [more]
	echo "  $1 = { host = \"${4:-127.0.0.1}\"; port = $2;"
	echo "    identity_file = \"$WORK/id_ed25519\";"
	echo "    known_hosts = \"$WORK/kh.$3\"; ${5:-} };"
}
# libssh2 1.11 lists an ed25519 certificate host key method (1.10 none)
ED=
$TUNNELD -V 2>&1 | grep -q 'libssh2 1\.10' ||
    ED=$(t certalg_ed id_ed25519 '' "$(alg ssh-ed25519)")
write_conf "$(h valid "$VALID" valid '' "local = [ \"$L2:127.0.0.1:$ECHO\" ];")
$(h valid_ec "$VALID" valid '' 'host_key_algorithms = "ecdsa-sha2-nistp256";')
$(h byecdsa "$BYECDSA" byecdsa)
$(h byrsa "$BYRSA" byrsa)
$(h expired "$EXPIRED" expired)
$(h future "$FUTURE" future)
$(h nocert "$NOCERT" nocert)
$(h principal "$VALID" principal localhost)
$(h otherca "$VALID" otherca)
$(h elsewhere "$VALID" elsewhere)
$(h revokedkey "$VALID" revokedkey)
$(h revokedca "$VALID" revokedca)
$(h viajump "$VALID" jump '' "jump = \"127.0.0.1:$SSHD_PORT\";")
$(h held_down "$HOLD" hold)
$(h held_term "$HOLD" hold)
$(h held_timeout "$HOLD" hold '' 'connect_timeout = 3;')
$(t certalg id_ed25519 '' "$(alg ecdsa-sha2-nistp256)")
$ED"
start_tunneld

check "host certificate (ed25519 CA, ed25519 key): up" wait_state valid up 30
check "... data passes" $NETIO roundtrip "$L2" 100000
check "... the verdict is logged" wait_log "host certificate of 127.0.0.1:$VALID (ID \"host1\", serial 7) signed by CA SHA256:.*, valid until" 5
check "... the fetch was a connection of its own, closed before auth" \
    grep -q "Connection closed by 127.0.0.1 port .* \[preauth\]" \
    "$WORK/sshd.VALID.log"
# the next session to that server with that key: the certificate kept,
# checked again, no second fetch (each is a connection sshd counts
# against this address)
tctl restart valid >/dev/null 2>&1
check "a new session of the tunnel: up" wait_state valid up 30
check "... checked by the certificate kept from the first" \
    wait_log "valid: host certificate of 127.0.0.1:$VALID .*(kept from an earlier session)" 5
check "... with no second fetch" \
    test "$(grep -c 'valid: fetching the host certificate' "$WORK/tunneld.log")" -eq 1
check "host certificate of an ECDSA host key: up" wait_state valid_ec up 30
check "host certificate by an ECDSA CA: up" wait_state byecdsa up 30
check "host certificate by an RSA CA (rsa-sha2-512): up" \
    wait_state byrsa up 30
fails() {	# name what...: failed, and the error says each what
	n=$1; shift
	wait_state "$n" failed 10 || { diag "$n: $(json_get "$n" "t['state']")"; return 1; }
	err=$(json_get "$n" "t['last_error']")
	diag "$err"
	says "$err" "$@"
}
check "expired host certificate: failed, says so" fails expired \
    "host certificate of [127.0.0.1]:$EXPIRED" "of $WORK/kh.expired:1)" \
    'refused: expired'
check "host certificate not yet valid: failed, says so" fails future \
    'refused: not yet valid'
check "host certificate for another name: failed, says so" fails principal \
    "host certificate of [localhost]:$VALID" 'not among its principals'
check "host certificate of another CA: failed, names the line" fails otherca \
    'no @cert-authority line trusts' "$WORK/kh.otherca:1"
check "CA trusted for other hosts only: failed, names the line" \
    fails elsewhere 'for other hosts only' "$WORK/kh.elsewhere:2"
check "revoked host key: failed, names the line" fails revokedkey \
    '@revoked' "$WORK/kh.revokedkey:2"
check "revoked CA: failed, names the line" fails revokedca \
    'its CA key' '@revoked' "$WORK/kh.revokedca:2"
check "a server without a host certificate: failed, says so" fails nocert \
    'the server offers no host certificate (its HostCertificate lines)'
check "through a jump host: failed, says direct connections only" \
    fails viajump "host key for [127.0.0.1]:$VALID is unknown" \
    'on direct connections only, not through a jump host'
check "a fetch that gets no answer: the session waits, idle" \
    wait_log "held_down: fetching the host certificate" 10
held_down() { tctl down held_down >/dev/null && wait_state held_down down 10; }
check "... tunnel down meanwhile: down" held_down
check "... bounded by connect_timeout, which says so" wait_state \
    held_timeout backoff 15
err=$(json_get held_timeout "t['last_error']")
diag "$err"
check "... the error says what timed out" says "$err" \
    "timed out after 3s while fetching the host certificate from 127.0.0.1:$HOLD"
check "... still waiting at SIGTERM (freed: no leak report)" \
    wait_log "held_term: fetching the host certificate" 1
down() { wait_state "$1" backoff 10 || wait_state "$1" failed 1; }
check "an ECDSA certificate host key algorithm: not up (libssh2 can't)" \
    down certalg
diag "$(json_get certalg "t['last_error']")"
if [ -n "$ED" ]; then
	check "an ed25519 certificate host key algorithm: not up" down \
	    certalg_ed
	diag "$(json_get certalg_ed "t['last_error']")"
fi
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
