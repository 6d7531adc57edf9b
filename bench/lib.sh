# shellcheck shell=bash disable=SC2034,SC2154
# Helpers shared by bench/run-all.sh, run-feedback.sh and run-agent-scale.sh
# (sourced; the caller has set $repo and cd'ed there).

# bench_clock [NO_ICOUNT]: the guest's clock.  By default QEMU instruction
# counting (bench/qemu-icount put first on PATH, SVS_BENCH_ICOUNT the shift,
# default 0) with one vCPU; with SVS_BENCH_ICOUNT=off, or any NO_ICOUNT
# argument (quick mode of run-all.sh), host time with 2 vCPUs.  Sets smp
# (SVS_BENCH_SMP overrides it).
bench_clock() {
	if [ -z "${1:-}" ] && [ "${SVS_BENCH_ICOUNT:-0}" != off ]; then
		export SVS_BENCH_ICOUNT=${SVS_BENCH_ICOUNT:-0}
		export PATH=$repo/bench/qemu-icount:$PATH
		smp=${SVS_BENCH_SMP:-1}
	else
		export SVS_BENCH_ICOUNT=off
		smp=${SVS_BENCH_SMP:-2}
	fi
}

# bench_guest_start: the host's state before a guest boots, into the
# caller's qemu_before, load_before, host_date and t0.
bench_guest_start() {
	qemu_before=$(pgrep -c qemu-system || true)
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	host_date=$(date -u '+%Y-%m-%d %H:%M UTC')
	t0=$(date +%s)
}

# bench_host_meta RC [KEY VALUE]...: host-meta.tsv on stdout for a guest
# started by bench_guest_start that exited with RC, then the extra pairs.
bench_host_meta() {
	local rc=$1
	shift
	printf 'cpu_model\t%s\n' "$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
	printf 'host_cores\t%s\n' "$(nproc)"
	printf 'qemu_before\t%s\n' "$((qemu_before))"
	printf 'qemu_after\t%s\n' "$(($(pgrep -c qemu-system || true)))"
	printf 'loadavg_before\t%s\n' "$load_before"
	printf 'loadavg_after\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'host_date\t%s\n' "$host_date"
	printf 'guest_seconds\t%s\n' "$(($(date +%s) - t0))"
	printf 'guest_exit\t%s\n' "$rc"
	printf 'icount\t%s\n' "$SVS_BENCH_ICOUNT"
	while [ $# -ge 2 ]; do
		printf '%s\t%s\n' "$1" "$2"
		shift 2
	done
}
