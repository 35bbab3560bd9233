#!/bin/sh
# bench/wan.sh - tunneld next to `ssh -L/-D` over a link with a round trip,
# made by bench/delay_relay (every byte delayed RTT/2 each way) in front of
# a real sshd on loopback; tc netem is not available here.  Nothing is
# asserted.  See bench/wan.py for what is measured.
# Usage: bench/wan.sh [--quick] [--rtt MS,...] [--size BYTES] [--sessions N]
#   --rtt    round trips in ms (default 0,50,200; 0 = the relay check:
#            the relay with no delay against a direct connection)
#   --size   bytes per download and upload (default 64 MiB, quick 16 MiB)
#   --sessions  tunneld's sessions setting (default: tunneld's default)
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"

QUICK=0 RTTS=0,50,200 SIZE= SESSIONS=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--rtt) RTTS=${2:-}; shift ;;
	--size) SIZE=${2:-}; shift ;;
	--sessions) SESSIONS=${2:-}; shift ;;
	*) echo "usage: $0 [--quick] [--rtt MS,...] [--size BYTES]" \
	    "[--sessions N]"; exit 2 ;;
	esac
	shift
done
RELAY=$top_builddir/bench/delay_relay
[ -x "$RELAY" ] || bail "no $RELAY: make bench/delay_relay (make bench-wan)"

start_sshd
start_server count;  SINK=$SERVER_PORT
start_server echo;   ECHO=$SERVER_PORT
start_server source; SOURCE=$SERVER_PORT
echo "# $(uname -m), $(nproc) cores; tunneld $($TUNNELD -V | head -1 | cut -d' ' -f2)," \
    "libssh2 $($TUNNELD -V | sed -n 's/.*libssh2 \([^ ]*\).*/\1/p'), $($SSH -V 2>&1 | cut -d, -f1)"
echo "# aes128-ctr + hmac-sha2-256 on both sides; medians of alternating runs"
WORK=$WORK SSHD_PORT=$SSHD_PORT TUNNELD=$TUNNELD TUNNELCTL=$TUNNELCTL \
    SSH=$SSH SINK=$SINK ECHO=$ECHO SOURCE=$SOURCE CIPHER=aes128-ctr \
    MAC=hmac-sha2-256 QUICK=$QUICK OUT=$top_builddir/bench/out \
    USER=$(id -un) RELAY=$RELAY RTTS=$RTTS SIZE=$SIZE SESSIONS=$SESSIONS \
    $PYTHON3 "$top_srcdir/bench/wan.py" || T_FAILED=1
TUNNELD_PID=
[ "$T_FAILED" -eq 0 ]
