#!/bin/sh
# happy-eyeballs.sh - a name with two addresses, the first blackholed (as
# broken IPv6 is: packets vanish, nothing is refused).  The session and a
# remote forward's connects here must race the addresses (RFC 8305: the
# next one 250 ms on) and connect through the second, well within
# connect_timeout - not spend all of it on the first.
#
# Everything lives in a network namespace this test creates: sshd and an
# echo server on its loopback, an address whose packets go nowhere, and
# tunneld with its own /etc/hosts (a mount namespace).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null 2>&1 ||
    ! command -v unshare >/dev/null 2>&1; then
	echo "1..0 # SKIP needs root, ip(8) and unshare(1)"; exit 0
fi
NS=tunneld-he-$$
BH=tdbh$$
netns_add "$NS"
nsx() { ip netns exec "$NS" "$@"; }
# the blackhole: a veth pair whose far end has no address, and a
# neighbour entry that sends the packets to a MAC address nobody has: they
# vanish, nothing is refused or reported unreachable
nsx ip link add "$BH" type veth peer name "${BH}p" || bail "cannot create veth"
nsx ip link set "$BH" up
nsx ip link set "${BH}p" up
nsx ip -6 addr add 2001:db8:77::1/64 dev "$BH" nodad
HOLE=2001:db8:77::2
nsx ip -6 neigh add "$HOLE" lladdr 02:00:00:00:07:07 dev "$BH" nud permanent
nsx ip addr add 10.77.0.1/24 dev "$BH"	# an IPv4 address too: dual-stack
# (a global IPv6 address, documentation prefix: AI_ADDRCONFIG as libevent
# does it counts no link-local or ULA address; an IPv6 host whose IPv6 is
# broken upstream is what this is)

# sshd, its port and its readiness, all in the namespace
PYTHON3_HOST=$PYTHON3
PYTHON3="ip netns exec $NS $PYTHON3_HOST"
SSHD_NETNS=$NS start_sshd
PYTHON3=$PYTHON3_HOST
nsx $NETIO echo > "$WORK/server.echo.port" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
i=0; while [ ! -s "$WORK/server.echo.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
ECHO=$(cat "$WORK/server.echo.port")

check "the first address is a blackhole: a connect there times out" \
	nsx $PYTHON3 -c "
import socket, sys
s = socket.socket(socket.AF_INET6)
s.settimeout(1)
try:
    s.connect(('$HOLE', $SSHD_PORT))
except socket.timeout:
    sys.exit(0)
sys.exit(1)"

# dual.test: the blackholed IPv6 address first, then loopback
printf '%s dual.test\n127.0.0.1 dual.test\n' "$HOLE" > "$WORK/hosts"
echo "[dual.test]:$SSHD_PORT $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")" >> "$WORK/known_hosts"
cat > "$WORK/with-hosts" <<SH
#!/bin/sh
mount --bind "$WORK/hosts" /etc/hosts || exit 1
exec "\$@"
SH
chmod +x "$WORK/with-hosts"

TIMEOUT=10
RPORT=$(nsx $PYTHON3_HOST -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
write_conf "
  hedge = {
    host = \"dual.test\";
    connect_timeout = $TIMEOUT;
  };
  rev = {
    host = \"127.0.0.1\";
    connect_timeout = $TIMEOUT;
    remote = [ \"$RPORT:dual.test:$ECHO\" ];
  };"
TUNNELD="ip netns exec $NS unshare -m $WORK/with-hosts $TUNNELD"
now() { $PYTHON3 -c 'import time; print(time.time())'; }
t0=$(now)
start_tunneld
check "a name whose first address is blackholed: up" \
	wait_state hedge up $((TIMEOUT + 5))
t1=$(now)
diag "up after $($PYTHON3 -c "print('%.2f' % ($t1 - $t0))") s (connect_timeout $TIMEOUT s)"
check "... on the first attempt, well within connect_timeout (no time-out, no retry)" \
	sh -c '[ "$1" = 0 ] && ! grep -q "hedge:.*timed out" "$2"' _ \
	"$(json_get hedge "t['reconnects']")" "$WORK/tunneld.log"
check "... through the second address, after the first was tried" \
	grep -q "dual.test: connected to 127.0.0.1:$SSHD_PORT (address 2 of 2)" \
	"$WORK/tunneld.log"

check "a remote forward to that name: up" wait_state rev up
t0=$(now)
check "... a forwarded connection reaches its target through the second address" \
	nsx $NETIO roundtrip "$RPORT" 100000
t1=$(now)
dt=$($PYTHON3 -c "print('%.2f' % ($t1 - $t0))")
diag "round trip through the remote forward in $dt s (connect_timeout $TIMEOUT s)"
check "... within connect_timeout" \
	$PYTHON3 -c "import sys; sys.exit(not $dt < $TIMEOUT)"
done_testing
