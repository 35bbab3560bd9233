#!/usr/bin/env python3
"""hostile_sshd.py - an SSH server that says what a hostile one would.

Just enough of the transport (RFC 4253) for libssh2 to get to user
authentication: curve25519-sha256, ssh-ed25519, aes128-ctr, hmac-sha2-256.
It accepts the ssh-userauth service and answers every authentication
request with USERAUTH_FAILURE carrying the methods given (hex, so any byte
can be sent): what a server may put in that name-list is up to it.

    hostile_sshd.py METHODS_HEX KNOWN_HOSTS_FILE [KEY_ID_HEX]

Prints its port; writes "[127.0.0.1]:PORT ssh-ed25519 KEY" to
KNOWN_HOSTS_FILE.  With KEY_ID_HEX, the file holds instead a
@cert-authority line for a CA of its own, and a client that asks for a
host certificate (ssh-keyscan -c, tunneld's certscan.c) gets one of its
host key with that key ID, naming that CA, whose signature is garbage.
Needs the cryptography module (Debian: python3-cryptography); exits 77
without it.
"""
import base64
import hashlib
import hmac
import os
import socket
import struct
import sys
import threading

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import \
        Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import \
        X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, \
        modes
    from cryptography.hazmat.primitives.serialization import Encoding, \
        PublicFormat
except ImportError:
    sys.exit(77)

VERSION = b"SSH-2.0-hostile_sshd"


def u32(n):
    return struct.pack(">I", n)


def sstr(b):
    return u32(len(b)) + b


def mpint(b):
    b = b.lstrip(b"\0")
    if b and b[0] & 0x80:
        b = b"\0" + b
    return sstr(b)


def namelist(*names):
    return sstr(",".join(names).encode())


class Conn:
    def __init__(self, sock, hostkey, methods, cert=None):
        self.s = sock
        self.cert = cert
        self.f = sock.makefile("rb")
        self.hostkey = hostkey
        self.methods = methods
        self.seq_in = self.seq_out = 0
        self.enc = self.dec = None

    def read(self, n):
        b = self.f.read(n)
        if len(b) != n:
            raise EOFError
        return b

    def send(self, payload):
        bs = 16 if self.enc else 8
        pad = bs - (5 + len(payload)) % bs
        if pad < 4:
            pad += bs
        pkt = u32(1 + len(payload) + pad) + bytes([pad]) + payload + \
            os.urandom(pad)
        if self.enc:
            mac = hmac.new(self.mac_out, u32(self.seq_out) + pkt,
                           hashlib.sha256).digest()
            pkt = self.enc.update(pkt) + mac
        self.s.sendall(pkt)
        self.seq_out = (self.seq_out + 1) & 0xffffffff

    def recv(self):
        first = self.read(16 if self.dec else 8)
        if self.dec:
            first = self.dec.update(first)
        plen = struct.unpack(">I", first[:4])[0]
        if plen > 35000:
            raise EOFError
        rest = self.read(plen + 4 - len(first))
        if self.dec:
            rest = self.dec.update(rest)
            mac = self.read(32)
            want = hmac.new(self.mac_in, u32(self.seq_in) + first + rest,
                            hashlib.sha256).digest()
            if not hmac.compare_digest(mac, want):
                raise EOFError
        self.seq_in = (self.seq_in + 1) & 0xffffffff
        pkt = first + rest
        return pkt[5:4 + plen - pkt[4]]

    def recv_msg(self):
        while True:
            p = self.recv()
            if p[0] in (2, 4):          # IGNORE, DEBUG
                continue
            return p

    def kex(self, v_c):
        kexinit = bytes([20]) + os.urandom(16) + \
            namelist("curve25519-sha256", "curve25519-sha256@libssh.org") + \
            namelist("ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com") + \
            namelist("aes128-ctr") + namelist("aes128-ctr") + \
            namelist("hmac-sha2-256") + namelist("hmac-sha2-256") + \
            namelist("none") + namelist("none") + \
            namelist() + namelist() + b"\0" + u32(0)
        self.send(kexinit)
        i_c = self.recv_msg()
        if i_c[0] != 20:
            raise EOFError
        init = self.recv_msg()
        if init[0] != 30:
            raise EOFError
        q_c = init[5:5 + struct.unpack(">I", init[1:5])[0]]
        eph = X25519PrivateKey.generate()
        q_s = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        k = eph.exchange(X25519PublicKey.from_public_bytes(q_c))
        pub = self.hostkey.public_key().public_bytes(Encoding.Raw,
                                                     PublicFormat.Raw)
        k_s = sstr(b"ssh-ed25519") + sstr(pub)
        hk = i_c[17:]
        hk = hk[4 + struct.unpack(">I", hk[:4])[0]:]
        hk = hk[4:4 + struct.unpack(">I", hk[:4])[0]]
        if self.cert is not None and b"-cert-v01@openssh.com" in hk:
            k_s = self.cert
        kk = mpint(k)
        h = hashlib.sha256(sstr(v_c) + sstr(VERSION) + sstr(i_c) +
                           sstr(kexinit) + sstr(k_s) + sstr(q_c) +
                           sstr(q_s) + kk).digest()
        sig = sstr(b"ssh-ed25519") + sstr(self.hostkey.sign(h))
        self.send(bytes([31]) + sstr(k_s) + sstr(q_s) + sstr(sig))
        self.send(bytes([21]))
        if self.recv_msg()[0] != 21:
            raise EOFError

        def key(c, n):
            return hashlib.sha256(kk + h + c + h).digest()[:n]
        self.enc = Cipher(algorithms.AES(key(b"D", 16)),
                          modes.CTR(key(b"B", 16))).encryptor()
        self.dec = Cipher(algorithms.AES(key(b"C", 16)),
                          modes.CTR(key(b"A", 16))).decryptor()
        self.mac_out = key(b"F", 32)
        self.mac_in = key(b"E", 32)

    def run(self):
        self.s.sendall(VERSION + b"\r\n")
        v_c = b""
        while not v_c.startswith(b"SSH-"):
            v_c = self.f.readline(256).rstrip(b"\r\n")
            if not v_c:
                raise EOFError
        self.kex(v_c)
        while True:
            p = self.recv_msg()
            if p[0] == 5:               # SERVICE_REQUEST
                self.send(bytes([6]) + p[1:])
            elif p[0] == 50:            # USERAUTH_REQUEST
                self.send(bytes([51]) + sstr(self.methods) + b"\0")
            elif p[0] == 1:             # DISCONNECT
                return
            else:
                self.send(bytes([3]) + u32(self.seq_in - 1))


