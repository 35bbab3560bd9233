#!/bin/sh
# ssh-config.sh - ssh_config = true: host is an alias of the ssh
# configuration, resolved by OpenSSH's own ssh -G (Include, Host
# wildcards, Match); what the tunnel's block writes wins, what defaults
# say does not; --print-config says where each value came from; no ssh in
# PATH, a broken ssh configuration, a ProxyCommand and an out-of-range value
# are configuration errors with FILE:LINE.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
WRONG=$(free_port)	# reserved, nothing listens: refuses
L1=$(free_port); L2=$(free_port)
ME=$(id -un)
mkdir -p "$WORK/ssh/conf.d"
cat > "$WORK/ssh/config" <<CONF
Include $WORK/ssh/conf.d/*.conf
Host web-*
  User $ME
  ServerAliveInterval 3
Match originalhost db
  User $ME
  HostName 127.0.0.1
  Port $SSHD_PORT
  IdentityFile $WORK/id_ed25519
  UserKnownHostsFile $WORK/known_hosts
Host jumpy
  HostName 10.0.0.7
  ProxyJump deploy@bastion.example:2222
  IdentityAgent /run/test-agent.sock
Host *
  ConnectTimeout 7
CONF
cat > "$WORK/ssh/conf.d/web.conf" <<CONF
Host web-front
  HostName 127.0.0.1
  Port $SSHD_PORT
  IdentityFile $WORK/id_ed25519
  UserKnownHostsFile $WORK/known_hosts
CONF

# defaults that would not work: ssh_config's values beat them
cat > "$CONF" <<CONF
control_socket = "$CTL";
defaults = {
  port = $WRONG;
  user = "nobody";
  keepalive_count = 4;
  reconnect_min = 0.2;
  reconnect_max = 2;
  ssh_config = true;
  ssh_config_file = "$WORK/ssh/config";
};
tunnels = {
  web = { host = "web-front";
    local = [ "$L1:127.0.0.1:$ECHO" ]; };
  db = { host = "db";
    local = [ "$L2:127.0.0.1:$ECHO" ]; };
  over = { host = "web-front";
    port = $WRONG; keepalive_interval = 9; };
  jumpy = { host = "jumpy"; autostart = false; };
};
CONF

$TUNNELD -c "$CONF" --print-config > "$WORK/printed.conf" 2>&1
diag "$(sed -n '/^  web = {/,/^  };/p' "$WORK/printed.conf")"
printed() { grep -qF -- "$1" "$WORK/printed.conf" || { diag "not printed: $1"; return 1; }; }
check "print-config: the alias as host, and its HostName" \
	printed "    host = \"web-front\";	# ssh_config: HostName 127.0.0.1"
check "print-config: Port from an Include'd file" \
	printed "    port = $SSHD_PORT;	# ssh_config: Port $SSHD_PORT"
check "print-config: User from a wildcard Host, over defaults" \
	printed "    user = \"$ME\";	# ssh_config: User $ME"
check "print-config: ServerAliveInterval from the wildcard" \
	printed "    keepalive_interval = 3;	# ssh_config: ServerAliveInterval 3"
check "print-config: ConnectTimeout from Host *" \
	printed "    connect_timeout = 7;	# ssh_config: ConnectTimeout 7"
check "print-config: what ssh_config does not say comes from defaults" \
	printed "    keepalive_count = 4;	# defaults or built-in; not in ssh_config"
check "print-config: the tunnel's own port wins, and says over what" \
	printed "    port = $WRONG;	# tunneld.conf, over ssh_config's Port $SSHD_PORT"
check "print-config: the tunnel's own keepalive_interval wins" \
	printed "    keepalive_interval = 9;	# tunneld.conf, over ssh_config's ServerAliveInterval 3"
check "print-config: how it was resolved" \
	printed "# ssh_config: \"web-front\" resolved by "
check "print-config: Match originalhost gives db its HostName" \
	sh -c "sed -n '/^  db = {/,/^  };/p' '$WORK/printed.conf' | grep -qF '    identity_file = \"$WORK/id_ed25519\";	# ssh_config: IdentityFile $WORK/id_ed25519'"
check "print-config: ProxyJump becomes jump" \
	printed "    jump = \"deploy@bastion.example:2222\";	# ssh_config: ProxyJump deploy@bastion.example:2222"
check "print-config: IdentityAgent becomes identity_agent" \
	printed "    identity_agent = \"/run/test-agent.sock\";	# ssh_config: IdentityAgent /run/test-agent.sock"
check "print-config's output reads back as a valid configuration" \
	$TUNNELD -n -c "$WORK/printed.conf"
out=$($TUNNELD -n -c "$CONF" 2>&1)
check "tunneld -n says that it ran ssh -G, as whom, and that Match exec runs" \
	says "$out" "ran ssh -G for 4 tunnels, as user $ME (uid $(id -u))" "Match exec"

start_tunneld
check "an alias from an Include'd file, through Host web-*: up" wait_state web up 15
check "... data both ways, compared by hash" $NETIO roundtrip "$L1" 1000000
check "an alias resolved by a Match block: up" wait_state db up 15
check "... data both ways, compared by hash" $NETIO roundtrip "$L2" 1000000
over_says() {
	says "$(json_get over "t['last_error']")" "port $WRONG"
}
check "the tunnel's own port wins over ssh_config's: it tries $WRONG" \
	wait_until 15 over_says

# A reload reads the ssh configuration again: db moves to a port that
# refuses, and back
sed -i "s/^  Port $SSHD_PORT\$/  Port $WRONG/" "$WORK/ssh/config"
tctl reload >/dev/null 2>&1
db_says() { says "$(json_get db "t['last_error']")" "port $WRONG"; }
check "reload: the ssh configuration is read again (db now tries $WRONG)" \
	wait_until 15 db_says
sed -i "s/^  Port $WRONG\$/  Port $SSHD_PORT/" "$WORK/ssh/config"
tctl reload >/dev/null 2>&1
check "... and back" wait_state db up 15
check "... web was not touched by either reload" \
	[ "$(json_get web "t['reconnects']")" = 0 ]

# ssh -G runs off the main thread: with a Match exec that takes 4 s for
# every alias, status answers at once during a reload, and the reload's
# answer comes when ssh -G has answered
printf 'Match exec "sleep 4"\n  ConnectTimeout 8\n' >> "$WORK/ssh/config"
t0=$(now)
tctl reload > "$WORK/reload.out" 2>&1 &
RPID=$!
wait_log "reload: [0-9]* ssh -G runs, off the main thread" 5
t1=$(now)
tctl status > /dev/null 2>&1
took=$(elapsed "$t1")
check "status during a reload running ssh -G: answered within 1 s (${took}s)" \
	between "$took" 0 1
wait "$RPID"; rc=$?
took=$(elapsed "$t0")
diag "$(cat "$WORK/reload.out")"
check "... the reload itself answers when ssh -G has: exit 0 (${took}s)" \
	sh -c "[ $rc -eq 0 ] && grep -q unchanged '$WORK/reload.out'"
check "... the ssh -G runs were made together (${took}s, not 16 s)" \
	between "$took" 3.9 12
sed -i '/^Match exec "sleep 4"$/,$d' "$WORK/ssh/config"

# ~/.ssh/config of the user tunneld runs as (its home directory from the
# password database, as ssh reads it), in a mount namespace of the test's
if command -v unshare >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	home=$(getent passwd "$ME" | cut -d: -f6)
	mkdir -p "$WORK/home/.ssh"
	cp "$WORK/ssh/conf.d/web.conf" "$WORK/home/.ssh/config"
	chmod 600 "$WORK/home/.ssh/config"
	printf 'tunnels = { h = { host = "web-front"; ssh_config = true; }; };\n' \
	    > "$WORK/home.conf"
	out=$(unshare -m sh -c 'mount --bind "$1" "$2" && exec "$3" -c "$4" --print-config' \
	    _ "$WORK/home" "$home" "$TUNNELD" "$WORK/home.conf" 2>&1)
	check "~/.ssh/config of the daemon's user is read (no ssh_config_file)" \
	    says "$out" "port = $SSHD_PORT;	# ssh_config: Port $SSHD_PORT" \
	    "$home/.ssh/config, /etc/ssh/ssh_config"
else
	skip "~/.ssh/config of the daemon's user: needs root and unshare"
fi

# Errors, each with FILE:LINE
cat > "$WORK/ssh/bad-config" <<CONF
Host proxied
  ProxyCommand nc -X connect -x proxy:3128 %h %p
Host many
  ServerAliveCountMax 5000
CONF
printf 'Host *\n  NoSuchOption yes\n' > "$WORK/ssh/broken-config"
# a configuration that never finishes: ssh -G runs Match exec
SLEEP=6$$
printf 'Match exec "sleep %s"\n  Port 2\n' $SLEEP > "$WORK/ssh/slow-config"
cat > "$WORK/bad.conf" <<CONF
defaults = { user = "tunnel"; ssh_config = true;
  ssh_config_file = "$WORK/ssh/bad-config"; };
tunnels = {
  a = { host = "proxied"; };
  b = { host = "proxied"; proxy = "http://127.0.0.1:3128"; };
  c = { host = "many"; };
  d = { host = "x"; ssh_config_file = "$WORK/ssh/broken-config"; };
  e = { host = "slow"; ssh_config_file = "$WORK/ssh/slow-config"; };
  f = { host = [ "proxied", "many" ]; };
};
CONF
t0=$(now)
out=$($TUNNELD -n -c "$WORK/bad.conf" 2>&1); rc=$?
took=$(elapsed "$t0")
diag "$out"
f="$WORK/bad.conf"
check "bad ssh configurations: -n exits 1" [ $rc -eq 1 ]
check "ProxyCommand: refused, with what to do instead" says "$out" \
	"$f:4: tunnel \"a\": ssh_config: \"proxied\" has ProxyCommand nc -X connect -x proxy:3128 %h %p" \
	"set proxy or jump in the tunnel instead"
check "... unless the tunnel sets proxy" sh -c "! printf '%s\n' \"\$1\" | grep -q '^$f:5:'" _ "$out"
check "a value tunneld cannot take: the option, the value and why" says "$out" \
	"$f:6: tunnel \"c\": ssh_config: ServerAliveCountMax 5000: 5000 is out of range (1-1000)"
check "a broken ssh configuration: ssh's own message" says "$out" \
	"$f:7: tunnel \"d\": ssh_config: " "failed (exit status 255)" \
	"Bad configuration option: nosuchoption"

check "ssh -G that does not finish: given up after 10 seconds" says "$out" \
	"$f:8: tunnel \"e\": ssh_config: " "-G slow gave no answer within 10 seconds: killed"
check "... so -n took 10 s and a little (${took}s)" between "$took" 9.9 16
check "... and what ssh ran was killed with it" sh -c "! pgrep -f '^sleep $SLEEP' >/dev/null"

check "a list of hosts is not an alias" says "$out" \
	"$f:9: tunnel \"f\": ssh_config = true takes one alias as host"

# SIGTERM while start-up's ssh -G waits for a Match exec (0.4.0: ssh -G
# and its command went on running, its temporary file stayed)
SLEEP=31$$
printf 'Match exec "sleep %s"\n  Port 2\n' $SLEEP > "$WORK/ssh/term-config"
mkdir "$WORK/tmp"
printf 'tunnels = { e = { host = "slow"; ssh_config = true;
  ssh_config_file = "%s"; }; };\n' "$WORK/ssh/term-config" > "$WORK/term.conf"
TMPDIR=$WORK/tmp $TUNNELD -c "$WORK/term.conf" -S "$WORK/term.sock" \
    >> "$WORK/term.log" 2>&1 &
TERM_PID=$!
PIDS="$PIDS $TERM_PID"
check "start-up runs ssh -G, which runs the Match exec" \
	wait_until 10 pgrep -f "^sleep $SLEEP"
kill -TERM "$TERM_PID"
wait "$TERM_PID"
check "SIGTERM: tunneld ends" test $? -eq $((128 + 15))
check "... what ssh -G ran dies with it" \
	wait_until 5 sh -c "! pgrep -f '^sleep $SLEEP' >/dev/null"
check "... and its temporary file goes" test -z "$(ls "$WORK/tmp")"

# No ssh at all
out=$(PATH=/nonexistent $TUNNELD -n -c "$CONF" 2>&1); rc=$?
check "no ssh in PATH: -n exits 1" [ $rc -eq 1 ]
check "... and says so, for each tunnel, with FILE:LINE" says "$out" \
	"$CONF:12: tunnel \"web\": ssh_config = true needs OpenSSH's ssh client" \
	"no ssh in PATH (/nonexistent)" "$CONF:16: tunnel \"over\""

done_testing
