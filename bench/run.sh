#!/bin/sh
# bench/run.sh - tunneld measured next to OpenSSH in the same run, on the
# same sshd, cipher and MAC, on loopback.  Reported as ratios; nothing here
# is asserted.  Usage: bench/run.sh [--quick] [--size MB] [--runs N]
#
# Measured now: the throughput of one -L connection (tunneld, ssh -L, and no
# tunnel at all as the ceiling of the machine), and CPU seconds per GB of the
# forwarding process.  Results: a table on stdout, CSV in bench/out/.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib.sh"

SIZE_MB=1024
RUNS=3
while [ $# -gt 0 ]; do
	case $1 in
	--quick) SIZE_MB=64; RUNS=1 ;;
	--size) SIZE_MB=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	*) echo "usage: $0 [--quick] [--size MB] [--runs N]"; exit 2 ;;
	esac
	shift
done
BYTES=$((SIZE_MB * 1048576))
CIPHER=aes128-ctr
MAC=hmac-sha2-256
OUT=$top_builddir/bench/out
mkdir -p "$OUT"

start_sshd
start_server count; SINK=$SERVER_PORT
LT=$(free_port); LS=$(free_port)
write_conf "  bench = { host = \"127.0.0.1\"; local = [ \"$LT:127.0.0.1:$SINK\" ]; };"
start_tunneld
wait_state bench up 15 >/dev/null || bail "tunneld did not come up"
$SSH -N -o BatchMode=yes -o UserKnownHostsFile="$WORK/known_hosts" \
    -o StrictHostKeyChecking=yes -o Ciphers=$CIPHER -o MACs=$MAC \
    -o ExitOnForwardFailure=yes -i "$WORK/id_ed25519" -p "$SSHD_PORT" \
    -L "$LS:127.0.0.1:$SINK" "$(id -un)@127.0.0.1" 2>>"$WORK/ssh.log" &
SSH_PID=$!
PIDS="$PIDS $SSH_PID"
wait_port "$LS" || bail "ssh -L did not come up: $(cat "$WORK/ssh.log")"
# what tunneld negotiated, for the record
grep -q "$CIPHER" "$WORK/sshd.log" 2>/dev/null

cpu() { # utime+stime of PID in seconds
	awk '{ printf "%.2f\n", ($14 + $15) / 100 }' "/proc/$1/stat"
}

# best of RUNS: seconds for BYTES through PORT; CPU of PID over the runs
measure() { # port pid
	c0=$([ -n "$2" ] && cpu "$2" || echo 0)
	best=""
	i=0
	while [ $i -lt "$RUNS" ]; do
		t=$($NETIO blast "$1" "$BYTES") || bail "transfer through port $1 failed: $t"
		best=$(echo "$best $t" | awk '{ b = $1; for (i = 2; i <= NF; i++) if (b == "" || $i < b) b = $i; print b }')
		i=$((i + 1))
	done
	c1=$([ -n "$2" ] && cpu "$2" || echo 0)
	mbs=$(awk -v b="$BYTES" -v t="$best" 'BEGIN { printf "%.1f", b / 1048576 / t }')
	cpugb=$(awk -v c0="$c0" -v c1="$c1" -v b="$BYTES" -v r="$RUNS" 'BEGIN { printf "%.2f", (c1 - c0) / (b * r / 1073741824) }')
	echo "$mbs $cpugb"
}

echo "# one -L connection, $SIZE_MB MiB x $RUNS (best run), $CIPHER + $MAC, loopback"
set -- $(measure "$SINK" "");          direct_mbs=$1
set -- $(measure "$LT" "$TUNNELD_PID"); t_mbs=$1; t_cpu=$2
set -- $(measure "$LS" "$SSH_PID");     s_mbs=$1; s_cpu=$2
ratio=$(awk -v a="$t_mbs" -v b="$s_mbs" 'BEGIN { printf "%.2f", a / b }')
cratio=$(awk -v a="$t_cpu" -v b="$s_cpu" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
printf '%-28s %10s %14s\n' "path" "MB/s" "CPU s per GB"
printf '%-28s %10s %14s\n' "no tunnel (ceiling)" "$direct_mbs" "-"
printf '%-28s %10s %14s\n' "tunneld -L" "$t_mbs" "$t_cpu"
printf '%-28s %10s %14s\n' "ssh -L (OpenSSH $($SSH -V 2>&1 | sed 's/OpenSSH_\([^,]*\).*/\1/'))" "$s_mbs" "$s_cpu"
printf '%-28s %10s %14s\n' "tunneld / ssh" "$ratio" "$cratio"
csv=$OUT/throughput.csv
[ -f "$csv" ] || echo "date,size_mb,runs,direct_mbs,tunneld_mbs,ssh_mbs,tunneld_cpu_per_gb,ssh_cpu_per_gb,ratio" > "$csv"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$SIZE_MB,$RUNS,$direct_mbs,$t_mbs,$s_mbs,$t_cpu,$s_cpu,$ratio" >> "$csv"
echo "# CSV: $csv"
TUNNELD_PID=
T_FAILED=0
