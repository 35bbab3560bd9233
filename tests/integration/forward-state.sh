#!/bin/sh
# A forward's state has one writer, forward_set_state(): each change is
# logged with why (debug), and the tunnel hears of forwards that change
# together once.  A tunnel whose session comes up with a failed listener
# goes connecting -> degraded once, after every forward is set up; the
# listener back, it is up; a reload that removes one forward and adds
# another keeps the third's listener and starts the new one at once.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT

# the other program: holds a port until it is killed
$PYTHON3 -c '
import socket, signal
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
signal.pause()' > "$WORK/holder.port" 2>>"$WORK/netio.log" &
HOLDER=$!
PIDS="$PIDS $HOLDER"
i=0; while [ ! -s "$WORK/holder.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
P=$(cat "$WORK/holder.port")
[ -n "$P" ] || bail "the port holder did not start"

A=$(free_port); R=$(free_port); D=$(free_port)
write_conf "  fs = { host = \"127.0.0.1\";
    local = [ \"$A:127.0.0.1:$ECHO\", \"127.0.0.1:$P:127.0.0.1:$ECHO\" ];
    remote = [ \"127.0.0.1:$R:127.0.0.1:$ECHO\" ]; };"
start_tunneld

check "a listener held by another program: degraded" wait_state fs degraded 15
check "... the forward's change logged, with why" \
    wait_log "fs: local forward \"127.0.0.1:$P:127.0.0.1:$ECHO\": pending -> failed (cannot listen on 127.0.0.1:$P" 5
check "... the others' too: up with the session" \
    wait_log "fs: local forward \"$A:127.0.0.1:$ECHO\": pending -> up (session up)" 5
check "... and when the server listens" \
    wait_log "fs: remote forward \"127.0.0.1:$R:127.0.0.1:$ECHO\": pending -> up (the server listens)" 5
n=$(grep -c 'fs: connecting -> ' "$WORK/tunneld.log")
check "the tunnel left connecting once ($n)" [ "$n" -eq 1 ]
check "... for degraded, once every forward was set up (the server asked)" sh -c "
    grep 'fs: connecting -> degraded\|fs: asking the server to listen for' '$WORK/tunneld.log' |
    head -1 | grep -q 'asking the server'"
check "... the local forward carries data" $NETIO roundtrip "$A" 1000
check "... the remote one too" $NETIO roundtrip "$R" 1000

kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
check "the port released: up within the retry interval" wait_state fs up 15
check "... the forward came up from failed" \
    wait_log "fs: local forward \"127.0.0.1:$P:127.0.0.1:$ECHO\": failed -> up (listening)" 5

write_conf "  fs = { host = \"127.0.0.1\";
    local = [ \"$D:127.0.0.1:$ECHO\", \"127.0.0.1:$P:127.0.0.1:$ECHO\" ];
    remote = [ \"127.0.0.1:$R:127.0.0.1:$ECHO\" ]; };"
out=$(tctl reload 2>&1)
diag "$out"
check "reload: one forward removed" wait_log "fs: local forward \"$A:127.0.0.1:$ECHO\" removed" 5
check "... one added, and up at once" \
    wait_log "fs: local forward \"$D:127.0.0.1:$ECHO\": pending -> up (listening)" 5
check "... the tunnel stays up" [ "$(json_get fs "t['state']")" = up ]
check "... the new forward carries data" $NETIO roundtrip "$D" 1000
check "... the kept one too" $NETIO roundtrip "$P" 1000
check "... the removed one is closed" refused "$A"
st=$(json_get fs "[f['state'] for f in t['forwards']]")
check "... its forwards in the new order, all up ($st)" \
    [ "$st" = "['up', 'up', 'up']" ]
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
