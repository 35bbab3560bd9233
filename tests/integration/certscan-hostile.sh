#!/bin/sh
# The host certificate fetch answered by someone else than the server (a
# relay here: the session goes to the real sshd, the fetch gets a forged
# certificate of the server's key, "signed" by the trusted CA with a
# broken signature, whose key ID holds a newline and a syslog priority
# prefix).  The certificate is refused (its CA signature does not verify)
# and the refusal names its key ID: made printable, the forged text must
# not become a log line of its own.
. "$(dirname "$0")/lib.sh"

$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/host_ca" -C host-ca || bail keygen
start_sshd
# the server's own key, certified by the CA under a hostile key ID
cp "$WORK/host_ed25519.pub" "$WORK/forged.pub"
$SSH_KEYGEN -q -s "$WORK/host_ca" -h -n 127.0.0.1 -I "x
<2>crit: FORGED line from the certificate" "$WORK/forged.pub" ||
    bail "host cert"

$PYTHON3 "$top_srcdir/tests/helpers/fetch_relay.py" "$SSHD_PORT" forge \
    "$WORK/forged-cert.pub" > "$WORK/relay.out" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/relay.out" || bail "fetch_relay.py did not start"
RELAY=$(head -n 1 "$WORK/relay.out")
echo "@cert-authority [127.0.0.1]:$RELAY $(cut -d' ' -f1-2 \
    "$WORK/host_ca.pub")" > "$WORK/known_hosts"
write_conf "  hostile = { host = \"127.0.0.1\"; port = $RELAY; };"
start_tunneld

check "the forged certificate is refused: failed" wait_state hostile failed 15
check "... because its CA signature does not verify" \
    wait_log "refused: the CA signature does not verify" 5
check "... its key ID in the log, made printable" \
    grep -q 'ID "x?<2>crit: FORGED line' "$WORK/tunneld.log"
check "... the forged text is no log line of its own" \
    sh -c "! grep -q '^<2>crit: FORGED' '$WORK/tunneld.log'"
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
