#!/usr/bin/env python3
"""netio.py - the network ends of tunneld's integration tests (loopback only).

servers (print the chosen port on stdout, then serve until killed):
  echo                 echo every byte back; echo EOF as EOF
  halfclose            read until EOF, then answer "got N <sha256>" and close
  refuse               print a port on which nothing listens
  stall                accept and never read
  flood                accept and send without end
  reject [N]           read N bytes (1000), then close (the rest unread: a reset),
                       as a server refusing an upload does
clients (exit 0 on success, print what went wrong otherwise):
  roundtrip PORT BYTES          send random bytes, read the echo, compare
  concurrent PORT N BYTES       N roundtrips at once
  halfclose PORT BYTES          send, shut down writing, read the answer
  closed PORT                   expect the connection to be closed at once
  push PORT SECONDS             send into a stalled peer; print bytes taken
  upload PORT BYTES SECONDS     send BYTES; succeed once the far end ended
                                the connection (a reset, or an EOF read),
                                fail if it is still open after SECONDS
  reset PORT SECONDS            connect, wait, then reset the connection
                                (SO_LINGER 0); "# connected" at once
  idle PORT SECONDS             connect to a flood ("# connected"), read
                                nothing, then close
  rss PID                       print the resident set size in KiB
  blast PORT BYTES              send to a count server; print seconds taken
  drain PORT BYTES              ask a source server for BYTES; print seconds taken
  socks PORT VER HOST DPORT [CMD]
                                SOCKS request (VER 4, 4a or 5; CMD connect,
                                bind or udp): print the reply code in hex
  socks-roundtrip PORT VER HOST DPORT BYTES
                                a roundtrip to an echo server through SOCKS
  chat PORT SECONDS             one connection: a small echo every 0.2 s;
                                "# connected" once the first came back
  garbage PORT SECONDS          send junk, expect to be dropped in time
  stalled PORT SECONDS          send nothing, expect to be dropped in time
servers for benchmarks:
  count                read until EOF, answer the byte count
  source               read a byte count (a line), send that many, close
also:
  echo-unix PATH       the echo server on a UNIX socket
  http DIR             serve DIR over HTTP
  events CTL READY     follow tunneld's state changes on control socket CTL:
                       write READY once subscribed, then print one line per
                       change, "TIME TUNNEL OLD NEW REASON" (TIME on arrival)
  reserve port|subnet LOCKDIR PID
                       reserve a TCP port below the ephemeral range, free on
                       every address (or a number for 10.199.N.0/30) for
                       process PID, against every other test on this machine
                       (LOCKDIR/port-N/pid; a dead owner's entry is taken
                       over); print "port-N" or "subnet-N"
A PORT that contains a '/' is a UNIX socket path.
"""
import hashlib, os, socket, sys, threading

HOST = "127.0.0.1"

def listen():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, 0))
    s.listen(512)
    print(s.getsockname()[1], flush=True)
    return s

def serve(handler):
    s = listen()
    while True:
        c, _ = s.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()

def echo_handler(c):
    try:
        while True:
            d = c.recv(65536)
            if not d:
                c.shutdown(socket.SHUT_WR)
                break
            c.sendall(d)
    except OSError:
        pass
    finally:
        c.close()

def halfclose_handler(c):
    h, n = hashlib.sha256(), 0
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            h.update(d)
            n += len(d)
        c.sendall(("got %d %s\n" % (n, h.hexdigest())).encode())
    except OSError:
        pass
    finally:
        c.close()

def connect(port, timeout=60):
    if "/" in str(port):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(timeout)
        c.connect(port)
        return c
    c = socket.create_connection((HOST, int(port)), timeout=timeout)
    return c

def recv_exact(c, n):
    d = b""
    while len(d) < n:
        k = c.recv(n - len(d))
        if not k:
            raise EOFError("connection closed after %d of %d bytes" % (len(d), n))
        d += k
    return d

