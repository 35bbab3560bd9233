# trixie-root.sh - sourced by trixie-check.sh and bench/trixie.sh: the
# cached Debian 13 root both use (one package list, so one root), made or
# found by mkroot.sh; sets $root, or exits with mkroot.sh's status (77: it
# cannot be had here).
PACKAGES="build-essential autoconf automake pkg-config clang libclang-rt-19-dev
	libssh2-1-dev libevent-dev libconfig-dev libjson-c-dev libcmocka-dev
	libsystemd-dev openssh-server openssh-client python3 netbase procps
	util-linux iproute2 curl gdb strace python3-prometheus-client
	python3-cryptography"

root=$("$(dirname "${BASH_SOURCE[0]}")/mkroot.sh" trixie trixie-ci "$PACKAGES")
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
