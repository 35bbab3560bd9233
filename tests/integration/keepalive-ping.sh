#!/bin/sh
# keepalive-ping.sh - a frozen sshd is declared dead when the keepalives
# are channel opens (issue 24, item 4; the transport review's item 2).
# The server refuses session channels (MaxSessions 0), so each keepalive
# is an open of an unknown channel type.  Frozen (SIGSTOP: its kernel
# still ACKs), it never answers: the keepalive's own open then holds the
# open slot, which is no reason to wait for a verdict - only a data open
# (sshd connecting to its target) is.  Dead after keepalive_interval x
# keepalive_count + 1 s of silence.
. "$(dirname "$0")/lib.sh"

SSHD_MAXSESSIONS=0 start_sshd
start_server echo; ECHO=$SERVER_PORT
L=$(free_port)
write_conf "
  k = {
    host = \"127.0.0.1\";
    sessions = 1;
    keepalive_interval = 1;
    keepalive_count = 3;
    local = [ \"$L:127.0.0.1:$ECHO\" ];
  };"
start_tunneld
events_start
check "k up" wait_state k up 15
check "... the server refuses session channels: keepalives are opens" \
	wait_log "refuses session channels"
check "... carries data" $NETIO roundtrip "$L" 1000

frozen=$(descendants "$SSHD_PID" | tr '\n' ' ')
events_mark
t0=$(now)
kill -STOP $frozen
# dead after 1 s x 3 + 1 s of silence, the last byte at most an interval
# before the freeze; a busy machine gets 3 s more
check "a frozen sshd is noticed" wait_event k up backoff 15
dt=$(elapsed "$t0" "$EV_TIME")
diag "noticed after $dt s (keepalive 1 s x 3 + 1 s): $EV_REASON"
check "... saying why" says "$EV_REASON" "no answer from" "keepalives unanswered"
check "... within interval x count + 1 s (+3 s)" between "$dt" 2.9 7
check "... not waiting for the keepalive's own open" \
	sh -c "! grep -q 'an open holds the slot' '$WORK/tunneld.log'"
kill -CONT $frozen 2>/dev/null; kill $frozen 2>/dev/null
check "... and replaced by a new session" wait_state k up 15
done_testing
