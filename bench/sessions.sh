#!/bin/sh
# bench/sessions.sh - bursts through tunneld with sessions = N next to
# `ssh -L/-D`, over bench/delay_relay (see bench/sessions.py; it uses
# bench/wan.py's relay, clients and tunnel).  Nothing is asserted.
# Usage: bench/sessions.sh [--quick] [--rtt MS,...] [--sessions N,...]
# (BURSTS=N in the environment: N warm bursts, default 3)
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"

QUICK=0 RTTS=50 SESSIONS=1,2,4,8,16
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--rtt) RTTS=${2:-}; shift ;;
	--sessions) SESSIONS=${2:-}; shift ;;
	*) echo "usage: $0 [--quick] [--rtt MS,...] [--sessions N,...]"; exit 2 ;;
	esac
	shift
done
: "${RELAY:=$top_builddir/bench/delay_relay}"
[ -x "$RELAY" ] || bail "no $RELAY: make bench/delay_relay (make bench-wan)"

start_sshd
start_server count;  SINK=$SERVER_PORT
start_server echo;   ECHO=$SERVER_PORT
start_server source; SOURCE=$SERVER_PORT
echo "# $(uname -m), $(nproc) cores; libssh2" \
    "$($TUNNELD -V | sed -n 's/.*libssh2 \([^ ]*\).*/\1/p'), $($SSH -V 2>&1 | cut -d, -f1)"
WORK=$WORK SSHD_PORT=$SSHD_PORT TUNNELD=$TUNNELD TUNNELCTL=$TUNNELCTL \
    SSH=$SSH SINK=$SINK ECHO=$ECHO SOURCE=$SOURCE CIPHER=aes128-ctr \
    MAC=hmac-sha2-256 QUICK=$QUICK OUT=$top_builddir/bench/out \
    USER=$(id -un) RELAY=$RELAY RTTS=$RTTS SESSIONS=$SESSIONS \
    $PYTHON3 "${BENCH_PY_DIR:-$top_srcdir/bench}/sessions.py" || T_FAILED=1
TUNNELD_PID=
[ "$T_FAILED" -eq 0 ]
