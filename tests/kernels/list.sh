#!/bin/bash
# The kernels installed here that the tests can boot: every release with
# /boot/vmlinuz-REL and /lib/modules/REL/build, oldest first.
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
	case $mode:$k in
	--test:*-rt-* | --test:*-cloud-* | --test:*-svsdebug) ;;
	--debug:*-svsdebug | --matrix:* | --test:*) echo "$k" ;;
	--debug:*) ;;
	*) echo "usage: list.sh [--test | --matrix | --debug]" >&2; exit 2 ;;
	esac
done | sort -V
