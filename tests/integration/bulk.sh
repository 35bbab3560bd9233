#!/bin/sh
# bulk.sh - sustained transfers through one tunnel (one SSH session), with
# the linked libssh2's default cipher - chacha20-poly1305 on 1.11, whose
# whole-packet decryption once stalled a session under a download until the
# keepalive verdict killed it (doc/libssh2.md, "The stall on 1.11").
#
# BULK_MB (default 300) each way: a download alone, to a fast reader, and to
# one that pauses while new connections open beside it; an upload alone,
# both at once, and four downloads at once. Each transfer fails if no byte moves for STALL seconds (a
# stalled session never recovers by itself: the keepalive verdict, after
# interval 2 s x count 3 + 1 s without input, ends it), and the session must
# neither be lost nor reconnect.
. "$(dirname "$0")/lib.sh"

MB=${BULK_MB:-300}
BYTES=$((MB * 1000 * 1000))
STALL=6		# seconds without a byte, about the keepalive verdict

# On 1.11 make sure the session runs chacha20-poly1305 (also the default).
case $($TUNNELD --version 2>/dev/null | sed -n 's/^ *libssh2 \([0-9.]*\).*/\1/p') in
1.1[1-9]*|1.[2-9][0-9]*|[2-9]*)
	CIPHER=chacha20-poly1305@openssh.com
	start_sshd "Ciphers $CIPHER" ;;
*)	CIPHER="the default"
	start_sshd ;;
esac
start_server source
SOURCE=$SERVER_PORT
start_server count
COUNT=$SERVER_PORT
start_server echo
ECHO=$SERVER_PORT
LD=$(free_port); LU=$(free_port); LE=$(free_port)
write_conf "
  bulk = {
    host = \"127.0.0.1\";
    keepalive_interval = 2;
    keepalive_count = 3;
    local = [ \"$LD:127.0.0.1:$SOURCE\", \"$LU:127.0.0.1:$COUNT\",
      \"$LE:127.0.0.1:$ECHO\" ];
  };"
start_tunneld
check "bulk up" wait_state bulk up
diag "cipher: $CIPHER; $MB MB each way; a stall is $STALL s without a byte"

# transfer MODE PORT BYTES: one connection through the tunnel; prints
# "MB/s"; fails (saying where) if no byte moved for STALL seconds or the
# count is wrong. MODE up, down, or a download whose reader stops as a
# consumer that writes to a disk does: down-pausing (0.2 s every 8 MB),
# down-stop (3 s once), down-abandon (3 s, then it closes). The channel's
# window fills, the server stops sending, and what comes next (reading
# again, a close, an open) starts on input already inside tunneld (rxq) or
# libssh2 - the case that stalled on 1.11.
transfer() {
	$PYTHON3 - "$@" "$STALL" <<'PY'
import os, select, socket, sys, time
mode, port, size, stall = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
# down-pausing: 0.2 s every 8 MB; down-stop: 3 s once, after 8 MB;
# down-abandon: after 8 MB, 3 s, then close
pause, every, abandon = {"down-pausing": (0.2, 8 << 20, False),
                         "down-stop": (3.0, size + 1, False),
                         "down-abandon": (3.0, size + 1, True)}.get(
                             mode, (0, 0, False))
way = "up" if mode == "up" else "down"
moved = 0

def transfer():
    global moved
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.setblocking(False)
    t0 = last = time.monotonic()
    chunk = memoryview(os.urandom(1 << 18))
    next_pause = 8 << 20
    answer = b""
    if way == "down":
        s.sendall(b"%d\n" % size)
    buf = bytearray(1 << 18)
    while True:
        want_w = way == "up" and moved < size
        r, w, _ = select.select([s], [s] if want_w else [], [], 0.2)
        now = time.monotonic()
        if w:
            try:
                n = s.send(chunk[:min(size - moved, len(chunk))])
            except BlockingIOError:
                n = 0
            moved += n
            if n:
                last = now
            if moved == size:
                s.shutdown(socket.SHUT_WR)
        if r:
            try:
                n = s.recv_into(buf)
            except BlockingIOError:
                n = -1
            if n == 0:
                break
            if n > 0:
                last = now
                if way == "up":
                    answer += bytes(buf[:n])
                    continue
                moved += n
                if pause and moved >= next_pause:
                    next_pause += every
                    time.sleep(pause)
                    if abandon:
                        s.close()
                        print("abandoned after %d bytes" % moved)
                        return 0
                    last = time.monotonic()
        if now - last > stall:
            print("%s: stalled: nothing for %.1f s after %d of %d bytes"
                  % (way, now - last, moved, size))
            return 1
    dt = time.monotonic() - t0
    if way == "up" and answer.strip() != b"%d" % size:
        print("up: the target counted %r, not %d" % (answer.strip(), size))
        return 1
    if way == "down" and moved != size:
        print("down: %d of %d bytes, then end of file" % (moved, size))
        return 1
    print("%.0f MB/s" % (size / dt / 1e6))
    return 0

try:
    sys.exit(transfer())
except OSError as e:
    print("%s: %s after %d of %d bytes" % (way, e, moved, size))
    sys.exit(1)
PY
}

# opener PORT [N]: N new connections (default: until $WORK/stop exists), one
# after the other, each a 1 KB echo; fails if one takes STALL seconds.
# Channel opens (and the keepalive's requests) wait for their answer behind
# the download's packets.
opener() {
	$PYTHON3 - "$1" "$STALL" "$WORK/stop" "${2:-0}" <<'PY'
import os, socket, sys, time
port, stall, stop, limit = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
n = 0
while (n < limit) if limit else not os.path.exists(stop):
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), stall)
        s.settimeout(stall)
        s.sendall(b"x" * 1000)
        got = 0
        while got < 1000:
            d = s.recv(1000 - got)
            if not d:
                break
            got += len(d)
        s.close()
    except OSError as e:
        print("open %d: %s after %.1f s" % (n + 1, e, time.monotonic() - t0))
        sys.exit(1)
    if got != 1000:
        print("open %d: closed after %d of 1000 bytes" % (n + 1, got))
        sys.exit(1)
    n += 1
