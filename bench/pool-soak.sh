#!/bin/sh
# bench/pool-soak.sh - what the session pool costs a stock sshd over a
# long burst workload (issue 24): bursts of 32 connections through -L and
# -D at random intervals, over bench/delay_relay (RTT), with a short
# sessions_idle so that extras start and idle out again and again.  sshd
# runs with a stock MaxStartups (10:30:100) at LogLevel VERBOSE; at the end
# its log is read for pre-authentication closes ("Connection closed by ...
# [preauth]", "Disconnected from ... [preauth]") and PerSourcePenalties
# penalties (OpenSSH 9.8+, on by default in Debian 13), and tunneld's
# status for the extras started and closed.  It fails if sshd logged any.
# Usage: bench/pool-soak.sh [--minutes M] [--rtt MS] [--idle S]
#   (default 10 minutes, 50 ms, sessions_idle 5 s)
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"

MINUTES=10 RTT=50 IDLE=5
while [ $# -gt 0 ]; do
	case $1 in
	--minutes) MINUTES=${2:-}; shift ;;
	--rtt) RTT=${2:-}; shift ;;
	--idle) IDLE=${2:-}; shift ;;
	*) echo "usage: $0 [--minutes M] [--rtt MS] [--idle S]"; exit 2 ;;
	esac
	shift
done
RELAY=$top_builddir/bench/delay_relay
[ -x "$RELAY" ] || bail "no $RELAY: make bench/delay_relay (make bench-wan)"

SSHD_MAXSTARTUPS=10:30:100
start_sshd
start_server echo; ECHO=$SERVER_PORT
$RELAY -d "$(awk -v r="$RTT" 'BEGIN { print r / 2 }')" "$SSHD_PORT" \
    > "$WORK/relay.out" &
PIDS="$PIDS $!"
wait_file "$WORK/relay.out" || bail "delay_relay did not start"
RPORT=$(awk 'NR == 1 { print $2 }' "$WORK/relay.out")
echo "[127.0.0.1]:$RPORT $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")" \
    >> "$WORK/known_hosts"
L=$(free_port); D=$(free_port)
write_conf "  soak = {
    host = \"127.0.0.1\";
    port = $RPORT;
    sessions_idle = $IDLE;
    keepalive_interval = 30;
    connect_timeout = 30;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
    dynamic = [ \"$D\" ];
  };"
start_tunneld
wait_state soak up 30 || bail "the tunnel did not come up"
MARK=$(wc -l < "$WORK/sshd.log")

echo "# $(uname -m), $(nproc) cores; $($SSH -V 2>&1 | cut -d, -f1);" \
    "RTT $RTT ms, sessions_idle $IDLE s, $MINUTES minutes"
end=$(( $(date +%s) + MINUTES * 60 )) n=0 fails=0 most=1
while [ "$(date +%s)" -lt "$end" ]; do
	if [ $((n % 2)) = 0 ]; then
		$NETIO concurrent "$L" 32 1000 > /dev/null 2>&1 || fails=$((fails + 1))
	else
		i=0 socks=
		while [ $i -lt 32 ]; do
			$NETIO socks-roundtrip "$D" 5 127.0.0.1 "$ECHO" 1000 \
			    > /dev/null 2>&1 &
			socks="$socks $!"
			i=$((i + 1))
		done
		bad=0
		for p in $socks; do wait "$p" || bad=1; done
		[ "$bad" = 0 ] || fails=$((fails + 1))
	fi
	n=$((n + 1))
	s=$(json_get soak "len(t['sessions'])")
	[ "${s:-0}" -gt "$most" ] && most=$s
	# a pause of 0 to 2 sessions_idle: extras idle out, or are found
	sleep "$(awk -v s="$IDLE" -v r="$(od -An -N2 -tu2 /dev/urandom)" \
	    'BEGIN { printf "%.1f", s * 2 * r / 65535 }')"
done

tail -n +$((MARK + 1)) "$WORK/sshd.log" > "$WORK/sshd.soak"
preauth=$(grep -Ec '(Connection closed by|Disconnected from|Connection reset by|Timeout before authentication).*\[preauth\]' "$WORK/sshd.soak")
penalty=$(grep -ic 'penalty' "$WORK/sshd.soak")
logins=$(grep -c 'Accepted publickey' "$WORK/sshd.soak")
echo "bursts $n (failed $fails); sessions at most $most; logins $logins"
echo "pool: $(json_get soak "t['pool']")"
echo "sshd: pre-authentication closes $preauth; penalty lines $penalty"
[ "$preauth" = 0 ] && [ "$penalty" = 0 ] && [ "$fails" = 0 ]
