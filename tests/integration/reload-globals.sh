#!/bin/sh
# reload-globals.sh - the global settings a reload applies at once
# (log_level, log_rate_limit), through the reload observers: each takes
# effect on the reload that changes it; a refused reload keeps them; a
# level given on the command line (--log-level, -v) stays across reloads.
. "$(dirname "$0")/lib.sh"

start_sshd
write_conf "
  x = { host = \"127.0.0.1\"; autostart = false; };"
sed -i '1i log_level = "warning";' "$CONF"
# tunneld as the service runs it: the level from the file
start_plain() {
	$TUNNELD -c "$CONF" "$@" >> "$WORK/tunneld.log" 2>&1 &
	TUNNELD_PID=$!
	PIDS="$PIDS $TUNNELD_PID"
	wait_until 30 sh -c "$TUNNELCTL -s '$CTL' status >/dev/null 2>&1" ||
	    bail "tunneld did not start: $(tail -5 "$WORK/tunneld.log")"
}
# downs N: N times "down x", then how many "x: down by uid" lines the
# log has since the last mark
mark() { M=$(grep -c "x: down by uid" "$WORK/tunneld.log"); }
downs() {
	i=0; while [ $i -lt "$1" ]; do tctl down x >/dev/null 2>&1; i=$((i+1)); done
	echo $(( $(grep -c "x: down by uid" "$WORK/tunneld.log") - M ))
}
reload_ok() { tctl reload >/dev/null 2>&1; }

start_plain
mark
check "log_level warning: an info line is not written" test "$(downs 1)" -eq 0
sed -i 's/^log_level = .*/log_level = "info";/' "$CONF"
check "reload to log_level info" reload_ok
mark
check "... applied: the info line is written" test "$(downs 1)" -eq 1

echo "bogus = 1;" >> "$CONF"
check "a reload with an error is refused" sh -c "! $TUNNELCTL -s '$CTL' reload >/dev/null 2>&1"
sed -i '$d' "$CONF"
mark
check "... and log_level info stays" test "$(downs 1)" -eq 1

sed -i 's/^log_rate_limit = .*/log_rate_limit = 2;/' "$CONF"
check "reload to log_rate_limit 2" reload_ok
mark
check "... applied: 2 of 6 lines written" test "$(downs 6)" -eq 2
stop_tunneld

# the command line's level wins over the file's, reload or not
sed -i 's/^log_rate_limit = .*/log_rate_limit = 0;/' "$CONF"
sed -i 's/^log_level = .*/log_level = "warning";/' "$CONF"
start_plain --log-level info
mark
check "--log-level info over the file's warning" test "$(downs 1)" -eq 1
sed -i 's/^log_level = .*/log_level = "error";/' "$CONF"
check "reload to log_level error" reload_ok
mark
check "... the command line's level stays" test "$(downs 1)" -eq 1
stop_tunneld
sed -i 's/^log_level = .*/log_level = "warning";/' "$CONF"
start_plain -v -v
mark
check "-v -v: info, two above the file's warning" test "$(downs 1)" -eq 1
sed -i 's/^log_level = .*/log_level = "error";/' "$CONF"
check "reload to log_level error" reload_ok
mark
check "... -v's level stays" test "$(downs 1)" -eq 1
stop_tunneld
done_testing
