#!/bin/sh
# No file that the configuration names may block a worker: an identity_file
# or a known_hosts that is a FIFO, a directory, a device or a huge file is
# refused with an error that names the path and what it is.  That tunnel
# alone fails (and a forward on a UNIX socket that a program holds without
# ever accepting); the others come up, `tunnelctl status` answers and
# SIGTERM stops the daemon.  (Before: open() of a FIFO blocked the worker,
# status waited for it forever, SIGTERM was not acted on.)
. "$(dirname "$0")/lib.sh"

# A daemon that SIGTERM cannot stop must not hang the suite.
CLEANUP_EXTRA='[ -z "${TUNNELD_PID:-}" ] || kill -9 "$TUNNELD_PID" 2>/dev/null'
start_sshd
start_server echo; ECHO=$SERVER_PORT
mkfifo "$WORK/id_fifo" "$WORK/kh_fifo" || bail mkfifo
mkdir "$WORK/id_dir" "$WORK/kh_dir"
chmod 700 "$WORK/id_dir"
# a key file of 100 KiB (no key is that large), mode 600, and a sparse
# known_hosts of 4 GiB: refused by their size, never read
head -c 102400 /dev/zero | tr '\0' x > "$WORK/id_huge"; chmod 600 "$WORK/id_huge"
truncate -s 4G "$WORK/kh_huge" || bail truncate

# a UNIX socket where a forward should listen, held by a program that
# never accepts, its backlog full: probing it must not block the worker
$PYTHON3 -c '
import socket, signal, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(0)
c = socket.socket(socket.AF_UNIX)
c.setblocking(False)
c.connect(sys.argv[1])
print("held", flush=True)
signal.pause()' "$WORK/busy.sock" > "$WORK/busy.ready" 2>>"$WORK/netio.log" &
PIDS="$PIDS $!"
i=0; while [ ! -s "$WORK/busy.ready" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done

L1=$(free_port)
t() { echo "  $1 = { host = \"127.0.0.1\"; $2 };"; }
write_conf "$(t good "local = [ \"$L1:127.0.0.1:$ECHO\" ];")
$(t idfifo "identity_file = \"$WORK/id_fifo\";")
$(t iddir "identity_file = \"$WORK/id_dir\";")
$(t iddev "identity_file = \"/dev/zero\";")
$(t idhuge "identity_file = \"$WORK/id_huge\";")
$(t khfifo "known_hosts = \"$WORK/kh_fifo\";")
$(t khdir "known_hosts = \"$WORK/kh_dir\";")
$(t khdev "known_hosts = \"/dev/zero\";")
$(t khhuge "known_hosts = \"$WORK/kh_huge\";")
$(t khfifonew "known_hosts = \"$WORK/kh_fifo\"; strict_host_key_checking = \"accept-new\";")
$(t busy "local = [ \"$WORK/busy.sock:127.0.0.1:$ECHO\" ];")"
sed -i 's/^defaults = {/workers = 2;\ndefaults = {/' "$CONF"

# A worker that blocks made status block: every command is bounded here
# (lib.sh's json_get and wait_state go through tctl).
tctl() { timeout 5 $TUNNELCTL -s "$CTL" "$@"; }
st() { timeout 10 $TUNNELCTL -s "$CTL" "$@"; }
$TUNNELD -c "$CONF" --log-level debug >> "$WORK/tunneld.log" 2>&1 &
TUNNELD_PID=$!
PIDS="$PIDS $TUNNELD_PID"
if timeout 10 sh -c "until $TUNNELCTL -s '$CTL' status >/dev/null 2>&1; do sleep 0.05; done"; then
	ok "status answers"
else
	not_ok "status answers"
	bail "tunnelctl status does not answer: a worker is blocked"
fi
check "the tunnel with good files is up" wait_state good up 30
check "... and data passes" $NETIO roundtrip "$L1" 100000

# expect NAME TEXT...: NAME failed, its error holds every TEXT
expect() {
	n=$1; shift
	if ! wait_state "$n" failed 10; then return 1; fi
	err=$(json_get "$n" "t['last_error']")
	diag "$n: $err"
	says "$err" "$@"
}
check "identity_file a FIFO: failed, says so" expect idfifo "$WORK/id_fifo" FIFO
check "identity_file a directory: failed, says so" expect iddir "$WORK/id_dir" directory
check "identity_file a device: failed, says so" expect iddev /dev/zero 'character device'
check "identity_file of 100 KiB: refused by its size" expect idhuge "$WORK/id_huge" 102400
check "known_hosts a FIFO: failed, says so" expect khfifo "$WORK/kh_fifo" FIFO
check "known_hosts a directory: failed, says so" expect khdir "$WORK/kh_dir" directory
check "known_hosts a device: failed, says so" expect khdev /dev/zero 'character device'
check "known_hosts of 4 GiB: refused by its size" expect khhuge "$WORK/kh_huge" 4294967296
check "known_hosts a FIFO with accept-new: failed, nothing learnt" expect khfifonew "$WORK/kh_fifo" FIFO
check "a UNIX socket held by a program that never accepts: degraded" wait_state busy degraded 10
err=$(json_get busy "t['forwards'][0]['last_error']")
diag "busy: $err"
check "... its forward says another program listens there" says "$err" "$WORK/busy.sock" 'another program is listening'
check "the FIFOs are still FIFOs" test -p "$WORK/kh_fifo" -a -p "$WORK/id_fifo"
check "status still answers" sh -c "timeout 10 $TUNNELCTL -s '$CTL' status >/dev/null"
check "the good tunnel is untouched" wait_state good up 1
st up --timeout 5 idfifo >/dev/null 2>&1
check "tunnelctl up on a FIFO tunnel answers and exits 1" [ $? -eq 1 ]
n=$(grep -c 'Accepted publickey' "$WORK/sshd.log")
check "only good, busy authenticated ($n)" [ "$n" -eq 2 ]

# SIGTERM is acted on at once: within the daemon's own shutdown bound
t0=$(now)
stop_tunneld
diag "exited after $(elapsed "$t0") s"
check "... within 10 s" between "$(elapsed "$t0")" 0 10
check "... and no sanitizer report in its log" sanitizer_quiet
done_testing