def socks_connect(port, ver, host, dport, cmd="connect"):
    """Returns (socket, reply code); code 0 (v5) or 0x5a (v4) is success."""
    c = connect(port, timeout=20)
    code = {"connect": 1, "bind": 2, "udp": 3}[cmd]
    dport = int(dport)
    if ver in ("4", "4a"):
        if ver == "4":
            addr, tail = socket.inet_aton(host), b""
        else:
            addr, tail = b"\0\0\0\1", host.encode() + b"\0"
        c.sendall(bytes([4, code]) + dport.to_bytes(2, "big") + addr + b"user\0" + tail)
        r = recv_exact(c, 8)
        return c, r[1]
    c.sendall(b"\x05\x01\x00")
    if recv_exact(c, 2) != b"\x05\x00":
        raise EOFError("no SOCKS5 method agreed")
    try:
        a = b"\x01" + socket.inet_pton(socket.AF_INET, host)
    except OSError:
        try:
            a = b"\x04" + socket.inet_pton(socket.AF_INET6, host)
        except OSError:
            a = b"\x03" + bytes([len(host)]) + host.encode()
    c.sendall(bytes([5, code, 0]) + a + dport.to_bytes(2, "big"))
    r = recv_exact(c, 10)
    return c, r[1]

def expect_dropped(c, secs, junk=False):
    import time
    t0 = time.monotonic()
    c.settimeout(secs + 5)
    try:
        if junk:
            c.sendall(os.urandom(300))
        while True:
            d = c.recv(4096)
            if not d:
                break
    except ConnectionResetError:
        pass
    except socket.timeout:
        print("still connected after %.1f s" % (time.monotonic() - t0))
        sys.exit(1)
    dt = time.monotonic() - t0
    if dt > secs:
        print("dropped only after %.1f s" % dt)
        sys.exit(1)
    print("# dropped after %.2f s" % dt)

def roundtrip(port, size, c=None):
    data = os.urandom(size)
    if c is None:
        c = connect(port)
    err = []
    def sender():
        try:
            view = memoryview(data)
            while view:
                n = c.send(view[:65536])
                view = view[n:]
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)
    t = threading.Thread(target=sender)
    t.start()
    h, n = hashlib.sha256(), 0
    while True:
        d = c.recv(262144)
        if not d:
            break
        h.update(d)
        n += len(d)
    t.join()
    c.close()
    if err:
        return "send failed: %s" % err[0]
    if n != size or h.digest() != hashlib.sha256(data).digest():
        return "echo mismatch: sent %d bytes, got %d back" % (size, n)
    return None

def port_is_free(p):
    """Free on every IPv4 and IPv6 address (no SO_REUSEADDR: TIME_WAIT too)."""
    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            s = socket.socket(fam, socket.SOCK_STREAM)
        except OSError:
            continue                # no IPv6 here
        try:
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, p))
        except OSError as e:
            if fam == socket.AF_INET6 and e.errno == 99:   # EADDRNOTAVAIL
                continue
            return False
        finally:
            s.close()
    return True

def reserve(kind, lockdir, owner):
    """mkdir is the lock: atomic, shared by every suite on the machine."""
    import random
    os.makedirs(lockdir, exist_ok=True)
    if kind == "port":
        lo, hi = 20000, int(open("/proc/sys/net/ipv4/ip_local_port_range")
                            .read().split()[0]) - 1
    else:
        lo, hi = 1, 250
    for _ in range(4 * (hi - lo + 1)):
        n = random.randint(lo, hi)
        path = os.path.join(lockdir, "%s-%d" % (kind, n))
        try:
            os.mkdir(path)
        except FileExistsError:
            try:
                pid = int(open(os.path.join(path, "pid")).read())
                os.kill(pid, 0)
                continue            # held
            except ProcessLookupError:
                pass                # its owner is gone: take it over
            except (OSError, ValueError):
                continue            # being created, or not ours to judge
            stale = "%s.stale.%d" % (path, os.getpid())
            try:
                os.rename(path, stale)      # only one taker wins
            except OSError:
                continue
            import shutil
            shutil.rmtree(stale, ignore_errors=True)
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
        if kind == "port" and not port_is_free(n):
            os.rmdir(path)
            continue
        with open(os.path.join(path, "pid.tmp"), "w") as f:
            f.write(owner)
        os.rename(os.path.join(path, "pid.tmp"), os.path.join(path, "pid"))
        print("%s-%d" % (kind, n))
        return
    print("nothing free in %d..%d" % (lo, hi), file=sys.stderr)
    sys.exit(1)

