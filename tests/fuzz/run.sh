#!/bin/bash
# Builds the libFuzzer targets (clang, ASan + UBSan; userspace/CMakeLists.txt
# SVS_FUZZ=ON) and runs each for FUZZ_SECONDS seconds (default 20: the
# bounded run of `make test`; `make fuzz` passes 300).  Prints one line per
# target:
#   PASS: fuzz <target> (<runs> runs)
#   FAIL: fuzz <target> (<reason>; reproducer in build/fuzz/artifacts/<target>/)
# The grown corpus is kept in build/fuzz/corpus/<target>/; the checked-in
# seeds in tests/fuzz/corpus/<target>/ are read, never written.
# Usage: tests/fuzz/run.sh [target...]     (default: every tests/fuzz/fuzz_*.cc)
set -uo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
secs=${FUZZ_SECONDS:-20}
out=$top/build/fuzz
mkdir -p "$out"

if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=()
	for f in tests/fuzz/fuzz_*.cc; do
		t=$(basename "$f" .cc)
		targets+=("${t#fuzz_}")
	done
fi

echo "fuzz: building ${targets[*]} with clang (log: build/fuzz/build.log)"
if ! { cmake -S userspace -B "$out/cmake" -DCMAKE_C_COMPILER=clang \
	-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DSVS_FUZZ=ON -DSVS_BUILD_TESTS=OFF &&
	cmake --build "$out/cmake" -j2 --target "${targets[@]/#/fuzz_}"; } \
	> "$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log" | sed 's/^/    /'
	for t in "${targets[@]}"; do echo "FAIL: fuzz $t (build failed)"; done
	exit 1
fi

fails=0
for t in "${targets[@]}"; do
	bin=$out/cmake/fuzz_$t
	corpus=$out/corpus/$t
	art=$out/artifacts/$t
	log=$out/$t.log
	mkdir -p "$corpus" "$art"
	seeds=()
	[ -d "tests/fuzz/corpus/$t" ] && seeds=("tests/fuzz/corpus/$t")
	echo "fuzz: $t for ${secs}s (log: build/fuzz/$t.log)"
	"$bin" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -max_len=4096 \
		-print_final_stats=1 -artifact_prefix="$art/" \
		"$corpus" "${seeds[@]}" > "$log" 2>&1
	st=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ $st -eq 0 ] && [ -n "$runs" ]; then
		echo "PASS: fuzz $t ($runs runs)"
	else
		reason=$(grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | cut -c1-160)
		echo "FAIL: fuzz $t (${reason:-exit status $st}; reproducer in build/fuzz/artifacts/$t/)"
		grep -E -A12 'ERROR|runtime error' "$log" | head -30 | sed 's/^/    /'
		fails=$((fails + 1))
	fi
done
[ $fails -eq 0 ]
