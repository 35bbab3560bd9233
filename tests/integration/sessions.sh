#!/bin/sh
# sessions = N (issue 14): a burst of opens grows extra SSH sessions, which
# carry connections while the tunnel's own session is stuck; losing one
# costs only its connections; they close when idle; they count against the
# per-server set-up limit; sessions = 1 and its reload behave as before.
#
# The tunnel's own sshd process is stopped (SIGSTOP) to make opens queue on
# it: that is what a burst does on a long path, without timing games.
# connect_timeout (how long an open may take) and the keepalives are long,
# so that the stop, however long a loaded machine makes it, is not taken
# for a dead server.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
L=$(free_port); D=$(free_port)
conf() {
	write_conf "  fwd = {
    host = \"127.0.0.1\";
    sessions = $1;
    sessions_idle = $2;
    keepalive_interval = 30;
    connect_timeout = 60;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
    dynamic = [ \"$D\" ];
  };"
}
conf 4 30
start_tunneld
events_start

# in status, and as the server sees them: TCP connections, sshd children
nsess()  { json_get fwd "len(t['sessions'])"; }
nup()    { json_get fwd "len([s for s in t['sessions'] if s['state'] == 'up'])"; }
queued() { json_get fwd "t['sessions'][0]['opens_queued']"; }
conns()  { ss -Htn state established "( dport = :$SSHD_PORT )" | wc -l; }
kids()   { pgrep -P "$SSHD_PID" | wc -l; }
# is F V, atleast F V: the value of F; said when not (polls: wait_until says)
is()     { v=$("$1"); [ "$v" = "$2" ] || { diag "$1 is $v, not $2"; return 1; }; }
atleast() { v=$("$1"); [ "$v" -ge "$2" ] || { diag "$1 is $v, not >= $2"; return 1; }; }
has_sessions() { [ "$(nup)" -ge "$1" ]; }
queued_atleast() { [ "$(queued)" -ge "$1" ]; }

check "tunnel comes up" wait_state fwd up 15
check "idle: one session in status" is nsess 1
check "idle: one connection to sshd" is conns 1
check "idle: one sshd child" is kids 1
MAIN=$(descendants "$SSHD_PID")

# --- growth ---------------------------------------------------------------
$NETIO chat "$L" 12 > "$WORK/chat.main" 2>&1 &
CHAT_MAIN=$!
check "a long connection on the tunnel's session" wait_file "$WORK/chat.main"
kill -STOP $MAIN
$NETIO concurrent "$L" 12 100000 > "$WORK/burst.out" 2>&1 &
BURST=$!
check "a burst while the tunnel's session is stuck grows extra sessions" \
	wait_until 15 has_sessions 2
$NETIO chat "$L" 12 > "$WORK/chat.extra" 2>&1 &
CHAT_EXTRA=$!
check "a long connection on an extra session" wait_file "$WORK/chat.extra"
check "-L flows through an extra session meanwhile" $NETIO roundtrip "$L" 200000
check "-D (SOCKS5) flows through an extra session meanwhile" \
	$NETIO socks-roundtrip "$D" 5 127.0.0.1 "$ECHO" 200000
n=$(nsess); c=$(conns); k=$(kids)
diag "sessions: $n; sshd connections: $c; sshd children: $k"
check "no more sessions than sessions = 4" [ "$n" -le 4 ]
check "each extra session is a connection to sshd" [ "$c" = "$n" ]
check "... and an sshd child" [ "$k" = "$n" ]
check "the log says why one started" wait_log 'fwd#2: extra session starting'
check "... that it is up" wait_log 'fwd#2: extra session up'
grep -q 'Accepted publickey' "$WORK/sshd.log" &&
    check "sshd logs one authentication per session" \
	[ "$(grep -c 'Accepted publickey' "$WORK/sshd.log")" -ge "$n" ]
kill -CONT $MAIN
wait "$BURST"; rc=$?
[ "$rc" -eq 0 ] || diag "$(cat "$WORK/burst.out")"
check "the burst completes once the tunnel's session moves again" [ "$rc" -eq 0 ]

# --- an extra session dies ------------------------------------------------
EXTRA=
for p in $(pgrep -P "$SSHD_PID"); do
	case " $(echo $MAIN) " in *" $p "*) ;; *) EXTRA="$EXTRA $p $(descendants "$p")";; esac
done
events_mark
kill -KILL $EXTRA
check "killing the extra sessions' sshd is seen" wait_log 'extra session lost' 20
check "... their connections are closed" sh -c "! wait $CHAT_EXTRA"
check "... the tunnel's own connection keeps flowing" wait "$CHAT_MAIN"
check "... the tunnel stays up" no_event fwd up '*'
check "... and carries new connections" $NETIO roundtrip "$L" 200000

# --- idle ------------------------------------------------------------------
check "a burst grows extra sessions again" $NETIO concurrent "$L" 32 100000
diag "sessions after a burst of 32 on loopback: $(nsess)"
conf 4 3
check "reload: sessions_idle = 3" tctl reload
one_session() { [ "$(nsess)" = 1 ] && [ "$(conns)" = 1 ]; }
check "extra sessions close after sessions_idle without connections" \
	wait_until 20 one_session
check "... and say so" wait_log 'extra session closed: no connections for 3s'
check "... the server is left one sshd child" is kids 1

# --- the set-up limit (8 to one server) -----------------------------------
conf 16 3
check "reload: sessions = 16" tctl reload
MAIN=$(descendants "$SSHD_PID")
kill -STOP $MAIN
kill -STOP "$SSHD_PID"	# new connections wait in its backlog, unanswered
$NETIO concurrent "$L" 40 1000 > "$WORK/burst2.out" 2>&1 &
BURST=$!
nine() { [ "$(nsess)" -ge 9 ]; }
check "extra sessions start up to the set-up limit" wait_until 15 nine
check "... no more than the limit (8) are set up at once" is nsess 9
check "... the others are not started" wait_log 'no set-up slot free'
kill -CONT "$SSHD_PID" $MAIN
check "... the burst completes" wait "$BURST"

# --- sessions = 1 ---------------------------------------------------------
conf 1 3
check "reload: sessions = 1" tctl reload
check "extra sessions close: sessions is 1 now" wait_until 20 one_session
MAIN=$(descendants "$SSHD_PID")
kill -STOP $MAIN
: > "$WORK/tunneld.log.mark"
marked=$(wc -l < "$WORK/tunneld.log")
$NETIO concurrent "$L" 6 1000 > "$WORK/burst3.out" 2>&1 &
BURST=$!
check "sessions = 1: opens queue on the one session" wait_until 15 queued_atleast 6
check "... and no extra session starts" is nsess 1
check "... nor does the log say one did" \
	sh -c "! tail -n +$((marked + 1)) '$WORK/tunneld.log' | grep -q 'extra session'"
kill -CONT $MAIN
check "... the burst completes" wait "$BURST"

tctl status fwd > "$WORK/status.txt"
check "tunnelctl status shows the sessions" grep -q 'session 1' "$WORK/status.txt"
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
