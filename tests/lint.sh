#!/bin/bash
# Static checks: checkpatch.pl --strict and sparse on kmod/, clang-tidy on
# userspace/.  Prints PASS:/FAIL: per check; exits non-zero on any failure.
# checkpatch.pl comes from Debian's linux-source package (tarball).
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
lint=$top/build/lint
mkdir -p "$lint"
fails=0
report() { # name status logfile
	if [ "$2" -eq 0 ]; then echo "PASS: lint-$1"; else
		echo "FAIL: lint-$1"; sed 's/^/    /' "$3" | head -40; fails=$((fails + 1)); fi
}

# checkpatch --strict
tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -1)
if [ -z "$tarball" ]; then
	echo "no linux-source tarball (apt-get install linux-source-6.1)" > "$lint/checkpatch.log"
	report checkpatch 1 "$lint/checkpatch.log"
else
	src=$lint/$(basename "$tarball" .tar.xz)
	if [ ! -x "$src/scripts/checkpatch.pl" ]; then
		tar -C "$lint" -xJf "$tarball" --wildcards '*/scripts/checkpatch.pl' \
			'*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch'
	fi
	perl "$src/scripts/checkpatch.pl" --strict --no-tree --terse --show-types \
		-f kmod/*.c kmod/*.h kmod/include/uapi/linux/*.h > "$lint/checkpatch.log" 2>&1
	! grep -v 'total: 0 errors, 0 warnings, 0 checks' "$lint/checkpatch.log" | grep -q .
	report checkpatch $? "$lint/checkpatch.log"
fi

# sparse (make C=2) against the test kernels (tests/kernels/list.sh; SVS_LINT_KERNELS=--matrix
# for every installed kernel)
for k in $(tests/kernels/list.sh "${SVS_LINT_KERNELS:---test}"); do
	kdir=/lib/modules/$k/build
	out=$lint/sparse-$k
	rm -rf "$out" && mkdir -p "$out"
	cp -r kmod/*.c kmod/*.h kmod/Kbuild kmod/include "$out/"
	make -C "$kdir" M="$out" C=2 modules > "$lint/sparse-$k.log" 2>&1
	st=$?
	# Anything besides make's own chatter is a finding.
	grep -vE '^(make|  (CC|CHECK|LD|MODPOST|BTF|Skipping|CC \[M\]|LD \[M\])|Skipping BTF)' \
		"$lint/sparse-$k.log" | grep -v '^\s*$' > "$lint/sparse-$k.findings"
	[ $st -eq 0 ] && [ ! -s "$lint/sparse-$k.findings" ]
	report "sparse-$k" $? "$lint/sparse-$k.log"
done

# clang-tidy on userspace (needs build/userspace/compile_commands.json)
db=$top/build/userspace
if [ -f "$db/compile_commands.json" ]; then
	mapfile -t files < <(find userspace -name '*.cc' | sort)
	clang-tidy -p "$db" --quiet "${files[@]}" > "$lint/clang-tidy.log" 2>&1
	st=$?
	! grep -qE '(warning|error):' "$lint/clang-tidy.log" && [ $st -eq 0 ]
	report clang-tidy $? "$lint/clang-tidy.log"
else
	echo "build/userspace/compile_commands.json missing: run make first" > "$lint/clang-tidy.log"
	report clang-tidy 1 "$lint/clang-tidy.log"
fi

exit $((fails > 0))
