#!/bin/bash
# Runs INSIDE the guest (as the command of tests/vm/run-guest.sh).
#
#   tests/vm/guest/run-tests.sh [PATTERN...]
#
# Loads $SVS_KO (default $SVS_KMOD_DIR/$SVS_KVER/sock_vs.ko, SVS_KMOD_DIR defaulting
# to $SVS_REPO/build/kmod), then runs every executable file in tests/vm/cases/ (or
# $SVS_CASES_DIR) in lexical order.  PATTERNs (or the space-separated env SVS_CASES) select cases: a
# case runs if its file name matches any pattern as a shell glob or as an extended
# regex.  Each case runs in its own process group with cwd = repo root, stdin
# /dev/null, a timeout (SVS_CASE_TIMEOUT, default 300 s; a line "# svs-timeout: N"
# in the case's first 20 lines overrides it), output to $SVS_RESULTS/<name>.log
# (echoed live to the console as "<name>| ..."), and the environment
#   SVS_REPO SVS_KVER SVS_RESULTS SVS_KO SVS_CASE (name) SVS_CASE_TMP (fresh dir)
# Exit 0 = PASS, 77 = SKIP, anything else = FAIL.  <name> is the file name without
# a .sh/.py/.bash extension.  After the cases come two checks: dmesg-clean (no
# kernel warnings since this script started) and rmmod-clean (sock_vs unloads and
# dmesg stays clean).  Writes $SVS_RESULTS/summary ("pass N", "fail N", "skip N",
# then one "PASS: name" line per case) and exits 0 iff nothing failed.
set -uo pipefail

: "${SVS_REPO:?run me through tests/vm/run-guest.sh}" "${SVS_KVER:=$(uname -r)}"
: "${SVS_RESULTS:?run me through tests/vm/run-guest.sh}"
export SVS_REPO SVS_KVER SVS_RESULTS
kmod_dir=${SVS_KMOD_DIR:-$SVS_REPO/build/kmod}
case $kmod_dir in /*) ;; *) kmod_dir=$SVS_REPO/$kmod_dir ;; esac
export SVS_KO=${SVS_KO:-$kmod_dir/$SVS_KVER/sock_vs.ko}
cases_dir=${SVS_CASES_DIR:-$SVS_REPO/tests/vm/cases}
case $cases_dir in /*) ;; *) cases_dir=$SVS_REPO/$cases_dir ;; esac
default_timeout=${SVS_CASE_TIMEOUT:-300}
module=sock_vs

read -r -a patterns <<< "${SVS_CASES:-}"
[ $# -gt 0 ] && patterns=("$@")

# Kernel log patterns that fail dmesg-clean.  On the debug kernels (tests/kernels/)
# these also catch what the kernel's checkers print: KASAN and UBSAN reports,
# lockdep ("WARNING: possible circular locking ...", "inconsistent lock state"),
# "BUG: sleeping function called from invalid context", "WARNING: suspicious RCU
# usage", list corruption (DEBUG_LIST), debug objects (ODEBUG).
bad_re='WARNING:|BUG:|Oops|general protection|Call Trace|lockdep|possible recursive locking|INFO: task .* blocked|RCU stall|rcu_.*(self-)?detected stall|refcount_t:|kernel BUG|UBSAN|KASAN|ODEBUG|list_(add|del) corruption|Unable to handle'
# One count per checker, from the kernel log of the run (the summary line per kernel).
checker_res=(
	"kasan:BUG: KASAN"
	"ubsan:UBSAN:"
	"lockdep:possible (recursive|circular) locking|inconsistent lock state|lock held when returning|bad unlock balance|held lock freed"
	"atomic-sleep:sleeping function called from invalid context|scheduling while atomic"
	"rcu:suspicious RCU usage|RCU stall|detected stall"
	"list:list_(add|del) corruption"
	"odebug:ODEBUG"
	"warn:WARNING:|kernel BUG|Oops|general protection"
)
kmemleak=/sys/kernel/debug/kmemleak
marker="svs-run-tests: start $$ $(date +%s%N)"

results=()
npass=0 nfail=0 nskip=0
record() { # record PASS|FAIL|SKIP name [reason]
    local verdict=$1 name=$2
    results+=("$verdict: $name")
    # Survives a guest crash; the summary is written only at the end.
    echo "$verdict: $name" >> "$SVS_RESULTS/progress"
    case $verdict in
        PASS) npass=$((npass + 1)) ;;
        FAIL) nfail=$((nfail + 1)) ;;
        SKIP) nskip=$((nskip + 1)) ;;
    esac
    echo "$verdict: $name${3:+ ($3)}"
}

selected() { # selected NAME FILE
    local p
    [ ${#patterns[@]} -eq 0 ] && return 0
    for p in "${patterns[@]}"; do
        # shellcheck disable=SC2053  # glob match is intended
        [[ $2 == $p || $1 == $p ]] && return 0
        [[ $2 =~ $p || $1 =~ $p ]] 2>/dev/null && return 0
    done
    return 1
}

# Kernel log lines since $marker (the whole log if the marker has scrolled out).
dmesg_since_start() {
    dmesg 2>&1 | awk -v m="$marker" '
        { lines[NR] = $0 } index($0, m) { start = NR }
        END { for (i = start + 1; i <= NR; i++) print lines[i] }'
}
bad_dmesg_lines() { dmesg_since_start | grep -E -- "$bad_re"; }

# SVS_CASE_TIMEOUT_SCALE (default 1; run-all.sh sets it for the slower debug kernels)
# multiplies every case's timeout.
case_timeout() {
    local t
    t=$(head -n 20 "$1" | sed -n 's/^#[[:space:]]*svs-timeout:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1)
    echo $(( ${t:-$default_timeout} * ${SVS_CASE_TIMEOUT_SCALE:-1} ))
}

# kmemleak (debug kernels): a scan, twice as the kernel's documentation advises
# (an object may be seen as unreferenced once while a pointer is in a register);
# prints the reports found since the last "clear".
kmemleak_scan() {
    echo scan > "$kmemleak" 2>/dev/null || return 1
    sleep 1
    echo scan > "$kmemleak" 2>/dev/null || return 1
    cat "$kmemleak"
}

# After a case timed out: every task still running or in uninterruptible
# sleep (state R or D), with its kernel stack, the blocked tasks (sysrq w) and
# the end of the kernel log, which keeps what `quiet` left off the console
# (the stacks of hung-task and RCU-stall reports), into $SVS_RESULTS/NAME.hang.txt;
# the tasks' names on stdout.
hang_report() { # hang_report NAME
    local out=$SVS_RESULTS/$1.hang.txt t st comm left=()
    {
        echo "# tasks in state R or D after $1 timed out, with their kernel stacks"
        for t in /proc/[0-9]*/task/[0-9]*; do
            st=$(sed 's/.*) //' "$t/stat" 2>/dev/null | cut -d' ' -f1) || continue
            case $st in R | D) ;; *) continue ;; esac
            comm=$(cat "$t/comm" 2>/dev/null)
            case $comm in hang_report | cat | sed | cut) continue ;; esac
            echo "## ${t#/proc/} $comm state $st"
            cat "$t/stack" 2>/dev/null
        done
        echo w > /proc/sysrq-trigger 2>/dev/null
        sleep 1
        echo "# kernel log, last 400 lines"
        dmesg | tail -n 400
    } > "$out" 2>&1
    mapfile -t left < <(sed -n 's/^## \([0-9]*\)\/task\/[0-9]* \(.*\) state \(.\)$/\2(\1,\3)/p' "$out" | sort -u)
    echo "svs-run-tests: $1 timed out; tasks left in R/D: ${left[*]:-none} (stacks and kernel log: $1.hang.txt)"
}

