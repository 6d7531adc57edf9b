#!/bin/bash
# sockvs-healthd at scale (issue 15, section 3): 1,000 real servers checked
# every second (check tcp) -- the daemon's share of one core -- then all of
# them black-holed at once (an nftables rule drops their SYNs) -- each must
# be quiesced within fall x interval + timeout.  A benchmark, not a test:
# it prints the numbers (and exits 1 when a target is missed).
#
#   bench/healthd_scale.sh [BUILD_DIR]      (default build/userspace; needs root)
#
# Runs in a private network namespace (unshare -n): the listeners, the
# checks and the nftables rule never touch the host's network.  The
# daemon's loop, checks and engine are the real ones (healthd::Daemon); the
# module is in memory (bench/healthd_scale.cc), so the netlink cost of the
# one snapshot per round is not in the figure.
# SVS_HEALTHD_SCALE_ARGS: extra arguments (--servers N --interval MS
# --timeout MS --fall N --warmup S --measure S).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build=${1:-$repo/build/userspace}
bin=$build/healthd_scale
if [ ! -x "$bin" ]; then
	echo "healthd_scale.sh: $bin missing: cmake -S userspace -B $build -DSVS_BUILD_TESTS=ON && cmake --build $build --target healthd_scale" >&2
	exit 2
fi
command -v nft >/dev/null || { echo "healthd_scale.sh: needs nft (nftables)" >&2; exit 2; }
# shellcheck disable=SC2016,SC2086
exec unshare -n bash -c '
	set -e
	ip link set lo up
	ulimit -n 65536 2>/dev/null || true
	exec "$0" --servers 1000 --interval 1000 --timeout 1000 --fall 3 --warmup 5 --measure 30 --floor yes \
		--blackhole "nft add table inet svsbh && nft add chain inet svsbh input \"{ type filter hook input priority 0; }\" && nft add rule inet svsbh input tcp dport 20000-21999 drop" \
		'"${SVS_HEALTHD_SCALE_ARGS:-}"'
' "$bin"