def serve(c):
    try:
        c.run()
    except (EOFError, OSError):
        pass
    finally:
        c.s.close()


def ed25519_blob(key):
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return sstr(b"ssh-ed25519") + sstr(pub)


def cert_of(hostkey, ca, key_id):
    """A host certificate of hostkey naming ca, its signature garbage."""
    pub = hostkey.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    body = sstr(b"ssh-ed25519-cert-v01@openssh.com") + sstr(os.urandom(32)) + \
        sstr(pub) + struct.pack(">Q", 1) + u32(2) + sstr(key_id) + \
        sstr(sstr(b"127.0.0.1")) + struct.pack(">QQ", 0, 0xffffffffffffffff) + \
        sstr(b"") + sstr(b"") + sstr(b"") + sstr(ed25519_blob(ca))
    return body + sstr(sstr(b"ssh-ed25519") + sstr(bytes(64)))


def main():
    methods = bytes.fromhex(sys.argv[1])
    hostkey = Ed25519PrivateKey.generate()
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    port = ls.getsockname()[1]
    cert = None
    line = "[127.0.0.1]:%d ssh-ed25519 %s\n" % (
        port, base64.b64encode(ed25519_blob(hostkey)).decode())
    if len(sys.argv) > 3:
        ca = Ed25519PrivateKey.generate()
        cert = cert_of(hostkey, ca, bytes.fromhex(sys.argv[3]))
        line = "@cert-authority [127.0.0.1]:%d ssh-ed25519 %s\n" % (
            port, base64.b64encode(ed25519_blob(ca)).decode())
    with open(sys.argv[2], "w") as f:
        f.write(line)
    print(port, flush=True)
    while True:
        s, _ = ls.accept()
        threading.Thread(target=serve,
                         args=(Conn(s, hostkey, methods, cert),),
                         daemon=True).start()


if __name__ == "__main__":
    main()
