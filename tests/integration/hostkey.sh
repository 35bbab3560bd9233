#!/bin/sh
# The host key is always verified: a changed or unknown key puts the tunnel
# in failed with the host and the SHA256 fingerprint, and no channel opens.
. "$(dirname "$0")/lib.sh"

start_sshd
start_server echo; ECHO=$SERVER_PORT
fp() { $SSH_KEYGEN -lf "$1" | cut -d' ' -f2; }
ED_FP=$(fp "$WORK/host_ed25519.pub")
EC_FP=$(fp "$WORK/host_ecdsa.pub")
HP="[127.0.0.1]:$SSHD_PORT"

# known_hosts files for each case
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/other" || bail keygen
echo "$HP $(cut -d' ' -f1-2 "$WORK/other.pub")" > "$WORK/kh_changed"
: > "$WORK/kh_empty"
: > "$WORK/kh_learn"
echo "$HP $(cut -d' ' -f1-2 "$WORK/host_ecdsa.pub")" > "$WORK/kh_ecdsa"
cp "$WORK/known_hosts" "$WORK/kh_hashed"
$SSH_KEYGEN -q -H -f "$WORK/kh_hashed" >/dev/null 2>&1
{ echo "# a comment, a blank line, a CA line and an unparsable one"; echo;
  echo "@cert-authority *.example.org $(cut -d' ' -f1-2 "$WORK/other.pub")";
  echo "garbage here"; cat "$WORK/known_hosts"; } > "$WORK/kh_messy"
{ cat "$WORK/known_hosts"; echo "@revoked * $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")"; } > "$WORK/kh_revoked"

L1=$(free_port); L2=$(free_port); L3=$(free_port); L4=$(free_port)
L5=$(free_port); L6=$(free_port); L7=$(free_port); L8=$(free_port); L9=$(free_port)
t() { # name known_hosts-or-empty extra listen
	kh=""; [ -n "$2" ] && kh="known_hosts = \"$WORK/$2\";"
	echo "  $1 = { host = \"127.0.0.1\"; $kh $3 local = [ \"$4:127.0.0.1:$ECHO\" ]; };"
}
write_conf "$(t changed kh_changed "" "$L1")
$(t unknown kh_empty "" "$L2")
$(t pinned "" "host_key = \"$ED_FP\"; known_hosts = \"/nonexistent\";" "$L3")
$(t pinwrong "" "host_key = \"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"; known_hosts = \"/nonexistent\";" "$L4")
$(t hashed kh_hashed "" "$L5")
$(t ecdsaonly kh_ecdsa "" "$L6")
$(t learn kh_learn "strict_host_key_checking = \"accept-new\";" "$L7")
$(t messy kh_messy "" "$L8")
$(t revoked kh_revoked "" "$L9")"
# pinned alone: drop the known_hosts inherited from defaults
sed -i "s|known_hosts = \"/nonexistent\";||" "$CONF"
sed -i "s|^  known_hosts = .*||" "$CONF"
start_tunneld

check "changed key: failed" wait_state changed failed 10
err=$(json_get changed "t['last_error']")
diag "$err"
check "changed key: the error says so and names the host" says "$err" 'HAS CHANGED' "$HP"
check "changed key: the error shows the fingerprint seen" sh -c "echo \"\$1\" | grep -qF -e '$ED_FP' -e '$EC_FP'" _ "$err"
check "changed key: no data passes (nothing listens)" sh -c "! $NETIO roundtrip $L1 1000 2>/dev/null"

check "unknown key: failed" wait_state unknown failed 10
err=$(json_get unknown "t['last_error']")
check "unknown key: the error names the host and the ed25519 fingerprint" says "$err" 'is unknown' "$ED_FP" "$HP"
check "unknown key: no data passes" sh -c "! $NETIO roundtrip $L2 1000 2>/dev/null"

check "pinned host_key (ssh-keygen -l's fingerprint): up" wait_state pinned up 30
check "pinned: data passes" $NETIO roundtrip "$L3" 100000
check "wrong pin: failed" wait_state pinwrong failed 10
err=$(json_get pinwrong "t['last_error']")
check "wrong pin: message" says "$err" 'does not match the pinned' "$ED_FP"

check "hashed known_hosts entry (ssh-keygen -H): up" wait_state hashed up 30
check "known_hosts with only an ECDSA key: algorithms ordered to match, up" wait_state ecdsaonly up 30
check "accept-new with an unknown key: up" wait_state learn up 30
check "accept-new: the key was recorded" grep -qF "$HP" "$WORK/kh_learn"
check "accept-new: recorded in a form ssh-keygen reads" sh -c "$SSH_KEYGEN -F '$HP' -f '$WORK/kh_learn' | grep -q 'ssh-'"
check "lines libssh2 cannot read are skipped, the rest used: up" wait_state messy up 30
check "@revoked key: failed" wait_state revoked failed 10
err=$(json_get revoked "t['last_error']")
check "@revoked: message" says "$err" '@revoked'

# Only sessions that verified the host key ever authenticated.
n=$(grep -c 'Accepted publickey' "$WORK/sshd.log")
check "failed tunnels never authenticated (5 sessions did: $n)" [ "$n" -eq 5 ]
check "tunnelctl up on a failed tunnel exits 1 with the reason" sh -c "$TUNNELCTL -s $CTL up --timeout 5 changed 2>&1 | grep -q 'HAS CHANGED'; [ \$? -eq 0 ]"
$TUNNELCTL -s "$CTL" up --timeout 5 changed >/dev/null 2>&1
check "... exit status 1" [ $? -eq 1 ]
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
