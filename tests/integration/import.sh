#!/bin/sh
# tunnelctl import: the seed's own ssh and autossh command lines made into
# profiles; each is a valid drop-in (tunneld -n), and, pointed at a real
# sshd, comes up and carries data.  What cannot be carried over is said on
# stderr; usage errors exit 2 naming the argument; a hostile argument stays
# a string.
. "$(dirname "$0")/lib.sh"

imp() { $TUNNELCTL import "$@" > "$WORK/out" 2> "$WORK/err"; r=$?; cat "$WORK/err" >> "$WORK/err.all"; return $r; }
out_has() { for l in "$@"; do grep -qxF -- "$l" "$WORK/out" || { diag "no line \"$l\" in: $(cat "$WORK/out")"; return 1; }; done; }
err_says() { for w in "$@"; do grep -qF -- "$w" "$WORK/err" || { diag "stderr does not say \"$w\": $(cat "$WORK/err")"; return 1; }; done; }
err_quiet() { ! grep -qF -- "$1" "$WORK/err" || { diag "stderr: $(cat "$WORK/err")"; return 1; }; }
conf_ok() { $TUNNELD -n -c "$WORK/out" > "$WORK/check" 2>&1 || { diag "$(cat "$WORK/check")"; return 1; }; }
# require_forwards arrives with another change: checked only once tunneld
# knows the setting
printf 'tunnels = { t = { host = "h"; require_forwards = true; }; };\n' > "$WORK/rf.conf"
if $TUNNELD -n -c "$WORK/rf.conf" >/dev/null 2>&1; then HAVE_RF=1; else HAVE_RF=0; fi

# --- the seed's lines, as written ---------------------------------------
imp -- ssh -N -L 9143:localhost:143 T
check "ssh -N -L 9143:localhost:143 T: exit 0" [ $? -eq 0 ]
check "... a profile T with host and the local forward" \
    out_has '  T = {' '    host = "T";' '    local = [ "9143:localhost:143" ];'
check "... valid for tunneld -n" conf_ok
imp -- ssh -D 1080 T
check "ssh -D 1080 T: the dynamic forward" out_has '    dynamic = [ "1080" ];'
check "... valid" conf_ok
imp -- ssh -R 9923:10.13.21.88:23 T
check "ssh -R 9923:10.13.21.88:23 T: the remote forward" \
    out_has '    remote = [ "9923:10.13.21.88:23" ];'
check "... valid" conf_ok
imp -- ssh -Nf -o ServerAliveInterval=30 -o ExitOnForwardFailure=yes \
    -R 9923:10.13.21.88:23 kid@t.example.org
check "ssh -Nf -o ServerAliveInterval=30 -o ExitOnForwardFailure=yes ...: keepalive_interval, require_forwards, user, host" \
    out_has '  t-example-org = {' '    host = "t.example.org";' \
    '    user = "kid";' '    keepalive_interval = 30;' \
    '    require_forwards = true;' '    remote = [ "9923:10.13.21.88:23" ];'
check "... -N and -f need no mention" err_quiet "-N"
if [ $HAVE_RF = 1 ]; then check "... valid" conf_ok
else skip "... valid: this tunneld has no require_forwards yet"; fi
imp -- autossh -M 0 -N -R 9923:10.13.21.88:23 T
check "autossh -M 0 -N -R ...: the remote forward, -M 0 silently" \
    sh -c 'out_has() { for l; do grep -qxF -- "$l" "$0" || exit 1; done; }; out_has "    remote = [ \"9923:10.13.21.88:23\" ];" && ! grep -q -- "-M" "$1"' \
    "$WORK/out" "$WORK/err"
check "... valid" conf_ok

# --- every mapping, and which value wins (the first, as in ssh) ------------
imp -- ssh -p 2222 -l kid -i id_key -J jump@bastion:2200,ssh://j2 \
    -o ServerAliveCountMax=5 -o 'ConnectTimeout 1m' \
    -o stricthostkeychecking=accept-new -o UserKnownHostsFile=/k \
    -o Port=1 -o User=other -o 'LocalForward 7000 db:5432' \
    -o IdentityFile=/second -L 1:h:2 ssh://u@T:3 -D 8080
