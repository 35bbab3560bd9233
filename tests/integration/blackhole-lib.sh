# blackhole-lib.sh - a network namespace for sshd, reached over a veth
# pair, in which 198.51.100.7 (TEST-NET-2, $BH) is a blackhole: routed to a
# veth with a permanent neighbour entry for a MAC nobody has, so SYNs leave
# and vanish (no ICMP, no RST, no ARP failure: connect() just waits, as for
# a firewalled host).  Sourced after lib.sh; sets NS, NET, BH.
netns_require
NS=tunneld-test-$$
BH=198.51.100.7
netns_add "$NS"
netns_veth "$NS" "tdv$$a" "tdv$$b"
# the blackhole, inside the namespace
ip netns exec "$NS" ip link add bh0 type veth peer name bh1 || bail "veth"
ip netns exec "$NS" ip link set bh0 up
ip netns exec "$NS" ip link set bh1 up
ip netns exec "$NS" ip addr add 198.51.100.1/24 dev bh0
ip netns exec "$NS" ip neigh replace "$BH" lladdr 02:00:5e:00:53:07 dev bh0 \
    nud permanent || bail "cannot make the blackhole"

