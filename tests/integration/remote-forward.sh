#!/bin/sh
# remote-forward.sh - remote forwards (ssh -R) through a real sshd: a fixed
# port and port 0, what the server's GatewayPorts makes of "*", a port the
# server cannot have (degraded, then up once it is free), a local target
# that refuses, and the classic: -R PORT:localhost:22, then scp back through.
. "$(dirname "$0")/lib.sh"

start_sshd "Subsystem sftp internal-sftp"
start_server echo
ECHO=$SERVER_PORT
CLOSED=$(free_port)	# reserved, and nothing listens on it
R1=$(free_port); R3=$(free_port); R4=$(free_port)
write_conf "
  rev = {
    host = \"127.0.0.1\";
    remote = [ \"$R1:127.0.0.1:$ECHO\", \"0:localhost:$ECHO\",
               \"$R3:127.0.0.1:$CLOSED\", \"$R4:localhost:$SSHD_PORT\" ];
  };"
start_tunneld
check "a tunnel with four remote forwards comes up" wait_state rev up
check "a fixed port: status shows what the server listens on" \
	test "$(json_get rev "t['forwards'][0]['listen']")" = "localhost:$R1"
check "bytes flow through the server's listener and back" \
	$NETIO roundtrip "$R1" 3000000
P0=$(json_get rev "t['forwards'][1]['listen'].split(':')[-1]")
check "port 0: the server's choice is shown ($P0)" \
	sh -c "[ '$P0' -gt 0 ] 2>/dev/null"
check "port 0: bytes flow through the port the server chose" \
	$NETIO roundtrip "$P0" 100000
check "a local target that refuses: that connection is closed" \
	$NETIO closed "$R3"
check "... and costs only that connection: the others still carry" \
	$NETIO concurrent "$R1" 8 200000
check "... the tunnel stays up" test "$(json_get rev "t['state']")" = up
check "forwarded connections are counted" \
	test "$(json_get rev "t['forwards'][0]['total_connections']")" -ge 9

# the classic: reach this machine's sshd from the server, back through -R
echo "[127.0.0.1]:$R4 $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")" >> "$WORK/known_hosts"
head -c 2000000 /dev/urandom > "$WORK/payload"
check "-R PORT:localhost:22, then scp -P PORT back through it" \
	scp -q -P "$R4" -i "$WORK/id_ed25519" -o BatchMode=yes \
	-o UserKnownHostsFile="$WORK/known_hosts" \
	"$WORK/payload" "127.0.0.1:$WORK/payload.copy"
check "... the file arrives intact" cmp -s "$WORK/payload" "$WORK/payload.copy"
done_testing
