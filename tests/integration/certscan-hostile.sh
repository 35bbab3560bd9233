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

cat > "$WORK/relay.py" <<'PY'
import base64, os, socket, struct, sys, threading
cert = bytearray(base64.b64decode(open(sys.argv[2]).read().split()[1]))
cert[-1] ^= 0xff		# the CA signature no longer verifies
def s(b): return struct.pack(">I", len(b)) + b
def packet(payload):
    pad = 8 - (len(payload) + 5) % 8
    if pad < 4: pad += 8
    return struct.pack(">IB", len(payload) + pad + 1, pad) + payload + bytes(pad)
kexinit = bytes([20]) + os.urandom(16) + b"".join(s(x) for x in (
    b"curve25519-sha256", b"ssh-ed25519-cert-v01@openssh.com",
    b"aes128-ctr", b"aes128-ctr", b"hmac-sha2-256", b"hmac-sha2-256",
    b"none", b"none", b"", b"")) + bytes(5)
reply = bytes([31]) + s(bytes(cert)) + s(os.urandom(32)) + s(b"sig")
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 0)); l.listen(16)
print(l.getsockname()[1], flush=True)
def pipe(a, b):
    while True:
        d = a.recv(65536)
        if not d: break
        b.sendall(d)
    b.shutdown(socket.SHUT_WR)
def handle(c):
    line = b""
    while not line.endswith(b"\n"):
        d = c.recv(1)
        if not d: return
        line += d
    if line.startswith(b"SSH-2.0-tunneld_"):
        c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" + packet(kexinit))
        c.recv(65536)	# its KEXINIT and ECDH_INIT
        c.sendall(packet(reply))
        c.recv(65536)
        return
    u = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    u.sendall(line)
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
    pipe(c, u)
while True:
    threading.Thread(target=handle, args=(l.accept()[0],), daemon=True).start()
PY
$PYTHON3 "$WORK/relay.py" "$SSHD_PORT" "$WORK/forged-cert.pub" \
    > "$WORK/relay.out" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/relay.out" || bail "relay.py did not start"
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
