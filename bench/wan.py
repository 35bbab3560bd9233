#!/usr/bin/env python3
"""wan.py - tunneld next to `ssh -L/-D` over a link with a round trip.

Started by bench/wan.sh, which provides a real sshd on loopback, the
servers and bench/delay_relay (environment as for bench.py, plus RELAY,
RTTS and SIZE).  For each round trip in RTTS (ms) a delay_relay that delays
every byte by RTT/2 each way is put between the clients and sshd; tunneld
(one tunnel: -L to a source and to a sink, -D) and one `ssh -N -L -L -D`
go through it, runs alternating, medians of 3:

  burst of 32 through -L     32 clients at once, each fetching 16 KiB
  burst of 32 through SOCKS  the same through -D (SOCKS5), like a browser
  first byte                 one new connection, request to first byte
  download, upload           one connection, MB/s

RTT 0 first: the relay with no delay against a direct connection, so the
relay is seen not to be the bottleneck.  After each figure, what bounds it
at that round trip (opens in flight, window per round trip).  Nothing is
asserted.
"""
import json, math, os, re, socket, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench                                            # noqa: E402
from bench import E, WORK, QUICK, KEY, KH, free_ports, wait_port, row, \
    median_alternating, upload, download, parallel    # noqa: E402

RUNS = 1 if QUICK else 3
CEILING = 0     # tunneld's download through the relay at 0 ms, MB/s
BURST, FETCH = 32, 16384
SIZE = int(E.get("SIZE") or ((16 if QUICK else 64) << 20))
SESSIONS = E.get("SESSIONS") or ""     # tunneld's sessions; "": its default


class Relay:
    def __init__(self, delay_ms, target=None):
        self.p = subprocess.Popen([E["RELAY"], "-d", "%g" % delay_ms,
                                   str(target or bench.SSHD_PORT)],
                                  stdout=subprocess.PIPE, text=True)
        self.port = int(self.p.stdout.readline().split()[1])
        # known_hosts as ssh records a server on another port
        key = open(os.path.join(WORK, "host_ed25519.pub")).read().split()[:2]
        with open(KH, "a") as f:
            f.write("[127.0.0.1]:%d %s\n" % (self.port, " ".join(key)))

    def stop(self):
        self.p.terminate(); self.p.wait()


class Tunneld(bench.Tunneld):
    """one tunnel through port: -L to the source and the sink, and -D;
    its log at debug level, for what the receive windows did"""
    def __init__(self, port, fwd_src, fwd_sink, dyn):
        self.conf = os.path.join(WORK, "wan-%d.conf" % port)
        self.sock = os.path.join(WORK, "wan-%d.sock" % port)
        self.log = os.path.join(WORK, "wan-%d.log" % port)
        open(self.conf, "w").write(
            'control_socket = "%s";\nlog_level = "debug";\n'
            'tunnels = { wan = { host = "127.0.0.1"; port = %d; user = "%s";'
            ' identity_file = "%s"; known_hosts = "%s";\n'
            '  local = [ "%d:127.0.0.1:%d", "%d:127.0.0.1:%d" ];'
            ' dynamic = [ "%d" ];%s }; };\n' %
            (self.sock, port, E.get("USER", "root"), KEY, KH, fwd_src,
             bench.SOURCE, fwd_sink, bench.SINK, dyn,
             " sessions = %s;" % SESSIONS if SESSIONS else ""))
        self.n = 1

    def start(self):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen([E["TUNNELD"], "-c", self.conf],
                                  stderr=open(self.log, "w"))
        return self

    def sessions(self):
        """how many SSH sessions the tunnel has now (tunnelctl status)"""
        out = subprocess.run([E["TUNNELCTL"], "-s", self.sock, "--json",
                              "status", "wan"], capture_output=True,
                             text=True).stdout
        try:
            return max(1, len(json.loads(out)["tunnels"][0]["sessions"]))
        except (ValueError, KeyError, IndexError):
            return 1

    def windows(self):
        """the largest receive window reached, in KiB, and how many times
        one grew, from the debug lines of ssh/window.c"""
        top, n = 0, 0
        for l in open(self.log, errors="replace"):
            m = re.search(r"receive window (\d+) KiB -> (\d+) KiB", l)
            if m:
                top = max(top, int(m.group(2)))
                n += int(m.group(2)) > int(m.group(1))
        return top, n


