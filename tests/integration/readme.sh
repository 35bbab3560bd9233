#!/bin/bash
# readme.sh - what README.md shows works.  Its fenced blocks are marked:
#
#   ```conf NAME   a tunneld.conf: checked verbatim with tunneld -n; the
#                  recipes (mail, socks, nat, middleman-h, middleman-t) are
#                  run against a real sshd on loopback, with traffic through
#                  every forward they name
#   ```sh          commands run in the context of the conf block above them
#                  (the first one's, before any); each must exit 0
#   ```shell       commands for root on a fresh machine (install, the demo,
#                  the suite): not run here, but the two top-level commands
#                  must be exactly what the demo and CI are, and the
#                  packages and files the others name must be the real ones
#   ```text        output, not run
#
# The README's names are mapped, visibly, to this test's machine (diag lines
# show each block as run):
#   t.example.org, m.example.org   -> 127.0.0.1 at the test's sshd's port
#                                     (defaults: port, identity, known_hosts)
#   users kid, tunnel, alice       -> the user running the test
#   listen ports 9143 1080 9923 2222 8080 5900 -> free ports
#   targets localhost:143, :80, :5900, 10.13.21.88:23 -> an echo server
#   target localhost:22            -> the test's sshd
#   /etc/tunneld.conf              -> the recipe's file; /tmp/ (scp) -> a
#                                     directory of the test's
#   tunnelctl, tunneld, ssh, scp   -> the built programs with the test's
#                                     socket / ssh options (key, known_hosts)
#
# Settings and commands other engineers add this round (PENDING below): a
# check that fails only because this build lacks one is reported as TODO,
# and the recipe runs without that setting; once merged, the check passes
# and the harness reports XPASS: then remove the name from PENDING.
. "$(dirname "$0")/lib.sh"
# todo DESCRIPTION REASON: a check that fails only for want of a pending
# feature (TAP TODO: not a failure; XPASS once it passes)
todo() { T_N=$((T_N + 1)); echo "not ok $T_N - $1 # TODO $2"; }

PENDING_SETTINGS=""
PENDING_COMMANDS=""
README=$top_srcdir/README.md

