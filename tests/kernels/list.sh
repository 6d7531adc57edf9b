#!/bin/bash
# The kernels installed here that the tests can boot: every release with
# /boot/vmlinuz-REL, /lib/modules/REL/build and 9p, oldest first.
#
#   tests/kernels/list.sh [--test | --matrix | --debug]
#
#   --test    (default) Debian's generic kernels only: what `make test` (CI)
#             runs on.  Not the -rt-, -cloud- flavours nor the -svsdebug builds.
#   --matrix  all of them: what `make test-kernels` runs on.
#   --debug   only the debug builds (tests/kernels/build.sh, -svsdebug).
set -euo pipefail
mode=${1:---test}
for k in /boot/vmlinuz-*; do
	[ -e "$k" ] || continue
	k=${k#/boot/vmlinuz-}
	[ -e "/lib/modules/$k/build" ] || continue
	# The harness mounts the host's root over 9p (Debian's cloud flavour has no 9p).
	if ! grep -Eq '^CONFIG_9P_FS=[ym]' "/boot/config-$k" 2>/dev/null; then
		[ "$mode" = --test ] || echo "list.sh: $k: no 9p (CONFIG_9P_FS): tests/vm cannot boot it; left out" >&2
		continue
	fi
	case $mode:$k in
	--test:*-rt-* | --test:*-cloud-* | --test:*-svsdebug) ;;
	--debug:*-svsdebug | --matrix:* | --test:*) echo "$k" ;;
	--debug:*) ;;
	*) echo "usage: list.sh [--test | --matrix | --debug]" >&2; exit 2 ;;
	esac
done | sort -V
