#!/bin/bash
# The passive-health / p2c benchmark (issue 18, bench/guest/feedback.py) in a
# QEMU guest per kernel, one kernel after the other, then the reports.
#
#   bench/run-feedback.sh [--quick] [KVER...]
#
# Default kernels: tests/kernels/list.sh --test (Debian 6.1 and 6.12).
# Full mode (make bench-feedback, part of make bench): raw rows in
#   build/bench/raw-feedback/KVER/, report bench/results/KVER-feedback.md.
# --quick: one short repetition; raw rows and report in build/bench-quick/.
# Like make bench, the guest runs under QEMU instruction counting with one
# vCPU (bench/qemu-icount; SVS_BENCH_ICOUNT=off: host time, 2 vCPUs), so
# that netem's 20 ms and every request's CPU time are guest time, whatever
# the host's load.
# Needs: make all bench-tools (build/kmod, build/userspace,
# build/bench/feedback_load, build/bench/connect_cost).  SVS_FB_* variables
# pass through to the guest (see bench/guest/feedback.py); SVS_FB_BUILD
# takes the module and sockvsadm from another build directory (say, of a
# clean export of a commit; SVS_FB_COMMIT names it in the report).
# Exit status: 0 if every guest ran and produced every row.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"
. bench/lib.sh

quick=
if [ "${1:-}" = --quick ]; then quick=quick; shift; fi
if [ $# -gt 0 ]; then kvers=("$@"); else mapfile -t kvers < <(tests/kernels/list.sh --test); fi
if [ -n "$quick" ]; then out=build/bench-quick raw=build/bench-quick/raw-feedback; else
	out=bench/results raw=build/bench/raw-feedback; fi
mkdir -p "$out"
fbbuild=${SVS_FB_BUILD:-$repo/build}
for f in "$fbbuild/userspace/sockvsadm" build/bench/connect_cost build/bench/feedback_load; do
	[ -x "$f" ] || { echo "run-feedback.sh: $f missing (make all bench-tools)" >&2; exit 2; }
done
if [ -n "${SVS_FB_COMMIT:-}" ]; then commit=$SVS_FB_COMMIT; else
	commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- kmod userspace || echo ' + uncommitted changes in kmod/ or userspace/')"
fi

bench_clock

status=0
for k in "${kvers[@]}"; do
	dir=$raw/$k
	mkdir -p "$dir"
	[ -f "$fbbuild/kmod/$k/sock_vs.ko" ] || { echo "FAIL: feedback $k: no $fbbuild/kmod/$k/sock_vs.ko"; status=1; continue; }
	bench_guest_start
	echo "=== bench-feedback${quick:+ (quick)}: $k (other QEMU guests running: $qemu_before)"
	SVS_FB_BUILD=$fbbuild SVS_RESULTS_DIR=$dir SVS_VM_SMP=$smp SVS_VM_MEM=${SVS_VM_MEM:-2048} \
		SVS_VM_TIMEOUT=${SVS_VM_TIMEOUT:-7200} \
		tests/vm/run-guest.sh "$k" bench/guest/feedback.py $quick 2>&1 |
		grep -a --line-buffered -E '^\[bench|^bench failure|run-guest.sh'
	rc=${PIPESTATUS[0]}
	bench_host_meta "$rc" commit "$commit" \
		command "${SVS_FB_COMMAND:-bench/run-feedback.sh${quick:+ --quick} $k}" > "$dir/host-meta.tsv"
	[ "$rc" -eq 0 ] || status=1
	/usr/bin/python3 bench/feedback_report.py "$dir" "$out/$k-feedback.md" || status=1
done
exit $status
