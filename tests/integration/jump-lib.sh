# jump-lib.sh - what the jump host tests (jump*.sh) share, beside lib.sh:
# network namespaces joined to this one by veth pairs, sshds and tunnelds
# inside them.  Sourced after lib.sh; not a test of its own.

netns_require
[ -x "$SSHD" ] || { echo "1..0 # SKIP no sshd at $SSHD"; exit 0; }

# ns_make X: namespace tunneld-X-PID, joined to this one over a veth pair
# (lib.sh's netns_veth): X's prefix 10.199.N in NET_X, the namespace's
# name in NS_X
ns_make() {
	netns_add "tunneld-$1-$$"
	netns_veth "tunneld-$1-$$" "td$1$$" "td$1$$b"
	eval "NET_$1=$NET; NS_$1=tunneld-$1-$$"
}

# in_ns X CMD...: CMD in namespace X ("-": this one)
in_ns() {
	n=$1; shift
	if [ "$n" = - ]; then "$@"; else ip netns exec "tunneld-$n-$$" "$@"; fi
}

# sshd_make X NS PORT ADDR...: an sshd of its own (host key, config, log
# named X) in namespace NS on ADDR:PORT; its pid in SSHD_X.  Run again,
# it starts X anew with the same key.
sshd_make() {
	x=$1 ns=$2 port=$3; shift 3
	mkdir -p /run/sshd
	[ -f "$WORK/$x.host" ] ||
	    $SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/$x.host" || bail keygen
	{
		echo "Port $port"
		for a in "$@"; do echo "ListenAddress $a"; done
		cat <<CONF
HostKey $WORK/$x.host
AuthorizedKeysFile $WORK/authorized_keys
PidFile $WORK/$x.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
LogLevel VERBOSE
CONF
	} > "$WORK/$x.sshd_config"
	# not through in_ns: $! must be sshd itself, not a shell around it
	# (which would leave sshd behind when killed)
	if [ "$ns" = - ]; then
		$SSHD -f "$WORK/$x.sshd_config" -D -e >> "$WORK/$x.sshd.log" 2>&1 &
	else
		ip netns exec "tunneld-$ns-$$" $SSHD -f "$WORK/$x.sshd_config" \
		    -D -e >> "$WORK/$x.sshd.log" 2>&1 &
	fi
	eval "SSHD_$x=$!"
	PIDS="$PIDS $!"
	i=0
	until in_ns "$ns" $PYTHON3 -c "import socket
socket.create_connection(('$1', $port), 1)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] ||
		    bail "sshd $x did not start: $(tail -5 "$WORK/$x.sshd.log")"
		sleep 0.1
	done
}

# known X ADDR PORT: the line of known_hosts for sshd X at ADDR:PORT
known() {
	echo "[$2]:$3 $(cut -d' ' -f1-2 "$WORK/$1.host.pub")"
}

# keygen_user: the identity every tunnel and hop uses, and sshds accept
keygen_user() {
	$SSH_KEYGEN -q -t ed25519 -N '' -f "$WORK/id_ed25519" -C tunneld-test || bail keygen
	cat "$WORK/id_ed25519.pub" > "$WORK/authorized_keys"
}

# tunneld_make X NS TUNNELS: tunneld X in namespace NS with these tunnels
# (its control socket $WORK/X.sock, its log $WORK/X.log); its pid in TD_X
tunneld_make() {
	cat > "$WORK/$1.conf" <<CONF
control_socket = "$WORK/$1.sock";
defaults = {
  user = "$(id -un)";
  identity_file = "$WORK/id_ed25519";
  known_hosts = "$WORK/$1.known_hosts";
  keepalive_interval = 1;
  keepalive_count = 3;
  connect_timeout = 5;
  reconnect_min = 0.2;
  reconnect_max = 1;
};
tunnels = {
$3
};
CONF
	in_ns "$2" $TUNNELD -c "$WORK/$1.conf" --log-level debug >> "$WORK/$1.log" 2>&1 &
	eval "TD_$1=$!"
	PIDS="$PIDS $!"
	deadline=$(( $(date +%s) + 30 ))
	while ! $TUNNELCTL -s "$WORK/$1.sock" status >/dev/null 2>&1; do
		[ "$(date +%s)" -le "$deadline" ] ||
		    bail "tunneld $1 did not start: $(tail -5 "$WORK/$1.log")"
		sleep 0.05
	done
}

# on X CMD...: CMD (wait_state, json_get, tctl ...) about tunneld X
on() {
	_ctl=$CTL; CTL=$WORK/$1.sock; shift
	"$@"; _rc=$?
	CTL=$_ctl
	return $_rc
}