def ssh_client(port, fwd_src, fwd_sink, dyn):
    cmd = [E["SSH"], "-N", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=" + KH,
           "-o", "Ciphers=" + E["CIPHER"], "-o", "MACs=" + E["MAC"],
           "-o", "ExitOnForwardFailure=yes", "-i", KEY, "-p", str(port),
           "-L", "%d:127.0.0.1:%d" % (fwd_src, bench.SOURCE),
           "-L", "%d:127.0.0.1:%d" % (fwd_sink, bench.SINK),
           "-D", "127.0.0.1:%d" % dyn, "127.0.0.1"]
    p = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    for q in (fwd_src, fwd_sink, dyn):
        wait_port(q)
    return p


def recv_exact(c, n):
    d = b""
    while len(d) < n:
        k = c.recv(n - len(d))
        if not k:
            raise SystemExit("connection closed after %d of %d bytes" % (len(d), n))
        d += k
    return d


def socks5(port):
    """a connection to the source through the SOCKS5 listener at port"""
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(b"\x05\x01\x00")
    if recv_exact(c, 2) != b"\x05\x00":
        raise SystemExit("SOCKS5: no method agreed")
    c.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") +
              bench.SOURCE.to_bytes(2, "big"))
    r = recv_exact(c, 10)
    if r[1] != 0:
        raise SystemExit("SOCKS5: reply %d" % r[1])
    return c


def fetch(port, socks=False, n=FETCH):
    """n bytes from the source; returns (seconds to first byte, to the end)"""
    t0 = time.monotonic()
    if socks:
        c = socks5(port)
    else:
        c = socket.create_connection(("127.0.0.1", port))
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(b"%d\n" % n)
    got, first = 0, None
    while True:
        k = len(c.recv(65536))
        if not k:
            break
        if first is None:
            first = time.monotonic() - t0
        got += k
    c.close()
    if got != n:
        raise SystemExit("fetched %d of %d bytes" % (got, n))
    return first, time.monotonic() - t0


def burst(port, socks):
    return parallel(lambda: fetch(port, socks), [()] * BURST) * 1000


def bursts(port_t, port_s, socks):
    """medians of alternating bursts; each run shown, since tunneld's first
    burst after a quiet time also sets up its extra sessions"""
    a, b = [], []
    for _ in range(RUNS):
        a.append(burst(port_t, socks)); b.append(burst(port_s, socks))
    print("#   runs (ms): tunneld %s; ssh %s" % (
        " ".join("%.0f" % x for x in a), " ".join("%.0f" % x for x in b)))
    return statistics.median(a), statistics.median(b)


def relay_check():
    """the relay with no delay against a direct connection (ssh and tunneld)"""
    global CEILING
    print("# relay check: delay_relay -d 0 against a direct connection, "
          "download of %d MiB" % (SIZE >> 20), flush=True)
    relay = Relay(0, bench.SOURCE)
    d = statistics.median(SIZE / 1e6 / download(bench.SOURCE, SIZE) for _ in range(RUNS))
    r = statistics.median(SIZE / 1e6 / download(relay.port, SIZE) for _ in range(RUNS))
    relay.stop()
    print("%-44s %10.2f %10.2f %7.2f  (relay/direct)" % (
        "relay 0 ms vs direct, plain TCP (MB/s)", r, d, r / d), flush=True)
    relay = Relay(0)
    for name in ("ssh", "tunneld"):
        res = {}
        for label, port in (("direct", bench.SSHD_PORT), ("relay", relay.port)):
            fs, fk, dy = free_ports(3)
            if name == "ssh":
                p = ssh_client(port, fs, fk, dy)
            else:
                p = Tunneld(port, fs, fk, dy).start(); p.wait_up()
            res[label] = statistics.median(
                SIZE / 1e6 / download(fs, SIZE) for _ in range(RUNS))
            if name == "ssh":
                p.terminate(); p.wait()
            else:
                p.stop()
        if name == "tunneld":
            CEILING = res["relay"]
        print("%-44s %10.2f %10.2f %7.2f  (relay/direct)" % (
            "relay 0 ms vs direct, %s download (MB/s)" % name, res["relay"],
            res["direct"], res["relay"] / res["direct"]), flush=True)
    relay.stop()