def follow_events(ctl, ready):
    import json, time
    c = connect(ctl, timeout=None)
    f = c.makefile("rb")
    c.sendall(b'{"cmd":"events"}\n')
    r = json.loads(f.readline())
    if not r.get("ok"):
        print("events refused: %r" % r, file=sys.stderr)
        sys.exit(1)
    with open(ready, "w") as w:
        w.write("ready\n")
    for line in f:
        t = time.time()
        e = json.loads(line)
        if e.get("event") != "state":
            continue
        print("%.3f %s %s %s %s" % (t, e["tunnel"], e["old"], e["new"],
                                    e.get("reason") or ""), flush=True)
    print("events: tunneld closed the connection", file=sys.stderr)

def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "echo":
        serve(echo_handler)
    elif mode == "halfclose":
        serve(halfclose_handler)
    elif mode == "echo-unix":
        try:
            os.unlink(args[0])
        except OSError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(args[0])
        s.listen(64)
        print(args[0], flush=True)
        while True:
            c, _ = s.accept()
            threading.Thread(target=echo_handler, args=(c,), daemon=True).start()
    elif mode == "http":
        import functools, http.server
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass
        h = functools.partial(Quiet, directory=args[0])
        srv = http.server.ThreadingHTTPServer((HOST, 0), h)
        print(srv.server_address[1], flush=True)
        srv.serve_forever()
    elif mode == "socks":
        try:
            c, code = socks_connect(*args)
        except (OSError, EOFError) as e:
            print("error: %s" % e)
            sys.exit(1)
        print("%02x" % code)
    elif mode == "socks-roundtrip":
        c, code = socks_connect(args[0], args[1], args[2], args[3])
        if code not in (0, 0x5a):
            print("SOCKS reply %02x" % code)
            sys.exit(1)
        e = roundtrip(None, int(args[4]), c)
        if e:
            print(e)
            sys.exit(1)
    elif mode == "chat":
        import time
        c = connect(args[0], timeout=30)
        end, n = time.time() + float(args[1]), 0
        while time.time() < end or n == 0:
            d = os.urandom(1000)
            c.sendall(d)
            if recv_exact(c, 1000) != d:
                print("echo mismatch")
                sys.exit(1)
            if n == 0:
                print("# connected", flush=True)
            n += 1
            time.sleep(0.2)
        print("# %d exchanges" % n)
    elif mode == "garbage":
        expect_dropped(connect(args[0]), float(args[1]), junk=True)
    elif mode == "stalled":
        expect_dropped(connect(args[0]), float(args[1]))
    elif mode == "stall":
        s = listen()
        held = []
        while True:
            c, _ = s.accept()
            held.append(c)
    elif mode == "flood":
        def flood(c):
            chunk = os.urandom(65536)
            try:
                while True:
                    c.sendall(chunk)
            except OSError:
                c.close()
        serve(flood)
    elif mode == "reject":
        def reject(c):
            want = int(args[0]) if args else 1000
            try:
                while want > 0:
                    d = c.recv(want)
                    if not d:
                        break
                    want -= len(d)
            except OSError:
                pass
            c.close()
        serve(reject)
    elif mode == "upload":
        import time
        c = connect(args[0])
        left, end = int(args[1]), time.time() + float(args[2])
        chunk = os.urandom(65536)
        c.setblocking(False)
        try:
            while time.time() < end:
                try:
                    if left > 0:
                        left -= c.send(chunk[:min(left, len(chunk))])
                    elif not c.recv(65536):
                        print("# EOF after all was sent")
                        sys.exit(0)
                except BlockingIOError:
                    time.sleep(0.01)
                    try:
                        if c.recv(65536) == b"":
                            print("# EOF with %d bytes left" % left)
                            sys.exit(0)
                    except BlockingIOError:
                        pass
        except OSError as e:
            print("# ended: %s, %d bytes left" % (e, left))
            sys.exit(0)
        print("still open after %s s, %d bytes left" % (args[2], left))
        sys.exit(1)
    elif mode == "reset":
        # reset ADDR SECONDS|FILE: after that long, or once FILE exists
        import struct, time
        c = connect(args[0])
        print("# connected", flush=True)
        try:
            time.sleep(float(args[1]))
        except ValueError:
            end = time.time() + 120
            while not os.path.exists(args[1]) and time.time() < end:
                time.sleep(0.05)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    elif mode == "push":
        import struct, time
        c = connect(args[0])
        c.setblocking(False)
        chunk, sent, end = os.urandom(65536), 0, time.time() + float(args[1])
        while time.time() < end:
            try:
                sent += c.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
        print(sent)
        if len(args) > 2 and args[2] == "reset":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        c.close()
    elif mode == "idle":
        import time
        c = connect(args[0])
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        print("# connected", flush=True)
        time.sleep(float(args[1]))
        c.close()
    elif mode == "rss":
        for line in open("/proc/%s/status" % args[0]):
            if line.startswith("VmRSS:"):
                print(line.split()[1])
    elif mode == "count":
        def count(c):
            n = 0
            buf = bytearray(1 << 20)
            try:
                while True:
                    k = c.recv_into(buf)
                    if not k:
                        break
                    n += k
                c.sendall(b"%d\n" % n)
            except OSError:
                pass
            c.close()
        serve(count)
    elif mode == "source":
        def source(c):
            chunk = memoryview(os.urandom(1 << 20))
            try:
                left = int(c.makefile().readline())
                while left > 0:
                    left -= c.send(chunk[:min(left, len(chunk))])
                c.shutdown(socket.SHUT_WR)
            except (OSError, ValueError):
                pass
            c.close()
        serve(source)
    elif mode == "blast":
        import time
        size = int(args[1])
        chunk = memoryview(os.urandom(1 << 20))
        c = connect(args[0], timeout=600)
        t0, left = time.monotonic(), size
        while left > 0:
            left -= c.send(chunk[:min(left, len(chunk))])
        c.shutdown(socket.SHUT_WR)
        reply = c.makefile().readline()
        dt = time.monotonic() - t0
        if int(reply) != size:
            print("sink got %s of %d bytes" % (reply.strip(), size))
            sys.exit(1)
        print("%.4f" % dt)
    elif mode == "drain":
        # the other way from blast: ask a source server for SIZE bytes,
        # read them to its EOF, print the seconds it took
        import time
        size = int(args[1])
        c = connect(args[0], timeout=600)
        buf = bytearray(1 << 20)
        t0, got = time.monotonic(), 0
        c.sendall(b"%d\n" % size)
        while True:
            k = c.recv_into(buf)
            if not k:
                break
            got += k
        dt = time.monotonic() - t0
        if got != size:
            print("got %d of %d bytes" % (got, size))
            sys.exit(1)
        print("%.4f" % dt)
    elif mode == "refuse":
        s = socket.socket()
        s.bind((HOST, 0))
        print(s.getsockname()[1], flush=True)
        s.close()
    elif mode == "roundtrip":
        e = roundtrip(args[0], int(args[1]))
        if e:
            print(e)
            sys.exit(1)
    elif mode == "concurrent":
        port, n, size = args[0], int(args[1]), int(args[2])
        errors = []
        def one():
            try:
                e = roundtrip(port, size)
            except OSError as ex:
                e = str(ex)
            if e:
                errors.append(e)
        ts = [threading.Thread(target=one) for _ in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            print("%d of %d failed; first: %s" % (len(errors), n, errors[0]))
            sys.exit(1)
    elif mode == "halfclose-client":
        port, size = args[0], int(args[1])
        data = os.urandom(size)
        c = connect(port)
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        reply = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            reply += d
        want = "got %d %s\n" % (size, hashlib.sha256(data).hexdigest())
        if reply.decode(errors="replace") != want:
            print("answer %r, wanted %r" % (reply, want))
            sys.exit(1)
    elif mode == "closed":
        import time
        c = connect(args[0], timeout=15)
        t0 = time.monotonic()
        try:
            d = c.recv(1)
        except ConnectionResetError:
            d = b""
        if d:
            print("got data on a connection that should close")
            sys.exit(1)
        print("# closed after %.2f s" % (time.monotonic() - t0))
    elif mode == "events":
        follow_events(args[0], args[1])
    elif mode == "reserve":
        reserve(args[0], args[1], args[2])
    else:
        print(__doc__)
        sys.exit(2)

if __name__ == "__main__":
    main()
