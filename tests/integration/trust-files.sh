#!/bin/sh
# The files tunneld trusts, as sshd's StrictModes (file.c): a configuration
# file, include_dir, drop-in, identity, known_hosts, password or
# passphrase file that anyone but its owner may write, or that is owned by
# anyone but root (the daemon's user), or below such a directory, is
# refused with an error naming it, its owner and mode: at start (exit 1,
# every error), by tunneld -n, on reload (the running configuration stays)
# and when a worker opens it.  A secret is never read through a symbolic
# link.  A sticky directory that anyone may write (/tmp) is accepted with
# a root-owned entry, and refused with another user's.  (Before: all were
# read without a word; a group-writable drop-in with accept-new made
# `tunnelctl reload` write a stranger's key wherever known_hosts pointed.)
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
L1=$(free_port)
D=$WORK/conf.d
mkdir "$D"
write_conf "  a = { host = \"127.0.0.1\"; local = [ \"$L1:127.0.0.1:$ECHO\" ]; };"
sed -i "s|^control_socket|include_dir = \"$D\";\ncontrol_socket|" "$CONF"
echo "secret" > "$WORK/pw"; chmod 600 "$WORK/pw"
ln -s pw "$WORK/pwlink"
cp "$WORK/authorized_keys" "$WORK/target"

# the attacks of issue 23, all at once
chmod 666 "$CONF"
chmod 777 "$D"
cat > "$D/evil.conf" <<EOF2
tunnels = {
  evil = { host = "127.0.0.1"; known_hosts = "$WORK/target";
    strict_host_key_checking = "accept-new"; };
  pwl = { host = "127.0.0.1"; password_file = "$WORK/pwlink"; };
};
EOF2
chmod 664 "$D/evil.conf"

out=$(timeout 10 $TUNNELD -c "$CONF" 2>&1); rc=$?
diag "$out"
check "start: exit 1" [ $rc -eq 1 ]
check "... a world-writable configuration file: named with owner and mode" \
	says "$out" "configuration file $CONF is writable by group and others" "root" "0666"
chmod 644 "$CONF"
out=$(timeout 10 $TUNNELD -c "$CONF" 2>&1); rc=$?
diag "$out"
check "start: exit 1 with every error" [ $rc -eq 1 ]
check "... a world-writable include_dir, at its line" \
	says "$out" "$CONF:1: include_dir $D is writable by group and others" "0777"
check "... the drop-in below it" says "$out" "drop-in $D/evil.conf" "0664"
chmod 755 "$D"
out=$(timeout 10 $TUNNELD -c "$CONF" 2>&1); rc=$?
diag "$out"
check "a group-writable drop-in: exit 1" [ $rc -eq 1 ]
check "... named with owner and mode" \
	says "$out" "drop-in $D/evil.conf is writable by its group" "root" "0664"
out=$($TUNNELD -n -c "$CONF" 2>&1); rc=$?
check "tunneld -n: exit 1, the same message" sh -c "[ $rc -eq 1 ] && case \"\$1\" in *'drop-in $D/evil.conf is writable by its group'*) ;; *) exit 1;; esac" - "$out"
chmod 644 "$D/evil.conf"
out=$($TUNNELD -n -c "$CONF" 2>&1); rc=$?
diag "$out"
check "password_file through a symbolic link: tunneld -n exits 1" [ $rc -eq 1 ]
check "... at its line, saying why" says "$out" "evil.conf:4: tunnel \"pwl\": password_file $WORK/pwlink is a symbolic link"

# owners: another user's file, a sticky directory
chown 65534 "$WORK/target"
out=$($TUNNELD -n -c "$CONF" 2>&1)
check "known_hosts owned by another user: named with its owner" \
	says "$out" "known_hosts $WORK/target is owned by nobody"
chown 0 "$WORK/target"
sed -i "s|$WORK/pwlink|$WORK/pw|; s|$WORK/target|$WORK/sticky/kh|" "$D/evil.conf"
mkdir "$WORK/sticky"; chmod 1777 "$WORK/sticky"
out=$($TUNNELD -n -c "$CONF" 2>&1); rc=$?
check "a sticky world-writable directory, root's entry: accepted" [ $rc -eq 0 ]
touch "$WORK/sticky/kh"; chown 65534 "$WORK/sticky/kh"
out=$($TUNNELD -n -c "$CONF" 2>&1); rc=$?
check "... another user's entry in it: refused" says "$out" "known_hosts $WORK/sticky/kh is owned by nobody"
rm -f "$WORK/sticky/kh"
chmod 777 "$WORK/sticky"
out=$($TUNNELD -n -c "$CONF" 2>&1); rc=$?
check "... the same directory not sticky: refused, naming it" \
	says "$out" "known_hosts $WORK/sticky/kh: the directory $WORK/sticky is writable by group and others" "0777"
chmod 1777 "$WORK/sticky"

# reload: the running configuration stays, the errors are returned
mv "$D/evil.conf" "$WORK/evil.conf.off"
start_tunneld
check "a trusted configuration starts" wait_state a up 30
mv "$WORK/evil.conf.off" "$D/evil.conf"
chmod 620 "$D/evil.conf"
out=$(tctl reload 2>&1); rc=$?
diag "$out"
check "reload of a group-writable drop-in: exit 1" [ $rc -eq 1 ]
check "... the error returned, naming it" says "$out" "drop-in $D/evil.conf is writable by its group" "0620"
check "... the running configuration stays" sh -c "! $TUNNELCTL -s '$CTL' status evil >/dev/null 2>&1"
check "... nothing written where known_hosts pointed" test ! -e "$WORK/sticky/kh"
check "... tunnel a untouched" wait_state a up 1
rm "$D/evil.conf"

# when a worker opens it: known_hosts made writable after the check, an
# identity replaced by a link
cp "$WORK/known_hosts" "$WORK/kh2"
cp "$WORK/id_ed25519" "$WORK/id2"
cat > "$D/late.conf" <<EOF2
tunnels = {
  khlate = { host = "127.0.0.1"; known_hosts = "$WORK/kh2"; };
  idlate = { host = "127.0.0.1"; identity_file = "$WORK/id2"; };
};
EOF2
out=$(tctl reload 2>&1)
check "... khlate up" wait_state khlate up 30
check "... idlate up" wait_state idlate up 30
chmod 666 "$WORK/kh2"
mv "$WORK/id2" "$WORK/id2.real"; ln -s id2.real "$WORK/id2"
tctl restart khlate idlate >/dev/null 2>&1
check "known_hosts made world-writable: the tunnel fails" wait_state khlate failed 15
check "... saying so" says "$(json_get khlate "t['last_error']")" "known_hosts $WORK/kh2 is writable by group and others"
check "identity_file become a symbolic link: the tunnel fails" wait_state idlate failed 15
check "... saying so" says "$(json_get idlate "t['last_error']")" "$WORK/id2" "symbolic link"
check "tunnel a untouched" wait_state a up 1

stop_tunneld
check "... and no sanitizer report in its log" sanitizer_quiet
done_testing