check "options: port, user, identity (absolute), jump, keepalive_count, connect_timeout, strict, known_hosts, forwards before and after the destination" \
    out_has '    port = 2222;' '    user = "kid";' \
    "    identity_file = \"$(pwd)/id_key\";" \
    '    jump = "jump@bastion:2200,j2";' '    keepalive_count = 5;' \
    '    connect_timeout = 60;' \
    '    strict_host_key_checking = "accept-new";' \
    '    known_hosts = "/k";' \
    '    local = [ "7000:db:5432", "1:h:2" ];' '    dynamic = [ "8080" ];'
check "... a second identity is said not carried over" err_says "/second"
imp --name mail -- ssh -o HostName=10.0.0.1 -L 1:h:2 ssh://kid@[::1]:2200/
check "--name, HostName, an ssh:// URI with IPv6 and a port" \
    out_has '  mail = {' '    host = "10.0.0.1";' '    port = 2200;' \
    '    user = "kid";'
imp -- ssh -L 1:h:2 10.1.2.3
check "a name from an address: sanitised" out_has '  host-10-1-2-3 = {'
check "... valid" conf_ok

# --- host, port and user as ssh itself reads them (ssh -G) ----------------
sshg() { $SSH -G -F /dev/null "$@" 2>/dev/null | awk '$1 == "hostname" || $1 == "port" || $1 == "user" { print $1, $2 }' | sort | tr '\n' ' '; }
impg() { $TUNNELCTL import -- ssh "$@" 2>/dev/null | sed -n 's/^    \(host\|port\|user\) = "\{0,1\}\([^";]*\)"\{0,1\};$/\1 \2/p' |
    sed 's/^host /hostname /' | awk '{ print } $1 == "port" { p = 1 } END { if (!p) print "port 22" }' | sort | tr '\n' ' '; }
as_ssh() {
	a=$(sshg "$@"); b=$(impg "$@")
	[ -n "$a" ] && [ "$a" = "$b" ] || { diag "ssh -G: $a; import: $b"; return 1; }
}
for l in "-l foo bar@h" "bar@h -l foo" "-p 2 -o Port=3 h" "-o Port=3 -p 2 h" \
    "-o User=a -l b h" "ssh://u@h:5" "-o Port=3 ssh://u@h:5" "-oHostName=x h" \
    "-o hostname=x -o HostName=y h" "-Nfp 4 h" "h -p 9 -l z" "-- h -p 9" \
    "-o port=7 h uptime -p 8" "a@b@h"; do
	if ! $SSH -G -F /dev/null h >/dev/null 2>&1; then
		skip "as ssh -G reads it: $l: no ssh -G here"
		continue
	fi
	# shellcheck disable=SC2086
	check "as ssh -G reads it: $l" as_ssh $l
done

# --- what has no mapping is said on stderr ---------------------------------
imp -- ssh -A -X -F cfg -o ControlMaster=auto -o 'ProxyCommand nc %h %p' \
    -L 1:h:2 T uptime -a
check "unmapped options: exit 0" [ $? -eq 0 ]
check "... -A, -X, -F, ControlMaster, ProxyCommand and the remote command said" \
    err_says "-A" "-X" "-F cfg" "ControlMaster" "ProxyCommand" \
    "remote command (uptime"
imp -- ssh -o StrictHostKeyChecking=no -L 1:h:2 T
check "StrictHostKeyChecking=no: accept-new, and stderr says tunneld always verifies" \
    sh -c 'grep -qxF "    strict_host_key_checking = \"accept-new\";" "$0" && grep -q "always verifies" "$1"' "$WORK/out" "$WORK/err"
AUTOSSH_POLL=30 AUTOSSH_LOGFILE=/tmp/x imp -- autossh -M 20000 -f -N -R 1:h:2 T
check "autossh -M 20000 and AUTOSSH_*: the monitor replaced by keepalives and probe_interval; the variables not carried" \
    err_says "-M 20000" "probe_interval" "AUTOSSH_POLL" "AUTOSSH_LOGFILE"

