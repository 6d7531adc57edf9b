#!/bin/bash
# The sockvs-agent scale benchmark (issue 17, bench/guest/agent_scale.py) in a
# QEMU guest per kernel, one kernel after the other, then the reports.
#
#   bench/run-agent-scale.sh [--quick] [KVER...]
#
# Default kernels: tests/kernels/list.sh --test (Debian 6.1 and 6.12).
# Full mode (make bench-agent, part of make bench): raw rows in
#   build/bench/raw-agent/KVER/, report bench/results/KVER-agent.md (and the
#   rows as bench/results/KVER-agent-rows.tsv).
# --quick: small sizes (50 services, 20 puts, a 200-change burst); raw rows and
#   report in build/bench-quick/.
# Like make bench, the guest runs under QEMU instruction counting with one
# vCPU (bench/qemu-icount; SVS_BENCH_ICOUNT=off: host time, 2 vCPUs): etcd,
# the five agents and the script share that vCPU, and every time is guest
# time, whatever the host's load.
# Needs: make all (build/kmod, build/userspace/sockvs-agent, sockvsadm) and
# Debian's etcd-server (/usr/bin/etcd).  SVS_AS_* variables pass through to
# the guest (see bench/guest/agent_scale.py).
# Exit status: 0 if every guest ran and every phase converged.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"
. bench/lib.sh

quick=
if [ "${1:-}" = --quick ]; then quick=quick; shift; fi
if [ $# -gt 0 ]; then kvers=("$@"); else mapfile -t kvers < <(tests/kernels/list.sh --test); fi
if [ -n "$quick" ]; then out=build/bench-quick raw=build/bench-quick/raw-agent; else
	out=bench/results raw=build/bench/raw-agent; fi
mkdir -p "$out"
for f in build/userspace/sockvsadm build/userspace/sockvs-agent /usr/bin/etcd; do
	[ -x "$f" ] || { echo "run-agent-scale.sh: $f missing (make all; apt-get install etcd-server)" >&2; exit 2; }
done
commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- kmod userspace bench/guest/agent_scale.py || echo ' + uncommitted changes in kmod/, userspace/ or bench/guest/agent_scale.py')"

bench_clock

status=0
for k in "${kvers[@]}"; do
	dir=$raw/$k
	mkdir -p "$dir"
	[ -f "build/kmod/$k/sock_vs.ko" ] || { echo "FAIL: agent-scale $k: no build/kmod/$k/sock_vs.ko"; status=1; continue; }
	bench_guest_start
	echo "=== bench-agent${quick:+ (quick)}: $k (other QEMU guests running: $qemu_before)"
	SVS_RESULTS_DIR=$dir SVS_VM_SMP=$smp SVS_VM_MEM=${SVS_VM_MEM:-2048} \
		SVS_VM_TIMEOUT=${SVS_VM_TIMEOUT:-7200} \
		tests/vm/run-guest.sh "$k" bench/guest/agent_scale.py $quick 2>&1 |
		grep -a --line-buffered -E '^\[bench|^bench failure|run-guest.sh|Traceback|Error'
	rc=${PIPESTATUS[0]}
	bench_host_meta "$rc" smp "$smp" commit "$commit" \
		command "${SVS_AS_COMMAND:-bench/run-agent-scale.sh${quick:+ --quick} $k}" > "$dir/host-meta.tsv"
	[ "$rc" -eq 0 ] || status=1
	/usr/bin/python3 bench/agent_report.py "$dir" "$out/$k-agent.md" || status=1
	# The raw rows next to the report (full mode): the report can be regenerated from them.
	[ -n "$quick" ] || [ ! -s "$dir/rows.tsv" ] || cp "$dir/rows.tsv" "$out/$k-agent-rows.tsv"
done
exit $status
