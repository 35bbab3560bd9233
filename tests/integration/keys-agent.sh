#!/bin/sh
# identity_agent: a key held only by an ssh-agent of the test's own
# authenticates, before identity_file; "SSH_AUTH_SOCK" is the environment's
# agent; an agent with no keys leaves identity_file to do it; an absent
# agent is a retried error until it starts; an agent that refuses to sign
# is said; a hung agent (SIGSTOP) costs connect_timeout, the daemon keeps
# answering and stops on SIGTERM.
. "$(dirname "$0")/lib.sh"

command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null ||
    { echo "1..0 # SKIP no ssh-agent"; exit 0; }
start_sshd
start_server echo; ECHO=$SERVER_PORT
$SSH_KEYGEN -q -t ed25519 -N '' -C agent-key -f "$WORK/id_agent" || bail keygen
$SSH_KEYGEN -q -t ed25519 -N '' -C confirm-key -f "$WORK/id_confirm" || bail keygen
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/id_stranger" || bail keygen
$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/id_unused" || bail keygen
cat "$WORK/id_agent.pub" "$WORK/id_confirm.pub" >> "$WORK/authorized_keys"
FP_AGENT=$($SSH_KEYGEN -lf "$WORK/id_agent.pub" | cut -d' ' -f2)
FP_UNUSED=$($SSH_KEYGEN -lf "$WORK/id_unused.pub" | cut -d' ' -f2)

# agent SOCKET [KEY [ssh-add options]]: an ssh-agent of ours at SOCKET
agent() {
	SSH_ASKPASS=/bin/false SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
	    ssh-agent -D -a "$1" >> "$WORK/agent.log" 2>&1 &
	PIDS="$PIDS $!"
	AGENT_PID=$!
	wait_until 10 test -S "$1" || bail "ssh-agent did not start"
	[ -z "${2:-}" ] || SSH_AUTH_SOCK=$1 ssh-add ${3:-} "$2" 2>/dev/null ||
	    bail "ssh-add $2"
}
agent "$WORK/agent.sock" "$WORK/id_agent"
AGENT1_PID=$AGENT_PID
agent "$WORK/empty.sock"
agent "$WORK/confirm.sock" "$WORK/id_confirm" -c
rm -f "$WORK/id_agent"		# the key is in the agent only

L1=$(free_port); L2=$(free_port); L3=$(free_port)
t() { echo "  $1 = { host = \"127.0.0.1\"; $2 };"; }
S=$WORK/id_stranger
write_conf "$(t agent "identity_agent = \"$WORK/agent.sock\"; identity_file = \"$WORK/id_unused\"; local = [ \"$L1:127.0.0.1:$ECHO\" ];")
$(t env "identity_agent = \"SSH_AUTH_SOCK\"; identity_file = \"$S\"; local = [ \"$L2:127.0.0.1:$ECHO\" ];")
$(t fallback "identity_agent = \"$WORK/empty.sock\"; identity_file = \"$WORK/id_ed25519\"; local = [ \"$L3:127.0.0.1:$ECHO\" ];")
$(t later "identity_agent = \"$WORK/later.sock\";")
$(t refuse "identity_agent = \"$WORK/confirm.sock\"; identity_file = \"$S\";")"
# no identity_file in the defaults: "later" has only its agent
sed -i '/^  identity_file/d' "$CONF"
SSH_AUTH_SOCK=$WORK/agent.sock
export SSH_AUTH_SOCK
start_tunneld

check "a key only in the agent: up" wait_state agent up 30
check "... data passes" $NETIO roundtrip "$L1" 100000
check "... the server accepted the agent's key" grep -q "Accepted publickey.*$FP_AGENT" "$WORK/sshd.log"
check "... offered before identity_file (never tried)" sh -c "! grep -q '$FP_UNUSED' '$WORK/sshd.log'"
check "identity_agent = \"SSH_AUTH_SOCK\": up" wait_state env up 30
check "... data passes" $NETIO roundtrip "$L2" 100000
check "an agent with no keys: identity_file does it" wait_state fallback up 30
check "... data passes" $NETIO roundtrip "$L3" 100000

check "no agent at the path, and nothing else: backoff (retried)" wait_state later backoff 10
err=$(json_get later "t['last_error']")
diag "$err"
check "... says the agent cannot be reached, where" says "$err" 'ssh-agent' "$WORK/later.sock" 'no agent is running there'
check "... and the server was not bothered (not the slow retry)" sh -c "! echo '$err' | grep -q 'retrying slowly'"
# the agent starts, its key is added a moment later (as at login): an
# empty agent refused nothing, so it is the schedule, not the slow retry
agent "$WORK/later.sock"
check "the agent starts with no keys: said" wait_until 15 sh -c \
    "$TUNNELCTL -s '$CTL' status --json later | grep -q 'holds no keys'"
err=$(json_get later "t['last_error']")
diag "$err"
check "... not the slow retry (nothing was refused)" sh -c "! echo '$err' | grep -q 'retrying slowly'"
SSH_AUTH_SOCK=$WORK/later.sock ssh-add "$WORK/id_confirm" 2>/dev/null || bail "ssh-add"
check "its key added: up on a retry" wait_state later up 15

check "an agent that refuses to sign: backoff" wait_state refuse backoff 10
err=$(json_get refuse "t['last_error']")
diag "$err"
check "... says it refused, which key, and what else was tried" says "$err" \
    'refused to sign' 'agent key confirm-key' "$S"

# a hung agent: stopped, then the tunnel reconnects and must ask it
kill -STOP "$AGENT1_PID"
events_start
t0=$(now)
tctl restart --no-wait agent >/dev/null
check "hung agent: the attempt times out (backoff)" wait_event agent connecting backoff 15
diag "after $(elapsed "$t0" "$EV_TIME")s: $EV_REASON"
check "... at connect_timeout (5 s), not later" between "$(elapsed "$t0" "$EV_TIME")" 4.5 8
check "... and says the agent does not answer" says "$EV_REASON" 'timed out' "$WORK/agent.sock" 'does not answer'
check "... the daemon answers meanwhile" tctl status env
check "... the other tunnels are untouched" wait_state env up 1
# SIGTERM while a retry waits for the stopped agent again
wait_event agent backoff connecting 10 >/dev/null
t0=$(now)
stop_tunneld
diag "exited after $(elapsed "$t0")s"
check "SIGTERM with the agent hung: tunneld exits within 10 s" \
    between "$(elapsed "$t0")" 0 10
check "no sanitizer report" sanitizer_quiet
kill -CONT "$AGENT1_PID"
done_testing