# --- usage errors: exit 2, naming the argument -----------------------------
usage() { d=$1; w=$2; shift 2; imp "$@"; rc=$?; check "$d: exit 2" [ $rc -eq 2 ]; check "... naming $w" err_says "$w"; }
usage "unknown option" "-Z" -- ssh -Z T
usage "missing argument" "-L" -- ssh -N T -L
usage "-o without a value" "ServerAliveInterval" -- ssh -o ServerAliveInterval T
usage "bad port" "-p" -- ssh -p 0 T
usage "bad time" "ServerAliveInterval" -- ssh -o ServerAliveInterval=soon T
usage "no destination" "destination" -- ssh -N -L 1:h:2
usage "bad --name" "--name" --name 9x -- ssh T
usage "not ssh" "scp" -- scp T
usage "unknown import option" "--frob" --frob -- ssh T

# --- a hostile argument stays one string -----------------------------------
imp -- ssh -l 'a"; identity_file = "/etc/passwd' -o 'HostName=127.0.0.1' \
    -L "$(printf '1:h:2"];\ntunnels = { x = { host = "y"; }; };#')" T
$TUNNELD -n -c "$WORK/out" --print-config > "$WORK/printed" 2>&1
check "hostile: the profile parses; the forward is refused as a forward" \
    grep -q '/out:6: local: bad target port' "$WORK/printed"
imp -- ssh -l 'a"; identity_file = "/etc/passwd' -o 'HostName=127.0.0.1' T
$TUNNELD -n -c "$WORK/out" --print-config > "$WORK/printed" 2>&1
check "hostile: the user is the whole string, no identity_file is set" \
    sh -c 'grep -qF "user = \"a\\\"; identity_file = \\\"/etc/passwd\";" "$0" && ! grep -q "^ *identity_file" "$0"' "$WORK/printed"
check "... the comment stays one line" [ "$(grep -c '^#' "$WORK/out")" -eq 1 ]

check "no sanitizer report from tunnelctl import" sanitizer_quiet "$WORK/err.all"

# --- the seed's lines against a real sshd ----------------------------------
start_sshd
start_server echo; ECHO=$SERVER_PORT
LP=$(free_port); DP=$(free_port); RP=$(free_port); RP2=$(free_port); RP3=$(free_port)
mkdir "$WORK/conf.d"
cat > "$CONF" <<EOF
control_socket = "$CTL";
log_rate_limit = 0;
include_dir = "$WORK/conf.d";
EOF
S="-p $SSHD_PORT -i $WORK/id_ed25519 -o UserKnownHostsFile=$WORK/known_hosts"
$TUNNELCTL import --name mail -- ssh -N -L "$LP:127.0.0.1:$ECHO" $S 127.0.0.1 \
    > "$WORK/conf.d/1.conf" 2>/dev/null
$TUNNELCTL import --name socks -- ssh -D "$DP" $S 127.0.0.1 \
    > "$WORK/conf.d/2.conf" 2>/dev/null
$TUNNELCTL import --name telnet -- ssh -R "$RP:127.0.0.1:$ECHO" $S 127.0.0.1 \
    > "$WORK/conf.d/3.conf" 2>/dev/null
$TUNNELCTL import --name auto -- autossh -M 0 -N -R "$RP2:127.0.0.1:$ECHO" $S \
    127.0.0.1 > "$WORK/conf.d/4.conf" 2>/dev/null
if [ $HAVE_RF = 1 ]; then
	$TUNNELCTL import --name keep -- ssh -Nf -o ServerAliveInterval=30 \
	    -o ExitOnForwardFailure=yes -R "$RP3:127.0.0.1:$ECHO" $S 127.0.0.1 \
	    > "$WORK/conf.d/5.conf" 2>/dev/null
fi
start_tunneld
check "ssh -N -L: up" wait_state mail up
check "... data passes" $NETIO roundtrip "$LP" 100000
check "ssh -D: up" wait_state socks up
check "... a SOCKS connection passes data" \
    $NETIO socks-roundtrip "$DP" 5 127.0.0.1 "$ECHO" 100000
check "ssh -R: up" wait_state telnet up
check "... data passes through the server's port" $NETIO roundtrip "$RP" 100000
check "autossh -M 0 -N -R: up" wait_state auto up
check "... data passes" $NETIO roundtrip "$RP2" 100000
if [ $HAVE_RF = 1 ]; then
	check "ssh -Nf -o ServerAliveInterval=30 -o ExitOnForwardFailure=yes -R: up" \
	    wait_state keep up
	check "... data passes" $NETIO roundtrip "$RP3" 100000
else
	skip "ssh -Nf -o ExitOnForwardFailure=yes: this tunneld has no require_forwards yet"
fi
done_testing
