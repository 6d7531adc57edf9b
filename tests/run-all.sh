#!/bin/bash
# Everything `make test` runs after building: static checks, host unit tests
# (plain and under ASan/UBSan), a bounded libFuzzer run (tests/fuzz/run.sh),
# then the integration tests inside QEMU guests
# on every kernel we built for.  Ends with one line "N passed, N failed,
# N skipped" over all of them; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
mkdir -p build/test
pass=0 fail=0 skip=0

count_lines() { # file with PASS:/FAIL:/SKIP: lines
	local p f s
	p=$(grep -c '^PASS: ' "$1") f=$(grep -c '^FAIL: ' "$1") s=$(grep -c '^SKIP: ' "$1")
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

# 1. Static checks.
echo "=== lint"
tests/lint.sh | tee build/test/lint.txt
count_lines build/test/lint.txt

# make install, DKMS builds, the systemd unit and the man page, on the host.
echo "=== install"
tests/install-test.sh | tee build/test/install.txt
count_lines build/test/install.txt

# 2. Host unit tests (GoogleTest), plain and sanitized.
for variant in userspace userspace-asan; do
	bin=build/$variant/unit_tests
	json=build/test/$variant.json
	echo "=== unit tests ($variant)"
	rm -f "$json"
	if [ -x "$bin" ]; then
		"$bin" --gtest_output="json:$json" 2>&1 | tail -n 3
	fi
	if [ -s "$json" ]; then
		read -r t f d < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["tests"], r["failures"] + r.get("errors", 0), r.get("disabled", 0))' "$json")
		pass=$((pass + t - f - d)) fail=$((fail + f)) skip=$((skip + d))
		echo "$variant: $((t - f - d)) passed, $f failed"
	else
		echo "FAIL: $variant unit tests did not run"
		fail=$((fail + 1))
	fi
done

# 2b. libFuzzer targets (tests/fuzz/), a bounded run: one PASS:/FAIL: per target.
echo "=== fuzz (${FUZZ_SECONDS:-20} s per target)"
tests/fuzz/run.sh 2>&1 | tee build/test/fuzz.txt
count_lines build/test/fuzz.txt

# 3. Integration tests in QEMU guests, every kernel.
echo "=== guest tests"
tests/vm/run-all.sh
if [ -f build/vm/totals ]; then
	read -r _ p _ f _ s < build/vm/totals
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
else
	echo "FAIL: guest tests reported nothing"
	fail=$((fail + 1))
fi

# 4. The benchmark harness (make bench-quick on one kernel): every row is
#    produced; never a speed threshold.
echo "=== bench-quick"
rm -f build/test/bench-quick.txt
make --no-print-directory bench-tools >/dev/null &&
	bench/run-all.sh --quick "$(make --no-print-directory -s bench-quick-kver)" 2>&1 |
	tee build/test/bench-quick.txt
grep -q '^PASS: bench-quick' build/test/bench-quick.txt 2>/dev/null ||
	echo "FAIL: bench-quick produced no checks" | tee -a build/test/bench-quick.txt
count_lines build/test/bench-quick.txt

echo
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
