#!/bin/sh
# jump-bulk.sh - many connections at once through a jump host (here the
# same sshd, on loopback): the target's session writes into a socketpair,
# which fills up at once, so libssh2 often cannot send a packet whole.
# Small packets - a channel's EOF above all, which libssh2 1.10 builds on
# the stack - must never wait inside libssh2 (ssh/session_pump.c,
# session_send_cb): before, about one round in two ended the session with
# "Unable to send EOF on channel".
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo
ECHO=$SERVER_PORT
L=$(free_port)
write_conf "
  jumped = {
    host = \"127.0.0.1\";
    jump = \"127.0.0.1:$SSHD_PORT\";
    local = [ \"$L:127.0.0.1:$ECHO\" ];
  };"
start_tunneld
check "a tunnel through a jump host: up" wait_state jumped up
for i in 1 2 3 4 5 6 7 8; do
	check "8 connections of 3 MB each way at once, round $i" \
		$NETIO concurrent "$L" 8 3000000
done
check "... and not one reconnect" \
	test "$(json_get jumped "t['reconnects']")" = 0
check "... nor a session lost" sh -c "! grep -q 'up -> backoff' '$WORK/tunneld.log'"
done_testing
