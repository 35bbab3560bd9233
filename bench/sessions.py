#!/usr/bin/env python3
"""sessions.py - what sessions = N buys for bursts over a round trip.

Started by bench/sessions.sh (environment as for bench/wan.py, plus
SESSIONS, the values of N to try).  Through bench/delay_relay at RTT (ms),
for each N: one tunneld tunnel with sessions = N (-L to the source, -D)
next to one `ssh -N -L -D`, bursts of 32 clients each fetching 16 KiB,
through -L and through SOCKS5:

  cold   the first burst after the tunnel came up: extra sessions are set
         up during the burst (their handshake and login cost round trips)
  warm   the median of the next RUNS bursts, while the extra sessions of
         the first are still there (sessions_idle 60 s); each shown, as
         the pool may still grow in the second (it starts an extra only
         when a new connection would wait longer than a set-up takes, at
         most 2 at once)

and how many sessions the tunnel had after each.  Nothing is asserted.
"""
import json, os, statistics, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench                                            # noqa: E402
import wan                                              # noqa: E402
from bench import E, WORK, KEY, KH, free_ports          # noqa: E402

RUNS = int(E.get("BURSTS") or (1 if E.get("QUICK") == "1" else 3))
wan.SESSIONS = ""       # SESSIONS is a list here: each Tunneld sets its own


class Tunneld(wan.Tunneld):
    """one tunnel through port with sessions = n: -L to the source, -D"""
    def __init__(self, port, fwd_src, fwd_sink, dyn, n):
        super().__init__(port, fwd_src, fwd_sink, dyn)
        conf = open(self.conf).read().replace(
            "dynamic = [", "sessions = %d; sessions_idle = 60;\n"
            "  dynamic = [" % n)
        open(self.conf, "w").write(conf)


def one(rtt, n, relay):
    lt, ls = free_ports(3), free_ports(3)
    td = Tunneld(relay.port, *lt, n).start(); td.wait_up()
    sp = wan.ssh_client(relay.port, *ls)
    wan.fetch(ls[0])
    res = {}
    for kind, socks, port_t, port_s in (("-L", False, lt[0], ls[0]),
                                        ("SOCKS", True, lt[2], ls[2])):
        if kind == "SOCKS":	# cold again: a new tunneld
            td.stop()
            td = Tunneld(relay.port, *lt, n).start(); td.wait_up()
        cold = wan.burst(port_t, socks)
        grown = [td.sessions()]
        runs = []
        for _ in range(RUNS):
            runs.append(wan.burst(port_t, socks))
            grown.append(td.sessions())
        warm = statistics.median(runs)
        ssh = statistics.median(wan.burst(port_s, socks) for _ in range(RUNS))
        res[kind] = (cold, warm, ssh, runs, grown)
    td.stop(); sp.terminate(); sp.wait()
    for kind, (cold, warm, ssh, runs, grown) in res.items():
        print("RTT %3g ms  sessions %2d  %-6s cold %6.0f ms  warm %6.0f ms  "
              "ssh %5.0f ms  warm/ssh %5.2f  (warm runs %s; sessions after "
              "each burst %s)" % (
                  rtt, n, kind, cold, warm, ssh, warm / ssh,
                  " ".join("%.0f" % x for x in runs),
                  " ".join("%d" % x for x in grown)), flush=True)


def main():
    print("# load: %s" % open("/proc/loadavg").read().strip(), flush=True)
    for rtt in [float(x) for x in (E.get("RTTS") or "50").split(",")]:
        relay = wan.Relay(rtt / 2)
        for n in [int(x) for x in (E.get("SESSIONS") or "1,2,4,8,16").split(",")]:
            one(rtt, n, relay)
        relay.stop()
    print("# load: %s" % open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