def at_rtt(rtt):
    relay = Relay(rtt / 2)
    lt = free_ports(3); ls = free_ports(3)
    td = Tunneld(relay.port, *lt).start(); td.wait_up()
    sp = ssh_client(relay.port, *ls)
    tag = "RTT %g ms, " % rtt
    mb = SIZE / 1e6
    fetch(lt[0]); fetch(ls[0])                  # both sessions warm

    t, s = bursts(lt[0], ls[0], False)
    row(tag + "%d x %d KiB through -L" % (BURST, FETCH >> 10), "ms", t, s, "lower")
    n = td.sessions()
    print("#   bound: one channel open in flight per SSH session, %d "
          "session(s) used: %d opens >= %d round trips = %.0f ms"
          % (n, BURST, math.ceil(BURST / n), math.ceil(BURST / n) * rtt))
    t, s = bursts(lt[2], ls[2], True)
    row(tag + "%d x %d KiB through SOCKS" % (BURST, FETCH >> 10), "ms", t, s, "lower")
    t, s = median_alternating(lambda: fetch(lt[0], n=1)[0] * 1000,
                              lambda: fetch(ls[0], n=1)[0] * 1000, RUNS)
    row(tag + "first byte, one connection", "ms", t, s, "lower")
    print("#   bound: channel open + request + answer = 2 round trips = %.0f ms"
          % (2 * rtt))
    t, s = median_alternating(lambda: mb / download(lt[0], SIZE),
                              lambda: mb / download(ls[0], SIZE), RUNS)
    row(tag + "download, one connection", "MB/s", t, s, "higher")
    top, n = td.windows()
    print("#   bound: a window of W per round trip: 2 MiB (ssh's) -> %.1f MB/s;"
          " tunneld's grew %d times, to %.1f MiB at most -> %.1f MB/s"
          % (2 * 1048576 / rtt / 1e3, n, top / 1024, top * 1024 / rtt / 1e3))
    if top > 2048:
        k = max(1, round(math.log2(top / 2048)))
        print("#   bound: growing from 2 MiB doubles once per round trip at"
              " most: %d round trips (%.0f ms) in which %d MiB move, of %d"
              % (k, k * rtt, 2 * (2 ** k - 1), SIZE >> 20))
    if CEILING:
        print("#   bound: tunneld without delay (relay check): %.1f MB/s"
              % CEILING)
    t, s = median_alternating(lambda: mb / upload(lt[1], SIZE),
                              lambda: mb / upload(ls[1], SIZE), RUNS)
    row(tag + "upload, one connection", "MB/s", t, s, "higher")
    print("#   bound: sshd's window (OpenSSH: 2 MiB) per round trip = %.1f MB/s"
          % (2 * 1048576 / rtt / 1e3), flush=True)
    td.stop(); sp.terminate(); sp.wait(); relay.stop()


def main():
    print("# load: %s" % open("/proc/loadavg").read().strip())
    print("%-44s %10s %10s %7s  %s" % ("metric", "tunneld", "ssh", "ratio", "better"))
    rtts = [float(x) for x in (E.get("RTTS") or "50,200").split(",") if x]
    if 0 in rtts:
        relay_check()
        rtts = [x for x in rtts if x]
    for rtt in rtts:
        at_rtt(rtt)
    print("# load: %s" % open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
