#!/bin/bash
# doc/demo.sh - on a fresh Debian 12 machine, as root: install what is
# needed, build, and run tunneld against a throwaway local sshd with a demo
# profile; show tunnelctl status and traffic through the forwards.
#
# It builds in a temporary directory (never configures the source tree, so
# .ci/run works after it) and removes everything it made - processes,
# temporary and build directories - however it ends.  Exit status 0 when
# every step worked.
set -u
cd "$(dirname "$0")/.." || exit 1
top=$PWD

die() { echo "demo: $*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends build-essential autoconf \
	    automake pkg-config libssh2-1-dev libevent-dev libconfig-dev \
	    libjson-c-dev libsystemd-dev openssh-server openssh-client \
	    python3 netbase procps >/dev/null || die "apt-get install failed"
fi

BUILD=$(mktemp -d "${TMPDIR:-/tmp}/tunneld-demo-build.XXXXXX") ||
	die "cannot make a build directory"
trap 'rm -rf "$BUILD"' EXIT
[ -x configure ] || autoreconf -fi || die "autoreconf failed"
echo "== building in $BUILD"
(cd "$BUILD" && "$top/configure" -q && make -j"$(nproc)" >make.log 2>&1) ||
	{ tail -30 "$BUILD/make.log" 2>/dev/null; die "the build failed"; }

export top_srcdir=$top top_builddir=$BUILD
# the same throwaway sshd the test suite uses: keys in a temporary
# directory, 127.0.0.1, a port the kernel hands out
. tests/integration/lib.sh
check() { shift; "$@"; }	# no TAP here
# lib.sh's cleanup (every process it started, its directory), then the
# build; never stopped half-way by a process that is already gone
demo_cleanup() {
	rc=$?
	set +e
	cleanup
	rm -rf "$BUILD"
	[ $rc -eq 0 ] && echo "== done: every process stopped, $WORK and $BUILD removed"
	exit $rc
}
trap demo_cleanup EXIT
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
$TUNNELD -n -c "$CONF" || die "the configuration does not check"
start_tunneld
wait_state campus-bbs up 15 || { tail "$WORK/tunneld.log"; die "no tunnel"; }
echo
echo "== tunnelctl status"
tctl status
echo
echo "== 20 MB each way through 127.0.0.1:$MAIL, compared by SHA-256"
$NETIO roundtrip "$MAIL" 20000000 || die "the round trip failed"
echo "   ok"
echo "== 50 connections at once through 127.0.0.1:$WEB"
$NETIO concurrent "$WEB" 50 200000 || die "the concurrent connections failed"
echo "   ok"
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
wait_state campus-bbs up 15 || die "the tunnel did not come back"
tctl status
$NETIO roundtrip "$MAIL" 1000000 || die "no traffic after the reconnection"
echo "   traffic flows again"
echo
echo "== tunneld's log"
sed 's/^/   /' "$WORK/tunneld.log" | grep -v debug | tail -n 20
exit 0
