#!/bin/sh
# sessions = N (issues 14, 24): the pool of extra SSH sessions and what it
# costs the server.  On loopback, where an open takes about a millisecond
# and a set-up tens of them, a burst of 16 uses at most 3 SSH connections
# (more only where the opens measured cost more next to a set-up);
# 8 long-lived connections opened after a burst keep at most 2 sessions
# once sessions_idle has passed; an extra starts when a new connection
# would wait longer than a set-up (an open stuck on every session), at
# most 4 being set up at once per tunnel; losing one costs only its
# connections; the pool never closes one before it authenticated (sshd
# logs no pre-authentication close and no penalty); status and metrics
# count extras started and closed, by why; sessions = 1 behaves as before.
#
# The tunnel's own sshd process is stopped (SIGSTOP) to make an open stay
# in flight on it: what a target that does not answer, or a long path,
# does, without timing games.  connect_timeout (how long an open may take)
# and the keepalives are long, so that the stop, however long a loaded
# machine makes it, is not taken for a dead server.
. "$(dirname "$0")/lib.sh"

start_sshd "LogLevel DEBUG"
start_server echo; ECHO=$SERVER_PORT
L=$(free_port); D=$(free_port)
conf() {
	write_conf "  fwd = {
    host = \"127.0.0.1\";
    sessions = $1;
    sessions_idle = $2;
    keepalive_interval = 30;
    connect_timeout = 60;
    reconnect_min = 1;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
    dynamic = [ \"$D\" ];
  };"
}
conf 16 30
GROW=
start_tunneld
events_start

# in status, and as the server sees them: TCP connections, sshd children
nsess()  { json_get fwd "len(t['sessions'])"; }
nup()    { json_get fwd "len([s for s in t['sessions'] if s['state'] == 'up'])"; }
queued() { json_get fwd "t['sessions'][0]['opens_queued']"; }
pool()   { json_get fwd "t['pool']$1"; }
conns()  { ss -Htn state established "( dport = :$SSHD_PORT )" | wc -l; }
kids()   { pgrep -P "$SSHD_PID" | wc -l; }
# sshd's log since the mark: logins, pre-authentication closes, penalties
sshd_mark() { SSHD_MARK=$(wc -l < "$WORK/sshd.log"); }
sshd_new()  { tail -n +$((SSHD_MARK + 1)) "$WORK/sshd.log" | grep -c "$1"; }
logins()    { sshd_new 'Accepted publickey'; }
# is F V, atleast F V: the value of F; said when not (polls: wait_until says)
is()     { v=$("$1"); [ "$v" = "$2" ] || { diag "$1 is $v, not $2"; return 1; }; }
atleast() { v=$("$1"); [ "$v" -ge "$2" ] || { diag "$1 is $v, not >= $2"; return 1; }; }
has_sessions() { [ "$(nup)" -ge "$1" ]; }
queued_atleast() { [ "$(queued)" -ge "$1" ]; }
one_session() { [ "$(nsess)" = 1 ] && [ "$(conns)" = 1 ]; }
# a new connection (in the background) each time it is asked, until there
# are N sessions up: with an open stuck on every session, each one waits
# longer, and one that would wait longer than a set-up starts an extra
grow_to() {
	$NETIO roundtrip "$L" 1000 >> "$WORK/grow.out" 2>&1 &
	GROW="$GROW $!"
	[ "$(nup)" -ge "$1" ]
}

check "tunnel comes up" wait_state fwd up 15
check "idle: one session in status" is nsess 1
check "idle: one connection to sshd" is conns 1
check "idle: one sshd child" is kids 1
check "status shows the measured set-up" [ -n "$(pool "['setup_ms']")" ]
diag "set-up: $(pool "['setup_ms']") ms"
# Before its first open is answered, a session takes one for a seventh of
# a set-up (tunneld.conf(5)), so a burst on a fresh tunnel that queues 8
# connections before that answer (a loaded machine) starts extras for
# them; the bound below is for a tunnel in use, whose opens are measured
# (the median of the last 5: three of them).
for i in 1 2 3; do
	check "connection $i before the bursts, whose open is measured" \
	    $NETIO roundtrip "$L" 1000
done
diag "an open: $(pool "['open_ms']") ms"
sshd_mark
PREAUTH_MARK=$SSHD_MARK

