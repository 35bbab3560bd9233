#!/bin/sh
# profile.sh [MIB] - where tunneld's time goes on one bulk stream: perf
# records tunneld while MIB MiB (default 1024) go up, then down, through
# one tunnel with its default algorithms, and bench/raw_libssh2 moving the
# same bytes up with the same cipher (then, unprofiled, each way: in memory
# and through a client socket as a forwarder's bytes go, RAW_SOCKET); perf
# report by shared object and by symbol, to $OUT (bench/out/profile-*.txt).  Needs perf (Debian:
# linux-perf) and root; `bench/trixie.sh --profile` runs it in the Debian
# 13 root.  The machine's load is printed: other work skews the shares.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/tests/integration/lib.sh"
MIB=${1:-1024}
OUT=$top_builddir/bench/out
mkdir -p "$OUT"
PERF=${PERF:-perf}
command -v "$PERF" >/dev/null 2>&1 || { echo "profile: no perf"; exit 77; }

start_sshd
start_server count;  SINK=$SERVER_PORT
start_server source; SOURCE=$SERVER_PORT
LU=$(free_port); LD=$(free_port)
write_conf "
  p = { host = \"127.0.0.1\";
    local = [ \"$LU:127.0.0.1:$SINK\", \"$LD:127.0.0.1:$SOURCE\" ]; };"
start_tunneld --log-level info
wait_state p up || bail "tunnel not up"
cipher=$(json_get p "t['algorithms']['cipher']")
mac=$(json_get p "t['algorithms']['mac']")
echo "# $($TUNNELD -V | head -1), libssh2 $($TUNNELD -V | sed -n 's/.*libssh2 \([^ ]*\).*/\1/p'), $($SSH -V 2>&1 | cut -d, -f1)"
echo "# cipher $cipher, MAC $mac; $MIB MiB each way; load $(cut -d' ' -f1-3 /proc/loadavg)"

# move WAY PORT: MIB MiB through the tunnel; prints MB/s
move() {
	$PYTHON3 - "$1" "$2" "$MIB" <<'PY'
import os, socket, sys, time
way, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) << 20
c = socket.create_connection(("127.0.0.1", port))
t0 = time.monotonic()
if way == "up":
    chunk = memoryview(os.urandom(1 << 20)); left = n
    while left > 0:
        left -= c.send(chunk[:min(left, len(chunk))])
    c.shutdown(socket.SHUT_WR)
    assert int(c.makefile().readline()) == n
else:
    c.sendall(b"%d\n" % n); buf = bytearray(1 << 20); got = 0
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        got += k
    assert got == n
print("%.1f MB/s" % (n / 1048576 / (time.monotonic() - t0)))
PY
}

# record NAME COMMAND...: perf on tunneld while COMMAND runs
SYSCALLS=
for sc in sendto recvfrom read write epoll_wait epoll_ctl; do
	SYSCALLS="$SYSCALLS -e syscalls:sys_enter_$sc"
done
$PERF stat $SYSCALLS true >/dev/null 2>&1 || SYSCALLS=
record() {
	name=$1; shift
	$PERF record -q -g -F 499 -p "$TUNNELD_PID" -o "$WORK/$name.data" 2>/dev/null &
	perf_pid=$!
	sleep 0.5	# perf attached (it prints nothing when it is)
	c0=$(awk '{ print $14 + $15 }' "/proc/$TUNNELD_PID/stat")
	# system calls per MiB: what the load on the machine does not skew
	stat_pid=
	[ -z "$SYSCALLS" ] || { $PERF stat -x, -p "$TUNNELD_PID" \
	    -o "$WORK/$name.stat" $SYSCALLS 2>/dev/null & stat_pid=$!; }
	speed=$("$@")
	c1=$(awk '{ print $14 + $15 }' "/proc/$TUNNELD_PID/stat")
	kill -INT "$perf_pid" $stat_pid; wait "$perf_pid" $stat_pid
	echo "tunneld $name: $speed, $(awk -v c=$((c1 - c0)) -v m="$MIB" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f s CPU per GiB", c / hz / (m / 1024) }')"
	[ -z "$stat_pid" ] || awk -F, -v m="$MIB" '$3 ~ /sys_enter_/ && $1 ~ /^[0-9]+$/ {
		sub(/.*sys_enter_/, "", $3); printf "%s%s %.1f", sep, $3, $1 / m; sep = ", " }
	    END { if (sep) print " per MiB" }' "$WORK/$name.stat"
	report "$name" tunneld
}

report() {
	{
		echo "# $1: $cipher; load $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "## by shared object"
		$PERF report -i "$WORK/$1.data" --no-children -g none --sort dso \
		    --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
		echo "## by symbol"
		$PERF report -i "$WORK/$1.data" --no-children -g none \
		    --sort dso,symbol --stdio 2>/dev/null | grep -v '^#' |
		    grep -v '^$' | grep -v '\] 0x0000' | head -40
		echo "## the program's own functions (share of all samples)"
		$PERF report -i "$WORK/$1.data" --no-children -g none \
		    --dsos "$2" --sort symbol --stdio 2>/dev/null |
		    grep -v '^#' | grep -v '^$' | head -30
	} > "$OUT/profile-$1.txt"
	echo "# $OUT/profile-$1.txt"
}

record upload move up "$LU"
record download move down "$LD"

# the ceiling: the same bytes up through libssh2 alone, same algorithms
RAW=$top_builddir/bench/raw_libssh2
if [ -x "$RAW" ]; then
	case $mac in "<"*) rawmac=- ;; *) rawmac=$mac ;; esac
	$PERF record -q -g -F 499 -o "$WORK/raw.data" -- "$RAW" 127.0.0.1 \
	    "$SSHD_PORT" "$(id -un)" "$WORK/id_ed25519" "$SINK" \
	    $((MIB << 20)) "$cipher" "$rawmac" > "$WORK/raw.out" 2>/dev/null
	for way in up down; do
		for sock in "" 1; do
			[ $way = up ] && port=$SINK || port=$SOURCE
			env RAW_WAY=$way ${sock:+RAW_SOCKET=1} "$RAW" 127.0.0.1 \
			    "$SSHD_PORT" "$(id -un)" "$WORK/id_ed25519" "$port" \
			    $((MIB << 20)) "$cipher" "$rawmac" > "$WORK/raw.out2"
			echo "raw libssh2 $way${sock:+, client socket}: $(awk -v m="$MIB" '{ printf "%.1f MB/s (%s), %.2f s CPU per GiB", m / $1, $2, $4 / (m / 1024) }' "$WORK/raw.out2")"
		done
	done
	report raw raw_libssh2
	# and down, through a client socket, beside tunneld's download
	$PERF record -q -g -F 499 -o "$WORK/raw-down.data" -- env RAW_WAY=down \
	    RAW_SOCKET=1 "$RAW" 127.0.0.1 "$SSHD_PORT" "$(id -un)" \
	    "$WORK/id_ed25519" "$SOURCE" $((MIB << 20)) "$cipher" "$rawmac" \
	    > "$WORK/raw.out" 2>/dev/null
	report raw-down raw_libssh2
fi
done_testing >/dev/null
