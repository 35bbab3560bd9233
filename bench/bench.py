#!/usr/bin/env python3
"""bench.py - tunneld measured next to OpenSSH's client in the same run.

Started by bench/run.sh, which provides a real sshd on loopback and the
servers (environment: SSHD_PORT, WORK, TUNNELD, TUNNELCTL, SSH, SINK, ECHO,
SOURCE, CIPHER, MAC, QUICK).  Every figure is tunneld against `ssh -N -L`
through the same sshd, runs alternating, medians reported, with the ratio
tunneld/ssh.  CIPHER and MAC, when set, are given to both sides; empty,
each side uses its defaults (tunneld's: the fastest secure algorithms its
libssh2 offers).  What each side negotiated is printed.  Nothing is
asserted.
Writes bench/out/*.csv and, with gnuplot, bench/out/bench.png.
"""
import json, os, resource, socket, statistics, subprocess, sys, threading, time

E = os.environ
WORK, QUICK = E["WORK"], E.get("QUICK") == "1"
# bench/run.sh --only STAGE,...: a subset of single, tunnels, idle, raw, rate
STAGES = set((E.get("STAGES") or "single,tunnels,idle,raw,rate").split(","))
SSHD_PORT = int(E["SSHD_PORT"])
SINK, ECHO, SOURCE = int(E["SINK"]), int(E["ECHO"]), int(E["SOURCE"])
OUT = E["OUT"]
KEY, KH = os.path.join(WORK, "id_ed25519"), os.path.join(WORK, "known_hosts")
ROWS = []          # (metric, unit, tunneld, ssh, better)
CIPHER, MAC = E.get("CIPHER", ""), E.get("MAC", "")
NEGOTIATED = {}    # tunneld's cipher and mac, from its status


def free_ports(n):
    """n distinct ports: held open together, or the kernel repeats itself"""
    socks = []
    for _ in range(n):
        s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_port(p, t=20):
    end = time.time() + t
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", p), 1).close(); return True
        except OSError:
            time.sleep(0.02)
    return False


def rss_kib(pid):
    try:
        for l in open("/proc/%d/status" % pid):
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


