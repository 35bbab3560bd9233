#!/bin/sh
# remote-gateway.sh - what the server binds for a remote forward is the
# server's choice (sshd GatewayPorts); status must say what it chose.  And
# a port the server cannot have makes that forward failed and the tunnel
# degraded, the other forwards untouched, until the port is free.
. "$(dirname "$0")/lib.sh"

# listening SPORT: the local addresses something listens on at that port
listening() { ss -ltnH "sport = :$1" | awk '{print $4}' | sort | tr '\n' ' '; }

start_sshd
start_server echo
ECHO=$SERVER_PORT
P1=$(free_port); P2=$(free_port)
# hold P2 on the server's side (the same machine here) before tunneld asks
# (both loopback addresses: sshd is content with either)
$PYTHON3 -c "
import socket,time
s=socket.socket(); s.bind(('127.0.0.1',$P2)); s.listen(1)
try:
    t=socket.socket(socket.AF_INET6); t.bind(('::1',$P2)); t.listen(1)
except OSError:
    pass
time.sleep(600)" &
HOLDER=$!
PIDS="$PIDS $HOLDER"
wait_port "$P2" || bail "the holder of port $P2 did not start"
write_conf "
  gw = {
    host = \"127.0.0.1\";
    remote = [ \"*:$P1:127.0.0.1:$ECHO\", \"$P2:127.0.0.1:$ECHO\" ];
  };"
start_tunneld
check "a remote port the server cannot have: degraded" wait_state gw degraded
check "... that forward is failed, with the reason" \
	says "$(json_get gw "t['forwards'][1]['state'], t['forwards'][1]['last_error']")" \
	failed "refused to listen" "$P2"
check "... the other forward is up" \
	test "$(json_get gw "t['forwards'][0]['state']")" = up
check "... and carries bytes" $NETIO roundtrip "$P1" 100000
check "GatewayPorts no, \"*\" requested: status says loopback" \
	test "$(json_get gw "t['forwards'][0]['listen']")" = "localhost:$P1"
check "... and loopback is what sshd bound" \
	says "$(listening "$P1")" "127.0.0.1:$P1"
only_loopback() {
	l=$(listening "$P1")
	[ -n "$l" ] && ! echo "$l" | grep -q -e '0.0.0.0' -e '\*:' -e '\[::\]:'
}
check "... and only loopback" only_loopback
kill "$HOLDER"
# the forward is asked for again after a delay that grows, while the port
# is held, up to FORWARD_RETRY_MAX (30 s; tunneld.h), with jitter
check "the port is free again: the forward is re-requested, the tunnel up" \
	wait_state gw up 35
check "... and bytes flow through it" $NETIO roundtrip "$P2" 100000

# GatewayPorts clientspecified: "*" means every address
stop_tunneld
stop_sshd
start_sshd "GatewayPorts clientspecified"
start_tunneld
check "GatewayPorts clientspecified: up" wait_state gw up
check "... \"*\" requested: status says every address" \
	test "$(json_get gw "t['forwards'][0]['listen']")" = "*:$P1"
check "... and every address is what sshd bound" \
	says "$(listening "$P1")" "0.0.0.0:$P1"
check "... the default bind is still loopback" \
	test "$(json_get gw "t['forwards'][1]['listen']")" = "localhost:$P2"

# GatewayPorts yes: sshd overrides any request and says so
stop_tunneld
stop_sshd
start_sshd "GatewayPorts yes"
start_tunneld
check "GatewayPorts yes: up" wait_state gw up
check "... even the default bind is every address, as sshd said" \
	test "$(json_get gw "t['forwards'][1]['listen']")" = "*:$P2"
check "... and it is what sshd bound" says "$(listening "$P2")" "0.0.0.0:$P2"
# the question put to the server left no listener behind
mine=$(echo $SSHD_PID $(descendants "$SSHD_PID") | tr ' ' '|')
ours=$(ss -ltnpH | grep -E "pid=($mine)," | awk '{print $4}')
others=$(echo "$ours" | grep -v -e ":$SSHD_PORT\$" -e ":$P1\$" -e ":$P2\$")
check "this sshd's listeners are seen: $(echo $ours)" says "$ours" ":$P2"

check "the GatewayPorts probe left no listener on the server" test -z "$others"
done_testing
