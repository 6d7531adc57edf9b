#!/bin/bash
# Run the benchmarks in a QEMU guest per kernel and write the reports.
#
#   bench/run-all.sh [--quick] [KVER...]
#
# Default kernels: tests/kernels/list.sh --test (Debian 6.1 and 6.12).
# Full mode (make bench): raw rows in build/bench/raw/KVER/, reports in
#   bench/results/KVER.md and bench/results/KVER-<workload>.png, and, when
#   every kernel's run is complete, README.md's benchmark section
#   (bench/readme.py).
# --quick (make bench-quick): one short repetition of everything; raw rows in
#   build/bench-quick/raw/KVER/, reports in build/bench-quick/.
# Then bench/check-rows.py checks that every expected row is there and prints
# PASS:/FAIL: lines (also saved as <out>/check-KVER.txt).
# Needs: make all bench-tools (build/kmod, build/userspace, build/bench/connect_cost).
# SVS_BENCH_* variables pass through to the guest (see bench/guest/bench.py).
# SVS_BENCH_SCALING_ONLY=1 (full mode): rerun only the 2-vCPU scaling guests
# (on an otherwise idle host: they measure in host time) and redo the reports
# from the last full run's raw rows; SVS_BENCH_SCALING_REPS (default 5).
# Exit status: 0 if every guest ran and every row is there.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"
. bench/lib.sh

quick=
if [ "${1:-}" = --quick ]; then quick=quick; shift; fi
if [ $# -gt 0 ]; then
	kvers=("$@")
else
	mapfile -t kvers < <(tests/kernels/list.sh --test)
fi
if [ -n "$quick" ]; then out=build/bench-quick raw=build/bench-quick/raw; else
	out=bench/results raw=build/bench/raw; fi
mkdir -p "$out" "$raw"

for f in build/userspace/sockvsadm build/bench/connect_cost; do
	[ -x "$f" ] || { echo "run-all.sh: $f missing (make all bench-tools)" >&2; exit 2; }
done

run_one() { # KVER: the icount guest (report_one checks what it produced)
	local k=$1 dir=$raw/$1 rc qemu_before load_before host_date t0
	[ -f "build/kmod/$k/sock_vs.ko" ] || {
		echo "FAIL: bench${quick:+-quick} $k: no build/kmod/$k/sock_vs.ko"; return 1; }
	rm -f "$out/check-$k.txt"
	bench_guest_start
	echo "=== bench${quick:+ (quick)}: $k (other QEMU guests running: $qemu_before)"
	SVS_RESULTS_DIR=$dir SVS_VM_SMP=$smp SVS_VM_MEM=${SVS_VM_MEM:-2048} \
		SVS_VM_TIMEOUT=${SVS_VM_TIMEOUT:-3600} \
		tests/vm/run-guest.sh "$k" bench/guest/bench.py $quick 2>&1 |
		grep -a --line-buffered -E '^\[bench|^bench failure|run-guest.sh'
	rc=${PIPESTATUS[0]}
	bench_host_meta "$rc" guest_mem "${SVS_VM_MEM:-2048}" parallel "$parallel" \
		command "make bench${quick:+-quick}" > "$dir/host-meta.tsv"
	[ "$rc" -eq 0 ]
}

# The connect scaling phase needs 2 vCPUs running at once, which icount's
# single-threaded TCG cannot give: in full mode it runs in a guest of its own
# (2 vCPUs, multi-threaded TCG, host time), one kernel at a time after the
# icount guests, so that no other guest competes for the host's 2 cores.
run_scaling() { # KVER
	local k=$1 dir=$raw/$1/scaling rc qemu_before load_before t0
	mkdir -p "$dir"
	qemu_before=$(pgrep -c qemu-system || true)
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	t0=$(date +%s)
	echo "=== bench: $k connect scaling, 2 vCPUs, no icount (other QEMU guests running: $qemu_before)"
	PATH=$plain_path SVS_BENCH_ICOUNT=off SVS_BENCH_ONLY=scaling \
		SVS_BENCH_REPS=${SVS_BENCH_SCALING_REPS:-5} \
		SVS_RESULTS_DIR=$dir SVS_VM_SMP=2 SVS_VM_MEM=${SVS_VM_MEM:-2048} \
		SVS_VM_TIMEOUT=${SVS_VM_TIMEOUT:-3600} \
		tests/vm/run-guest.sh "$k" bench/guest/bench.py 2>&1 |
		grep -a --line-buffered -E '^\[bench|^bench failure|run-guest.sh'
	rc=${PIPESTATUS[0]}
	{
		printf 'qemu_before\t%s\n' "$((qemu_before))"
		printf 'loadavg_before\t%s\n' "$load_before"
		printf 'guest_seconds\t%s\n' "$(($(date +%s) - t0))"
		printf 'guest_exit\t%s\n' "$rc"
	} > "$dir/host-meta.tsv"
	[ "$rc" -eq 0 ]
}

report_one() { # KVER: report and row check; exit status 0 if every row is there
	local k=$1 dir=$raw/$1 st=0
	/usr/bin/python3 bench/report.py "$dir" "$out" || st=1
	/usr/bin/python3 bench/check-rows.py "$dir" "bench${quick:+-quick} $k" | tee "$out/check-$k.txt"
	[ "${PIPESTATUS[0]}" -eq 0 ] || st=1
	return $st
}

# Full mode: the guest's clock counts instructions (QEMU -icount, see
# bench/qemu-icount/), so that the host's load changes how long the run takes,
# not the figures, and the guest has one vCPU (SVS_BENCH_SMP), so that no
# vCPU waits for the other's time slice: client, servers and kernel share it
# and a rate counts every instruction a request costs.  SVS_BENCH_ICOUNT=off
# turns icount off (and makes 2 vCPUs the default); a number is the shift.
plain_path=$PATH
bench_clock "$quick"

# Kernels one after the other, or (SVS_BENCH_PARALLEL=1, the default for
# several kernels in full mode) each in its own guest at the same time: on a
# host shared with other jobs, two guests get twice the CPU share of one.
parallel=${SVS_BENCH_PARALLEL:-$([ -z "$quick" ] && [ ${#kvers[@]} -gt 1 ] && echo 1 || echo 0)}
status=0
start_all=$(date +%s)
if [ "${SVS_BENCH_SCALING_ONLY:-0}" = 1 ]; then
	: # only the scaling guests, over the raw rows of the last full run
elif [ "$parallel" = 1 ]; then
	pids=()
	for k in "${kvers[@]}"; do
		run_one "$k" 2>&1 | sed -u "s/^/[$k] /" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
else
	for k in "${kvers[@]}"; do run_one "$k"; done
fi
for k in "${kvers[@]}"; do
	# Full mode with icount: scaling in its own guest (quick mode ran it in the one guest).
	if [ -z "$quick" ] && [ "$SVS_BENCH_ICOUNT" != off ]; then
		run_scaling "$k"
	fi
	report_one "$k" || status=1
done
echo "bench${quick:+-quick}: $(($(date +%s) - start_all)) s for ${kvers[*]} (parallel=$parallel)"
# A complete full run becomes README.md's benchmark section.
if [ -z "$quick" ] && [ $status -eq 0 ]; then
	/usr/bin/python3 bench/readme.py README.md "${kvers[@]/#/$raw/}" || status=1
fi
exit $status
