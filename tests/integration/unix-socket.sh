#!/bin/sh
# unix-socket.sh - forwards with UNIX sockets at either end: listening here
# on a socket path (mode 0600, a stale socket replaced, a live one left
# alone), reaching a socket on the server (direct-streamlocal), and a remote
# forward to a socket here.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo
ECHO=$SERVER_PORT
$NETIO echo-unix "$WORK/echo.sock" > "$WORK/echo-unix.out" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_until 30 test -S "$WORK/echo.sock" || bail "netio echo-unix did not start"
# a stale socket where tunneld will listen: bound, then left by its owner
$PYTHON3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('$WORK/l.sock')"
L2=$(free_port); R1=$(free_port)
write_conf "
  ux = {
    host = \"127.0.0.1\";
    local = [ \"$WORK/l.sock:127.0.0.1:$ECHO\", \"$L2:$WORK/echo.sock\" ];
    remote = [ \"$R1:$WORK/echo.sock\" ];
  };"
start_tunneld
check "UNIX socket forwards come up" wait_state ux up
check "a stale socket file in the way was replaced" test -S "$WORK/l.sock"
check "the listening socket has mode 0600 (StreamLocalBindMask 0177)" \
	test "$(stat -c %a "$WORK/l.sock")" = 600
check "local: a UNIX socket here to TCP there, 2 MB each way" \
	$NETIO roundtrip "$WORK/l.sock" 2000000
check "local: TCP here to a UNIX socket on the server" \
	$NETIO roundtrip "$L2" 2000000
check "remote: the server's port to a UNIX socket here" \
	$NETIO roundtrip "$R1" 2000000
check "status shows the socket path as the listen address" \
	test "$(json_get ux "t['forwards'][0]['listen']")" = "$WORK/l.sock"

# a live socket is never taken over
write_conf "
  ux2 = {
    host = \"127.0.0.1\";
    local = [ \"$WORK/echo.sock:127.0.0.1:$ECHO\" ];
  };"
stop_tunneld
mv "$WORK/tunneld.log" "$WORK/tunneld.1.log"
start_tunneld
check "a socket another program listens on is left alone: degraded" \
	wait_state ux2 degraded
check "... saying why" says "$(json_get ux2 "t['forwards'][0]['last_error']")" \
	"another program is listening there"
check "... and that program still answers" $NETIO roundtrip "$WORK/echo.sock" 1000
done_testing