run_case() { # run_case FILE NAME
    local file=$1 name=$2 log=$SVS_RESULTS/$2.log t rc cpid tpid
    t=$(case_timeout "$file")
    echo "=== RUN: $name (timeout ${t}s)"
    export SVS_CASE=$name SVS_CASE_TMP=/tmp/svs-case-$name
    rm -rf "$SVS_CASE_TMP" && mkdir -p "$SVS_CASE_TMP"
    : > "$log"
    # timeout(1) puts the case in its own process group and signals the whole group.
    timeout -k 10 "$t" "$file" > "$log" 2>&1 < /dev/null &
    cpid=$!
    # Echo the log live; tail exits (after a final read) once the case is reaped.
    # Processes a case leaves behind cannot block this: they hold the file, not a pipe.
    tail -n +1 -s 0.2 --pid="$cpid" -f "$log" 2>/dev/null | sed -u "s/^/$name| /" &
    tpid=$!
    wait "$cpid"
    rc=$?
    wait "$tpid"
    unset SVS_CASE SVS_CASE_TMP
    case $rc in
        0) record PASS "$name" ;;
        77) record SKIP "$name" ;;
        124 | 137)
            echo "timeout after ${t}s" >> "$log"
            hang_report "$name"
            record FAIL "$name" "timeout after ${t}s"
            ;;
        *) record FAIL "$name" "exit $rc" ;;
    esac
}

echo "$marker" > /dev/kmsg
# What kmemleak suspects at boot is the kernel's, not ours: forget it.
if [ -w "$kmemleak" ]; then
    kmemleak_scan > "$SVS_RESULTS/kmemleak-boot.txt" 2>&1
    echo clear > "$kmemleak"
    echo "svs-run-tests: kmemleak on ($(grep -c '^unreferenced object' "$SVS_RESULTS/kmemleak-boot.txt") boot-time reports cleared)"
fi
rm -f "$SVS_RESULTS/progress" "$SVS_RESULTS/summary"
echo "svs-run-tests: kernel $(uname -r), module $SVS_KO"
boot_bad=$(dmesg | grep -E -- "$bad_re" || true)
[ -z "$boot_bad" ] || printf 'svs-run-tests: note: kernel log before the tests already has:\n%s\n' "$boot_bad"

