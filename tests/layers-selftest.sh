#!/bin/bash
# layers-selftest.sh - tests/layers.sh passes a small layered tree and fails
# each of its rules when that tree breaks it, naming the file, the line and
# the rule.  The tree is built in a temporary directory: sources laid out as
# daemon/ is, objects where automake's subdir-objects puts them.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
LAYERS_SH=$top_srcdir/tests/layers.sh
CC=${CC:-cc}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/layers-selftest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
T_N=0 T_FAILED=0

check() {
	desc=$1; shift
	T_N=$((T_N + 1))
	if "$@"; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc"
		T_FAILED=$((T_FAILED + 1))
		sed 's/^/#   /' "$WORK/out"
	fi
}

put() {	# put PATH: the file PATH of the tree, from stdin
	mkdir -p "$(dirname "$WORK/src/$1")"
	cat > "$WORK/src/$1"
}

# the good tree: common <- base <- ssh <- tunnel <- proc
good_tree() {
	rm -rf "$WORK/src" "$WORK/build"
	put common/util.h <<-'E'
	int util_twice(int);
	E
	put common/util.c <<-'E'
	#include "util.h"
	int util_twice(int x) { return 2 * x; }
	E
	put daemon/base/base.h <<-'E'
	int log_it(int);
	E
	put daemon/base/log.c <<-'E'
	#include "config.h"
	#include "util.h"
	#include "base.h"
	int log_it(int x) { return util_twice(x); }
	E
	put daemon/ssh/ssh.h <<-'E'
	int ssh_open(int);
	int ssh_close(int);
	E
	put daemon/ssh/session.h <<-'E'
	int session_new(int);
	E
	put daemon/ssh/session.c <<-'E'
	#include "base/base.h"
	#include "session.h"
	#include "ssh.h"
	int session_new(int x) { return log_it(x); }
	int ssh_open(int x) { return session_new(x); }
	int ssh_close(int x) { return x; }
	E
	put daemon/tunnel/tunnel.h <<-'E'
	int tunnel_up(int);
	E
	put daemon/tunnel/tunnel.c <<-'E'
	#include "base/base.h"
	#include "ssh/ssh.h"
	#include "tunnel.h"
	int tunnel_up(int x) { return ssh_open(x) + ssh_close(x) + log_it(x); }
	E
	put daemon/proc/main.c <<-'E'
	#include "tunnel/tunnel.h"
	int main(void) { return tunnel_up(0); }
	E
}

# build: the objects and the library, as in a build directory
build() {
	rm -rf "$WORK/build"
	: > "$WORK/src/config.h"
	objs=
	for src in $(cd "$WORK/src" && find daemon common -name '*.c'); do
		d=$(dirname "$src") f=$(basename "$src" .c)
		case $src in
		common/*) obj=$d/$f.o ;;
		*/main.c) obj=$d/tunneld-$f.o ;;
		*) obj=$d/libtunneld_a-$f.o; objs="$objs $obj" ;;
		esac
		mkdir -p "$WORK/build/$d"
		"$CC" -c -I"$WORK/src" -I"$WORK/src/daemon" -I"$WORK/src/common" \
		    -o "$WORK/build/$obj" "$WORK/src/$src" 2>"$WORK/cc.err" ||
		    { cat "$WORK/cc.err"; return 1; }
	done
	# shellcheck disable=SC2086
	(cd "$WORK/build" && ar rc daemon/libtunneld.a $objs)
}

# layers: run the check on the tree; its exit status
layers() {
	bash "$LAYERS_SH" --lib "$WORK/build/daemon/libtunneld.a" "$WORK/src" \
	    > "$WORK/out" 2>&1
}

passes() { layers; }
fails() { ! layers && grep -q '^# FAIL' "$WORK/out"; }
said() { grep -qF -- "$1" "$WORK/out"; }
rule_fails() { grep -q "^not ok $1 - " "$WORK/out"; }
fails_rule() { fails && rule_fails "$1"; }
only_rule_fails() {
	[ "$(grep -c '^not ok' "$WORK/out")" = 1 ] && rule_fails "$1"
}

echo "1..21"

good_tree && build
check "a layered tree passes" passes
check "its include graph counts the lines: tunnel -> ssh (1)" \
    said "#   tunnel -> ssh (1)"