# --- loopback: a burst costs the server at most 3 connections ---------------
# A burst's 16 opens queue on one session for 16 opens' time; the pool
# adds a session while that is longer than a set-up.  On loopback an open
# is a few per cent of a set-up, and the bound is 3.  A loaded machine
# moves it two ways, and the test allows for each as the pool saw it:
# opens dearer next to a set-up (an ASan build's own code is slower, the
# crypto is not) raise it to 2 + 16 opens over a set-up, as the pool
# weighed them (status after each burst, and the log at each start); and
# an open held up in flight longer than a set-up (sshd not scheduled)
# starts an extra for the wait, as a stuck open does - the log says which
# (the wait over a set-up, the queue not), and each such one is allowed.
burst_bound() {
	json_get fwd "max(3, 2 + int(-(-16 * t['pool']['open_ms'] // \
	    t['pool']['setup_ms'])))"
}
# the extras started since line $1 of tunneld's log: "QUEUED SETUP WAIT
# OPEN", whole ms but the open's
starts_since() {
	tail -n +$(($1 + 1)) "$WORK/tunneld.log" |
	    sed -n 's/.*extra session starting: .*would wait \([0-9]*\) ms, the queued take \([0-9]*\) ms (an open \([0-9.]*\) ms), a set-up \([0-9]*\) ms.*/\2 \4 \1 \3/p'
}
bursts_from=$(wc -l < "$WORK/tunneld.log")
most=1; bound=3
for i in 1 2 3; do
	check "burst $i of 16 on loopback" $NETIO concurrent "$L" 16 10000
	n=$(nsess); [ "$n" -gt "$most" ] && most=$n
	costs="open $(pool "['open_ms']") ms, set-up $(pool "['setup_ms']") ms"
	b=$(burst_bound)
	[ -n "$b" ] && [ "$b" -gt "$bound" ] && { bound=$b;
	    diag "after burst $i: $costs: the bound is $bound"; }
done
diag "3 bursts of 16: $(logins) logins, at most $most sessions; pool: $(pool '')"
starts_since "$bursts_from" > "$WORK/starts"
# (whole ms in the log: a wait just over a set-up may show as equal)
stalls=$(awk '$1 <= $2 && $3 >= $2' "$WORK/starts" | wc -l)
# the bound at each start, by the open's and a set-up's time it was weighed by
at_start=$(awk 'BEGIN { b = 3 } $2 > 0 { n = 16 * $4 / $2; c = int(n);
	if (c < n) c++; if (2 + c > b) b = 2 + c } END { print b }' "$WORK/starts")
[ "$at_start" -gt "$bound" ] && { bound=$at_start;
    diag "the opens' time at the starts makes the bound $bound"; }
[ -s "$WORK/starts" ] && diag "extras started (queued, set-up, wait, open ms): $(tr '\n' ';' < "$WORK/starts")"
check "... each extra started for a queue or a wait longer than a set-up" \
	[ "$(awk '$1 < $2 && $3 < $2' "$WORK/starts" | wc -l)" = 0 ]
check "... at most 3 SSH connections (or what the measured costs allow)" \
	[ "$most" -le $((bound + stalls)) ]
check "... the status counts the extras started" \
	[ "$(pool "['started']['queue']")" = "$(logins)" ]
# the extras go before what follows, which counts from one session
conf 16 0.5
check "reload: sessions_idle = 0.5" tctl reload
check "... the extras close" wait_until 20 one_session
conf 16 30
check "reload: sessions_idle = 30" tctl reload

# --- growth: an open stuck on every session --------------------------------
MAIN=$(descendants "$SSHD_PID")
$NETIO chat "$L" 12 > "$WORK/chat.main" 2>&1 &
CHAT_MAIN=$!
check "a long connection on the tunnel's session" wait_file "$WORK/chat.main"
kill -STOP $MAIN
sshd_mark
$NETIO concurrent "$L" 12 100000 > "$WORK/burst.out" 2>&1 &
BURST=$!
check "opens queue behind the stuck one" wait_until 15 queued_atleast 2
check "a new connection that would wait longer than a set-up grows an extra" \
	wait_until 15 grow_to 2
$NETIO chat "$L" 12 > "$WORK/chat.extra" 2>&1 &
CHAT_EXTRA=$!
check "a long connection on an extra session" wait_file "$WORK/chat.extra"
check "-L flows through an extra session meanwhile" $NETIO roundtrip "$L" 200000
check "-D (SOCKS5) flows through an extra session meanwhile" \
	$NETIO socks-roundtrip "$D" 5 127.0.0.1 "$ECHO" 200000
n=$(nsess); c=$(conns); k=$(kids)
diag "sessions: $n; sshd connections: $c; sshd children: $k"
check "each extra session is a connection to sshd" [ "$c" = "$n" ]
check "... and an sshd child" [ "$k" = "$n" ]
check "... and a login in sshd's log" [ "$(logins)" -ge $((n - 1)) ]
check "the log says why one started" wait_log 'extra session starting: opens queue on every session, a new one would wait'
check "... that it is up, and its set-up time" wait_log 'extra session up in'
kill -CONT $MAIN
wait "$BURST"; rc=$?
[ "$rc" -eq 0 ] || diag "$(cat "$WORK/burst.out")"
check "the burst completes once the tunnel's session moves again" [ "$rc" -eq 0 ]
fails=0
for p in $GROW; do wait "$p" || fails=$((fails + 1)); done; GROW=
check "... and the connections that grew the pool" [ "$fails" = 0 ]

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
check "... status counts them as lost" [ "$(pool "['closed']['lost']")" -ge 1 ]

