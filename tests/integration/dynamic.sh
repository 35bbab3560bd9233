#!/bin/sh
# dynamic.sh - dynamic forwards (ssh -D) and reverse dynamic forwards
# (ssh -R port): curl through them with every SOCKS flavour, the right
# SOCKS answer to what cannot be done, clients that send garbage or stall
# dropped in time while a transfer beside them goes on intact, and
# permit_remote_open.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo
ECHO=$SERVER_PORT
CLOSED=$(free_port)	# reserved, and nothing listens on it
mkdir "$WORK/www"
head -c 30000000 /dev/urandom > "$WORK/www/big"
echo "hello through socks" > "$WORK/www/hello"
$NETIO http "$WORK/www" > "$WORK/http.port" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/http.port" || bail "netio http did not start"
HTTP=$(cat "$WORK/http.port")
D=$(free_port); RD=$(free_port); RP=$(free_port)
write_conf "
  socks = {
    host = \"127.0.0.1\";
    connect_timeout = 4;
    dynamic = [ \"$D\" ];
    remote = [ \"$RD\" ];
  };
  fenced = {
    host = \"127.0.0.1\";
    remote = [ \"$RP\" ];
    permit_remote_open = [ \"localhost:$HTTP\", \"127.0.0.1:$ECHO\" ];
  };"
start_tunneld
check "dynamic and reverse dynamic forwards come up" wait_state socks up
check "... and one fenced by permit_remote_open" wait_state fenced up

for proto in socks4 socks4a socks5 socks5h; do
	host=127.0.0.1
	case $proto in socks4a|socks5h) host=localhost ;; esac
	check "curl --proxy $proto:// through -D" \
		says "$(curl -s --max-time 20 --proxy "$proto://127.0.0.1:$D" "http://$host:$HTTP/hello")" \
		"hello through socks"
	check "curl --proxy $proto:// through reverse dynamic -R" \
		says "$(curl -s --max-time 20 --proxy "$proto://127.0.0.1:$RD" "http://$host:$HTTP/hello")" \
		"hello through socks"
done
# socks_reply OUTPUT: a SOCKS reply code, two hex digits (not an error)
socks_reply() { case $1 in [0-9a-f][0-9a-f]) true ;; *) diag "no reply: $1"; false ;; esac; }
check "SOCKS5 to an IPv6 literal is passed on (the server answers)" \
	socks_reply "$($NETIO socks "$D" 5 ::1 "$CLOSED")"
check "SOCKS5 CONNECT to a closed port: \"connection refused\" (05)" \
	test "$($NETIO socks "$D" 5 127.0.0.1 "$CLOSED")" = 05
check "SOCKS4 CONNECT to a closed port: rejected (5b)" \
	test "$($NETIO socks "$D" 4 127.0.0.1 "$CLOSED")" = 5b
check "SOCKS5 BIND: \"command not supported\" (07)" \
	test "$($NETIO socks "$D" 5 127.0.0.1 "$ECHO" bind)" = 07
check "SOCKS5 UDP ASSOCIATE: \"command not supported\" (07)" \
	test "$($NETIO socks "$D" 5 127.0.0.1 "$ECHO" udp)" = 07
check "SOCKS4 BIND: rejected (5b)" \
	test "$($NETIO socks "$D" 4 127.0.0.1 "$ECHO" bind)" = 5b
check "reverse dynamic, closed port: \"connection refused\" (05)" \
	test "$($NETIO socks "$RD" 5 127.0.0.1 "$CLOSED")" = 05
check "SOCKS5 through -D: 2 MB each way intact" \
	$NETIO socks-roundtrip "$D" 5 127.0.0.1 "$ECHO" 2000000
check "SOCKS4a through reverse dynamic: 2 MB each way intact" \
	$NETIO socks-roundtrip "$RD" 4a localhost "$ECHO" 2000000

# permit_remote_open
check "permit_remote_open: a listed destination is served" \
	says "$(curl -s --max-time 20 --proxy "socks5h://127.0.0.1:$RP" "http://localhost:$HTTP/hello")" \
	"hello through socks"
check "permit_remote_open: another port is refused, not allowed (02)" \
	test "$($NETIO socks "$RP" 5 127.0.0.1 "$HTTP")" = 02
check "permit_remote_open: SOCKS4 gets rejected (5b)" \
	test "$($NETIO socks "$RP" 4 127.0.0.1 "$HTTP")" = 5b
check "... and it is logged" wait_log "is not in permit_remote_open, refused"

# garbage and stalls cost only themselves
curl -s --max-time 60 --proxy "socks5h://127.0.0.1:$D" -o "$WORK/big.copy" \
	"http://localhost:$HTTP/big" &
CURL=$!
# (at once: well before connect_timeout, 4 s; a stall: by connect_timeout
# with 2 s for a busy machine)
check "a client sending garbage to -D is dropped at once" \
	$NETIO garbage "$D" 2.5
check "a client sending garbage to reverse dynamic is dropped at once" \
	$NETIO garbage "$RD" 2.5
check "a client that stalls in the handshake is dropped after connect_timeout" \
	$NETIO stalled "$D" 6
check "... on reverse dynamic too" $NETIO stalled "$RD" 6
wait $CURL
check "the transfer beside them arrives intact" cmp -s "$WORK/www/big" "$WORK/big.copy"
check "the tunnel is still up" test "$(json_get socks "t['state']")" = up
check "status counts the dynamic forward's connections" \
	test "$(json_get socks "t['forwards'][0]['total_connections']")" -ge 10
done_testing
