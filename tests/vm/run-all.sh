#!/bin/bash
# Run the VM test cases on one or more kernels, one VM after another.
#
#   tests/vm/run-all.sh [KERNEL...]
#
# KERNEL: a release (6.1.0-57-amd64) or a stable handle that
# tests/kernels/list.sh --resolve turns into the installed release: 6.1, 6.12
# (Debian's generic kernels), debug-6.1, debug-6.12 (the -svsdebug builds), rt,
# cloud (Debian's flavours), 7.2 (the build of unstable's source).
# Default kernels: tests/kernels/list.sh --test (Debian's generic 6.1 and 6.12, what
# make test runs on); SVS_KERNELS=--matrix: every installed kernel (make test-kernels).
# For each kernel: tests/vm/run-guest.sh KVER tests/vm/guest/run-tests.sh, with the
# console prefixed by "[KVER] ".  SVS_* variables (SVS_CASES, SVS_CASE_TIMEOUT,
# SVS_KMOD_DIR, SVS_VM_TIMEOUT, ...) pass through.  Results per kernel stay in
# build/vm/results/KVER/ (summary, progress, <case>.log, dmesg.txt) and
# build/vm/KVER-console.log.  Writes build/vm/totals: "pass N fail N skip N" summed
# over kernels; a kernel whose guest did not boot or report counts as 1 failure,
# one the harness cannot boot (no 9p: Debian's cloud flavour; list.sh --bootable)
# as 1 skip, not booted.
# Exit status: 0 if nothing failed, 1 otherwise, 2 on bad usage.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
build=$repo/build/vm
mkdir -p "$build"
unset SVS_RESULTS_DIR  # each kernel uses its own build/vm/results/KVER

if [ $# -gt 0 ]; then
    resolved=$("$repo/tests/kernels/list.sh" --resolve "$@") || exit 2
    mapfile -t kvers <<< "$resolved"
else
    mapfile -t kvers < <("$repo/tests/kernels/list.sh" "${SVS_KERNELS:---test}")
fi
if [ ${#kvers[@]} -eq 0 ]; then
    echo "run-all.sh: no kernel with /boot/vmlinuz-KVER and /lib/modules/KVER/build" >&2
    exit 2
fi

tpass=0 tfail=0 tskip=0
lines=() report=()
for k in "${kvers[@]}"; do
    # A kernel named on the command line that the harness cannot boot
    # (Debian's cloud flavour: no 9p) is a skip, with the reason.
    if ! why=$("$repo/tests/kernels/list.sh" --bootable "$k"); then
        echo "=== $k: SKIP: $why"
        tskip=$((tskip + 1))
        report+=("$k SKIP: kernel ($why)")
        lines+=("$k: pass 0 fail 0 skip 1 (not booted: $why)")
        continue
    fi
    res=$build/results/$k
    # Hold run-guest.sh's per-kernel lock until the results are read.
    exec 9> "$build/.lock-$k"
    if ! flock -n 9; then
        echo "run-all.sh: another VM for $k is running in $repo; waiting for it"
        flock 9
    fi
    rm -f "$res/summary"
    echo "=== $k: booting"
    # Debug kernels (KASAN, lockdep, kmemleak) run the cases 3-4x slower.
    scale=${SVS_CASE_TIMEOUT_SCALE:-1} vmt=${SVS_VM_TIMEOUT:-3600}
    case $k in *-svsdebug) scale=${SVS_CASE_TIMEOUT_SCALE:-4} vmt=${SVS_VM_TIMEOUT:-14400} ;; esac
    set +e
    SVS_CASE_TIMEOUT_SCALE=$scale SVS_VM_TIMEOUT=$vmt SVS_VM_LOCK_HELD=$k \
        "$repo/tests/vm/run-guest.sh" "$k" tests/vm/guest/run-tests.sh 2>&1 |
        sed -u "s/^/[$k] /"
    rc=${PIPESTATUS[0]}
    set -e
    p=0 f=0 s=0 note=
    if [ -f "$res/summary" ]; then
        p=$(awk '$1 == "pass" { print $2 }' "$res/summary")
        f=$(awk '$1 == "fail" { print $2 }' "$res/summary")
        s=$(awk '$1 == "skip" { print $2 }' "$res/summary")
        while IFS= read -r l; do report+=("$k $l"); done < <(grep -E '^(PASS|FAIL|SKIP): ' "$res/summary")
        if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
            f=1; note=" (guest exit $rc with no failed case)"
            report+=("$k FAIL: harness (run-guest.sh exit $rc)")
        fi
    else
        f=1; note=" (no summary: guest failed to boot or report, run-guest.sh exit $rc; see $build/$k-console.log)"
        if [ -s "$res/progress" ]; then  # cases finished before the guest died; not counted
            while IFS= read -r l; do report+=("$k (before the guest died) $l"); done < "$res/progress"
        fi
        report+=("$k FAIL: harness (no summary, run-guest.sh exit $rc)")
    fi
    : "${p:=0}" "${f:=0}" "${s:=0}"
    tpass=$((tpass + p)) tfail=$((tfail + f)) tskip=$((tskip + s))
    checkers=
    [ -s "$res/checkers" ] && checkers=" | checker reports: $(cat "$res/checkers")"
    lines+=("$k: pass $p fail $f skip $s$note$checkers")
    exec 9>&-
done

echo "=== VM test results"
printf '%s\n' "${report[@]}"
echo "=== VM test counts"
printf '%s\n' "${lines[@]}"
echo "total: pass $tpass fail $tfail skip $tskip"
echo "pass $tpass fail $tfail skip $tskip" > "$build/totals"
[ "$tfail" -eq 0 ]
