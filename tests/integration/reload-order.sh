#!/bin/sh
# reload-order.sh - a reload releases before it acquires: a listener may
# move from one tunnel to another whatever their order in the file - to a
# new tunnel listed before the old owner, and between two changed tunnels.
# It used to be handled in file order, so the tunnel listed first found the
# port still held (EADDRINUSE) and waited for its retry timer.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo
ECHO=$SERVER_PORT
echo "[localhost]:$SSHD_PORT $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")" >> "$WORK/known_hosts"
P1=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port)
fwd() { echo "\"$1:127.0.0.1:$ECHO\""; }
# reconnect_max: a listener that failed is retried after at most that long;
# long enough that only a reload done right has the port at once
write_conf "
  y = { host = \"127.0.0.1\"; reconnect_max = 60; local = [ $(fwd $P3) ]; };
  x = { host = \"127.0.0.1\"; local = [ $(fwd $P1), $(fwd $P2) ]; };"
start_tunneld
check "x up" wait_state x up
check "y up" wait_state y up

# P1 moves from x to y (listed earlier, changed); P2 from x to the new
# tunnel w (listed first); x keeps only P4
write_conf "
  w = { host = \"127.0.0.1\"; reconnect_max = 60; local = [ $(fwd $P2) ]; };
  y = { host = \"127.0.0.1\"; reconnect_max = 60;
        local = [ $(fwd $P3), $(fwd $P1) ]; };
  x = { host = \"127.0.0.1\"; local = [ $(fwd $P4) ]; };"
out=$(tctl reload 2>&1); rc=$?
diag "$out"
check "reload: exit 0" test $rc -eq 0
check "w: added, up" wait_state w up
check "y: up with the port x gave up" wait_state y up
check "... no listener found its port still taken" \
	sh -c "! grep -q 'Address already in use' '$WORK/tunneld.log'"
check "w: the moved port carries data" $NETIO roundtrip "$P2" 100000
check "y: the moved port carries data" $NETIO roundtrip "$P1" 100000
check "x: its new forward carries data" $NETIO roundtrip "$P4" 100000

# and back, the other way round: a restarted tunnel (new host) takes the
# ports of one that is removed and of one listed later
write_conf "
  x = { host = \"localhost\"; reconnect_max = 60;
        local = [ $(fwd $P1), $(fwd $P2) ]; };
  y = { host = \"127.0.0.1\"; reconnect_max = 60; local = [ $(fwd $P3) ]; };"
out=$(tctl reload 2>&1); rc=$?
diag "$out"
check "reload: exit 0" test $rc -eq 0
check "x: restarted, up with both ports" wait_state x up
check "... no listener found its port still taken" \
	sh -c "! grep -q 'Address already in use' '$WORK/tunneld.log'"
check "x: both ports carry data" sh -c \
	"$NETIO roundtrip $P1 100000 && $NETIO roundtrip $P2 100000"
done_testing