mapfile -t files < <(find "$cases_dir" -mindepth 1 -maxdepth 1 -type f -perm -u+x -printf '%f\n' 2>/dev/null | LC_ALL=C sort)

load_error=
if [ ! -f "$SVS_KO" ]; then
    load_error="module $SVS_KO does not exist (build it first: make -C kmod, or set SVS_KMOD_DIR)"
elif ! out=$(insmod "$SVS_KO" 2>&1); then
    load_error="insmod $SVS_KO failed: $out"
fi
[ -z "$load_error" ] || echo "svs-run-tests: ERROR: $load_error"

ran=0
for f in "${files[@]}"; do
    name=$f
    for ext in .sh .py .bash; do name=${name%"$ext"}; done
    selected "$name" "$f" || continue
    ran=$((ran + 1))
    if [ -n "$load_error" ]; then
        echo "$load_error" > "$SVS_RESULTS/$name.log"
        record FAIL "$name" "$load_error"
        continue
    fi
    run_case "$cases_dir/$f" "$name"
done
if [ "$ran" -eq 0 ]; then
    echo "svs-run-tests: no case in $cases_dir matches '${patterns[*]:-}'"
    record FAIL "no-cases" "nothing selected"
fi

# dmesg-clean
echo "=== RUN: dmesg-clean"
dmesg > "$SVS_RESULTS/dmesg.txt" 2>&1
bad=$(bad_dmesg_lines)
if [ -n "$bad" ]; then
    printf 'kernel log has warnings since the tests started:\n%s\n' "$bad" | tee "$SVS_RESULTS/dmesg-clean.log"
    record FAIL dmesg-clean
else
    echo "kernel log clean" > "$SVS_RESULTS/dmesg-clean.log"
    record PASS dmesg-clean
fi

# rmmod-clean
echo "=== RUN: rmmod-clean"
(
    rc=0
    if [ -d /sys/module/$module ]; then
        if ! timeout 120 rmmod $module; then
            echo "rmmod $module failed"; rc=1
        elif [ -d /sys/module/$module ]; then
            echo "$module still loaded after rmmod"; rc=1
        else
            echo "rmmod $module ok"
        fi
    else
        echo "$module not loaded; nothing to unload"
    fi
    after=$(bad_dmesg_lines)
    if [ "$after" != "$bad" ]; then
        printf 'new kernel warnings after rmmod:\n%s\n' "$(diff <(echo "$bad") <(echo "$after") | sed -n 's/^> //p')"
        rc=1
    fi
    exit $rc
) > "$SVS_RESULTS/rmmod-clean.log" 2>&1
rc=$?
sed 's/^/rmmod-clean| /' "$SVS_RESULTS/rmmod-clean.log"
if [ $rc -eq 0 ]; then record PASS rmmod-clean; else record FAIL rmmod-clean; fi

# kmemleak-clean (kernels with kmemleak): nothing unreferenced after the whole
# suite and the unload.  Every report fails, the module's or not: the cases
# create namespaces, sockets and IPVS/netfilter state with the module loaded.
nleaks=0
if [ -w "$kmemleak" ]; then
    echo "=== RUN: kmemleak-clean"
    kmemleak_scan > "$SVS_RESULTS/kmemleak.txt" 2>&1
    nleaks=$(grep -c '^unreferenced object' "$SVS_RESULTS/kmemleak.txt")
    if [ "$nleaks" -eq 0 ]; then
        echo "kmemleak: no unreferenced objects after the suite and rmmod" | tee "$SVS_RESULTS/kmemleak-clean.log"
        record PASS kmemleak-clean
    else
        { echo "kmemleak: $nleaks unreferenced objects after the suite and rmmod:"
          head -n 200 "$SVS_RESULTS/kmemleak.txt"; } | tee "$SVS_RESULTS/kmemleak-clean.log"
        record FAIL kmemleak-clean
    fi
fi
dmesg > "$SVS_RESULTS/dmesg.txt" 2>&1

# One count per checker over the run (0 where the kernel has no such checker).
{
    log=$(dmesg_since_start)
    for c in "${checker_res[@]}"; do
        printf '%s %s ' "${c%%:*}" "$(grep -cE -- "${c#*:}" <<< "$log")"
    done
    if [ -w "$kmemleak" ]; then echo "kmemleak $nleaks"; else echo "kmemleak n/a"; fi
} > "$SVS_RESULTS/checkers"
echo "svs-run-tests: checker reports: $(cat "$SVS_RESULTS/checkers")"

{
    echo "pass $npass"
    echo "fail $nfail"
    echo "skip $nskip"
    printf '%s\n' "${results[@]}"
} > "$SVS_RESULTS/summary"
echo "svs-run-tests: $(uname -r): pass $npass fail $nfail skip $nskip"
[ "$nfail" -eq 0 ]
