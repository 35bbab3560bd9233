#!/bin/sh
# The host certificate fetch refused by a busy server is a network failure,
# retried with the backoff, never a bad host key.  sshd with MaxStartups 1
# drops every connection beyond the first not yet authenticated: the
# session waiting for its fetch is that first one, so the fetch is closed
# at once ("Exceeded MaxStartups").  The tunnel must retry (backoff, not
# failed), and come up by itself once the server takes more connections.
. "$(dirname "$0")/lib.sh"

$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/host_ca" -C host-ca || bail keygen
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/host_ed25519" || bail keygen
$SSH_KEYGEN -q -t ecdsa -N '' -f "$WORK/host_ecdsa" || bail keygen
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/id_ed25519" || bail keygen
cp "$WORK/id_ed25519.pub" "$WORK/authorized_keys"
$SSH_KEYGEN -q -s "$WORK/host_ca" -h -I host -n 127.0.0.1 \
    "$WORK/host_ed25519.pub" || bail "host cert"
SSHD_MAXSTARTUPS=1 start_sshd "HostCertificate $WORK/host_ed25519-cert.pub"
echo "@cert-authority [127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1-2 \
    "$WORK/host_ca.pub")" > "$WORK/known_hosts"
write_conf '  busy = { host = "127.0.0.1"; };'
start_tunneld

check "the fetch is dropped by the busy server" \
    wait_log "busy: .*host certificate of .*cannot fetch it" 15
check "... the tunnel retries (backoff), it is not failed" \
    wait_state busy backoff 5
# tunneld retries with its backoff (0.2 s to 2 s): a second fetch
fetches() { [ "$(grep -c 'busy: fetching the host certificate' \
    "$WORK/tunneld.log")" -ge 2 ]; }
check "... and tries again" wait_until 10 fetches
check "... never failed" sh -c "! grep -q 'busy: .* -> failed' '$WORK/tunneld.log'"

# the server takes more connections (sshd re-reads its configuration on
# SIGHUP): the tunnel comes up on its own next attempt
sed -i 's/^MaxStartups .*/MaxStartups 200/' "$WORK/sshd_config"
kill -HUP "$SSHD_PID"
check "the server is no longer busy: the tunnel comes up by itself" \
    wait_state busy up 20
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
