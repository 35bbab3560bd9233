#!/bin/sh
# tunneld -n --deep (issue 16): as the user who runs it, every identity
# loaded and every local listen address tried, nothing connected to; each
# problem as FILE:LINE: tunnel NAME: what, then what to do; exit 1.
. "$(dirname "$0")/lib.sh"

# a directory the test user may read (WORK is root's, 0700: let it
# through, not list)
chmod 711 "$WORK"
D=$WORK/pub
mkdir -m 755 "$D"
$SSH_KEYGEN -q -t ed25519 -N '' -f "$D/good" || bail keygen
$SSH_KEYGEN -q -t ed25519 -N 'secret words' -f "$D/encrypted" || bail keygen
$SSH_KEYGEN -q -t rsa -b 2048 -N '' -f "$D/rsa" || bail keygen
echo "[127.0.0.1]:1 $(cat "$D/good.pub")" > "$D/known_hosts"
chmod 644 "$D/known_hosts"
# a server that records every connection: the check must make none
SERVER=$(free_port)
$PYTHON3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
open(sys.argv[2] + ".ready", "w").write("ready\n")
while True:
    c, a = s.accept(); open(sys.argv[2], "a").write("%s\n" % (a,)); c.close()
' "$SERVER" "$WORK/accepted" 2>>"$WORK/server.log" &
PIDS="$PIDS $!"
wait_file "$WORK/accepted.ready" || bail "the recording server did not start"
# another program on 127.0.0.2:TAKEN and :TAKEN2 (the loopback network's,
# not 127.0.0.1)
TAKEN=$(free_port); TAKEN2=$(free_port)
$PYTHON3 -c '
import socket, sys, time
ss = []
for p in sys.argv[1:3]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.2", int(p))); s.listen(); ss.append(s)
open(sys.argv[3], "w").write("ready\n")
time.sleep(600)
' "$TAKEN" "$TAKEN2" "$WORK/taken.ready" 2>>"$WORK/server.log" &
TAKER=$!
PIDS="$PIDS $TAKER"
wait_file "$WORK/taken.ready" || bail "the port taker did not start"
FREE=$(free_port)

cat > "$D/good.conf" <<CONF
defaults = { host = "127.0.0.1"; port = $SERVER; known_hosts = "$D/known_hosts"; };
tunnels = {
  fine = {
    identity_file = "$D/good";
    local = [ "$FREE:127.0.0.1:22" ];
  };
};
CONF
cat > "$D/bad.conf" <<CONF
defaults = { host = "127.0.0.1"; port = $SERVER; known_hosts = "$D/known_hosts"; };
tunnels = {
  fine = {
    identity_file = "$D/good";
  };
  missing = {
    identity_file = "$D/nonexistent";
  };
  encrypted = {
    identity_file = "$D/encrypted";
  };
  rsa = {
    identity_file = "$D/rsa";
  };
  taken = {
    identity_file = "$D/good";
    local = [ "*:$TAKEN:127.0.0.1:22" ];
  };
  taken2 = {
    identity_file = "$D/good";
    dynamic = [ "127.0.0.2:$TAKEN2" ];
  };
  noagent = {
    identity_file = "$D/good";
    identity_agent = "$D/no-agent.sock";
  };
  openpw = {
    identity_file = "$D/good";
    password_file = "$D/password";
  };
};
CONF
echo "not so secret" > "$D/password"
chmod 644 "$D/good.conf" "$D/bad.conf" "$D/password"

out=$($TUNNELD -n --deep -c "$D/good.conf" 2>&1); rc=$?
diag "$out"
check "a good configuration: exit 0" [ $rc -eq 0 ]
check "... each tunnel OK, with the key it loaded" says "$out" \
	"$D/good.conf:3: tunnel fine: OK (identity $D/good, ssh-ed25519)" \
	"no problems found in 1 tunnel"

out=$($TUNNELD -n --deep -c "$D/bad.conf" 2>&1); rc=$?
diag "$out"
check "problems: exit 1" [ $rc -eq 1 ]
check "a good tunnel among them is OK" says "$out" "$D/bad.conf:3: tunnel fine: OK"
check "a missing key: where, what and what to do" says "$out" \
	"$D/bad.conf:6: tunnel missing: identity_file $D/nonexistent: No such file" \
	"fix: create it (ssh-keygen -t ed25519"
check "an encrypted key without a passphrase" says "$out" \
	"$D/bad.conf:9: tunnel encrypted: identity_file $D/encrypted is protected by a passphrase"
if $TUNNELD -V | grep -q 'libssh2 1\.10'; then
	check "an RSA key with libssh2 1.10: refused, and why" says "$out" \
	    "$D/bad.conf:12: tunnel rsa: identity_file $D/rsa is an RSA key: libssh2 1.10" \
	    "ssh-keygen -t ed25519"
