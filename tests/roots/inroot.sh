#!/bin/bash
# inroot.sh [-b SRC:DST[:ro]]... [-w] ROOT COMMAND... - run COMMAND in ROOT.
#
# In a private mount namespace (unshare -m), so nothing mounted here is
# seen on the host or outlives the command: an overlay over ROOT (writes go
# to a scratch directory that is removed afterwards, so the cached root
# stays as mkroot.sh made it and several callers can use it at once; -w
# writes into ROOT itself, for installing packages), fresh /proc, /sys,
# /dev (bind of the host's), tmpfs on /tmp, /run and /var/tmp, and the -b
# bind mounts (":ro" read-only). Network namespaces work inside (ip netns
# keeps its mounts under the root's private /run). Exit status: COMMAND's;
# 77 with "inroot: skip: ..." when it cannot run here.
set -u

skip() { echo "inroot: skip: $*" >&2; exit 77; }
die() { echo "inroot: $*" >&2; exit 1; }

binds=() writable=0
while [ $# -gt 0 ]; do
	case $1 in
	-b) [ $# -ge 2 ] || die "-b needs SRC:DST[:ro]"; binds+=("$2"); shift 2 ;;
	-w) writable=1; shift ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -ge 2 ] || die "usage: inroot.sh [-b SRC:DST[:ro]]... [-w] ROOT COMMAND..."
root=$1; shift
[ "$(id -u)" -eq 0 ] || skip "needs root (mount, chroot)"
[ -x "$root/bin/sh" ] || die "$root is not a root (no /bin/sh)"
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"

scratch=
if [ "$writable" -eq 0 ]; then
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/inroot.XXXXXX") || die "mktemp"
	trap 'rm -rf "$scratch"' EXIT
fi

# the script run in the new namespace; arguments: root scratch nbinds
# binds... command...
inner='
set -e
root=$1 scratch=$2 n=$3; shift 3
mount --make-rprivate /
if [ -n "$scratch" ]; then
	mkdir "$scratch/upper" "$scratch/work" "$scratch/merged"
	mount -t overlay overlay -o "lowerdir=$root,upperdir=$scratch/upper,workdir=$scratch/work" "$scratch/merged" ||
		{ echo "inroot: skip: cannot mount an overlay over $root" >&2; exit 77; }
	root=$scratch/merged
fi
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --rbind /dev "$root/dev"
for d in tmp run var/tmp; do
	mount -t tmpfs -o mode=1777 tmpfs "$root/$d"
done
while [ "$n" -gt 0 ]; do
	spec=$1; shift; n=$((n - 1))
	src=${spec%%:*} rest=${spec#*:}
	dst=${rest%%:*} opt=${rest#"$dst"}
	mkdir -p "$root/$dst"
	mount --bind "$src" "$root/$dst"
	[ "$opt" != ":ro" ] || mount -o remount,bind,ro "$root/$dst"
done
exec chroot "$root" "$@"
'
exec 3>&-
unshare -m -- sh -c "$inner" inroot "$root" "$scratch" "${#binds[@]}" \
    "${binds[@]}" "$@"
