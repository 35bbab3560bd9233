#!/bin/sh
# many-forwards.sh - every kind of forward, several of each, on one tunnel
# and its one SSH session, all carrying bytes at the same time.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo
ECHO=$SERVER_PORT
L1=$(free_port); L2=$(free_port); L3=$(free_port)
R1=$(free_port); R2=$(free_port); R3=$(free_port)
D1=$(free_port); D2=$(free_port)
RD1=$(free_port); RD2=$(free_port)
write_conf "
  all = {
    host = \"127.0.0.1\";
    sessions = 1;
    local = [ \"$L1:127.0.0.1:$ECHO\", \"$L2:localhost:$ECHO\",
              \"127.0.0.1:$L3:127.0.0.1:$ECHO\" ];
    remote = [ \"$R1:127.0.0.1:$ECHO\", \"$R2:localhost:$ECHO\",
               \"localhost:$R3:127.0.0.1:$ECHO\", \"$RD1\", \"$RD2\" ];
    dynamic = [ \"$D1\", \"127.0.0.1:$D2\" ];
  };"
start_tunneld
check "ten forwards of four kinds: up" wait_state all up
check "every forward is up" \
	test "$(json_get all "sum(f['state'] == 'up' for f in t['forwards'])")" = 10
check "kinds as SPEC.md names them" \
	test "$(json_get all "','.join(sorted(set(f['kind'] for f in t['forwards'])))")" \
	= "dynamic,local,remote,remote-dynamic"
pids=""
for p in $L1 $L2 $L3 $R1 $R2 $R3; do
	$NETIO concurrent "$p" 4 500000 > "$WORK/many.$p" 2>&1 &
	pids="$pids $!"
done
for p in $D1 $D2 $RD1 $RD2; do
	$NETIO socks-roundtrip "$p" 5 127.0.0.1 "$ECHO" 1000000 > "$WORK/many.$p" 2>&1 &
	pids="$pids $!"
done
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
check "all of them carry bytes at once, intact" test "$failed" -eq 0
[ "$failed" -eq 0 ] || cat "$WORK"/many.* | diag
check "... over one SSH session" \
	test "$(grep -c 'Accepted publickey' "$WORK/sshd.log")" -eq 1
check "bytes are counted per forward" \
	test "$(json_get all "min(f['bytes_in'] for f in t['forwards'])")" -gt 0
done_testing
