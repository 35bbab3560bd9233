#!/bin/bash
# boot.sh - the installed unit under a real systemd (issue 12), TAP.
#
# Builds the Debian package from this tree (dpkg-buildpackage, in a
# temporary copy), checks it with lintian, installs it with apt-get into a
# Debian 12 root (tests/roots/mkroot.sh, cached under /var/cache/tunneld-ci)
# seen through an overlay, so the cached root is never changed, and boots
# systemd as PID 1 in it with systemd-nspawn (private pid, mount, IPC, UTS
# and network namespaces).  From inside: the service is up after boot with
# the packaged /etc/tunneld.conf and a tunnel to the root's own sshd, the
# key authorized as README says; reload applies a drop-in and fails on a
# broken one; restart keeps tunnelctl working with and without
# tunneld.socket; a control_group member needs no -s.
#
# SKIP (with the reason) where it cannot run: not root, no systemd-nspawn,
# dpkg-buildpackage or lintian, no Debian archive to build the root from.
# Every wait polls with a deadline.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
SUITE=${BOOT_SUITE:-bookworm}
PACKAGES="systemd systemd-sysv dbus openssh-server"
MACHINE=tunneld-boot-$$
T_N=0
T_FAILED=0
NSPAWN_PID=
CT=

has()     { p=$1; shift; "$@" 2>&1 | grep -q -- "$p"; }
hasnt()   { ! has "$@"; }
not()     { ! "$@" >/dev/null 2>&1; }
ok()      { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok()  { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
check()   { d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
diag()    { printf '%s\n' "$*" | sed 's/^/# /'; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
for tool in systemd-nspawn dpkg-buildpackage lintian unshare nsenter; do
	command -v $tool >/dev/null || skip_all "$tool is not installed"
done
# all of it in a private mount namespace: the overlay, the mounts for apt
# and systemd-nspawn's vanish with it, whatever happens
if [ -z "${BOOT_NS:-}" ]; then
	BOOT_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tunneld-boot.XXXXXX")
cleanup() {
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		kill "$NSPAWN_PID" 2>/dev/null	# the container halts
		timeout 60 tail --pid="$NSPAWN_PID" -f /dev/null
		kill -KILL "$NSPAWN_PID" 2>/dev/null
	fi
	wait 2>/dev/null
	if [ "$T_FAILED" -ne 0 ]; then
		for f in "$WORK"/*.log; do
			[ -f "$f" ] || continue
			echo "# ---- $f (last 40 lines)"
			tail -n 40 "$f" | sed 's/^/# /'
		done
	fi
	# the overlay is in this process's private mount namespace: off it
	# before removing the directories, never through it
	umount -R "$WORK/merged" 2>/dev/null
	rm -rf "$WORK" "/run/systemd/nspawn/propagate/$MACHINE" 2>/dev/null
	return 0
}
trap cleanup EXIT

# ---- the package --------------------------------------------------------
# a copy of the tree (as git sees it, else all but build directories): the
# package build configures and writes debian/ there, never here
mkdir "$WORK/pkg" "$WORK/pkg/src"
if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$top_srcdir" ls-files -co --exclude-standard |
	    grep -v -e '^build-' -e '^_build/' |
	    (cd "$top_srcdir" && tar -cf - -T -) | tar -C "$WORK/pkg/src" -xf -
else
	(cd "$top_srcdir" && tar -cf - --exclude='./build-*' --exclude=./_build .) |
	    tar -C "$WORK/pkg/src" -xf -
fi
if (cd "$WORK/pkg/src" && dpkg-buildpackage -us -uc -b) >"$WORK/dpkg-buildpackage.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b builds the package"
else
	not_ok "dpkg-buildpackage -us -uc -b builds the package"
	tail -n 30 "$WORK/dpkg-buildpackage.log" | sed 's/^/# /'
	echo "1..$T_N"; exit 1
fi
DEB=$(ls "$WORK"/pkg/tunneld_*.deb)
lintian --fail-on error "$WORK"/pkg/tunneld_*.changes >"$WORK/lintian.log" 2>&1
check "lintian: no errors" [ $? -eq 0 ]
grep -E '^[EW]:' "$WORK/lintian.log" | sed 's/^/# /'
contents=$(dpkg-deb -c "$DEB")
for f in ./usr/sbin/tunneld ./usr/bin/tunnelctl ./etc/tunneld.conf \
    ./lib/systemd/system/tunneld.service ./lib/systemd/system/tunneld.socket \
    ./usr/lib/systemd/user/tunneld.service ./usr/lib/sysusers.d/tunneld.conf \
    ./usr/lib/tmpfiles.d/tunneld.conf ./usr/share/man/man8/tunneld.8.gz \
    ./usr/share/man/man1/tunnelctl.1.gz ./usr/share/man/man5/tunneld.conf.5.gz \
    ./usr/share/bash-completion/completions/tunnelctl; do
	case $contents in *" $f"*) ;; *) missing="${missing:-} $f" ;; esac
done
check "the package holds the programs, units, snippets, man pages, completion${missing:+ (missing:$missing)}" \
    [ -z "${missing:-}" ]
check "/etc/tunneld.conf is a conffile" \
    has '^/etc/tunneld.conf$' dpkg-deb -I "$DEB" conffiles

# hardening=+all (debian/rules): both programs as hardening-check sees them
if command -v hardening-check >/dev/null; then
	dpkg-deb -x "$DEB" "$WORK/pkg/x"
	for b in usr/sbin/tunneld usr/bin/tunnelctl; do
		hardening-check "$WORK/pkg/x/$b" >"$WORK/hardening.log" 2>&1
		sed 's/^/# /' "$WORK/hardening.log"
		for want in "Position Independent Executable: yes" \
		    "Stack protected: yes" "Fortify Source functions: yes" \
		    "Read-only relocations: yes" "Immediate binding: yes"; do
			check "$b: hardening-check: $want" \
			    grep -qF "$want" "$WORK/hardening.log"
		done
	done
else
	echo "ok $((T_N + 1)) - # SKIP hardening-check (devscripts) is not installed"
	T_N=$((T_N + 1))
fi

# ---- the root -----------------------------------------------------------
ROOT=$(bash "$top_srcdir/tests/roots/mkroot.sh" "$SUITE" "tunneld-boot-$SUITE" \
    "$PACKAGES" 2>"$WORK/mkroot.log")
case $? in
0)	;;
77)	reason=$(sed -n 's/^mkroot: skip: //p' "$WORK/mkroot.log")
	echo "ok $((T_N + 1)) - # SKIP the boot: ${reason:-mkroot.sh cannot run here}"
	echo "1..$((T_N + 1))"; exit 0 ;;
*)	not_ok "a $SUITE root (tests/roots/mkroot.sh)"
	tail -n 30 "$WORK/mkroot.log" | sed 's/^/# /'
	echo "1..$T_N"; exit 1 ;;
esac


# ---- the package installed into an overlay over the root ----------------
M=$WORK/merged
mkdir "$WORK/upper" "$WORK/ovwork" "$M"
mount -t overlay overlay \
    -o "lowerdir=$ROOT,upperdir=$WORK/upper,workdir=$WORK/ovwork" "$M" ||
	skip_all "cannot mount an overlay over $ROOT"
# in_chroot COMMAND...: with /proc, /sys and /dev for apt, only for it
in_chroot() {
	unshare -m -- sh -c 'dir=$1; shift
		mount -t proc proc "$dir/proc" && mount -t sysfs sys "$dir/sys" &&
		mount --rbind /dev "$dir/dev" &&
		exec chroot "$dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' \
	    in_chroot "$M" "$@"
}
# the packages apt downloads are kept between runs, next to the roots
archives=${MKROOT_CACHE:-/var/cache/tunneld-ci}/archives-$SUITE
mkdir -p "$archives/partial"
mount --bind "$archives" "$M/var/cache/apt/archives"
cp "$DEB" "$M/tmp/"
check "the root has none of the runtime libraries before" \
    not chroot "$M" dpkg -s libevent-pthreads-2.1-7 libconfig9
if in_chroot apt-get install -y -q "/tmp/${DEB##*/}" >"$WORK/apt.log" 2>&1; then
	ok "apt-get install ./${DEB##*/} in a fresh $SUITE root"
else
	not_ok "apt-get install ./${DEB##*/} in a fresh $SUITE root"
	tail -n 20 "$WORK/apt.log" | sed 's/^/# /'
	echo "1..$T_N"; exit 1
fi
installed() { chroot "$M" dpkg -s "$@" >/dev/null 2>&1; }
check "it pulled every runtime dependency (libevent-pthreads, libconfig, json-c, libssh2)" \
    installed libevent-pthreads-2.1-7 libevent-2.1-7 libconfig9 libjson-c5 \
    libssh2-1
umount "$M/var/cache/apt/archives"

# README's steps: the key, authorized on the server with the least
# privilege; tunnels in /etc/tunneld.d; accept-new into /var/lib/tunneld.
cat >"$WORK/setup.sh" <<'SETUP'
set -e
ssh-keygen -q -t ed25519 -N '' -C tunneld -f /etc/tunneld/id_ed25519
chown tunneld /etc/tunneld/id_ed25519
useradd -m tunnel
mkdir -m 700 ~tunnel/.ssh
printf 'restrict,port-forwarding,permitopen="127.0.0.1:22",permitlisten="127.0.0.1:9023" %s\n' \
    "$(cat /etc/tunneld/id_ed25519.pub)" >~tunnel/.ssh/authorized_keys
chown -R tunnel: ~tunnel/.ssh
cat >/etc/tunneld.d/echo.conf <<'CONF'
tunnels = {
  echo = {
    host = "127.0.0.1";
    user = "tunnel";
    strict_host_key_checking = "accept-new";
    local = [ "127.0.0.1:9022:127.0.0.1:22" ];
    remote = [ "127.0.0.1:9023:127.0.0.1:22" ];
  };
};
CONF
useradd -m -G tunneld alice	# in control_group
useradd -m bob			# not
# first boot without tunneld.socket: the service makes its own socket
systemctl disable tunneld.socket
SETUP
in_chroot sh /dev/stdin <"$WORK/setup.sh" >"$WORK/setup.log" 2>&1 ||
	{ not_ok "setting up the root"; cat "$WORK/setup.log" | sed 's/^/# /'; echo "1..$T_N"; exit 1; }

# ---- boot ---------------------------------------------------------------
# --keep-unit --register=no: no systemd or machined needed on the host
systemd-nspawn -q -D "$M" --machine="$MACHINE" --register=no --keep-unit \
    --private-network -b </dev/null >"$WORK/console.log" 2>&1 &
NSPAWN_PID=$!
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ] && kill -0 "$NSPAWN_PID" 2>/dev/null; do
	for p in $(pgrep -P "$NSPAWN_PID"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] && CT=$p
	done
	[ -n "$CT" ] && break
	timeout 0.2 tail --pid="$NSPAWN_PID" -f /dev/null
done
[ -n "$CT" ] || { not_ok "systemd-nspawn started systemd"; echo "1..$T_N"; exit 1; }

# in_ct COMMAND...: in the container's namespaces and root
in_ct() {
	nsenter -t "$CT" -m -u -i -n -p -r -w -- env -i \
	    PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}
ct_sh() { in_ct timeout 120 sh -c "$1"; }
# systemd's own socket first: before it, systemctl cannot even ask
deadline=$((SECONDS + 60))
until in_ct test -S /run/systemd/private 2>/dev/null ||
    [ $SECONDS -ge $deadline ]; do
	timeout 0.2 tail --pid="$NSPAWN_PID" -f /dev/null
done
state=$(in_ct timeout 120 systemctl is-system-running --wait 2>&1)
check "systemd booted in the root (\"$state\")" \
    sh -c "case '$state' in running|degraded) exit 0;; esac; exit 1"
[ "$state" = running ] || diag "$(in_ct systemctl --failed --no-legend)"

check "tunneld.service is active after boot, without tunneld.socket" \
    in_ct systemctl is-active -q tunneld.service
# the journal of tunneld.service since the last start (or of the boot)
unit_log() { in_ct journalctl -b --no-pager -o cat -u tunneld.service "$@"; }
since_start() {
	t=$(in_ct systemctl show -P ExecMainStartTimestamp tunneld.service)
	unit_log --since "$(in_ct date -d "$t" '+%Y-%m-%d %H:%M:%S')"
}
check "it made its own control socket at /run/tunneld/tunneld.sock" \
    has 'control socket /run/tunneld/tunneld.sock$' unit_log
check "no getifaddrs() warning from libevent in the journal" \
    hasnt 'getifaddrs' unit_log
check "no directory mode disagreement in the journal" \
    hasnt 'already exists but the mode is different' in_ct journalctl -b --no-pager -o cat

# the tunnel: key, authorized_keys, accept-new as in README
check "tunnelctl up echo: the tunnel is up (root, no -s)" \
    in_ct timeout 60 tunnelctl up echo --timeout 45
check "accept-new recorded the host key in /var/lib/tunneld/known_hosts" \
    in_ct test -s /var/lib/tunneld/known_hosts
banner() { in_ct timeout 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && head -c 8 <&3" | grep -q '^SSH-2.0'; }
check "the local forward 9022 reaches the sshd" banner 9022
check "the remote forward 9023 (permitlisten) reaches the sshd" banner 9023

# a member of control_group, no -s, no XDG_RUNTIME_DIR daemon of her own
check "alice (control_group) runs tunnelctl status without -s" \
    has '^echo  *up' in_ct runuser -u alice -- tunnelctl status
check "alice (control_group) runs tunnelctl restart echo" \
    in_ct runuser -u alice -- timeout 60 tunnelctl restart echo --timeout 45
check "bob (not in control_group) may read status" \
    has '^echo ' in_ct runuser -u bob -- tunnelctl status
check "bob may not restart" \
    not in_ct runuser -u bob -- tunnelctl restart echo

# reload: a drop-in is applied; a broken one is refused, visibly
ct_sh 'cat >/etc/tunneld.d/extra.conf <<CONF
tunnels = { extra = { host = "127.0.0.1"; user = "tunnel";
  local = [ "127.0.0.1:9024:127.0.0.1:22" ]; }; };
CONF'
check "systemctl reload applies a new drop-in in /etc/tunneld.d" \
    in_ct timeout 60 systemctl reload tunneld
check "the drop-in's tunnel is there" \
    in_ct timeout 60 tunnelctl up extra --timeout 45
ct_sh 'printf "tunnels = {\n  bad = { hots = \"x\"; };\n};\n" >/etc/tunneld.d/broken.conf'
out=$(in_ct timeout 60 systemctl reload tunneld 2>&1); rc=$?
check "systemctl reload fails on a broken drop-in (status $rc)" [ "$rc" -ne 0 ]
diag "$out"
check "systemctl status tunneld shows the file:line error" \
    has '/etc/tunneld.d/broken.conf:2:' in_ct systemctl status --no-pager -n 20 tunneld
out=$(in_ct tunnelctl reload 2>&1); rc=$?
check "tunnelctl reload exits 1" [ $rc -eq 1 ]
check "tunnelctl reload prints the file:line error" \
    has '/etc/tunneld.d/broken.conf:2:' echo "$out"
check "the service is still active" in_ct systemctl is-active -q tunneld
check "its tunnels are still up" has '^echo  *up' in_ct tunnelctl status
ct_sh 'rm /etc/tunneld.d/broken.conf'

# restart without the socket unit
check "systemctl restart tunneld (no tunneld.socket)" \
    in_ct timeout 60 systemctl restart tunneld
check "tunnelctl works after the restart" \
    in_ct timeout 60 tunnelctl up echo --timeout 45

# with tunneld.socket: systemd holds the socket, the daemon names it
# (systemd refuses to start a socket for a service already running: the
# switch is stop, enable --now the socket, start, as tunneld(8) says)
out=$(ct_sh 'systemctl stop tunneld && systemctl enable -q --now tunneld.socket &&
    systemctl start tunneld' 2>&1)
check "stop, systemctl enable --now tunneld.socket, start" [ $? -eq 0 ]
[ -z "$out" ] || diag "$out"
check "the log names the socket systemd passed: /run/tunneld/tunneld.sock" \
    has 'control socket /run/tunneld/tunneld.sock, from systemd' since_start
check "systemctl restart tunneld keeps the socket unit's socket" \
    ct_sh 'systemctl restart tunneld && test -S /run/tunneld/tunneld.sock'
check "tunnelctl works after the restart (socket-activated)" \
    in_ct timeout 60 tunnelctl up echo --timeout 45
check "a stopped service is started by tunnelctl through the socket" \
    ct_sh 'systemctl stop tunneld && tunnelctl status >/dev/null &&
	systemctl is-active -q tunneld'
check "alice reaches the socket-activated daemon without -s" \
    has '^echo ' in_ct runuser -u alice -- tunnelctl status

# a restart with a broken file does not start (documented: check first)
ct_sh 'printf "tunnels = {\n  bad = { hots = \"x\"; };\n};\n" >/etc/tunneld.d/broken.conf'
check "systemctl restart with a broken file fails" \
    not in_ct timeout 60 systemctl restart tunneld
check "the file:line error is in the journal" \
    has '/etc/tunneld.d/broken.conf:2:' since_start
ct_sh 'rm /etc/tunneld.d/broken.conf; systemctl reset-failed tunneld'
check "fixed, it restarts" in_ct timeout 60 systemctl restart tunneld

# nothing answers: tunnelctl names both places it tried
ct_sh 'systemctl stop tunneld.socket tunneld'
out=$(in_ct runuser -u alice -- tunnelctl status 2>&1)
check "with no daemon, tunnelctl names both paths it tried" \
    has '/run/user/[0-9]*/tunneld.sock.*/run/tunneld/tunneld.sock' echo "$out"
diag "$out"

echo "1..$T_N"
[ "$T_FAILED" -eq 0 ]
