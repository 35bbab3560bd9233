#!/bin/sh
# password_file, the last resort: a user of the test's own (useradd, removed
# after) with a password; an sshd that takes passwords ("password") and one
# that asks through PAM ("keyboard-interactive"), keys refused by both.  The
# keys are tried first, then the password; a wrong password is a retried
# authentication failure, said, and the password is in neither the log nor
# the status; a password file others can read is refused.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null && command -v chpasswd >/dev/null ||
    { echo "1..0 # SKIP needs root, useradd and chpasswd"; exit 0; }
U=tdpw$$
PW="pw-$$-Tr0ub4dor&3"
WRONGPW='not the password'
useradd -m -s /bin/sh "$U" 2>/dev/null || { echo "1..0 # SKIP useradd $U failed"; exit 0; }
CLEANUP_EXTRA="userdel -r -f $U 2>/dev/null"
echo "$U:$PW" | chpasswd || bail chpasswd

start_sshd
start_server echo; ECHO=$SERVER_PORT
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/id_stranger" || bail keygen
# sshd_config takes a keyword's first value: a copy with the auth lines
# changed, for each of the two servers
sshd_variant() {	# NAME PORT PASSWORD KBDINT PAM
	sed -e "s/^Port .*/Port $2/" -e "s|^PidFile .*|PidFile $WORK/$1.pid|" \
	    -e "s/^PasswordAuthentication .*/PasswordAuthentication $3/" \
	    -e "s/^KbdInteractiveAuthentication .*/KbdInteractiveAuthentication $4/" \
	    -e "s/^UsePAM .*/UsePAM $5/" "$WORK/sshd_config" > "$WORK/$1_config"
	$SSHD -f "$WORK/$1_config" -D -e >> "$WORK/$1.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_port "$2" 127.0.0.1 || bail "sshd $1 did not start: $(tail -5 "$WORK/$1.log")"
	echo "[127.0.0.1]:$2 $(cut -d' ' -f1-2 "$WORK/host_ed25519.pub")" >> "$WORK/known_hosts"
}
P_PW=$(free_port); P_KBD=$(free_port)
sshd_variant pwd "$P_PW" yes no no
sshd_variant kbd "$P_KBD" no yes yes
printf '%s\n' "$PW" > "$WORK/pw"; chmod 600 "$WORK/pw"
printf '%s\n' "$WRONGPW" > "$WORK/wrongpw"; chmod 600 "$WORK/wrongpw"
printf '%s\n' "$PW" > "$WORK/pw_open"; chmod 644 "$WORK/pw_open"

L1=$(free_port); L2=$(free_port)
t() { echo "  $1 = { host = \"127.0.0.1\"; user = \"$U\"; identity_file = \"$WORK/id_stranger\"; $2 };"; }
write_conf "$(t password "port = $P_PW; password_file = \"$WORK/pw\"; local = [ \"$L1:127.0.0.1:$ECHO\" ];")
$(t kbdint "port = $P_KBD; password_file = \"$WORK/pw\"; local = [ \"$L2:127.0.0.1:$ECHO\" ];")
$(t wrong "port = $P_PW; password_file = \"$WORK/wrongpw\";")
$(t open "port = $P_PW; password_file = \"$WORK/pw_open\";")"
start_tunneld

check "password authentication: up" wait_state password up 30
check "... data passes" $NETIO roundtrip "$L1" 100000
check "... sshd accepted the password, after refusing the key" sh -c "
	grep -q 'Accepted password for $U' '$WORK/pwd.log' &&
	grep -q 'Failed publickey for $U' '$WORK/pwd.log'"
check "keyboard-interactive (PAM): up" wait_state kbdint up 30
check "... data passes" $NETIO roundtrip "$L2" 100000
check "... sshd accepted keyboard-interactive" grep -q "Accepted keyboard-interactive.* for $U" "$WORK/kbd.log"
check "a wrong password: backoff (retried)" wait_state wrong backoff 10
err=$(json_get wrong "t['last_error']")
diag "$err"
check "... says the password was refused, after the key" says "$err" \
    'authentication failed' 'id_stranger' 'the password' "\"$U\""
check "a password file others can read: failed" wait_state open failed 10
err=$(json_get open "t['last_error']")
diag "$err"
check "... 'too open', with the fix" says "$err" password_file 'too open' 'chmod 600'
tctl --json status > "$WORK/status.json" 2>&1
tctl status >> "$WORK/status.json" 2>&1
check "the passwords are in neither log nor status" sh -c "
	! grep -q -F -e '$PW' -e '$WRONGPW' '$WORK/tunneld.log' '$WORK/status.json'"
check "the daemon is still running" kill -0 "$TUNNELD_PID"
done_testing