print("%d opens" % n)
PY
}

# alive: the tunnel is up, did not reconnect, and no keepalive verdict
alive() {
	test "$(json_get bulk "t['state']") $(json_get bulk "t['reconnects']")" = "up 0" &&
	    ! grep -q "no answer from" "$WORK/tunneld.log"
}

out=$(transfer down "$LD" "$BYTES"); rc=$?
diag "download alone: $out"
check "download $MB MB alone, never $STALL s without progress" test $rc -eq 0
check "... the session stayed up (no keepalive verdict, no reconnect)" alive

out=$(transfer down-stop "$LD" "$BYTES"); rc=$?
diag "download, the reader stopping 3 s: $out"
check "download $MB MB to a reader that stops for 3 s, never $STALL s without progress" \
	test $rc -eq 0
check "... the session stayed up" alive
for i in 1 2 3; do
	out=$(transfer down-abandon "$LD" "$BYTES")
	out="$out; then $(opener "$LE" 1)"; rc=$?
	[ $rc -eq 0 ] || break
done
diag "a reader that stops, then closes (3 times): $out"
check "after a reader stopped and closed, a new connection opens and echoes in time" \
	test $rc -eq 0
check "... the session stayed up" alive

rm -f "$WORK/stop"
opener "$LE" > "$WORK/opens" 2>&1 &
opens=$!
out=$(transfer down-pausing "$LD" "$BYTES"); rc=$?
touch "$WORK/stop"
wait "$opens"
orc=$?
diag "download, the reader pausing: $out; meanwhile $(cat "$WORK/opens")"
check "download $MB MB to a reader that pauses, never $STALL s without progress" \
	test $rc -eq 0
check "... meanwhile new connections open and echo in time" test $orc -eq 0
check "... the session stayed up" alive

out=$(transfer up "$LU" "$BYTES"); rc=$?
diag "upload alone: $out"
check "upload $MB MB alone, never $STALL s without progress" test $rc -eq 0
check "... the session stayed up" alive

transfer down-pausing "$LD" "$BYTES" > "$WORK/both.down" 2>&1 &
down=$!
transfer up "$LU" "$BYTES" > "$WORK/both.up" 2>&1
up=$?
wait "$down"
down=$?
diag "both at once: down $(cat "$WORK/both.down"), up $(cat "$WORK/both.up")"
check "download and upload of $MB MB at once, never $STALL s without progress" \
	test "$down $up" = "0 0"
check "... the session stayed up" alive

# Four downloads at once, each reader pausing at its own moments: packets
# of a channel whose reader waits come between those of the others, so a
# read often ends on another channel's packet with the next one half in.
for i in 1 2 3 4; do
	transfer down-pausing "$LD" $((BYTES / 4)) > "$WORK/four.$i" 2>&1 &
	eval "four$i=\$!"
done
four=""
for i in 1 2 3 4; do
	eval "wait \$four$i"
	four="$four$?"
done
diag "four downloads at once: $(cat "$WORK"/four.* | tr '\n' ' ')"
check "four downloads of $((MB / 4)) MB at once to pausing readers, never $STALL s without progress" \
	test "$four" = "0000"
check "... the session stayed up" alive

done_testing
