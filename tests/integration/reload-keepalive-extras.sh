#!/bin/sh
# reload-keepalive-extras.sh - a reload of keepalive_interval or
# keepalive_count re-arms every session of the tunnel, its extra sessions
# too (issue 24, item 4): they used to keep the schedule they started with.
# Extras are grown as sessions.sh does (the tunnel's own sshd process
# stopped, a burst); then keepalives go from 30 s to 1 s by a reload, and
# an extra's sshd process is frozen: it must be judged within 1 s x 2 + 1 s
# (+ margin), not 30 s x 3.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
L=$(free_port)
conf() {
	write_conf "  fwd = {
    host = \"127.0.0.1\";
    sessions = 4;
    sessions_idle = 120;
    keepalive_interval = $1;
    keepalive_count = $2;
    connect_timeout = 60;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
  };"
}
conf 30 3
start_tunneld
check "tunnel up" wait_state fwd up 15
nup() { json_get fwd "len([s for s in t['sessions'] if s['state'] == 'up'])"; }
grown() { [ "$(nup)" -ge 2 ]; }

$NETIO chat "$L" 3 > "$WORK/chat.main" 2>&1 &
CHAT=$!
check "a connection on the tunnel's session" wait_file "$WORK/chat.main"
MAIN=$(descendants "$SSHD_PID")
kill -STOP $MAIN
# one connection's open is stuck first; connections that come once the
# session's open slot is known to be held go elsewhere (a burst that came
# before would queue behind it)
$NETIO concurrent "$L" 1 1000 > "$WORK/first.out" 2>&1 &
FIRST=$!
stuck() { [ "$(json_get fwd "t['sessions'][0]['stuck_open'] is not None")" = True ]; }
check "the tunnel's session shows its stuck open" wait_until 10 stuck
$NETIO concurrent "$L" 8 1000 > "$WORK/burst.out" 2>&1 &
BURST=$!
check "a burst while the tunnel's session is stuck grows an extra session" \
	wait_until 20 grown
kill -CONT $MAIN
wait "$BURST"; wait "$FIRST"; wait "$CHAT"
EXTRA=
for p in $(descendants "$SSHD_PID"); do
	case " $(echo $MAIN) " in *" $p "*) ;; *) EXTRA="$EXTRA $p";; esac
done
check "... its sshd processes are known" [ -n "$EXTRA" ]

conf 1 2
out=$(tctl reload 2>&1); rc=$?
check "reload keepalive_interval 30 -> 1, count 3 -> 2: exit 0" [ $rc -eq 0 ]
check "... the extra session re-armed too" wait_log 'fwd#[0-9]*: keepalives every 1s' 5
kill -STOP $EXTRA
check "a frozen extra session is judged on the new schedule (1 s x 2 + 1 s)" \
	wait_log 'fwd#[0-9]*: extra session lost' 10
kill -CONT $EXTRA 2>/dev/null
check "... the tunnel stays up" wait_state fwd up 5
done_testing