check "its call graph counts the functions: tunnel -> ssh (2)" \
    said "#   tunnel -> ssh (2)"
check "its table gives each folder's files and lines" \
    said "#   ssh          3      9  ssh/session.c ssh/session.h ssh/ssh.h"

# 1. a header of a folder above
good_tree
sed -i '1i #include "tunnel/tunnel.h"' "$WORK/src/daemon/base/log.c"
build
check "rule 1: base/log.c includes tunnel/tunnel.h: fails" fails_rule 1
check "rule 1: ... and names file, line and the folders" \
    said 'daemon/base/log.c:1: base includes "tunnel/tunnel.h" of tunnel, a folder above it'
check "rule 3: ... and reports the cycle it makes as a path" rule_fails 3
check "rule 3: ... as a path" \
    said "include cycle: base -> tunnel -> base"

# 2. a private header of a folder below
good_tree
sed -i '1i #include "ssh/session.h"' "$WORK/src/daemon/tunnel/tunnel.c"
build
check "rule 2: tunnel/tunnel.c includes ssh/session.h: fails" fails_rule 2
check "rule 2: ... and only that rule, naming the interface" sh -c \
    "grep -q '^not ok 2 ' '$WORK/out' && [ \$(grep -c '^not ok' '$WORK/out') = 1 ] &&
     grep -qF 'daemon/tunnel/tunnel.c:1: includes \"ssh/session.h\", private to ssh (its interface: ssh/ssh.h)' '$WORK/out'"

# 2. ... or by a plain name another folder's -I would find
good_tree
put daemon/tunnel/extra.h <<-'E'
	#include "session.h"
	E
build
check "rule 2: tunnel/extra.h includes \"session.h\" of ssh/: fails" fails_rule 2
check "rule 2: ... naming file and line" \
    said 'daemon/tunnel/extra.h:1: "session.h" is neither in its folder'

# 3. a cycle, of headers alone (a plain-name include resolved across folders)
good_tree
echo '#include "../tunnel/tunnel.h"' >> "$WORK/src/daemon/ssh/ssh.h"
build
check "rule 3: ssh/ssh.h includes ../tunnel/tunnel.h: fails" fails_rule 3
check "rule 3: ... reporting the cycle as a path, with its lines" \
    said "include cycle: ssh -> tunnel -> ssh (daemon/ssh/ssh.h:3; daemon/tunnel/tunnel.c:2)"

# 4. libssh2.h outside ssh/
good_tree
sed -i '1i #include <libssh2.h>' "$WORK/src/daemon/tunnel/tunnel.c"
build
check "rule 4: tunnel/tunnel.c includes <libssh2.h>: fails" fails_rule 4
check "rule 4: ... and only that rule" only_rule_fails 4
check "rule 4: ... naming file and line" \
    said "daemon/tunnel/tunnel.c:1: includes <libssh2.h> outside ssh/ (in tunnel)"

# 5. a call upwards, with no include to show it
good_tree
cat >> "$WORK/src/daemon/base/log.c" <<-'E'
	int tunnel_up(int);
	int log_tunnel(int x)
	{
	    return tunnel_up(x);
	}
	E
build
check "rule 5: base/log.c calls tunnel_up(): fails" fails_rule 5
check "rule 5: ... and only that rule, naming the function and its folder" sh -c \
    "grep -q '^not ok 5 ' '$WORK/out' && [ \$(grep -c '^not ok' '$WORK/out') = 1 ] &&
     grep -qF 'daemon/base/log.c:8: base calls tunnel_up() defined in daemon/tunnel/tunnel.c, of tunnel above it' '$WORK/out'"
check "rule 5: ... and the call graph's cycle" said "cycle: base -> tunnel -> base"

# a file in no layer
good_tree
put daemon/stray.c <<-'E'
	int stray(void) { return 0; }
	E
build
check "daemon/stray.c, in no folder: fails, naming it" sh -c \
    "! bash '$LAYERS_SH' '$WORK/src' > '$WORK/out' 2>&1 &&
     grep -q '^not ok 6 ' '$WORK/out' && grep -qF 'daemon/stray.c: in no layer folder' '$WORK/out'"

[ "$T_FAILED" = 0 ]
