#!/bin/sh
# accept-new from many workers at once: 16 tunnels to 16 sshds, each with
# its own host key, learn their keys into one known_hosts, started
# together, ten times in a row with a fresh file.  Every key is in the
# file, every tunnel comes up, and tunneld never takes its own writes for
# another program's.  (Before: a key logged "added" could be missing from
# the file - two rewrites of the same old content, the later rename
# winning - or a tunnel failed with "changed by another program 3 times".)
. "$(dirname "$0")/lib.sh"

N=16
ROUNDS=10
start_sshd
KH=$WORK/kh_shared
sv=1
while [ $sv -le $N ]; do
	$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/hk$sv" || bail keygen
	P=$(free_port)
	sed -e "s/^Port .*/Port $P/" -e "/^HostKey /d" \
	    -e "s|^PidFile .*|PidFile $WORK/sshd$sv.pid|" "$WORK/sshd_config" \
	    > "$WORK/sshd_config$sv"
	echo "HostKey $WORK/hk$sv" >> "$WORK/sshd_config$sv"
	$SSHD -f "$WORK/sshd_config$sv" -D -e >> "$WORK/sshd$sv.log" 2>&1 &
	PIDS="$PIDS $!"
	eval "PORT$sv=$P"
	sv=$((sv + 1))
done
sv=1
while [ $sv -le $N ]; do
	eval "wait_port \$PORT$sv" || bail "sshd $sv did not start"
	sv=$((sv + 1))
done

tunnels=""
sv=1
while [ $sv -le $N ]; do
	eval "P=\$PORT$sv"
	tunnels="$tunnels  t$sv = { host = \"127.0.0.1\"; port = $P; known_hosts = \"$KH\"; strict_host_key_checking = \"accept-new\"; };
"
	sv=$((sv + 1))
done
write_conf "$tunnels"
sed -i 's/^defaults = {/workers = 4;\ndefaults = {/' "$CONF"

# all_up: every tunnel up within 30 s
all_up() {
	deadline=$(( $(date +%s) + 30 ))
	while [ "$(date +%s)" -le "$deadline" ]; do
		n=$(tctl --json status 2>/dev/null | $PYTHON3 -c '
import json, sys
print(sum(t["state"] == "up" for t in json.load(sys.stdin)["tunnels"]))' 2>/dev/null)
		[ "${n:-0}" -eq $N ] && return 0
		tctl --json status 2>/dev/null | grep -q '"failed"' && break
		sleep 0.1
	done
	tctl status | sed 's/^/# /'
	return 1
}

# all_keys: the file holds the key of each sshd, under its [host]:port
all_keys() {
	sv=1
	while [ $sv -le $N ]; do
		eval "P=\$PORT$sv"
		key=$(cut -d' ' -f1-2 "$WORK/hk$sv.pub")
		if ! $SSH_KEYGEN -F "[127.0.0.1]:$P" -f "$KH" | grep -qF "$key"; then
			diag "no key for [127.0.0.1]:$P in $KH ($(grep -c . "$KH") lines)"
			return 1
		fi
		sv=$((sv + 1))
	done
	[ "$(grep -c . "$KH")" -eq $N ]
}

r=1
while [ $r -le $ROUNDS ]; do
	rm -f "$KH"
	: > "$WORK/tunneld.log"
	start_tunneld
	check "round $r: all $N tunnels up" all_up
	check "round $r: all $N keys in the one file, once each" all_keys
	check "round $r: no \"changed by another program\"" \
	    sh -c "! grep -q 'changed by another program' '$WORK/tunneld.log'"
	check "round $r: $N keys logged as added" \
	    [ "$(grep -c 'added .* (accept-new)' "$WORK/tunneld.log")" -eq $N ]
	stop_tunneld
	r=$((r + 1))
done
done_testing
