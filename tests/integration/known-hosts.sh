#!/bin/sh
# known_hosts as ssh(1) reads and writes it:
# - accept-new adds an entry without harming the file: a last line without
#   newline keeps its entry, the mode and owner are kept, the file is
#   replaced by rename (new inode, no temporary file left), a symbolic link
#   is refused and its target left alone, a new file is 0644;
# - a host with a known key of another type is not new: an sshd that offers
#   only ECDSA after its ed25519 key was learnt is a changed key, under
#   accept-new too, as ssh 9.2 says in the same situation;
# - on a port other than 22 a plain "host" entry with the key is accepted,
#   and one with another key makes the key unknown, not changed;
# - an entry that came from the system-wide file is named as such.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
HP="[127.0.0.1]:$SSHD_PORT"
fp() { $SSH_KEYGEN -lf "$1" | cut -d' ' -f2; }
ED_FP=$(fp "$WORK/host_ed25519.pub")
EC_FP=$(fp "$WORK/host_ecdsa.pub")
ED=$(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/other" || bail keygen
OTHER=$(cut -d' ' -f1-2 "$WORK/other.pub")

# accept-new into a file whose last line has no newline, mode 640, of
# another group (its owner must be root: the trust model, file.c)
mkdir "$WORK/kh"
printf '# hosts\nfarhost %s' "$OTHER" > "$WORK/kh/nonl"
chmod 640 "$WORK/kh/nonl"
chown 0:65534 "$WORK/kh/nonl"
INODE=$(stat -c %i "$WORK/kh/nonl")
# into a file that does not exist yet
# through a symbolic link: refused
echo "farhost $OTHER" > "$WORK/kh/target"
cp "$WORK/kh/target" "$WORK/target.orig"
ln -s target "$WORK/kh/link"
# port other than 22, plain "host" entries
echo "127.0.0.1 $ED" > "$WORK/kh/plain_good"
echo "127.0.0.1 $OTHER" > "$WORK/kh/plain_other"
cp "$WORK/kh/plain_other" "$WORK/kh/plain_other_new"
# the system-wide file, seen in a mount namespace of the daemon's own
mkdir -p "$WORK/etc-ssh" "$WORK/home"
echo "[localhost]:$SSHD_PORT $OTHER" > "$WORK/etc-ssh/ssh_known_hosts"

L1=$(free_port)
t() { echo "  $1 = { host = \"${3:-127.0.0.1}\"; $2 };"; }
an='strict_host_key_checking = "accept-new";'
write_conf "$(t nonl "known_hosts = \"$WORK/kh/nonl\"; $an local = [ \"$L1:127.0.0.1:$ECHO\" ];")
$(t newfile "known_hosts = \"$WORK/kh/new\"; $an")
$(t link "known_hosts = \"$WORK/kh/link\"; $an")
$(t plaingood "known_hosts = \"$WORK/kh/plain_good\";")
$(t plainother "known_hosts = \"$WORK/kh/plain_other\";")
$(t plainothernew "known_hosts = \"$WORK/kh/plain_other_new\"; $an")
$(t system "" localhost)
$(t home "$an")"
sed -i "s|^  known_hosts = .*||" "$CONF"

# The daemon sees $WORK/etc-ssh as /etc/ssh and $WORK/home as its home.
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	SYSTEM=yes
	unshare -m sh -c "mount --bind '$WORK/etc-ssh' /etc/ssh &&
	    exec env HOME='$WORK/home' '$TUNNELD' -c '$CONF' --log-level debug" \
	    >> "$WORK/tunneld.log" 2>&1 &
	TUNNELD_PID=$!
	PIDS="$PIDS $TUNNELD_PID"
	i=0
	while ! tctl status >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || bail "tunneld did not start: $(tail -5 "$WORK/tunneld.log")"
		sleep 0.05
	done
else
	SYSTEM=
	HOME=$WORK/home start_tunneld
fi

check "accept-new, last line without newline: up" wait_state nonl up 30
check "... data passes" $NETIO roundtrip "$L1" 10000
check "... the last entry is intact" sh -c "$SSH_KEYGEN -F farhost -f '$WORK/kh/nonl' | grep -qF '$OTHER'"
check "... the new entry is there, as ssh-keygen reads it" sh -c "$SSH_KEYGEN -F '$HP' -f '$WORK/kh/nonl' | grep -qF '$ED'"
check "... three lines, each ending in a newline" sh -c "[ \$(wc -l < '$WORK/kh/nonl') -eq 3 ] && [ -z \"\$(tail -c 1 '$WORK/kh/nonl')\" ]"
check "... mode 640 kept" [ "$(stat -c %a "$WORK/kh/nonl")" = 640 ]
check "... owner and group kept" [ "$(stat -c %u:%g "$WORK/kh/nonl")" = 0:65534 ]
check "... replaced by rename (a new inode)" [ "$(stat -c %i "$WORK/kh/nonl")" != "$INODE" ]
check "... no temporary file left" sh -c "! ls '$WORK/kh' | grep -q tunneld-"

