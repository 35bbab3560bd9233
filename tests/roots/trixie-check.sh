#!/bin/bash
# trixie-check.sh [TEST...] - the suite again on Debian 13 (libssh2 1.11.1,
# OpenSSH 10.0), in a cached trixie root (mkroot.sh).
#
# The source tree is bound read-only into the root and copied (without
# build-* and .git) to a scratch directory there; then autoreconf, a gcc
# build with --enable-werror (warnings only: gcc's are not clang's), and a
# clang build with --enable-werror, AddressSanitizer and UBSan that runs
# `make check` (the one test pass on trixie: the sanitizers are what catch
# a misuse of a libssh2 whose buffering changed; -Werror catches its
# deprecations). TESTS (as for make check) runs only those tests.
#
# The tests' .log and .trs files land in $TRIXIE_OUT (build-trixie/ of the
# source tree by default) with the same layout as a build directory, so
# that .ci/run's closing line counts them. Exit status 0 when everything
# built warning-free and passed, 77 with a reason when it cannot run here,
# 1 otherwise.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${TRIXIE_OUT:-$top/build-trixie}

. "$here/trixie-root.sh"

tests="$*"
rm -rf "$out" && mkdir -p "$out" || exit 1

# shellcheck disable=SC2016
"$here/inroot.sh" -b "$top:/src:ro" -b "$out:/out" "$root" \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    TESTS="$tests" bash -c '
set -u
status=0
echo "=== trixie: $(cat /etc/debian_version), libssh2 $(pkg-config --modversion libssh2), $(ssh -V 2>&1)"
mkdir -p /work/src && cd /src &&
    tar --exclude="./build-*" --exclude=./.git -cf - . | tar -C /work/src -xf - &&
    cd /work/src && autoreconf -fi >/out/autoreconf.log 2>&1 ||
	{ cat /out/autoreconf.log; echo "=== trixie: autoreconf failed"; exit 1; }

echo "=== trixie-gcc: configure CC=gcc --enable-werror (build only)"
mkdir /work/build-gcc && cd /work/build-gcc &&
    ../src/configure -q CC=gcc --enable-werror >/out/gcc-configure.log 2>&1 &&
    make -j2 >/out/gcc-make.log 2>&1 ||
	{ tail -60 /out/gcc-make.log /out/gcc-configure.log; echo "=== trixie-gcc: build failed"; status=1; }
grep -E "warning:" /out/gcc-make.log && { echo "=== trixie-gcc: warnings"; status=1; }

echo "=== trixie-sanitize: configure CC=clang --enable-werror ASan UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir /work/build && cd /work/build &&
    ../src/configure -q CC=clang --enable-werror \
	CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	>/out/configure.log 2>&1 &&
    make -j2 >/out/make.log 2>&1 ||
	{ tail -60 /out/make.log /out/configure.log; echo "=== trixie-sanitize: build failed"; exit 1; }
grep -E "warning:" /out/make.log && { echo "=== trixie-sanitize: warnings"; status=1; }
echo "=== trixie-sanitize: make check${TESTS:+ TESTS=$TESTS}"
if [ -n "$TESTS" ]; then
	make -j2 check TESTS="$TESTS" >/out/check.log 2>&1 || status=1
else
	make -j2 check >/out/check.log 2>&1 || status=1
fi
# the results, laid out as in a build directory
find tests -name "*.log" -o -name "*.trs" | tar -cf - -T - | tar -C /out -xf -
grep -E "^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):" /out/check.log | grep -v "^PASS" || true
grep -E "^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):" /out/check.log
if grep -qE "^(FAIL|ERROR|XPASS):" /out/check.log; then
	for log in $(grep -lE "^(not ok|Bail out)" $(find /out/tests -name "*.log")); do
		echo "--- trixie: ${log#/out/}"; grep -vE "^ok " "$log" | head -120
		# each failure with what the test said just before it
		echo "--- trixie: ${log#/out/}: the failures"
		grep -vE "^(ok |PASS: )" "$log" | grep -B12 -E "^not ok" | head -80
	done
fi
exit $status
'