# --- at most 2 extras in set-up at once -------------------------------------
# sshd's listener stopped: new connections wait in its backlog, unanswered,
# so the extras stay in set-up (once reconnect_min, 1 s, after the loss)
MAIN=$(descendants "$SSHD_PID")
base=$(nsess)
kill -STOP $MAIN
kill -STOP "$SSHD_PID"
$NETIO concurrent "$L" 40 1000 > "$WORK/burst2.out" 2>&1 &
BURST=$!
NGROW=0
grow_setup() {
	$NETIO roundtrip "$L" 1000 >> "$WORK/grow.out" 2>&1 &
	GROW="$GROW $!"; NGROW=$((NGROW + 1))
	[ "$(pool "['in_setup']")" -ge 4 ]
}
check "extras start while every open waits" wait_until 20 grow_setup
# an extra whose set-up is overdue is taken to need as long again: the
# next connections start others (not only once dozens are held for it)
diag "connections after the burst of 40 until 4 were in set-up: $NGROW"
check "... within 20 connections after the burst" [ "$NGROW" -le 20 ]
for i in 1 2 3 4 5 6 7 8 9 10; do grow_setup; done
check "... no more than 4 are being set up at once" is nsess $((base + 4))
check "... as status says" [ "$(pool "['in_setup']")" = 4 ]
kill -CONT "$SSHD_PID" $MAIN
check "... the burst completes" wait "$BURST"
fails=0
for p in $GROW; do wait "$p" || fails=$((fails + 1)); done; GROW=
check "... and the connections held for the extras" [ "$fails" = 0 ]

# --- 8 long-lived connections after a burst keep at most 2 sessions --------
diag "sessions after the bursts: $(nsess)"
check "there are extra sessions to drain" atleast nsess 2
conf 16 3
check "reload: sessions_idle = 3" tctl reload
CHATS=
for i in 1 2 3 4 5 6 7 8; do
	$NETIO chat "$L" 25 > "$WORK/chat.$i" 2>&1 &
	CHATS="$CHATS $!"
	wait_file "$WORK/chat.$i" || diag "chat $i did not connect"
done
at_most_2() { [ "$(nsess)" -le 2 ] && [ "$(conns)" -le 2 ]; }
check "8 long-lived connections: at most 2 sessions after sessions_idle" \
	wait_until 20 at_most_2
check "... the log says the others idled out" wait_log 'extra session closed: no connections for 3s'
check "... status counts them" [ "$(pool "['closed']['idle']")" -ge 1 ]
fails=0
for p in $CHATS; do wait "$p" || fails=$((fails + 1)); done
check "... the 8 connections flowed to their end" [ "$fails" = 0 ]
check "extra sessions close after sessions_idle without connections" \
	wait_until 20 one_session
check "... the server is left one sshd child" is kids 1

# --- what the server saw ------------------------------------------------------
# what a close before authentication looks like in sshd's log (VERBOSE,
# DEBUG): none since the tunnel came up
tail -n +$((PREAUTH_MARK + 1)) "$WORK/sshd.log" | grep -E \
    '(Connection closed by|Disconnected from|Connection reset by|Timeout before authentication).*\[preauth\]' \
    > "$WORK/preauth.txt"
[ -s "$WORK/preauth.txt" ] && diag "$(head -5 "$WORK/preauth.txt")"
check "no pre-authentication close in sshd's log" [ ! -s "$WORK/preauth.txt" ]
# (since the tunnel came up: lib.sh's probe of sshd's port before it is a
# connection without authentication, which OpenSSH 9.8+ penalises)
check "no penalty in sshd's log" sh -c \
    "! tail -n +$((PREAUTH_MARK + 1)) '$WORK/sshd.log' | grep -i penalty"
tctl metrics > "$WORK/metrics.txt"
check "metrics count extras started" \
	grep -q '^tunneld_tunnel_extra_sessions_started_total{tunnel="fwd",reason="queue"} [1-9]' "$WORK/metrics.txt"
check "metrics count extras closed idle" \
	grep -q '^tunneld_tunnel_extra_sessions_closed_total{tunnel="fwd",reason="idle"} [1-9]' "$WORK/metrics.txt"

# --- sessions = 1 ---------------------------------------------------------
conf 1 3
check "reload: sessions = 1" tctl reload
MAIN=$(descendants "$SSHD_PID")
kill -STOP $MAIN
marked=$(wc -l < "$WORK/tunneld.log")
$NETIO concurrent "$L" 6 1000 > "$WORK/burst3.out" 2>&1 &
BURST=$!
check "sessions = 1: opens queue on the one session" wait_until 15 queued_atleast 6
ok_one() { $NETIO roundtrip "$L" 1000 >> "$WORK/grow.out" 2>&1 & GROW="$GROW $!"; [ "$(queued)" -ge 8 ]; }
check "... new connections queue there too" wait_until 15 ok_one
check "... and no extra session starts" is nsess 1
check "... nor does the log say one did" \
	sh -c "! tail -n +$((marked + 1)) '$WORK/tunneld.log' | grep -q 'extra session'"
kill -CONT $MAIN
check "... the burst completes" wait "$BURST"
for p in $GROW; do wait "$p"; done; GROW=

tctl status fwd > "$WORK/status.txt"
check "tunnelctl status shows the sessions" grep -q 'session 1' "$WORK/status.txt"
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
