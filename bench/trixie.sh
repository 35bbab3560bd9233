#!/bin/bash
# trixie.sh [run.sh ARGS...] - `make bench` inside a Debian 13 root (libssh2
# 1.11.1, OpenSSH 10.0), against trixie's own ssh and sshd.
# trixie.sh --profile [MIB] - bench/profile.sh there instead (linux-perf is
# installed for the run into the root's scratch overlay, from Debian's
# archive; the cached root is not changed).
#
# The root is the one tests/roots/trixie-check.sh uses (mkroot.sh, cached in
# /var/cache/tunneld-ci); the source tree is bound read-only and copied to a
# scratch directory there (without build-* and .git), built with gcc at
# configure's default -O2, and bench/run.sh runs with ARGS (--quick, --only,
# --cipher, --mac).  Its output is printed; bench/out/ (CSV, ratios) lands
# in $TRIXIE_BENCH_OUT (build-trixie-bench/ of the source tree by default).
# The machine's load is printed before and after: other work on the machine
# makes the ratios noisy.  Exit status: run.sh's; 77 when a root cannot be
# had here.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=${TRIXIE_BENCH_OUT:-$top/build-trixie-bench}

. "$top/tests/roots/trixie-root.sh"	# the root trixie-check.sh uses
rm -rf "$out" && mkdir -p "$out" || exit 1

args=$(printf '%q ' "$@")
# shellcheck disable=SC2016
"$top/tests/roots/inroot.sh" -b "$top:/src:ro" -b "$out:/out" "$root" \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    ARGS="$args" bash -c '
set -u
mkdir -p /work/src && cd /src &&
    tar --exclude="./build-*" --exclude=./.git -cf - . | tar -C /work/src -xf - &&
    cd /work/src && autoreconf -fi >/out/autoreconf.log 2>&1 ||
	{ cat /out/autoreconf.log; echo "=== trixie-bench: autoreconf failed"; exit 1; }
mkdir /work/build && cd /work/build &&
    ../src/configure -q CC=gcc >/out/configure.log 2>&1 &&
    make -j2 all bench/raw_libssh2 >/out/make.log 2>&1 ||
	{ tail -40 /out/make.log /out/configure.log; echo "=== trixie-bench: build failed"; exit 1; }
case $ARGS in
--profile*)
	{ apt-get -q update && apt-get -q -y install linux-perf; } \
	    >/out/apt.log 2>&1 ||
		{ tail -20 /out/apt.log; echo "=== trixie-bench: no perf"; exit 1; }
	# libssh2 symbols for perf, if the debug archive answers
	echo "deb http://deb.debian.org/debian-debug trixie-debug main" \
	    >/etc/apt/sources.list.d/debug.list
	{ apt-get -q update && apt-get -q -y install libssh2-1t64-dbgsym; } \
	    >>/out/apt.log 2>&1 || echo "# no libssh2 symbols (debian-debug)"
	make bench/raw_libssh2 >/dev/null &&
	eval "top_srcdir=/work/src top_builddir=/work/build sh /work/src/bench/profile.sh ${ARGS#--profile}"
	status=$? ;;
*)
	eval "make bench BENCH_ARGS=\"$ARGS\""
	status=$? ;;
esac
cp -r bench/out /out/ 2>/dev/null
exit $status
'
