#!/bin/bash
# doc/demo.sh - on a fresh Debian 12 machine, as root: install what is
# needed, build, and run tunneld against a throwaway local sshd with a demo
# profile; show tunnelctl status and traffic through the forwards.
set -eu
cd "$(dirname "$0")/.."
top=$PWD

if [ "$(id -u)" -eq 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends build-essential autoconf \
	    automake pkg-config libssh2-1-dev libevent-dev libconfig-dev \
	    libjson-c-dev libsystemd-dev openssh-server openssh-client \
	    python3 netbase procps >/dev/null
fi
if [ ! -x daemon/tunneld ] || [ ! -x ctl/tunnelctl ]; then
	[ -x configure ] || autoreconf -fi
	[ -f Makefile ] || ./configure -q
	make -j"$(nproc)" >/dev/null
fi

export top_srcdir=$top top_builddir=$top
# the same throwaway sshd the test suite uses: keys in a temporary
# directory, 127.0.0.1, a port the kernel hands out
. tests/integration/lib.sh
check() { shift; "$@"; }	# no TAP here
start_sshd
start_server echo
MAIL=$(free_port)
WEB=$(free_port)
write_conf "  campus-bbs = {
    host = \"127.0.0.1\";
    local = [ \"$MAIL:127.0.0.1:$SERVER_PORT\",
              \"127.0.0.1:$WEB:127.0.0.1:$SERVER_PORT\" ];
  };"
echo "== the configuration ($CONF)"
sed 's/^/   /' "$CONF"
echo
echo "== tunneld -n"
$TUNNELD -n -c "$CONF"
start_tunneld
wait_state campus-bbs up 15 || { tail "$WORK/tunneld.log"; exit 1; }
echo
echo "== tunnelctl status"
tctl status
echo
echo "== 20 MB each way through 127.0.0.1:$MAIL, compared by SHA-256"
$NETIO roundtrip "$MAIL" 20000000 && echo "   ok"
echo "== 50 connections at once through 127.0.0.1:$WEB"
$NETIO concurrent "$WEB" 50 200000 && echo "   ok"
echo
echo "== tunnelctl status campus-bbs"
tctl status campus-bbs
echo
echo "== the sshd is killed; tunneld notices and retries"
stop_sshd
wait_state campus-bbs backoff 10 || true
tctl status
echo "== the sshd comes back; so does the tunnel, by itself"
$SSHD -f "$WORK/sshd_config" -D -e >> "$WORK/sshd.log" 2>&1 &
PIDS="$PIDS $!"
wait_state campus-bbs up 15
tctl status
$NETIO roundtrip "$MAIL" 1000000 && echo "   traffic flows again"
echo
echo "== tunneld's log"
sed 's/^/   /' "$WORK/tunneld.log" | grep -v debug | tail -n 20