check "accept-new, no file yet: up" wait_state newfile up 30
check "... created 0644 with the entry" sh -c "[ \$(stat -c %a '$WORK/kh/new') = 644 ] && $SSH_KEYGEN -F '$HP' -f '$WORK/kh/new' | grep -qF '$ED'"

check "accept-new through a symbolic link: failed" wait_state link failed 10
err=$(json_get link "t['last_error']")
diag "$err"
check "... the error says why" says "$err" "$WORK/kh/link" 'symbolic link'
check "... the link is still a link" test -L "$WORK/kh/link"
check "... its target is untouched" cmp -s "$WORK/kh/target" "$WORK/target.orig"

check "port $SSHD_PORT, plain host entry with the key: up (as ssh)" wait_state plaingood up 30
check "port $SSHD_PORT, plain host entry with another key: failed" wait_state plainother failed 10
err=$(json_get plainother "t['last_error']")
diag "$err"
check "... unknown for [host]:port, not changed (as ssh)" sh -c "says() { t=\$1; shift; for w; do case \$t in *\"\$w\"*) ;; *) return 1;; esac; done; }; says \"\$1\" 'is unknown' '$HP' && ! says \"\$1\" 'CHANGED'" _ "$err"
check "... with accept-new: learnt for [host]:port, up" wait_state plainothernew up 30
check "... the plain entry kept" grep -qxF "127.0.0.1 $OTHER" "$WORK/kh/plain_other_new"

check "accept-new, default files, no ~/.ssh: up" wait_state home up 30
check "... ~/.ssh created 0700, as ssh does" [ "$(stat -c %a "$WORK/home/.ssh")" = 700 ]
check "... ~/.ssh/known_hosts 0644 with the entry" sh -c "[ \$(stat -c %a '$WORK/home/.ssh/known_hosts') = 644 ] && $SSH_KEYGEN -F '$HP' -f '$WORK/home/.ssh/known_hosts' | grep -qF '$ED'"

if [ -n "$SYSTEM" ]; then
	check "a changed key in the system-wide file: failed" wait_state system failed 10
	err=$(json_get system "t['last_error']")
	diag "$err"
	check "... the error names /etc/ssh/ssh_known_hosts:1, not the user's file" sh -c "case \"\$1\" in *'HAS CHANGED'*'/etc/ssh/ssh_known_hosts:1'*) ! echo \"\$1\" | grep -q '/.ssh/known_hosts' ;; *) false ;; esac" _ "$err"
else
	skip "no mount namespace: the system-wide file is not tested"
	skip "no mount namespace"
fi

# The server drops its ed25519 key, or an impostor has only an ECDSA key:
# the same sshd, restarted with its ECDSA key alone.  ssh 9.2 calls this a
# changed key under accept-new; so must tunneld, and learn nothing.
cp "$WORK/kh/nonl" "$WORK/kh_before"
ACCEPTED=$(grep -c 'Accepted publickey' "$WORK/sshd.log")
echo "$HP $ED" > "$WORK/kh_ssh"
stop_sshd
grep -v host_ed25519 "$WORK/sshd_config" > "$WORK/sshd_config.ecdsa"
$SSHD -f "$WORK/sshd_config.ecdsa" -D -e >> "$WORK/sshd.log" 2>&1 &
SSHD_PID=$!
PIDS="$PIDS $SSHD_PID"
wait_port "$SSHD_PORT" || bail "sshd did not restart"
$SSH -o BatchMode=yes -o StrictHostKeyChecking=accept-new \
    -o UserKnownHostsFile="$WORK/kh_ssh" -o GlobalKnownHostsFile=/dev/null \
    -i "$WORK/id_ed25519" -p "$SSHD_PORT" 127.0.0.1 true > "$WORK/ssh.out" 2>&1
rc=$?
diag "ssh: $(grep -i 'changed' "$WORK/ssh.out" | tail -1)"
check "ssh -o StrictHostKeyChecking=accept-new refuses it as a changed key" sh -c "[ $rc -ne 0 ] && grep -q 'has changed' '$WORK/ssh.out'"
check "ECDSA alone after ed25519 was learnt: failed" wait_state nonl failed 20
err=$(json_get nonl "t['last_error']")
diag "$err"
check "... HAS CHANGED, naming the known type and the offered fingerprint" says "$err" 'HAS CHANGED' "$HP" ssh-ed25519 "$WORK/kh/nonl" "$EC_FP"
check "... nothing was learnt" cmp -s "$WORK/kh/nonl" "$WORK/kh_before"
check "... no tunnel authenticated to the ECDSA-only server" [ "$(grep -c 'Accepted publickey' "$WORK/sshd.log")" -eq "$ACCEPTED" ]
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
