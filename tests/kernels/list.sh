#!/bin/bash
# The kernels installed here that the tests can boot: every release with
# /boot/vmlinuz-REL, /lib/modules/REL/build and 9p, oldest first.
#
#   tests/kernels/list.sh [--test | --matrix | --debug]
#   tests/kernels/list.sh --resolve KERNEL...
#   tests/kernels/list.sh --bootable RELEASE
#
#   --test    (default) Debian's generic kernels only: what `make test` (CI)
#             runs on.  Not the -rt-, -cloud- flavours nor the -svsdebug builds.
#   --matrix  all of them: what `make test-kernels` runs on.
#   --debug   only the debug builds (tests/kernels/build.sh, -svsdebug).
#   --resolve print the installed release each KERNEL names, one per line:
#             a release name (6.1.0-57-amd64) as it is, or a stable handle
#             that survives Debian's ABI bumps (6.1.0-56 -> 6.1.0-57):
#               6.1, 6.12, X.Y   Debian's generic X.Y kernel (X.Y.*-amd64, not
#                                rt or cloud); when there is none, the debug
#                                build of X.Y (7.2: built from unstable)
#               debug-6.1, debug-6.12, debug-X.Y   the debug build (-svsdebug)
#               rt, cloud        Debian's PREEMPT_RT / cloud flavour
#             the newest installed release when several match.  Exit 1 (and
#             what is installed, on stderr) when a KERNEL names none.
#   --bootable exit 0 if the guest harness can boot RELEASE (its
#             /boot/config-RELEASE has 9p over virtio, which tests/vm needs for
#             the host's root: Debian's cloud flavour has not), else print why on
#             stdout and exit 1.  The listings leave such kernels out.
# Releases are the ones with /boot/vmlinuz-REL and /lib/modules/REL/build
# (SVS_KERNELS_BOOT, SVS_KERNELS_MODULES: other directories, for tests).
set -euo pipefail
mode=${1:---test}
boot=${SVS_KERNELS_BOOT:-/boot}
modules=${SVS_KERNELS_MODULES:-/lib/modules}

installed() { # every release with an image and headers, oldest first
	local k
	for k in "$boot"/vmlinuz-*; do
		[ -e "$k" ] || continue
		k=${k#"$boot"/vmlinuz-}
		[ -e "$modules/$k/build" ] && echo "$k"
	done | sort -V
}

# resolve KERNEL: the newest installed release it names
resolve() {
	local h=$1 all re v rel
	all=$(installed)
	# a release name: as it is (also one without headers, as before)
	if [ -e "$boot/vmlinuz-$h" ]; then echo "$h"; return 0; fi
	case $h in
	rt) re='-rt-[^-]+$' ;;
	cloud) re='-cloud-[^-]+$' ;;
	debug-*)
		v=${h#debug-}
		[[ $v =~ ^[0-9]+\.[0-9]+$ ]] || return 1
		re="^${v//./\\.}[.-].*-svsdebug\$"
		;;
	[0-9]*)
		[[ $h =~ ^[0-9]+\.[0-9]+$ ]] || return 1
		# the generic kernel of X.Y: no flavour (-rt-, -cloud-), no debug build
		rel=$(grep -E "^${h//./\\.}[.-]" <<< "$all" | grep -Ev -- '-(rt|cloud)-|-svsdebug$' | tail -n 1)
		[ -n "$rel" ] || rel=$(grep -E "^${h//./\\.}[.-].*-svsdebug\$" <<< "$all" | tail -n 1)
		[ -n "$rel" ] && echo "$rel"
		return
		;;
	*) return 1 ;;
	esac
	rel=$(grep -E -- "$re" <<< "$all" | tail -n 1)
	[ -n "$rel" ] && echo "$rel"
}

# bootable REL: the guest harness mounts the host's root over 9p (virtio)
no9p() {
	local cfg=$boot/config-$1
	if [ ! -r "$cfg" ]; then
		echo "$1: no $cfg: cannot tell whether it has 9p, which tests/vm needs for the host's root"
	elif ! grep -Eq '^CONFIG_9P_FS=[ym]' "$cfg" || ! grep -Eq '^CONFIG_NET_9P_VIRTIO=[ym]' "$cfg"; then
		echo "$1: no 9p over virtio (CONFIG_9P_FS, CONFIG_NET_9P_VIRTIO): tests/vm cannot boot it"
	else
		return 1
	fi
}

if [ "$mode" = --bootable ]; then
	[ $# -eq 2 ] || { echo "usage: list.sh --bootable RELEASE" >&2; exit 2; }
	no9p "$2" && exit 1
	exit 0
fi

if [ "$mode" = --resolve ]; then
	shift
	[ $# -gt 0 ] || { echo "usage: list.sh --resolve KERNEL..." >&2; exit 2; }
	rc=0
	for h in "$@"; do
		if ! resolve "$h"; then
			echo "list.sh: '$h' names no installed kernel (a release, or 6.1, 6.12, X.Y, debug-X.Y, rt, cloud); installed: $(installed | tr '\n' ' ')" >&2
			rc=1
		fi
	done
	exit $rc
fi

installed | while IFS= read -r k; do
	# The harness mounts the host's root over 9p (Debian's cloud flavour has no 9p).
	if why=$(no9p "$k"); then
		[ "$mode" = --test ] || echo "list.sh: $why; left out" >&2
		continue
	fi
	case $mode:$k in
	--test:*-rt-* | --test:*-cloud-* | --test:*-svsdebug) ;;
	--debug:*-svsdebug | --matrix:* | --test:*) echo "$k" ;;
	--debug:*) ;;
	*) echo "usage: list.sh [--test | --matrix | --debug | --resolve KERNEL...]" >&2; exit 2 ;;
	esac
done
