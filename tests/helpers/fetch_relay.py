"""fetch_relay.py PORT hold|forge [CERT] - a relay to the sshd on PORT
that answers tunneld's host certificate fetch itself (the fetch is known by
its identification, "SSH-2.0-tunneld_..."); every other connection goes
through to the sshd.  Prints the port it listens on, then a line for each
fetch it answered.

  hold          the fetch gets no word at all: the connection is held open
  forge CERT    the fetch gets CERT (an OpenSSH *-cert.pub) as the server's
                host key, its CA signature broken by one flipped bit, in a
                key exchange reply whose own signature is nonsense
"""
import base64
import os
import socket
import struct
import sys
import threading

upstream = int(sys.argv[1])
mode = sys.argv[2]
held = []


def s(b):
    return struct.pack(">I", len(b)) + b


def packet(payload):
    pad = 8 - (len(payload) + 5) % 8
    if pad < 4:
        pad += 8
    return struct.pack(">IB", len(payload) + pad + 1, pad) + payload + \
        bytes(pad)


def forged_reply(path):
    cert = bytearray(base64.b64decode(open(path).read().split()[1]))
    cert[-1] ^= 0xff            # the CA signature no longer verifies
    kexinit = bytes([20]) + os.urandom(16) + b"".join(s(x) for x in (
        b"curve25519-sha256", b"ssh-ed25519-cert-v01@openssh.com",
        b"aes128-ctr", b"aes128-ctr", b"hmac-sha2-256", b"hmac-sha2-256",
        b"none", b"none", b"", b"")) + bytes(5)
    reply = bytes([31]) + s(bytes(cert)) + s(os.urandom(32)) + s(b"sig")
    return packet(kexinit), packet(reply)


def pipe(a, b):
    while True:
        d = a.recv(65536)
        if not d:
            break
        b.sendall(d)
    b.shutdown(socket.SHUT_WR)


def fetch(c):
    if mode == "hold":
        held.append(c)
        print("held", flush=True)
        return
    kexinit, reply = forged
    c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" + kexinit)
    c.recv(65536)               # its KEXINIT and ECDH_INIT
    c.sendall(reply)
    print("forged", flush=True)
    c.recv(65536)


def handle(c):
    line = b""
    while not line.endswith(b"\n"):
        d = c.recv(1)
        if not d:
            return
        line += d
    if line.startswith(b"SSH-2.0-tunneld_"):
        fetch(c)
        return
    u = socket.create_connection(("127.0.0.1", upstream))
    u.sendall(line)
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
    pipe(c, u)


forged = forged_reply(sys.argv[3]) if mode == "forge" else None
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print(listener.getsockname()[1], flush=True)
while True:
    threading.Thread(target=handle, args=(listener.accept()[0],),
                     daemon=True).start()
