#!/bin/bash
# Run the benchmarks in a QEMU guest per kernel and write the reports.
#
#   bench/run-all.sh [--quick] [KVER...]
#
# Default kernels: every /boot/vmlinuz-KVER with /lib/modules/KVER/build.
# Full mode (make bench): raw rows in build/bench/raw/KVER/, reports in
#   bench/results/KVER.md and bench/results/KVER-<workload>.png.
# --quick (make bench-quick): one short repetition of everything; raw rows in
#   build/bench-quick/raw/KVER/, reports in build/bench-quick/.
# Then bench/check-rows.py checks that every expected row is there and prints
# PASS:/FAIL: lines (also saved as <out>/check-KVER.txt).
# Needs: make all bench-tools (build/kmod, build/userspace, build/bench/connect_cost).
# SVS_BENCH_* variables pass through to the guest (see bench/guest/bench.py).
# Exit status: 0 if every guest ran and every row is there.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"

quick=
if [ "${1:-}" = --quick ]; then quick=quick; shift; fi
if [ $# -gt 0 ]; then
	kvers=("$@")
else
	mapfile -t kvers < <(for k in /boot/vmlinuz-*; do
		k=${k#/boot/vmlinuz-}
		[ -e "/lib/modules/$k/build" ] && echo "$k"
	done | sort -V)
fi
if [ -n "$quick" ]; then out=build/bench-quick raw=build/bench-quick/raw; else
	out=bench/results raw=build/bench/raw; fi
mkdir -p "$out" "$raw"

for f in build/userspace/sockvsadm build/bench/connect_cost; do
	[ -x "$f" ] || { echo "run-all.sh: $f missing (make all bench-tools)" >&2; exit 2; }
done

status=0
start_all=$(date +%s)
for k in "${kvers[@]}"; do
	[ -f "build/kmod/$k/sock_vs.ko" ] || { echo "FAIL: bench${quick:+-quick} $k: no build/kmod/$k/sock_vs.ko"; status=1; continue; }
	dir=$raw/$k
	qemu_before=$(pgrep -c qemu-system || true)
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	host_date=$(date -u '+%Y-%m-%d %H:%M UTC')
	t0=$(date +%s)
	echo "=== bench${quick:+ (quick)}: $k (other QEMU guests running: $qemu_before)"
	SVS_RESULTS_DIR=$dir SVS_VM_SMP=2 SVS_VM_MEM=${SVS_VM_MEM:-2048} \
		SVS_VM_TIMEOUT=${SVS_VM_TIMEOUT:-3000} \
		tests/vm/run-guest.sh "$k" bench/guest/bench.py $quick 2>&1 |
		grep -a --line-buffered -E '^\[bench|^bench failure|run-guest.sh'
	rc=${PIPESTATUS[0]}
	t1=$(date +%s)
	{
		printf 'cpu_model\t%s\n' "$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
		printf 'host_cores\t%s\n' "$(nproc)"
		printf 'guest_mem\t%s\n' "${SVS_VM_MEM:-2048}"
		printf 'qemu_before\t%s\n' "$((qemu_before))"
		printf 'qemu_after\t%s\n' "$(($(pgrep -c qemu-system || true)))"
		printf 'loadavg_before\t%s\n' "$load_before"
		printf 'host_date\t%s\n' "$host_date"
		printf 'guest_seconds\t%s\n' "$((t1 - t0))"
		printf 'guest_exit\t%s\n' "$rc"
		printf 'command\t%s\n' "make bench${quick:+-quick}"
	} > "$dir/host-meta.tsv"
	/usr/bin/python3 bench/report.py "$dir" "$out" || status=1
	/usr/bin/python3 bench/check-rows.py "$dir" "bench${quick:+-quick} $k" | tee "$out/check-$k.txt"
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
	[ "$rc" -eq 0 ] || status=1
done
echo "bench${quick:+-quick}: $(($(date +%s) - start_all)) s for ${kvers[*]}"
exit $status
