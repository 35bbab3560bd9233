#!/bin/sh
# run.sh [SECONDS] [TARGET...] - build the fuzz targets with clang's
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer (in build-fuzz/,
# or $FUZZ_BUILD), then run each for SECONDS (30) on its committed corpus
# and dictionary.  A crash, leak, sanitizer report or timeout fails the
# target; its reproducer is kept in build-fuzz/findings/ and the command to
# replay it is printed.  Prints one line per target and "N passed, N failed";
# exits nonzero if any failed.  tests/fuzz/README says how to run longer.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-socks fwdspec config control known_hosts proxy hosts sshcert certscan}
build=${FUZZ_BUILD:-$top/build-fuzz}
CC=${CC:-clang}
case $CC in *clang*) ;; *) CC=clang ;; esac

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
    $CC -x c -fsanitize=fuzzer $SAN -o /dev/null - 2>/dev/null; then
	echo "run.sh: $CC cannot build with -fsanitize=fuzzer (Debian: clang and libclang-rt-dev)"
	exit 1
fi
mkdir -p "$build" || exit 1
if [ ! -f "$build/Makefile" ]; then
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi) || exit 1
	echo "=== fuzz: configure in $build"
	(cd "$build" && "$top/configure" -q CC="$CC" --enable-werror \
	    CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $SAN") || exit 1
fi
echo "=== fuzz: make fuzz"
if ! make -C "$build" -j2 fuzz >"$build/fuzz-make.log" 2>&1; then
	cat "$build/fuzz-make.log"
	echo "run.sh: build failed"
	exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS="suppressions=$here/lsan.supp"
findings=$build/findings
mkdir -p "$findings"
passed=0
failed=0
for t in $targets; do
	bin=$build/tests/fuzz/fuzz_$t
	corpus=$here/corpus/$t
	work=$build/corpus-$t		# new inputs; the committed corpus stays
	mkdir -p "$work"
	dict=
	[ -f "$here/$t.dict" ] && dict=-dict=$here/$t.dict
	log=$build/fuzz_$t.log
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -max_len=65536 -print_final_stats=1 $dict \
	    -artifact_prefix="$findings/$t-" "$work" "$corpus" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	# a target that runs a few inputs a second is stuck, not fuzzing
	# (fuzz_config once waited 10 s per input for a child)
	if [ $rc -eq 0 ] && [ "${runs:-0}" -lt $((secs * 5)) ]; then
		failed=$((failed + 1))
		echo "fuzz_$t: FAILED (only ${runs:-0} runs in ${secs}s: each input is slow; see $log)"
	elif [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "fuzz_$t: passed (${runs:-?} runs in ${secs}s, ${cov:-cov: ?})"
	else
		failed=$((failed + 1))
		echo "fuzz_$t: FAILED (exit $rc)"
		grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | head -20 |
		    sed 's/^/    /'
		unit=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
		echo "    full log: $log"
		echo "    replay: $bin ${unit:-$findings/$t-*}"
		echo "    once fixed, add that input to tests/fuzz/corpus/$t/ so that"
		echo "    every run replays it"
	fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
