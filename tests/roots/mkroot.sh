#!/bin/bash
# mkroot.sh SUITE NAME|DEST "PACKAGES" - a cached Debian root for CI.
#
# Builds (once) a Debian SUITE root with debootstrap from the Debian mirror
# apt is configured with here, installs PACKAGES in it, and prints the path
# of the finished root on stdout. Cached under $MKROOT_CACHE
# (/var/cache/tunneld-ci):
#
#   base-SUITE.tar       debootstrap --variant=minbase, keyed by suite
#   SUITE-HASH/          base + PACKAGES, HASH of the sorted package list
#   NAME -> SUITE-HASH   a symlink, replaced atomically when the list changes
#
# If the second argument contains a '/', it is a DEST path instead of a
# NAME: DEST becomes a symlink to the cached root. Every step builds in a
# temporary directory and renames it into place, so a killed run leaves no
# half-made root; a lock (flock on $MKROOT_CACHE/.lock) serialises callers.
# The same call again costs a lookup. Installing more packages into a root
# that exists (a new list that includes an old one) starts from the cached
# base, never from a root another caller may be using. Roots no name links
# to any more are left in place (one may be in use): remove them by hand.
#
# Exit status: 0 and the root on stdout; 77 with "mkroot: skip: REASON" on
# stderr when it cannot run here (not root, no debootstrap, no mirror ...);
# 1 when building failed (the log's tail on stderr).
#
# inroot.sh ROOT COMMAND... runs a command in a root.
set -u

cache=${MKROOT_CACHE:-/var/cache/tunneld-ci}

skip() { echo "mkroot: skip: $*" >&2; exit 77; }
die() { echo "mkroot: $*" >&2; exit 1; }

[ $# -eq 3 ] || die "usage: mkroot.sh SUITE NAME|DEST \"PACKAGES\""
suite=$1 target=$2 packages=$3
case $suite in ''|*[!a-z0-9-]*) die "bad suite name '$suite'" ;; esac

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed"
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
command -v flock >/dev/null || skip "flock (util-linux) is not installed"
[ -e "/usr/share/debootstrap/scripts/$suite" ] ||
	skip "this debootstrap does not know suite '$suite'"

# The Debian mirror of apt's configuration: deb822 "URIs:" lines or one-line
# "deb URI suite ..." entries; the first URI ending in /debian.
mkroot_mirror() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	    /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		sed -n -e 's/^[[:space:]]*URIs:[[:space:]]*//p' \
		    -e 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' \
		    "$f" | tr ' ' '\n'
	done | sed 's|/$||' | grep -m1 -E '^(https?|file)://.*/debian$'
}
mirror=${MKROOT_MIRROR:-$(mkroot_mirror)}
[ -n "$mirror" ] || skip "no Debian mirror in /etc/apt/sources.list*"

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || skip "no $keyring (package debian-archive-keyring)"

mkdir -p "$cache" || die "cannot create $cache"
exec 9>"$cache/.lock" || die "cannot open $cache/.lock"
flock 9 || die "cannot lock $cache/.lock"

# Leftovers of killed runs: temporary directories and tarballs.
rm -rf "$cache"/.tmp-* 2>/dev/null

sorted=$(printf '%s\n' $packages | sort -u | tr '\n' ' ')
hash=$(printf '%s %s' "$suite" "$sorted" | sha256sum | cut -c1-12)
root=$cache/$suite-$hash
log=$cache/.tmp-$$.log

# mkroot_chroot DIR COMMAND...: in a private mount namespace, so nothing
# mounted for apt (/proc, /dev, /sys) outlives the command on the host.
mkroot_chroot() {
	local dir=$1; shift
	unshare -m -- sh -c '
		dir=$1; shift
		mount --make-rprivate / &&
		mount -t proc proc "$dir/proc" &&
		mount -t sysfs sys "$dir/sys" &&
		mount --rbind /dev "$dir/dev" &&
		exec chroot "$dir" "$@"' mkroot "$dir" "$@"
}

mkroot_fail() {
	tail -40 "$log" >&2
	rm -rf "$cache/.tmp-$$"* 2>/dev/null
	die "$*"
}

if [ ! -d "$root" ]; then
	base=$cache/base-$suite.tar
	if [ ! -f "$base" ]; then
		if command -v curl >/dev/null && [ "${mirror#file:}" = "$mirror" ] &&
		    ! curl -fsS -o /dev/null "$mirror/dists/$suite/Release" 2>/dev/null; then
			skip "cannot reach $mirror/dists/$suite/Release"
		fi
		echo "mkroot: debootstrap $suite from $mirror" >&2
		tmp=$cache/.tmp-$$-base
		# in its own mount namespace: what it mounts (/proc) goes
		# with it, also when it is killed
		unshare -m -- sh -c 'mount --make-rprivate / &&
		    exec debootstrap "$@"' debootstrap --variant=minbase \
		    --keyring="$keyring" "$suite" "$tmp" "$mirror" >"$log" 2>&1 ||
			mkroot_fail "debootstrap $suite failed (log above)"
		rm -rf "$tmp"/var/cache/apt/archives/*.deb
		tar -C "$tmp" -cf "$cache/.tmp-$$-base.tar" . ||
			mkroot_fail "cannot write the base tarball"
		mv -f "$cache/.tmp-$$-base.tar" "$base" || mkroot_fail "mv"
		rm -rf "$tmp"
	fi
	echo "mkroot: $suite-$hash: installing $sorted" >&2
	tmp=$cache/.tmp-$$-root
	mkdir "$tmp" && tar -C "$tmp" -xf "$base" ||
		mkroot_fail "cannot unpack $base"
	cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null
	printf 'APT::Install-Recommends "false";\n' \
	    >"$tmp/etc/apt/apt.conf.d/90tunneld-ci"
	# no daemon starts inside the root while installing
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
	chmod 755 "$tmp/usr/sbin/policy-rc.d"
	# shellcheck disable=SC2086
	mkroot_chroot "$tmp" env DEBIAN_FRONTEND=noninteractive \
	    sh -c 'apt-get update -q && apt-get install -y -q "$@" &&
	    apt-get clean' apt $sorted >"$log" 2>&1 ||
		mkroot_fail "apt-get install in the $suite root failed (log above)"
	printf '%s\n' "$suite" "$sorted" >"$tmp/.mkroot"
	mv "$tmp" "$root" || mkroot_fail "cannot move the root into place"
fi
rm -f "$log"

case $target in
*/*)	link=$target ;;
*)	case $target in .*|'') die "bad name '$target'" ;; esac
	link=$cache/$target ;;
esac
old=$(readlink "$link" 2>/dev/null)
if [ "$old" != "$root" ]; then
	ln -sfn "$root" "$link.tmp-$$" && mv -Tf "$link.tmp-$$" "$link" ||
		die "cannot link $link"
fi
echo "$root"
