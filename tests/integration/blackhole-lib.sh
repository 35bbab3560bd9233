# blackhole-lib.sh - a network namespace for sshd, reached over a veth
# pair, in which 198.51.100.7 (TEST-NET-2, $BH) is a blackhole: routed to a
# veth with a permanent neighbour entry for a MAC nobody has, so SYNs leave
# and vanish (no ICMP, no RST, no ARP failure: connect() just waits, as for
# a firewalled host).  Sourced after lib.sh; sets NS, NET, BH.
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null 2>&1; then
	echo "1..0 # SKIP needs root and ip(8) for a network namespace"; exit 0
fi
NS=tunneld-test-$$
VA=tdv$$a; VB=tdv$$b
NET=10.199.$(free_subnet)	# not another suite's at the same time
BH=198.51.100.7
ip netns add "$NS" || bail "cannot create a network namespace"
CLEANUP_EXTRA='ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null; ip link del "$VA" 2>/dev/null; ip netns del "$NS" 2>/dev/null'
ip link add "$VA" type veth peer name "$VB" || bail "cannot create veth"
ip link set "$VB" netns "$NS"
ip addr add "$NET.1/30" dev "$VA"
ip link set "$VA" up
ip netns exec "$NS" ip addr add "$NET.2/30" dev "$VB"
ip netns exec "$NS" ip link set "$VB" up
ip netns exec "$NS" ip link set lo up
# the blackhole, inside the namespace
ip netns exec "$NS" ip link add bh0 type veth peer name bh1 || bail "veth"
ip netns exec "$NS" ip link set bh0 up
ip netns exec "$NS" ip link set bh1 up
ip netns exec "$NS" ip addr add 198.51.100.1/24 dev bh0
ip netns exec "$NS" ip neigh replace "$BH" lladdr 02:00:5e:00:53:07 dev bh0 \
    nud permanent || bail "cannot make the blackhole"

