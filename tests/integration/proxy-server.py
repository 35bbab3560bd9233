#!/usr/bin/env python3
"""proxy-server.py MODE PORTFILE LOGFILE - an upstream proxy of the test's
own on 127.0.0.1, port chosen by the kernel and written to PORTFILE once
it listens.  Each request is appended to LOGFILE as one line ("CONNECT
host:port" or "SOCKS5 host:port").

MODE:
  http           HTTP CONNECT: connects, answers 200, relays both ways
  http-403       answers "HTTP/1.1 403 Forbidden" to every CONNECT
  socks5         SOCKS5 (RFC 1928), no authentication: connects, relays
  socks5-refuse  answers reply 5 (connection refused) to every CONNECT
  socks5-auth    wants username/password: refuses the "no auth" method
  garbage        answers a line that is neither HTTP nor SOCKS5
  silent         accepts and reads, never answers
"""
import socket
import struct
import sys
import threading


def log(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")


def relay(a, b):
    def pump(src, dst):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join()
    a.close()
    b.close()


def recv_exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b


def banner(up):
    """What the server says first (an SSH server: its version line)."""
    up.settimeout(10)
    try:
        return up.recv(4096)
    finally:
        up.settimeout(None)


def http(c, mode, logfile):
    req = b""
    while b"\r\n\r\n" not in req:
        d = c.recv(1024)
        if not d:
            return
        req += d
    line = req.split(b"\r\n", 1)[0].decode()
    method, target, _ = line.split(" ", 2)
    log(logfile, "CONNECT " + target)
    if mode == "http-403":
        c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        c.close()
        return
    if mode == "http-2000":
        # four digits: not a 2xx status, whatever its first three say
        c.sendall(b"HTTP/1.1 2000 x\r\n\r\nSSH-2.0-not-the-server\r\n")
        c.recv(1024)
        c.close()
        return
    host, port = target.rsplit(":", 1)
    up = socket.create_connection((host.strip("[]"), int(port)))
    # the answer and the server's first bytes in one segment: a client
    # that reads past the answer eats the SSH server's banner
    c.sendall(b"HTTP/1.1 200 Connection established\r\n"
              b"Proxy-Agent: proxy-server.py\r\n\r\n" + banner(up))
    relay(c, up)


def socks5(c, mode, logfile):
    ver, n = recv_exact(c, 2)
    methods = recv_exact(c, n)
    if mode == "socks5-auth" or 0 not in methods:
        c.sendall(b"\x05\xff")
        c.close()
        return
    c.sendall(b"\x05\x00")
    ver, cmd, _, atyp = recv_exact(c, 4)
    if atyp == 1:
        host = socket.inet_ntop(socket.AF_INET, recv_exact(c, 4))
    elif atyp == 4:
        host = socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16))
    else:
        host = recv_exact(c, recv_exact(c, 1)[0]).decode()
    port = struct.unpack(">H", recv_exact(c, 2))[0]
    log(logfile, "SOCKS5 %s:%d" % (host, port))
    if mode == "socks5-refuse":
        # the reply code, then the close: some proxies send no more
        c.sendall(b"\x05\x05")
        c.close()
        return
    up = socket.create_connection((host, port))
    a = up.getsockname()
    c.sendall(b"\x05\x00\x00\x01" + socket.inet_aton(a[0]) +
              struct.pack(">H", a[1]) + banner(up))
    relay(c, up)


def serve(c, mode, logfile):
    try:
        if mode == "garbage":
            c.recv(1024)
            c.sendall(b"SSH-2.0-not-a-proxy\r\n")
            c.recv(1024)
        elif mode == "silent":
            while c.recv(1024):
                pass
        elif mode.startswith("http"):
            http(c, mode, logfile)
        else:
            socks5(c, mode, logfile)
    except (OSError, EOFError, ValueError):
        pass
    finally:
        c.close()


def main():
    mode, portfile, logfile = sys.argv[1:4]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    import os
    os.rename(portfile + ".tmp", portfile)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, mode, logfile),
                         daemon=True).start()


if __name__ == "__main__":
    main()