# blocks NAME: README's blocks in order, one file each in $WORK/readme:
# NNN.KIND[.NAME]
mkdir -p "$WORK/readme" "$WORK/recv"
awk -v dir="$WORK/readme" '
	/^```/ && !inb {
		inb = 1; n++
		kind = $1; sub(/^```/, "", kind); if (kind == "") kind = "none"
		f = sprintf("%s/%03d.%s%s", dir, n, kind, ($2 != "" ? "." $2 : ""))
		printf "" > f
		next
	}
	/^```/ && inb { inb = 0; close(f); next }
	inb { print > f }
' "$README"
blocks() { ls "$WORK/readme" | sort; }
check "README.md is at most 400 lines ($(wc -l < "$README"))" \
    test "$(wc -l < "$README")" -le 400
check "README.md has conf, sh and shell blocks" \
    test -n "$(blocks | grep '\.conf\.')" -a -n "$(blocks | grep '\.sh$')" \
    -a -n "$(blocks | grep '\.shell$')"
check "every block is marked conf NAME, sh, shell or text" \
    test -z "$(blocks | grep -vE '^[0-9]{3}\.(conf\.[a-z-]+|sh|shell|text)$')"

# --- the shell blocks: not run, but true ---------------------------------
first_shell=$WORK/readme/$(blocks | grep '\.shell$' | head -n 1)
cmds=$(sed -e 's/ *#.*//' -e '/^$/d' "$first_shell")
check "the two commands are 'bash doc/demo.sh' and 'bash .ci/run'" \
    test "$cmds" = "$(printf 'bash doc/demo.sh\nbash .ci/run')"
check "... doc/demo.sh installs packages, builds and runs the demo" \
    grep -q 'apt-get install' "$top_srcdir/doc/demo.sh"
check "... .ci/run installs packages and runs make check" \
    grep -q 'make -j2 check' "$top_srcdir/.ci/run"
shells=$(cat "$WORK"/readme/*.shell)
apt=$(echo "$shells" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' |
	sed -n 's/^apt-get install \([a-z].*\)/\1/p' | grep -v '\.deb' | head -n 1)
ci_pkgs=$(sed -n '/^PACKAGES="/,/"$/p' "$top_srcdir/.ci/run" | tr -d '"\t' |
	sed 's/PACKAGES=//')
missing=""
for p in $apt; do
	echo " $ci_pkgs " | tr '\n' ' ' | grep -q " $p " || missing="$missing $p"
done
check "the install line's packages are Debian packages CI installs${missing:+ (not:$missing)}" \
    test -n "$apt" -a -z "$missing"
missing=""
for p in $(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$top_srcdir/debian/control" |
	sed -e 's/^Build-Depends://' -e '/^[A-Z]/d' | tr ',' '\n' |
	sed -e 's/(.*//' -e 's/<.*//' -e 's/ //g' -e 's/-compat$//' | grep .); do
	echo " $apt " | grep -q " $p " || missing="$missing $p"
done
check "... and cover debian/control's Build-Depends${missing:+ (missing:$missing)}" \
    test -z "$missing"
for f in conf/tunneld.conf debian/rules configure.ac; do
	check "... $f, which they use, exists" test -f "$top_srcdir/$f"
done

# --- conf blocks, verbatim -----------------------------------------------
# pending_only FILE: tunneld -n's errors (in FILE) are all unknown pending
# settings; prints them
pending_only() {
	grep -v 'configuration OK' "$1" | grep -q . || return 1
	names=$(sed -n 's/.*unknown setting "\([a-z_]*\)".*/\1/p' "$1" | sort -u)
	[ -n "$names" ] || return 1
	[ "$(grep -c . "$1")" -eq "$(grep -c 'unknown setting' "$1")" ] || return 1
	for s in $names; do
		case " $PENDING_SETTINGS " in *" $s "*) ;; *) return 1;; esac
	done
	echo $names
}
UNKNOWN=""
for b in $(blocks | grep '\.conf\.'); do
	name=${b#*.conf.}
	if $TUNNELD -n -c "$WORK/readme/$b" > "$WORK/check.$name" 2>&1; then
		ok "conf $name: tunneld -n accepts it as written"
	elif p=$(pending_only "$WORK/check.$name"); then
		todo "conf $name: tunneld -n accepts it as written" "this build lacks $p (this round's)"
		UNKNOWN="$UNKNOWN $p"
	else
		not_ok "conf $name: tunneld -n accepts it as written"
		diag "$(cat "$WORK/check.$name")"
	fi
done

# --- the recipes, run ----------------------------------------------------
start_sshd "Subsystem sftp internal-sftp"	# scp speaks SFTP
start_server echo
ECHO=$SERVER_PORT
ME=$(id -un)
declare -A PORT
for p in 9143 1080 9923 2222 8080 5900; do PORT[$p]=$(free_port); done

# map FILE [nohosts]: the README's names to this machine's (see the top);
# nohosts: ports and paths only (a command line given to tunnelctl import)
map() {
	s="s/\"(kid|tunnel|alice)\"/\"$ME\"/g"
	if [ -z "${2:-}" ]; then
		s="$s; s/(kid|tunnel|alice)@([tm])\.example\.org/$ME@\2.example.org/g"
		s="$s; s/([tm])\.example\.org/127.0.0.1:$SSHD_PORT/g"
		s="$s; s/\"127\.0\.0\.1:$SSHD_PORT\"/\"127.0.0.1\"/g"
	fi
	s="$s; s/:localhost:(143|80|5900)\"/:localhost:$ECHO\"/g"
	s="$s; s/:10\.13\.21\.88:23\"/:127.0.0.1:$ECHO\"/g"
	s="$s; s/:localhost:22\"/:localhost:$SSHD_PORT\"/g"
	for p in "${!PORT[@]}"; do
		s="$s; s/(^|[\"* :])$p([:\"; ]|$)/\1${PORT[$p]}\2/g"
	done
	s="$s; s|/etc/tunneld\.conf|$CONF|g; s|localhost:/tmp/|localhost:$WORK/recv/|g"
	sed -E "$s" "$1"
}
# conf_for NAME: the recipe's file: the test's control socket and
# defaults, then the README's block mapped, without settings this build
# lacks (diag says which)
conf_for() {
	CTL=$WORK/$1.sock
	CONF=$WORK/$1.conf
	{
		echo "control_socket = \"$CTL\";"
		echo "log_rate_limit = 0;"
		echo "defaults = { port = $SSHD_PORT; user = \"$ME\";"
		echo "  identity_file = \"$WORK/id_ed25519\"; known_hosts = \"$WORK/known_hosts\";"
		echo "  keepalive_interval = 5; connect_timeout = 5; reconnect_min = 0.2; reconnect_max = 2; };"
		map "$WORK/readme/"*".conf.$1"
	} > "$CONF.full"
	grep -vE "^ *($(echo $UNKNOWN | tr ' ' '|')) *=" "$CONF.full" > "$CONF"
	diag "conf $1, as run:"
	diag "$(sed -n '/^tunnels/,$p' "$CONF")"
	cmp -s "$CONF" "$CONF.full" || diag "(without$UNKNOWN: not in this build)"
}

# the ssh client the README's ssh and scp lines use: the test's key
cat > "$WORK/ssh_config" <<EOF
Host *
  User $ME
  IdentityFile $WORK/id_ed25519
  UserKnownHostsFile $WORK/known_hosts_ssh
  StrictHostKeyChecking accept-new
  BatchMode yes
  ConnectTimeout 10
EOF
# run_sh BLOCK: each command line of a sh block, mapped, in a shell where
# the programs are the built ones; each must exit 0 (with no daemon to talk
# to, a pending command is TODO when this build does not have it)
run_sh() {
	map "$WORK/readme/$1" nohosts | sed -e '/^ *#/d' -e '/^ *$/d' > "$WORK/$1.run"
	while IFS= read -r line; do
		(
			cd "$WORK" || exit 1
			tunnelctl() { $TUNNELCTL -s "$CTL" "$@"; }
			tunneld() { $TUNNELD "$@"; }
			ssh() { command $SSH -F "$WORK/ssh_config" "$@"; }
			scp() { command scp -S "$(command -v $SSH)" -F "$WORK/ssh_config" "$@"; }
			eval "$line"
		) < /dev/null > "$WORK/sh.out" 2>&1
		rc=$?
		cmd=$(echo "$line" | sed 's/ *#.*//')
		pending=""
		for c in $PENDING_COMMANDS; do
			case "$cmd" in "tunnelctl $c "*|"tunnelctl $c") 
				grep -q "unknown command \"$c\"" "$WORK/sh.out" && pending=$c;;
			esac
		done
		if [ $rc -eq 0 ]; then
			ok "sh: $cmd"
		elif [ -n "$pending" ]; then
			todo "sh: $cmd" "this build lacks tunnelctl $pending (this round's)"
		else
			not_ok "sh: $cmd (exit $rc)"
			diag "$(tail -5 "$WORK/sh.out")"
		fi
	done < "$WORK/$1.run"
}
# the sh blocks that follow conf NAME (and for the first conf, those before
# it too)
sh_after() {
	first=$(blocks | grep '\.conf\.' | head -n 1)
	cur=$first
	for b in $(blocks); do
		case $b in
		*.conf.*) cur=$b;;
		*.sh) [ "$cur" = "$(blocks | grep "\.conf\.$1\$")" ] && echo "$b";;
		esac
	done
}

# recipe NAME TUNNEL: start a tunneld with the recipe, wait for TUNNEL up
RUN=""
recipe() {
	RUN="$RUN $1"
	conf_for "$1"
	start_tunneld
	check "recipe $1: $2 comes up" wait_state "$2" up 20
}

# Mail over -L: the mail client's port reaches the server's port 143
recipe mail campus-bbs
check "... the mail client reaches 143 through ${PORT[9143]} (9143)" \
    $NETIO roundtrip "${PORT[9143]}" 100000
for b in $(sh_after mail); do run_sh "$b"; done
stop_tunneld

# Browsing over -D: SOCKS5 with the name resolved on the server
recipe socks browsing
check "... SOCKS5 through ${PORT[1080]} (1080) reaches a server's port" \
    $NETIO socks-roundtrip "${PORT[1080]}" 5 localhost "$ECHO" 100000
for b in $(sh_after socks); do run_sh "$b"; done
stop_tunneld

# A box behind NAT: the server's ports come back to this machine
recipe nat campus-bbs
wait_until 10 $NETIO roundtrip "${PORT[9923]}" 10 >/dev/null 2>&1
check "... the server's ${PORT[9923]} (9923) reaches 10.13.21.88:23's stand-in" \
    $NETIO roundtrip "${PORT[9923]}" 100000
echo "notes of $$" > "$WORK/notes.txt"
for b in $(sh_after nat); do run_sh "$b"; done
check "... scp -P 2222 delivered notes.txt through the -R forward" \
    cmp -s "$WORK/notes.txt" "$WORK/recv/notes.txt"
stop_tunneld

# Both ends behind NAT: H's -R on M, T through M to H's sshd
recipe middleman-h to-m
H_PID=$TUNNELD_PID
H_CTL=$CTL
wait_until 10 wait_port "${PORT[2222]}" >/dev/null 2>&1
# T knows H's host key under [localhost]:2222, as "ssh -J ... once" leaves it
echo "[localhost]:${PORT[2222]} $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")" >> "$WORK/known_hosts"
recipe middleman-t home
check "... T's 8080 reaches H's port 80 through M" \
    $NETIO roundtrip "${PORT[8080]}" 100000
check "... T's 5900 reaches H's port 5900 through M" \
    $NETIO roundtrip "${PORT[5900]}" 100000
for b in $(sh_after middleman-t) $(sh_after middleman-h); do run_sh "$b"; done
stop_tunneld
TUNNELD_PID=$H_PID CTL=$H_CTL
stop_tunneld
TUNNELD_PID=""

# sh blocks after a conf that is only checked, not run: no daemon
CTL=$WORK/none.sock
for c in $(blocks | sed -n 's/^[0-9]*\.conf\.//p'); do
	case " $RUN " in *" $c "*) continue;; esac
	for b in $(sh_after "$c"); do run_sh "$b"; done
done

done_testing
