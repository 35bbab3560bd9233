#!/bin/sh
# auth-dropped.sh - the server's side of the connection dies while tunneld
# waits for its answer to a key (here: sshd's AuthorizedKeysCommand kills
# the connection's sshd).  libssh2 reports it as a refused key; it is a
# network failure, retried on the ordinary schedule - not a refused key,
# retried slowly (once 60 s) because sshd penalises repeated refusals.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (sshd's AuthorizedKeysCommand)"; exit 0
fi
# sshd runs the command only from a path no one but root can write (every
# directory up to /, as its safe_path()): not under /tmp; /run is not
# always such (a container's may be writable by others)
safe() {	# safe DIR: it and each directory above it: root's, 0755 at most
	d=$1
	while :; do
		case $(stat -c '%u %A' "$d" 2>/dev/null) in
		0\ d????-??-*) ;;
		*) return 1 ;;
		esac
		[ "$d" = / ] && return 0
		d=$(dirname "$d")
	done
}
AKC=
for d in /run /var/lib /root; do
	safe "$d" && AKC=$(mktemp -d "$d/tunneld-test-akc.XXXXXX") && break
done
[ -n "$AKC" ] ||
	{ echo "1..0 # SKIP no directory only root may write for the command"; exit 0; }
CLEANUP_EXTRA="rm -rf '$AKC'"
cat > "$AKC/keys" <<SH
#!/bin/sh
# while $WORK/drop exists, the connection's sshd dies mid-authentication
if [ -e "$WORK/drop" ]; then kill -TERM \$PPID; exit 1; fi
cat "$WORK/keys"
SH
chmod 755 "$AKC/keys"
touch "$WORK/drop"
start_sshd "AuthorizedKeysCommand $AKC/keys %u
AuthorizedKeysCommandUser root"
# the command is the only source of keys
mv "$WORK/authorized_keys" "$WORK/keys" && : > "$WORK/authorized_keys"
write_conf "  t = { host = \"127.0.0.1\"; reconnect_min = 0.5; reconnect_max = 1; };"
start_tunneld
check "the connection drops during authentication" \
    wait_log "t: .*authentication with 127.0.0.1:$SSHD_PORT"
check "... not taken for a refused key" \
    sh -c "! grep -q 'refused the key\|retrying slowly' '$WORK/tunneld.log'"
rm -f "$WORK/drop"
# the ordinary schedule: reconnect_max 1 s (a refusal: 60 s)
check "... retried on the ordinary schedule: up within 15 s" wait_state t up 15
done_testing
