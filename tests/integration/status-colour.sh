#!/bin/sh
# tunnelctl status in colour: the state words coloured on a terminal (a
# pty), plain when piped, with NO_COLOR set or TERM=dumb, and never in
# --json; the table's columns line up the same either way.
. "$(dirname "$0")/lib.sh"

if ! command -v script >/dev/null 2>&1; then
	echo "1..0 # SKIP no script(1) for a pty"; exit 0
fi
start_sshd
start_server echo; ECHO=$SERVER_PORT
DEAD=$(free_port)
LA=$(free_port)
write_conf "  a = { host = \"127.0.0.1\"; local = [ \"$LA:127.0.0.1:$ECHO\" ]; };
  b-with-a-long-name = { host = \"127.0.0.1\"; autostart = false; };
  dead = { host = \"127.0.0.1\"; port = $DEAD; reconnect_min = 30; reconnect_max = 30; };"
start_tunneld
check "a up" wait_state a up
check "dead in backoff" wait_state dead backoff

unset NO_COLOR
# on_tty ENV... -- ARGS: tunnelctl ARGS on a pty, with ENV
on_tty() {
	e=""
	while [ "$1" != -- ]; do e="$e $1"; shift; done; shift
	env TERM=xterm $e script -qec "$TUNNELCTL -s $CTL $*" /dev/null | tr -d '\r'
}
ESC=$(printf '\033')
has_esc() { case $1 in *"$ESC"*) true;; *) false;; esac; }
tty_out=$(on_tty -- status)
diag "$tty_out"
check "a terminal: up in green" says "$tty_out" "${ESC}[32mup"
check "... down dim" says "$tty_out" "${ESC}[2mdown"
check "... backoff in cyan" says "$tty_out" "${ESC}[36mbackoff"
# the columns: each row's fields start where the header's do
aligned() {
	printf '%s\n' "$1" | sed "s/${ESC}\[[0-9;]*m//g" | $PYTHON3 -c '
import sys
lines = sys.stdin.read().splitlines()
h = lines[0]
cols = [h.index(w) for w in ("STATE", "SINCE", "FORWARDS")]
for r in lines[1:]:
    for c in cols:
        assert r[c - 2:c] == "  " and r[c] != " ", (r, c)
'
}
check "... the columns line up (visible width)" aligned "$tty_out"
check "piped: no colour" sh -c '! $0 -s $1 status | grep -q "$(printf "\033")"' "$TUNNELCTL" "$CTL"
check "... and the same columns" aligned "$(tctl status)"
out=$(on_tty NO_COLOR=1 -- status)
check "NO_COLOR=1 on a terminal: no colour" eval '! has_esc "$out"'
out=$(on_tty NO_COLOR= -- status)
check "NO_COLOR empty: colour (no-color.org)" has_esc "$out"
out=$(env TERM=dumb script -qec "$TUNNELCTL -s $CTL status" /dev/null)
check "TERM=dumb: no colour" eval '! has_esc "$out"'
out=$(on_tty -- --json status)
check "--json on a terminal: no colour" eval '! has_esc "$out"'
out=$(on_tty -- status a)
check "status NAME on a terminal: the state and the forward's in colour" \
    says "$out" "a: ${ESC}[32mup" "           ${ESC}[32mup"
done_testing
