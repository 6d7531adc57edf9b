#!/bin/bash
# Self-test of the VM harness, with a do-nothing module named sock_vs (not the real
# one) built into build/vm/dummy-kmod/KVER/.
#
#   tests/vm/guest/selftest/selftest.sh [KVER...]
#
# 1. tests/vm/run-all.sh with only the 00-smoke case, on every kernel;
# 2. the runner on selftest/cases (pass, skip, fail, timeout, orphan process,
#    fake kernel warning, environment) on the first kernel, compared with the
#    expected summary, and run-all.sh on selftest/crash (a case crashes the kernel);
# 3. run-guest.sh failure paths on the first kernel: exit status propagation,
#    missing module, boot failure, VM timeout.
# Overwrites build/vm/results/KVER and build/vm/KVER-console.log.  Exit 0 iff every
# check matched.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../../../.." && pwd -P)
out=$repo/build/vm/dummy-kmod
work=$repo/build/vm/selftest
mkdir -p "$work"
if [ $# -gt 0 ]; then kvers=("$@"); else
    mapfile -t kvers < <(for k in /boot/vmlinuz-*; do k=${k#/boot/vmlinuz-}
        [ -e "/lib/modules/$k/build" ] && echo "$k"; done | sort -V)
fi
k1=${kvers[0]}
for k in "${kvers[@]}"; do
    mkdir -p "$out/$k"
    cp "$here/sock_vs.c" "$here/Kbuild" "$out/$k/"
    make -s -C "/lib/modules/$k/build" M="$out/$k" modules > "$out/$k/build.log" 2>&1 ||
        { cat "$out/$k/build.log"; exit 1; }
done
export SVS_KMOD_DIR=$out

bad=0
expect() { # expect WHAT WANT GOT
    if [ "$2" = "$3" ]; then echo "selftest ok: $1"; else
        printf 'selftest FAILED: %s\n--- want\n%s\n--- got\n%s\n' "$1" "$2" "$3"; bad=1; fi
}
guest() { # guest LOG ARGS... -> run run-guest.sh quietly, print its exit status
    local log=$work/$1 rc=0; shift
    SVS_RESULTS_DIR=$work/results "$repo/tests/vm/run-guest.sh" "$@" > "$log" 2>&1 || rc=$?
    echo "$rc"
}

# 1. smoke on every kernel
rc=0
SVS_CASES=00-smoke "$repo/tests/vm/run-all.sh" "${kvers[@]}" > "$work/smoke.log" 2>&1 || rc=$?
tail -n $((2 + ${#kvers[@]})) "$work/smoke.log"
expect "run-all smoke exit status" 0 "$rc"
expect "run-all totals" "pass $((3 * ${#kvers[@]})) fail 0 skip 0" "$(cat "$repo/build/vm/totals")"

# 2. runner semantics on the selftest cases
rc=$(SVS_CASES_DIR=$here/cases guest cases.log "$k1" tests/vm/guest/run-tests.sh)
expect "run-tests.sh exit status with failures" 1 "$rc"
expect "selftest case summary" "pass 5
fail 3
skip 1
PASS: 10-pass
SKIP: 20-skip
FAIL: 30-fail
FAIL: 40-timeout
PASS: 50-orphan
PASS: 60-kmsg-warning
PASS: 70-env
FAIL: dmesg-clean
PASS: rmmod-clean" "$(cat "$work/results/summary" 2>&1)"
expect "case output captured" "failing on purpose" "$(cat "$work/results/30-fail.log" 2>&1)"
expect "case output echoed to the console" 1 "$(grep -c '^30-fail| failing on purpose' "$work/cases.log")"
expect "dmesg-clean shows the warning" 1 "$(grep -c 'harness selftest fake warning' "$work/results/dmesg-clean.log")"
rc=$(SVS_CASES_DIR=$here/cases guest select.log "$k1" tests/vm/guest/run-tests.sh 'pass$' '^2')
expect "case selection (regex and glob)" "pass 3
fail 0
skip 1
PASS: 10-pass
SKIP: 20-skip
PASS: dmesg-clean
PASS: rmmod-clean" "$(cat "$work/results/summary" 2>&1)"

# A kernel crash in the middle of the cases
rc=0
SVS_CASES_DIR=$here/crash SVS_CASES='' "$repo/tests/vm/run-all.sh" "$k1" > "$work/crash.log" 2>&1 || rc=$?
expect "crash: run-all exit status" 1 "$rc"
expect "crash: totals" "pass 0 fail 1 skip 0" "$(cat "$repo/build/vm/totals")"
expect "crash: earlier verdicts reported" 1 "$(grep -c "^$k1 (before the guest died) PASS: 10-pass" "$work/crash.log")"

# 3. run-guest.sh paths
expect "CMD exit status is returned" 42 "$(guest exit.log "$k1" bash -c 'exit 42')"
rc=$(SVS_KMOD_DIR=/nonexistent SVS_CASES=00-smoke guest nomod.log "$k1" tests/vm/guest/run-tests.sh)
expect "missing module: exit status" 1 "$rc"
expect "missing module: case fails with a message" 1 \
    "$(grep -c '^FAIL: 00-smoke (module /nonexistent/.*/sock_vs.ko does not exist' "$work/nomod.log")"
rc=$(SVS_VM_APPEND=rdinit=/nonexistent guest noboot.log "$k1" true)
expect "boot failure: exit status" 125 "$rc"
grep -m1 'reported no exit code' "$work/noboot.log" || true
rc=$(SVS_VM_TIMEOUT=20 guest timeout.log "$k1" sleep 600)
expect "VM timeout: exit status" 124 "$rc"
grep -m1 'TIMEOUT' "$work/timeout.log" || true

[ "$bad" -eq 0 ] && echo "selftest: all checks passed" || echo "selftest: FAILED (logs in $work)"
exit "$bad"
