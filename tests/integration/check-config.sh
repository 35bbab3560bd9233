#!/bin/sh
# tunneld -n: every error as FILE:LINE: message, exit 1; a good file exits 0.
. "$(dirname "$0")/lib.sh"

cat > "$WORK/good.conf" <<'CONF'
defaults = { user = "tunnel"; keepalive_interval = 15; };
tunnels = {
  campus-bbs = {
    host = "t.example.org";
    local   = [ "9143:localhost:143" ];
    remote  = [ "*:9923:10.13.21.88:23" ];
    dynamic = [ "1080" ];
  };
};
CONF
out=$($TUNNELD -n -c "$WORK/good.conf" 2>&1); rc=$?
check "a good configuration: -n exits 0" [ $rc -eq 0 ]
check "a good configuration: -n says so" sh -c "echo '$out' | grep -q 'configuration OK (1 tunnel)'"

cat > "$WORK/bad.conf" <<'CONF'
defaults = { user = "tunnel"; };
tunnels = {
  a = {
    host = "x";
    prot = 22;
    local = [ "9143:localhost" ];
  };
  b = {
    port = 70000;
    dynamic = [ "9143" ];
  };
};
CONF
out=$($TUNNELD -n -c "$WORK/bad.conf" 2>&1); rc=$?
check "a bad configuration: -n exits 1" [ $rc -eq 1 ]
f="$WORK/bad.conf"
for want in "$f:5: unknown setting \"prot\"" \
    "$f:6: local: malformed local forward \"9143:localhost\"" \
    "$f:9: port: 70000 is out of range" \
    "$f:8: tunnel \"b\": host is required"; do
	check "reports: $want" sh -c "printf '%s\n' \"\$1\" | grep -qF \"\$2\"" _ "$out" "$want"
done
check "every error is listed (4 lines)" [ "$(printf '%s\n' "$out" | grep -c "^$f:")" -eq 4 ]

printf 'tunnels = {\n  a = { host = ; };\n};\n' > "$WORK/syntax.conf"
out=$($TUNNELD -n -c "$WORK/syntax.conf" 2>&1); rc=$?
check "a syntax error: exit 1 with FILE:LINE" sh -c "[ $rc -eq 1 ] && echo '$out' | grep -q '^$WORK/syntax.conf:2: syntax error'"

out=$($TUNNELD -n -c "$WORK/nonexistent.conf" 2>&1); rc=$?
check "a missing file: exit 1, named" sh -c "[ $rc -eq 1 ] && echo '$out' | grep -q 'nonexistent.conf: cannot read'"

# without -n a bad configuration stops start-up with the same errors
out=$($TUNNELD -c "$WORK/bad.conf" 2>&1); rc=$?
check "start-up with a bad configuration exits 1 listing the errors" \
    sh -c "[ $rc -eq 1 ] && [ \$(printf '%s\n' \"\$1\" | grep -c '^$f:') -eq 4 ]" _ "$out"

# Host names longer than DNS allows (253 characters, labels of 63): refused
# by the check with FILE:LINE wherever they come from, never sent.
LONG=$(printf '%060d.%060d.%060d.%060d.%055d' 1 2 3 4 5)	# 299 characters
LABEL=$(printf 'a%064d.example' 0)				# a label of 65
P=$(printf '%.20s' "$LONG")					# as quoted
cat > "$WORK/long.conf" <<CONF
defaults = { user = "tunnel"; };
tunnels = {
  viasocks = {
    host = "$LONG"; proxy = "socks5://127.0.0.1:1080"; };
  viahttp = {
    host = "$LONG"; proxy = "http://127.0.0.1:3128"; };
  inlist = { host = [ "relay1",
    "$LONG:2222" ]; };
  label = {
    host = "$LABEL"; };
  hop = { host = "relay1";
    jump = "me@$LONG:22"; };
  proxyname = { host = "relay1";
    proxy = "socks5://$LONG:1080"; };
};
CONF
out=$($TUNNELD -n -c "$WORK/long.conf" 2>&1); rc=$?
f="$WORK/long.conf"
check "host names over 253 characters: -n exits 1" [ $rc -eq 1 ]
for want in "$f:4: host: host name \"$P...\" is 299 characters long: at most 253" \
    "$f:6: host: host name \"$P...\" is 299 characters long" \
    "$f:8: host: host name \"$P...\" is 299 characters long" \
    "$f:10: host: host name \"a0000000000000000000...\" has a label of 65 characters: at most 63" \
    "$f:12: tunnel \"hop\": jump: host name \"$P...\" is 299" \
    "$f:14: proxy: \"socks5://$LONG:1080\": host name \"$P...\" is 299"; do
	check "reports: $want" sh -c "printf '%s\n' \"\$1\" | grep -qF \"\$2\"" _ "$out" "$want"
done
check "... every one of them (6 lines)" \
    [ "$(printf '%s\n' "$out" | grep -c "^$f:.*characters")" -eq 6 ]

# the same name from ssh_config's HostName
printf 'Host longone\n  HostName %s\n' "$LONG" > "$WORK/ssh_config"
cat > "$WORK/long-ssh.conf" <<CONF
tunnels = {
  viaalias = { host = "longone"; ssh_config = true;
    ssh_config_file = "$WORK/ssh_config"; proxy = "socks5://127.0.0.1:1080"; };
};
CONF
out=$($TUNNELD -n -c "$WORK/long-ssh.conf" 2>&1); rc=$?
check "ssh_config's HostName of 299 characters: -n exits 1 with FILE:LINE" \
    sh -c "[ $rc -eq 1 ] && printf '%s\n' \"\$1\" | grep -q \"^$WORK/long-ssh.conf:2: .*HostName.*is 299 characters long\"" _ "$out"
