#!/bin/bash
# version.sh - tunneld has one version, AC_INIT's in configure.ac.  The
# generated Makefile (so the tarball's name, tunneld-VERSION.tar.gz), the top
# entry of debian/changelog, the first section of ChangeLog, `tunneld -V`,
# `tunnelctl -V` and the .TH line of each man page built for installation
# (man/) must all say it.  Output is TAP.
#
# usage: tests/version.sh (under make check: $top_srcdir, $top_builddir)
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
n=0
failed=0
ok()     { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

# each prints the version its source says, or nothing
v_configure() { sed -n 's/^AC_INIT(\[tunneld\], *\[\([^]]*\)\].*/\1/p' "$1"; }
v_makefile()  { sed -n 's/^VERSION = //p' "$1"; }
v_debian()    { sed -n '1s/^tunneld (\([^)]*\)).*/\1/p' "$1"; }
v_changelog() { sed -n '1s/^tunneld \([0-9][^ ]*\).*/\1/p' "$1"; }
v_program()   { "$1" -V 2>/dev/null | sed -n "1s/^$2 //p"; }
v_man()       { sed -n '1s/^\.TH .* "tunneld \([^"]*\)".*/\1/p' "$1"; }

want=$(v_configure "$top_srcdir/configure.ac")
if [ -n "$want" ]; then
	ok "configure.ac: AC_INIT says $want"
else
	not_ok "configure.ac: no version in AC_INIT"
fi

# same WHAT GOT: GOT must be $want
same() {
	if [ -n "$2" ] && [ "$2" = "$want" ]; then
		ok "$1 says $want"
	else
		not_ok "$1 says '${2}', configure.ac $want"
	fi
}
same "Makefile (the tarball tunneld-VERSION)" "$(v_makefile "$top_builddir/Makefile")"
same "debian/changelog, its top entry" "$(v_debian "$top_srcdir/debian/changelog")"
same "ChangeLog, its first section" "$(v_changelog "$top_srcdir/ChangeLog")"
same "tunneld -V" "$(v_program "$top_builddir/daemon/tunneld" tunneld)"
same "tunnelctl -V" "$(v_program "$top_builddir/ctl/tunnelctl" tunnelctl)"
for page in tunneld.8 tunnelctl.1 tunneld.conf.5; do
	[ -f "$top_builddir/man/$page" ] || make -C "$top_builddir" "man/$page" >/dev/null 2>&1
	same "man/$page (installed), its .TH" "$(v_man "$top_builddir/man/$page")"
done

# the checks can fail: a changelog entry for another version is caught
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT
sed '1s/([^)]*)/(0.0.1)/' "$top_srcdir/debian/changelog" >"$tmp"
if [ "$(v_debian "$tmp")" = 0.0.1 ] && [ "$(v_debian "$tmp")" != "$want" ]; then
	ok "a debian/changelog saying 0.0.1 would be caught"
else
	not_ok "a debian/changelog saying 0.0.1 would not be caught"
fi
# and the source's man pages carry the placeholder, not a stale number
for page in tunneld.8 tunnelctl.1 tunneld.conf.5; do
	v=$(v_man "$top_srcdir/doc/$page")
	if [ "$v" = "@VERSION@" ] || [ "$v" = "$want" ]; then
		ok "doc/$page: .TH says $v"
	else
		not_ok "doc/$page: .TH says '$v' (@VERSION@ or $want expected)"
	fi
done
echo "1..$n"
[ "$failed" -eq 0 ]
