#!/bin/sh
# metrics-retry.sh - metrics_listen follows the file in force, not the
# file before it: a reload to an address that cannot be bound keeps the
# old one served; once the address is free, the next reload serves it,
# though the file did not change since (the admin freed the port and
# reloaded).
. "$(dirname "$0")/lib.sh"

start_sshd
MP=$(free_port)
write_conf "
  x = { host = \"127.0.0.1\"; autostart = false; };"
sed -i "1i metrics_listen = \"127.0.0.1:$MP\";" "$CONF"
serves() {
	$PYTHON3 -c "import urllib.request, sys
urllib.request.urlopen('http://127.0.0.1:%s/metrics' % sys.argv[1], timeout=5).read()" "$1" 2>/dev/null
}
not_serves() { ! serves "$1"; }
start_tunneld
check "metrics served on the first address" serves "$MP"

start_server echo	# holds the second address
BUSY=$SERVER_PORT
sed -i "s/^metrics_listen = .*/metrics_listen = \"127.0.0.1:$BUSY\";/" "$CONF"
tctl reload >/dev/null 2>&1
check "a reload to an address in use: logged" wait_log "cannot listen on 127.0.0.1:$BUSY"
check "... the first address still serves" serves "$MP"

kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
check "the address is freed" wait_until 10 sh -c "! $NETIO roundtrip $BUSY 1 >/dev/null 2>&1"
check "reload (the file as it was)" tctl reload
check "... metrics now served where the file says" wait_until 10 serves "$BUSY"
check "... and no longer on the first address" not_serves "$MP"
stop_tunneld
done_testing