printf '%s\n' "$out" | grep -q "^$WORK/long-ssh.conf:2:" || diag "$out"

# a host beginning with '-' is no option of ssh -G, nor of anything else;
# an empty label is no name
cat > "$WORK/dash.conf" <<CONF
tunnels = {
  opt = { host = "-oLocalCommand=x"; ssh_config = true; };
  dots = { host = "relay1..example"; };
};
CONF
out=$($TUNNELD -n -c "$WORK/dash.conf" 2>&1); rc=$?
f="$WORK/dash.conf"
check "a host beginning with '-': refused with FILE:LINE" sh -c "[ $rc -eq 1 ] &&
    printf '%s\n' \"\$1\" | grep -qF \"$f:2: host: host name \\\"-oLocalCommand=x\\\" begins with '-'\"" _ "$out"
check "an empty label: refused with FILE:LINE" sh -c "printf '%s\n' \"\$1\" |
    grep -qF \"$f:3: host: host name \\\"relay1..example\\\" has an empty label\"" _ "$out"
printf '%s\n' "$out" | grep -q "^$f:3:" || diag "$out"

# control_socket in a directory others may write: whoever may write it may
# put a socket of theirs there for tunnelctl
mkdir -m 0777 "$WORK/open"
mkdir -m 0755 "$WORK/closed"
chmod 0777 "$WORK/open"	# whatever the umask
printf 'control_socket = "%s";\ntunnels = { };\n' "$WORK/open/ctl.sock" \
    > "$WORK/sock.conf"
out=$($TUNNELD -n -c "$WORK/sock.conf" 2>&1); rc=$?
check "control_socket in a world-writable directory: -n refuses with FILE:LINE" \
    sh -c "[ $rc -eq 1 ] && printf '%s\n' \"\$1\" | grep -qF \"$WORK/sock.conf:1: control_socket $WORK/open/ctl.sock: the directory $WORK/open is writable by group and others\"" _ "$out"
printf '%s\n' "$out" | grep -q "sock.conf:1:" || diag "$out"
out=$($TUNNELD -c "$WORK/sock.conf" 2>&1); rc=$?
check "... and so does start-up" sh -c "[ $rc -eq 1 ] && [ ! -e '$WORK/open/ctl.sock' ] &&
    printf '%s\n' \"\$1\" | grep -qF 'sock.conf:1: control_socket'" _ "$out"
printf 'control_socket = "%s";\ntunnels = { };\n' "$WORK/closed/ctl.sock" \
    > "$WORK/sock.conf"
check "... in a directory only root may write: OK" $TUNNELD -n -c "$WORK/sock.conf"

# keepalive_interval is TCP_KEEPIDLE too, which Linux takes up to 32767 s:
# above it is an error of the check, not a setsockopt that fails unseen
printf 'tunnels = {\n  k = { host = "relay1";\n    keepalive_interval = 40000; };\n};\n' \
    > "$WORK/keepidle.conf"
out=$($TUNNELD -n -c "$WORK/keepidle.conf" 2>&1); rc=$?
check "keepalive_interval = 40000: refused with FILE:LINE and the range" \
    sh -c "[ $rc -eq 1 ] && printf '%s\n' \"\$1\" | grep -q \"^$WORK/keepidle.conf:3: keepalive_interval: 40000 is out of range.*32767\"" _ "$out"
diag "$out"
printf 'tunnels = { k = { host = "relay1"; keepalive_interval = 32767;\n    keepalive_count = 1000; }; };\n' \
    > "$WORK/keepidle.conf"
check "keepalive_interval = 32767 with keepalive_count = 1000: fine" \
    $TUNNELD -n -c "$WORK/keepidle.conf"

# a configuration named by a descriptor (-c /dev/fd/5): the child that
# reads it first keeps that descriptor
printf 'tunnels = { fd = { host = "relay1"; }; };\n' > "$WORK/byfd.conf"
out=$($TUNNELD -n -c /dev/fd/5 5< "$WORK/byfd.conf" 2>&1)
check "-c /dev/fd/5: read, checked" \
    sh -c "printf '%s\n' \"\$1\" | grep -q '^/dev/fd/5: configuration OK (1 tunnel)'" _ "$out"
diag "$out"

# a pipe (bash's <(...)) cannot be read twice: said, not taken for empty
out=$(bash -c "exec $TUNNELD -n -c <(cat '$WORK/byfd.conf')" 2>&1); rc=$?
check "-c <(...): a pipe, refused with what to do" \
    sh -c "[ $rc -eq 1 ] && printf '%s\n' \"\$1\" | grep -q '^/dev/fd/[0-9]*: is a pipe: .*write it to a file'" _ "$out"
diag "$out"

out=$($TUNNELD --version 2>&1)
check "--version names libssh2 and libevent" sh -c "echo '$out' | grep -q libssh2 && echo '$out' | grep -q libevent"
$TUNNELD --bogus >/dev/null 2>&1
check "an unknown option exits 2" [ $? -eq 2 ]
done_testing
