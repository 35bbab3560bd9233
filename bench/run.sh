#!/bin/sh
# bench/run.sh - tunneld measured next to OpenSSH in the same run, on the
# same sshd, cipher and MAC, on loopback; reported as absolute figures and
# tunneld/ssh ratios; nothing is asserted.
# Usage: bench/run.sh [--quick] [--only single,tunnels,idle,raw,rate]
#                     [--cipher CIPHERS] [--mac MACS] [--idle N,...]
#
# Without --cipher and --mac each side uses its default algorithms (tunneld:
# the fastest secure ones its libssh2 offers, chacha20-poly1305 on 1.11,
# aes128-ctr + hmac-sha2-256 on 1.10; ssh: OpenSSH's, chacha20-poly1305);
# with them, both sides use those.  What each negotiated is printed.
# bench/trixie.sh runs it in a Debian 13 root, against trixie's ssh.
#
# This script provides the sshd (tests/integration/lib.sh) and the servers;
# bench/bench.py measures: one-connection upload and download, 16 and 256
# connections on one tunnel, 8 busy tunnels against 8 ssh processes, new
# connections per second, 64-byte round trips (p50, p99) alone and beside a
# bulk transfer (tunneld: with its default sessions, then on the bulk's own
# session, as ssh always is), client CPU per GB, memory and bring-up time
# for 1, 100 and 1000 idle tunnels against as many ssh processes (--idle:
# other counts; --quick: 1 and 100), and (raw) tunneld against the raw
# libssh2 program (bench/raw_libssh2) each way in alternating runs, its
# bytes in memory and through a client socket as a forwarder's, and (rate)
# a tunnel's rate_limit held each way, beside an unlimited tunnel.  CSV in
# bench/out/, a chart of the ratios to ssh with gnuplot.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"

QUICK=0 STAGES= CIPHER= MAC= IDLE=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--only) STAGES=${2:-}; shift ;;
	--cipher) CIPHER=${2:-}; shift ;;
	--mac) MAC=${2:-}; shift ;;
	--idle) IDLE=${2:-}; shift ;;
	*) echo "usage: $0 [--quick] [--only single,tunnels,idle,raw,rate]" \
	    "[--cipher CIPHERS] [--mac MACS] [--idle N,...]"; exit 2 ;;
	esac
	shift
done
OUT=$top_builddir/bench/out
mkdir -p "$OUT"

# 1000 tunnels are 1000 connections to sshd at once: sshd, tunneld and the
# ssh processes need more than 1024 descriptors
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
start_sshd "MaxStartups 1100
MaxSessions 10"
start_server count;  SINK=$SERVER_PORT
start_server echo;   ECHO=$SERVER_PORT
start_server source; SOURCE=$SERVER_PORT
echo "# $(uname -m), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo);" \
    "tunneld $($TUNNELD -V | head -1 | cut -d' ' -f2), libssh2 $($TUNNELD -V | sed -n 's/.*libssh2 \([^ ]*\).*/\1/p'), $($SSH -V 2>&1 | cut -d, -f1)"
echo "# $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# ${CIPHER:-default ciphers}, ${MAC:-default MACs} on both sides; medians of alternating runs"
WORK=$WORK SSHD_PORT=$SSHD_PORT TUNNELD=$TUNNELD TUNNELCTL=$TUNNELCTL \
    SSH=$SSH SINK=$SINK ECHO=$ECHO SOURCE=$SOURCE CIPHER=$CIPHER \
    MAC=$MAC QUICK=$QUICK STAGES=$STAGES OUT=$OUT USER=$(id -un) IDLE=$IDLE \
    RAW=$top_builddir/bench/raw_libssh2 \
    $PYTHON3 "$top_srcdir/bench/bench.py" || T_FAILED=1
if command -v gnuplot >/dev/null 2>&1 && [ -s "$OUT/ratios.dat" ]; then
	gnuplot -e "datafile='$OUT/ratios.dat'; outfile='$OUT/bench.png'" \
	    "$top_srcdir/bench/ratios.gp" && echo "# chart: $OUT/bench.png"
else
	echo "# no chart: gnuplot is not installed"
fi
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
TUNNELD_PID=
[ "$T_FAILED" -eq 0 ]
