#!/bin/sh
# jump.sh - the middleman (README, "Both ends behind NAT"): H and T cannot
# reach each other, both reach M.  H, in a network namespace of its own,
# keeps a reverse tunnel to M that puts H's sshd on M's loopback; T, in
# another, jumps through M to that port and forwards to a service on H's
# loopback.  T can reach H's sshd only through M.  M's sshd restarts: both
# sides come back by themselves.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jump-lib.sh"

keygen_user
ns_make H
ns_make T
MP=$(free_port); HP=$(free_port); R=$(free_port); L=$(free_port)
# M: this namespace, on its loopback and on the links to H and T
sshd_make M - "$MP" 127.0.0.1 "$NET_H.1" "$NET_T.1"
# H: its sshd and its service on its own loopback
sshd_make H H "$HP" 127.0.0.1
in_ns H $NETIO echo > "$WORK/echo.port" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
wait_file "$WORK/echo.port" || bail "netio echo did not start in H"
ECHO=$(cat "$WORK/echo.port")

check "T cannot reach M's loopback (where H's sshd will be)" \
	in_ns T $PYTHON3 -c "
import socket, sys
try: socket.create_connection(('127.0.0.1', $MP), 1)
except OSError: sys.exit(0)
sys.exit(1)"

known M "$NET_H.1" "$MP" > "$WORK/h.known_hosts"
tunneld_make h H "
  to_m = {
    host = \"$NET_H.1\";
    port = $MP;
    remote = [ \"$R:127.0.0.1:$HP\" ];
  };"
{ known M "$NET_T.1" "$MP"; known H 127.0.0.1 "$R"; } > "$WORK/t.known_hosts"
tunneld_make t T "
  to_h = {
    host = \"127.0.0.1\";
    port = $R;
    jump = \"$(id -un)@$NET_T.1:$MP\";
    local = [ \"$L:127.0.0.1:$ECHO\" ];
  };"
CTL=$WORK/t.sock
events_start
check "H's reverse tunnel to M: up" on h wait_state to_m up
check "T's tunnel through M to H's sshd: up" wait_state to_h up 20
check "... carries data to the service on H's loopback" \
	in_ns T $NETIO roundtrip "$L" 1000000
check "... H's sshd let T in, coming from M's forward on H's loopback" \
	grep -q "Accepted publickey for $(id -un) from 127.0.0.1" \
	"$WORK/H.sshd.log"
check "... the hop is logged: T authenticated to M first" \
	grep -q "to_h: jump host $NET_T.1:$MP: authenticated to" "$WORK/t.log"
check "--print-config shows the jump" sh -c \
	"$TUNNELD -c '$WORK/t.conf' --print-config | grep -q 'jump = \"$(id -un)@$NET_T.1:$MP\"'"

# the sshd process on M that serves T's hop dies (and that one only):
# T's session to H ends with it, and says the jump host is why
hop_pids() {
	ss -tnpH state established "( sport = :$MP )" dst "$NET_T.2" |
	    sed -n 's/.*users:(\(.*\))/\1/p' | tr ',' '\n' |
	    sed -n 's/^pid=\([0-9]*\)$/\1/p' | sort -u
}
pids=$(hop_pids)
check "the sshd process on M for T's hop: found" test -n "$pids"
events_mark
kill $pids
check "it dies: T's tunnel notices" wait_event to_h up backoff 10
diag "$EV_REASON"
check "... naming the jump host" says "$EV_REASON" "jump host $NET_T.1:$MP:"
check "... and comes back by itself" wait_event to_h connecting up 20
check "... and carries data again" in_ns T $NETIO roundtrip "$L" 100000

# M's sshd restarts: every session through it ends, as in a crash
events_mark
stop_sshd_m() {
	kids=$(descendants "$SSHD_M")
	kill "$SSHD_M" $kids 2>/dev/null
	wait "$SSHD_M" 2>/dev/null
}
stop_sshd_m
check "M restarts: T's tunnel notices" wait_event to_h up backoff 10
# whichever of M's processes dies first: T's (the jump host is named) or
# H's (T's channel through M to H closes)
diag "$EV_REASON"
sshd_make M - "$MP" 127.0.0.1 "$NET_H.1" "$NET_T.1"
check "... H's reverse tunnel comes back by itself" on h wait_state to_m up 20
check "... and so does T's, through M" wait_event to_h connecting up 20
check "... and carries data again" in_ns T $NETIO roundtrip "$L" 1000000
check "both tunnelds are fine" kill -0 "$TD_h" "$TD_t"
done_testing