class Tunneld:
    """One tunneld with n tunnels, each forwarding local ports to targets;
    extra: settings for every tunnel, or a list of them, one per tunnel."""
    def __init__(self, tunnels, extra=""):
        self.conf = os.path.join(WORK, "bench-%d.conf" % id(self))
        self.sock = os.path.join(WORK, "bench-%d.sock" % id(self))
        lines = ['control_socket = "%s";' % self.sock, "log_level = \"warning\";",
                 "defaults = { port = %d; user = \"%s\"; identity_file = \"%s\";"
                 " known_hosts = \"%s\";%s%s };" % (SSHD_PORT, os.getlogin() if False else
                 os.environ.get("USER", "root"), KEY, KH,
                 ' ciphers = "%s";' % CIPHER if CIPHER else "",
                 ' macs = "%s";' % MAC if MAC else ""), "tunnels = {"]
        for i, fw in enumerate(tunnels):
            x = extra if isinstance(extra, str) else extra[i]
            lines.append('  t%d = { host = "127.0.0.1"; local = [ %s ];%s };' %
                         (i, ", ".join('"%d:127.0.0.1:%d"' % f for f in fw),
                          " " + x if x else ""))
        lines.append("};")
        open(self.conf, "w").write("\n".join(lines) + "\n")
        self.n = len(tunnels)

    def start(self):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen([E["TUNNELD"], "-c", self.conf],
                                  stderr=open(os.path.join(WORK, "bench.tunneld.log"), "a"))
        return self

    def wait_up(self, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            if self.p.poll() is not None:
                raise SystemExit("tunneld exited with status %d (see %s)" % (
                    self.p.returncode, os.path.join(WORK, "bench.tunneld.log")))
            r = subprocess.run([E["TUNNELCTL"], "-s", self.sock, "--json", "status"],
                               capture_output=True, text=True)
            if r.returncode == 0:
                ts = json.loads(r.stdout)["tunnels"]
                if len(ts) == self.n and all(t["state"] == "up" for t in ts):
                    if not NEGOTIATED and ts[0].get("algorithms"):
                        NEGOTIATED.update(ts[0]["algorithms"])
                    return time.monotonic() - self.t0
            time.sleep(0.05)
        states = {}
        if r.returncode == 0:
            for t in json.loads(r.stdout)["tunnels"]:
                k = t["state"] + ("/" + t["phase"] if t.get("phase") else "")
                states[k] = states.get(k, 0) + 1
        raise SystemExit("tunneld: not all %d tunnels up after %ds (%s)" %
                         (self.n, timeout, ", ".join("%d %s" % (v, k) for k, v in
                                                     sorted(states.items())) or
                         "status: " + r.stderr.strip()))

    def stop(self):
        self.p.terminate(); self.p.wait()


def ssh_algorithms():
    """the ssh side's options, and what it negotiates with them (ssh -v)"""
    opts = (["-o", "Ciphers=" + CIPHER] if CIPHER else []) + \
        (["-o", "MACs=" + MAC] if MAC else [])
    return opts


def ssh_negotiated():
    r = subprocess.run([E["SSH"], "-v", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=" + KH,
                        "-i", KEY, "-p", str(SSHD_PORT)] + ssh_algorithms() +
                       ["127.0.0.1", "true"], capture_output=True, text=True)
    for l in r.stderr.splitlines():
        if "kex: client->server cipher:" in l:
            return l.split("kex: client->server ")[1].strip()
    return "unknown"


def ssh_forward(forwards):
    cmd = [E["SSH"], "-N", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=" + KH] + \
        ssh_algorithms() + \
        ["-o", "ExitOnForwardFailure=yes", "-i", KEY, "-p", str(SSHD_PORT)]
    for lp, tp in forwards:
        cmd += ["-L", "%d:127.0.0.1:%d" % (lp, tp)]
    return subprocess.Popen(cmd + ["127.0.0.1"], stderr=subprocess.DEVNULL)


# --- the measurements --------------------------------------------------------

def upload(port, nbytes):
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    chunk = memoryview(os.urandom(1 << 20)); left = nbytes
    t0 = time.monotonic()
    while left > 0:
        left -= c.send(chunk[:min(left, len(chunk))])
    c.shutdown(socket.SHUT_WR)
    got = int(c.makefile().readline())
    dt = time.monotonic() - t0
    c.close()
    assert got == nbytes, (got, nbytes)
    return dt


def download(port, nbytes):
    c = socket.create_connection(("127.0.0.1", port))
    t0 = time.monotonic()
    c.sendall(b"%d\n" % nbytes)
    buf = bytearray(1 << 20); n = 0
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        n += k
    dt = time.monotonic() - t0
    c.close()
    assert n == nbytes, (n, nbytes)
    return dt


def parallel(fn, args_list):
    res, ths = [None] * len(args_list), []
    def run(i, a):
        res[i] = fn(*a)
    for i, a in enumerate(args_list):
        ths.append(threading.Thread(target=run, args=(i, a)))
    t0 = time.monotonic()
    for t in ths: t.start()
    for t in ths: t.join()
    return time.monotonic() - t0


def conns_per_s(port, secs, conc=8):
    count = [0]; stop = time.monotonic() + secs; lock = threading.Lock()
    def worker():
        while time.monotonic() < stop:
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(b"x")
            if c.recv(1) != b"x":
                raise SystemExit("echo failed")
            c.close()
            with lock:
                count[0] += 1
    t0 = time.monotonic()
    ths = [threading.Thread(target=worker) for _ in range(conc)]
    for t in ths: t.start()
    for t in ths: t.join()
    return count[0] / (time.monotonic() - t0)


def rtts(port, n):
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg, out = os.urandom(64), []
    for _ in range(n):
        t0 = time.perf_counter()
        c.sendall(msg)
        got = b""
        while len(got) < 64:
            got += c.recv(64 - len(got))
        out.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.002)
    c.close()
    out.sort()
    return out[len(out) // 2], out[min(len(out) - 1, int(len(out) * 0.99))]


def machine_busy_s():
    """CPU seconds the whole machine has spent not idle (/proc/stat)"""
    v = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def row(metric, unit, t, s, better):
    ROWS.append((metric, unit, t, s, better))
    ratio = t / s if s else float("nan")
    print("%-44s %10.2f %10.2f %7.2f  %s" % (metric + " (" + unit + ")", t, s, ratio, better), flush=True)


def median_alternating(fn_t, fn_s, runs):
    a, b = [], []
    for _ in range(runs):
        a.append(fn_t()); b.append(fn_s())
    return statistics.median(a), statistics.median(b)


def main():
    size = (64 if QUICK else 512) << 20
    runs = 1 if QUICK else 3
    print("%-44s %10s %10s %7s  %s" % ("metric", "tunneld", "ssh", "ratio", "better"))

    if "single" in STAGES:
        single(size, runs)
    if "tunnels" in STAGES:
        busy_tunnels(size, runs)
    if "idle" in STAGES:
        idle_tunnels()
    if "raw" in STAGES:
        raw_ceiling(size, runs)
    if "rate" in STAGES:
        rate_limited(size, runs)
    print("# negotiated: tunneld cipher: %s MAC: %s; ssh %s" % (
        NEGOTIATED.get("cipher", "unknown"), NEGOTIATED.get("mac", "unknown"),
        ssh_negotiated()), flush=True)
    write_out()


def single(size, runs):
    """one tunnel, one ssh: single stream, concurrency, latency, conns/s, CPU"""
    lt_sink, lt_src, lt_echo, ls_sink, ls_src, ls_echo = free_ports(6)
    td = Tunneld([[(lt_sink, SINK), (lt_src, SOURCE), (lt_echo, ECHO)]]).start()
    td.wait_up()
    sp = ssh_forward([(ls_sink, SINK), (ls_src, SOURCE), (ls_echo, ECHO)])
    for p in (ls_sink, ls_src, ls_echo):
        wait_port(p)
    mb = size / 1048576
    c0t, c0s = cpu_s(td.p.pid), cpu_s(sp.pid)
    t, s = median_alternating(lambda: upload(lt_sink, size), lambda: upload(ls_sink, size), runs)
    row("upload, one connection", "MB/s", mb / t, mb / s, "higher")
    t, s = median_alternating(lambda: download(lt_src, size), lambda: download(ls_src, size), runs)
    row("download, one connection", "MB/s", mb / t, mb / s, "higher")
    gb = 2 * runs * size / (1 << 30)
    row("client CPU per GB", "s/GB", (cpu_s(td.p.pid) - c0t) / gb,
        (cpu_s(sp.pid) - c0s) / gb, "lower")
    for n in (16, 256):
        per = max(size // n, 1 << 20)
        t, s = median_alternating(
            lambda: parallel(upload, [(lt_sink, per)] * n),
            lambda: parallel(upload, [(ls_sink, per)] * n), runs)
        row("aggregate, %d connections on one tunnel" % n, "MB/s",
            per * n / 1048576 / t, per * n / 1048576 / s, "higher")
    secs = 2 if QUICK else 5
    t, s = median_alternating(lambda: conns_per_s(lt_echo, secs),
                              lambda: conns_per_s(ls_echo, secs), runs)
    row("new forwarded connections", "conn/s", t, s, "higher")
    n = 200 if QUICK else 1000
    (tp50, tp99), (sp50, sp99) = rtts(lt_echo, n), rtts(ls_echo, n)
    row("64-byte round trip p50, idle", "ms", tp50, sp50, "lower")
    row("64-byte round trip p99, idle", "ms", tp99, sp99, "lower")
    def loaded(echo, sink):
        bulk = threading.Thread(target=upload, args=(sink, size))
        bulk.start(); time.sleep(0.2)
        r = rtts(echo, n // 2)
        bulk.join()
        return r
    lt_r, ls_r = [], []
    for _ in range(runs):
        lt_r.append(loaded(lt_echo, lt_sink)); ls_r.append(loaded(ls_echo, ls_sink))
    tp50, tp99 = (statistics.median(x) for x in zip(*lt_r))
    sp50, sp99 = (statistics.median(x) for x in zip(*ls_r))
    row("64-byte round trip p50, beside a bulk upload", "ms", tp50, sp50, "lower")
    row("64-byte round trip p99, beside a bulk upload", "ms", tp99, sp99, "lower")
    td.stop()
    # the same on one session, as ssh always has it (tunneld's sessions
    # would otherwise give the round trips a session of their own)
    l1_sink, l1_echo = free_ports(2)
    td = Tunneld([[(l1_sink, SINK), (l1_echo, ECHO)]], "sessions = 1;").start()
    td.wait_up()
    lt_r = [loaded(l1_echo, l1_sink) for _ in range(runs)]
    tp50, tp99 = (statistics.median(x) for x in zip(*lt_r))
    row("... the same on one session, p50", "ms", tp50, sp50, "lower")
    row("... the same on one session, p99", "ms", tp99, sp99, "lower")
    td.stop(); sp.terminate(); sp.wait()


def busy_tunnels(size, runs):
    """8 busy tunnels against 8 ssh processes"""
    k = 8
    ports = free_ports(2 * k)
    lt, ls = ports[:k], ports[k:]
    td = Tunneld([[(p, SINK)] for p in lt]).start(); td.wait_up()
    sps = [ssh_forward([(p, SINK)]) for p in ls]
    for p in ls:
        wait_port(p)
    per = size // k
    # where the time goes: the client's CPU and the whole machine's, per GB
    cpu = {"t": [0, 0, 0], "s": [0, 0, 0]}       # client s, machine s, wall s
    def timed(key, ports, pids):
        c0, m0 = sum(cpu_s(p) for p in pids), machine_busy_s()
        dt = parallel(upload, [(p, per) for p in ports])
        c = cpu[key]
        c[0] += sum(cpu_s(p) for p in pids) - c0; c[1] += machine_busy_s() - m0; c[2] += dt
        return dt
    t, s = median_alternating(lambda: timed("t", lt, [td.p.pid]),
                              lambda: timed("s", ls, [p.pid for p in sps]), runs)
    row("aggregate, %d busy tunnels (%d ssh processes)" % (k, k), "MB/s",
        per * k / 1048576 / t, per * k / 1048576 / s, "higher")
    gb = runs * per * k / (1 << 30)
    row("client CPU per GB, %d busy tunnels" % k, "s/GB",
        cpu["t"][0] / gb, cpu["s"][0] / gb, "lower")
    row("whole-machine CPU per GB, %d busy tunnels" % k, "s/GB",
        cpu["t"][1] / gb, cpu["s"][1] / gb, "lower")
    print("# %d busy tunnels: %.2f of %d cores busy with tunneld, %.2f with ssh;"
          " tunneld itself used %.2f cores" % (k, cpu["t"][1] / cpu["t"][2], os.cpu_count(),
          cpu["s"][1] / cpu["s"][2], cpu["t"][0] / cpu["t"][2]), flush=True)
    td.stop()
    for p in sps:
        p.terminate(); p.wait()



def idle_tunnels():
    """idle tunnels: memory and bring-up"""
    counts = E.get("IDLE") or ("1,100" if QUICK else "1,100,1000")
    for n in (int(x) for x in counts.split(",") if x):
        td = Tunneld([[(p, ECHO)] for p in free_ports(n)]).start()
        try:
            up = td.wait_up(300)
        except SystemExit as e:       # say so, keep the other figures
            print("%d idle tunnels: not measured: %s" % (n, e), flush=True)
            td.stop()
            continue
        time.sleep(1)
        tr = rss_kib(td.p.pid)
        td.stop()
        t0 = time.monotonic(); sps = []; ports = []
        for p in free_ports(n):
            ports.append(p); sps.append(ssh_forward([(p, ECHO)]))
            if len(sps) % 50 == 0:
                for q in ports[-50:]:
                    wait_port(q, 60)
        for q in ports:
            wait_port(q, 60)
        sup = time.monotonic() - t0
        time.sleep(1)
        sr = sum(rss_kib(p.pid) for p in sps)
        for p in sps:
            p.terminate()
        for p in sps:
            p.wait()
        row("resident memory, %d idle tunnel%s" % (n, "s" if n > 1 else ""), "MiB",
            tr / 1024, sr / 1024, "lower")
        row("time to bring %d tunnel%s up" % (n, "s" if n > 1 else ""), "s", up, sup, "lower")



def raw_ceiling(size, runs):
    """tunneld against the raw libssh2 program (bench/raw_libssh2: one
    blocking channel, no event loop), each way, in runs alternating with
    ssh's (the raw program against ssh bounds tunneld's ratios): the
    raw program's bytes made up in memory (dropped), and read from (written
    to) a loopback client socket as a forwarder's are: the ceiling for a
    single-threaded forwarder on libssh2.  Medians of 2 * runs + 1; CPU per
    GB is each program's own, both ways together."""
    mb = size / 1048576
    raw = E.get("RAW")
    if not (raw and os.access(raw, os.X_OK)):
        return
    # tunneld's algorithms, or the ones asked for
    c = NEGOTIATED.get("cipher") or CIPHER or "-"
    m = NEGOTIATED.get("mac") or MAC or "-"
    lt_sink, lt_src, ls_sink, ls_src = free_ports(4)
    td = Tunneld([[(lt_sink, SINK), (lt_src, SOURCE)]]).start()
    td.wait_up()
    sp = ssh_forward([(ls_sink, SINK), (ls_src, SOURCE)])
    for p in (ls_sink, ls_src):
        wait_port(p)

    def run(way, sock):
        env = dict(os.environ, RAW_WAY=way)
        if sock:
            env["RAW_SOCKET"] = "1"
        r = subprocess.run([raw, "127.0.0.1", str(SSHD_PORT), E.get("USER", "root"), KEY,
                            str(SINK if way == "up" else SOURCE), str(size), c,
                            "-" if m.startswith("<") else m],
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip())
        f = r.stdout.split()
        NEGOTIATED.setdefault("raw", "cipher %s MAC %s" % tuple(f[1:3]))
        return float(f[0]), float(f[3])

    def forwarder(pid, sink, src, way):
        c0 = cpu_s(pid)
        dt = upload(sink, size) if way == "up" else download(src, size)
        return dt, cpu_s(pid) - c0

    res = {}        # (who, way) -> [(seconds, cpu seconds)]
    try:
        for _ in range(2 * runs + 1):
            for way in ("up", "down"):
                for who in ("tunneld", "raw", "raw+socket", "ssh"):
                    res.setdefault((who, way), []).append(
                        forwarder(td.p.pid, lt_sink, lt_src, way)
                        if who == "tunneld" else
                        forwarder(sp.pid, ls_sink, ls_src, way)
                        if who == "ssh" else run(way, who == "raw+socket"))
    except RuntimeError as e:
        print("raw libssh2: %s" % e)
        return
    finally:
        td.stop(); sp.terminate(); sp.wait()
    print("# against raw libssh2 (%s), alternating runs with ssh;"
          " the columns are the two named" % NEGOTIATED["raw"])
    gb = 2 * size / (1 << 30)

    def rate(who, way):
        return mb / statistics.median(x[0] for x in res[(who, way)])

    def cpu(who):
        return statistics.median(a[1] + b[1] for a, b in
                                 zip(res[(who, "up")], res[(who, "down")])) / gb

    for who, label in (("raw", "in memory"), ("raw+socket", "client socket")):
        for way, name in (("up", "upload"), ("down", "download")):
            row("%s vs raw libssh2, %s" % (name, label), "MB/s",
                rate("tunneld", way), rate(who, way), "higher")
        row("CPU per GB vs raw libssh2, %s" % label, "s/GB", cpu("tunneld"),
            cpu(who), "lower")
    # what the library itself reaches: ssh's ratios for tunneld are bounded
    # by these (the first column is the raw program, the second ssh)
    for way, name in (("up", "upload"), ("down", "download")):
        row("raw libssh2 vs ssh, %s" % name, "MB/s", rate("raw", way),
            rate("ssh", way), "higher")
    row("raw libssh2 vs ssh, CPU per GB", "s/GB", cpu("raw"), cpu("ssh"),
        "lower")


def rate_limited(size, runs):
    """rate_limit "2M" (2 MiB/s each way): a bulk transfer through the
    limited tunnel, each way, its rate against the limit (the limit
    allows a burst of 0.2 s worth at the start: 2% of a 10 s transfer);
    meanwhile a second tunnel of the same tunneld, without a limit, moves
    bulk the same way as fast as it can, against the same for as long
    without the limited transfer (its solo run); runs alternating,
    medians."""
    limit = 2.0                                 # MiB/s
    secs = 10 if QUICK else 20
    n = int(limit * secs) << 20
    lim_sink, lim_src, free_sink, free_src = free_ports(4)
    td = Tunneld([[(lim_sink, SINK), (lim_src, SOURCE)],
                  [(free_sink, SINK), (free_src, SOURCE)]],
                 ['rate_limit = "2M";', ""]).start()
    td.wait_up()
    move = {"up": upload, "down": download}
    netio = os.path.join(E["top_srcdir"], "tests", "helpers", "netio.py")

    def limited(way, port):
        """seconds: in a process of its own, so that its many small reads
        do not take this one's GIL from the unlimited tunnel's loop"""
        return float(subprocess.run(
            [sys.executable, netio, "blast" if way == "up" else "drain",
             str(port), str(n)], stdout=subprocess.PIPE, text=True,
            check=True).stdout)

    def unlimited(way, port, during):
        """MiB/s the free tunnel moves in chunks while during() runs"""
        done, moved = threading.Event(), [0]
        chunk = max(size // 8, 1 << 20)
        def loop():
            while not done.is_set():
                move[way](port, chunk)
                moved[0] += chunk
        th = threading.Thread(target=loop)
        t0 = time.monotonic()
        th.start()
        r = during()
        done.set(); th.join()
        return moved[0] / 1048576 / (time.monotonic() - t0), r

    print("# rate_limit: the columns are what tunneld reached and the"
          " limit, or the unlimited tunnel's rate beside the limited one"
          " and alone", flush=True)
    for way, name in (("up", "upload"), ("down", "download")):
        lim = (lim_sink, free_sink) if way == "up" else (lim_src, free_src)
        got, other, solo = [], [], []
        for _ in range(runs):
            time.sleep(0.3)         # the bucket full again: the same start
            o, dt = unlimited(way, lim[1], lambda: limited(way, lim[0]))
            got.append(n / 1048576 / dt); other.append(o)
            solo.append(unlimited(way, lim[1], lambda: time.sleep(secs))[0])
        row("rate_limit 2M, %s: reached / limit" % name, "MiB/s",
            statistics.median(got), limit, "0.95-1.05")
        row("... the unlimited tunnel beside it / alone", "MiB/s",
            statistics.median(other), statistics.median(solo), "higher")
    td.stop()


def write_out():
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    csv = os.path.join(OUT, "bench.csv")
    new = not os.path.exists(csv)
    with open(csv, "a") as f:
        if new:
            f.write("date,metric,unit,tunneld,ssh,ratio,better\n")
        for m, u, t, s, b in ROWS:
            f.write('%s,"%s",%s,%.3f,%.3f,%.3f,%s\n' % (stamp, m, u, t, s, t / s if s else 0, b))
    with open(os.path.join(OUT, "ratios.dat"), "w") as f:
        for m, u, t, s, b in ROWS:
            if s and "raw libssh2" not in m and "rate_limit" not in m and \
                    "unlimited" not in m:       # the chart: tunneld/ssh
                r = t / s if b == "higher" else s / t
                f.write('"%s" %.3f\n' % (m, r))
    print("# CSV: %s" % csv)


if __name__ == "__main__":
    main()