else
	skip "RSA refused only with libssh2 1.10 ($($TUNNELD -V | grep libssh2))"
fi
check "a port taken on 127.0.0.2, for a forward on every address" says "$out" \
	"$D/bad.conf:17: tunnel taken: local forward \"*:$TAKEN:127.0.0.1:22\": cannot listen on 0.0.0.0:$TAKEN: port $TAKEN is in use by pid $TAKER (python3)" \
	"fix: stop that program"
check "... and for a forward on 127.0.0.2 itself" says "$out" \
	"$D/bad.conf:21: tunnel taken2: dynamic forward \"127.0.0.2:$TAKEN2\": cannot listen on 127.0.0.2:$TAKEN2: port $TAKEN2 is in use by pid $TAKER (python3)"
check "an agent that is not there: said, with what to do" says "$out" \
	"$D/bad.conf:23: tunnel noagent:" "$D/no-agent.sock" \
	"fix: start the agent and ssh-add the key"
check "a password file others can read: refused, with what to do" says "$out" \
	"$D/bad.conf:27: tunnel openpw:" "$D/password" \
	"fix: the service's user must own it"
check "... and the password itself is nowhere" eval '! says "$out" "not so secret"'
# the RSA key is a problem with libssh2 1.10 only
if $TUNNELD -V | grep -q 'libssh2 1\.10'; then n=7; else n=6; fi
check "the count" says "$out" "$n problems in $n of 8 tunnels"
check "nothing was connected to" [ ! -s "$WORK/accepted" ]
check "... nor is anything left listening on the free port" refused "$FREE"

# As the service's user: a key root can read and this user cannot.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	cp "$D/good" "$D/rootonly"	# root's, 0600
	sed "s|$D/good\"|$D/rootonly\"|" "$D/good.conf" > "$D/rootonly.conf"
	chmod 644 "$D/rootonly.conf"
	out=$($TUNNELD -n --deep -c "$D/rootonly.conf" 2>&1); rc=$?
	check "root reads the key: OK" [ $rc -eq 0 ]
	nobody=$(id -un 65534)
	out=$(asnobody $TUNNELD -n --deep -c "$D/rootonly.conf" 2>&1); rc=$?
	diag "$out"
	check "as $nobody: exit 1" [ $rc -eq 1 ]
	check "... says who it checks as" says "$out" "checking as user $nobody (uid 65534)"
	check "... the key it cannot read, and what to do" says "$out" \
	    "tunnel fine: identity_file $D/rootonly: Permission denied" \
	    "fix: the service's user must read it, and only it" "chown $nobody $D/rootonly"
	out=$(asnobody $TUNNELD -n --deep -c "$D/bad.conf" 2>&1)
	check "... a taken port whose program it cannot see" says "$out" \
	    "port $TAKEN is in use by another program (one this user cannot see)"
else
	for i in 1 2 3 4 5; do skip "as another user: needs root and setpriv"; done
fi

# Neither known_hosts, host_key nor accept-new, and no default file to
# look the server up in
mkdir -m 755 "$D/home"
cat > "$D/nokh.conf" <<CONF
tunnels = {
  nokh = { host = "127.0.0.1"; port = $SERVER; identity_file = "$D/good"; };
  pinned = { host = "127.0.0.1"; port = $SERVER; identity_file = "$D/good";
    host_key = "SHA256:mOFj6SXYltTk55tL1051B1UxSTcWz0dXdnnT9sZekHY"; };
};
CONF
if [ ! -e /etc/ssh/ssh_known_hosts ]; then
	out=$(HOME=$D/home $TUNNELD -n --deep -c "$D/nokh.conf" 2>&1)
	diag "$out"
	check "no known_hosts anywhere: said, with what to do" says "$out" \
	    "$D/nokh.conf:2: tunnel nokh: no known_hosts to verify 127.0.0.1's host key by: neither $D/home/.ssh/known_hosts nor /etc/ssh/ssh_known_hosts" \
	    "fix: record the server's key (ssh-keyscan -p $SERVER 127.0.0.1 >> $D/home/.ssh/known_hosts"
	check "... not for a pinned host_key" says "$out" "tunnel pinned: OK"
else
	skip "no known_hosts anywhere: /etc/ssh/ssh_known_hosts exists here"
	skip "... not for a pinned host_key"
fi

out=$($TUNNELD --deep -c "$D/good.conf" 2>&1); rc=$?
check "--deep without -n: a usage error" [ $rc -eq 2 ]
check "... saying so" says "$out" "--deep goes with -n"

done_testing
