#!/bin/sh
# log-rate-names.sh - the log's rate limit keys a message by its tunnel
# whatever the length of the tunnel's name: two tunnels whose names share
# their first 64 bytes keep a budget each, so one tunnel's burst of lines
# (a client repeating "down") does not silence another's, neither in a
# message that passes its subject (log_tunnel) nor in one that starts
# "NAME: " (control's "down by uid").
. "$(dirname "$0")/lib.sh"

start_sshd
P=a$(printf 'x%.0s' $(seq 1 70))
A=$P-one B=$P-two
LOG_RATE_LIMIT=3 write_conf "
  $A = { host = \"127.0.0.1\"; autostart = false; };
  $B = { host = \"127.0.0.1\"; autostart = false; };
  s1 = { host = \"127.0.0.1\"; autostart = false; };
  s2 = { host = \"127.0.0.1\"; autostart = false; };"
start_tunneld

# short names first: they never shared a budget
for i in 1 2 3 4 5 6; do tctl down s1 >/dev/null 2>&1; done
tctl down s2 >/dev/null 2>&1
check "short names: s2's line after s1's burst" \
	grep -q "s2: down by uid" "$WORK/tunneld.log"

for i in 1 2 3 4 5 6; do tctl down "$A" >/dev/null 2>&1; done
check "A's burst was folded (the limit is in force)" \
	test "$(grep -c "$A: down by uid" "$WORK/tunneld.log")" -eq 3
tctl down "$B" >/dev/null 2>&1
check "long names: B's \"down by uid\" after A's burst" \
	grep -q "$B: down by uid" "$WORK/tunneld.log"
check "long names: B's log_tunnel line after A's burst" \
	grep -q "$B: down requested in state" "$WORK/tunneld.log"
stop_tunneld
done_testing
