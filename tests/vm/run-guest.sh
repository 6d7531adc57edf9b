#!/bin/bash
# Boot a Debian kernel in QEMU (TCG) with the host's root filesystem (read-only 9p
# under a tmpfs overlay) and run one command inside it.
#
#   tests/vm/run-guest.sh KVER CMD [ARG...]
#
# KVER: a release, or a handle tests/kernels/list.sh --resolve knows (6.1, 6.12,
# debug-6.1, rt, ...).
# CMD runs as root in the guest with cwd = the repo root (same absolute path as on
# the host) and the environment:
#   SVS_KVER     kernel release the host booted (KVER)
#   SVS_REPO     repo root
#   SVS_RESULTS  guest path of a directory shared writable with the host
#                (host side: build/vm/results/KVER, or $SVS_RESULTS_DIR)
#   SVS_*        every other SVS_* variable of the caller, except SVS_VM_*
# Host-side settings (environment):
#   SVS_VM_TIMEOUT  hard timeout in seconds for the whole VM (default 3600)
#   SVS_VM_MEM      guest memory in MiB (default 2048)
#   SVS_VM_SMP      guest CPUs (default 2)
#   SVS_VM_APPEND   extra kernel command line arguments
#   SVS_VM_QEMU     extra QEMU arguments (word-split)
#   SVS_VM_PVH      1 (default): boot the vmlinux extracted from the bzImage (cached
#                   as build/vm/vmlinux-KVER) via PVH; 0: boot the bzImage
#   SVS_RESULTS_DIR host results directory (default build/vm/results/KVER); emptied first
# Output: the serial console goes to stdout and to build/vm/KVER-console.log.
# Exit status: CMD's exit status; 124 if the VM hit the timeout; 125 if the guest
# did not boot or did not report an exit status; 2 on bad usage.
set -euo pipefail

me=run-guest.sh
die() { echo "$me: $1" >&2; exit "${2:-125}"; }

[ $# -ge 2 ] || die "usage: $me KVER CMD [ARG...]" 2
kver=$1; shift

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
[ -r "/boot/vmlinuz-$kver" ] || kver=$("$repo/tests/kernels/list.sh" --resolve "$kver") || exit 2
build=$repo/build/vm
kernel=/boot/vmlinuz-$kver
[ -r "$kernel" ] || die "no kernel $kernel" 2
why=$("$repo/tests/kernels/list.sh" --bootable "$kver") || die "$why" 2
[ -d "/lib/modules/$kver" ] || die "no /lib/modules/$kver" 2
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"

timeout_s=${SVS_VM_TIMEOUT:-3600}
results=${SVS_RESULTS_DIR:-$build/results/$kver}
case $results in /*) ;; *) results=$repo/$results ;; esac
log=$build/$kver-console.log
initrd=$build/initramfs-$kver.cpio.gz
mkdir -p "$build"

# One VM per kernel at a time in this tree: they would share the console log,
# the initramfs and the results directory.
# A caller that already holds this lock (run-all.sh, to read the results before
# anyone else can wipe them) says so with SVS_VM_LOCK_HELD=KVER.
if [ "${SVS_VM_LOCK_HELD:-}" != "$kver" ]; then
    exec 9> "$build/.lock-$kver"
    if ! flock -n 9; then
        echo "$me: another VM for $kver is running in $repo; waiting for it" >&2
        flock 9
    fi
fi

"$repo/tests/vm/initramfs/build.sh" "$kver" "$initrd" || die "building the initramfs failed"

# Boot the uncompressed ELF kernel (PVH entry) unless SVS_VM_PVH=0: it skips the
# in-guest decompression, seconds under TCG.  Falls back to the bzImage.
# The debug builds (tests/kernels/, -svsdebug) boot from the bzImage: QEMU quits
# at once on their extracted vmlinux.  Their ACPI interpreter is so slow under
# TCG that evaluating the PCI routing table (_PRT) hits ACPI's 30 s loop timeout
# four times (2 minutes of boot); pci=noacpi routes PCI interrupts without it.
debug_append=
boot_image=$kernel
# slub_debug=A marks the module's caches for failslab (66-fault-injection: the
# per-cache failslab switch in sysfs is read-only on 6.1).
case $kver in *-svsdebug) : "${SVS_VM_PVH:=0}"
    debug_append="pci=noacpi slub_debug=A,svs_service,svs_dest,svs_conn,svs_peer" ;;
esac
if [ "${SVS_VM_PVH:-1}" != 0 ]; then
    vmlinux=$build/vmlinux-$kver
    if [ ! -s "$vmlinux" ] || [ "$kernel" -nt "$vmlinux" ]; then
        "$repo/tests/vm/initramfs/extract-vmlinux.py" "$kernel" "$vmlinux" || rm -f "$vmlinux"
    fi
    if [ -s "$vmlinux" ]; then boot_image=$vmlinux; else
        echo "$me: cannot extract vmlinux from $kernel; booting the bzImage" >&2; fi
fi

mkdir -p "$results"
find "$results" -mindepth 1 -delete
printf '%s\0' "$@" > "$results/cmd"
{
    printf 'export SVS_KVER=%q\n' "$kver"
    printf 'export SVS_REPO=%q\n' "$repo"
    while IFS= read -r v; do
        case $v in SVS_VM_*|SVS_KVER|SVS_REPO|SVS_RESULTS|SVS_RESULTS_DIR) continue ;; esac
        printf 'export %s=%q\n' "$v" "${!v}"
    done < <(compgen -e | grep '^SVS_' || true)
} > "$results/guest-env"

append="console=ttyS0 quiet panic=-1 softlockup_panic=0 mitigations=off"
# TCG on a busy host can stall vCPUs for seconds; keep the watchdogs from
# reporting that as soft lockups / RCU stalls (real hangs still trip them).
append+=" watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=120 tsc=reliable"
# Each kmem cache on its own, so the module's slab objects can be counted
# (tests/vm/lib/svs_mem.py).
append+=" slab_nomerge"
# Under a heavily loaded host, the boot-time check that the timer reaches the
# IO-APIC can time out and panic 6.12 ("IO-APIC + timer doesn't work!").
append+=" no_timer_check"
append+=" $debug_append ${SVS_VM_APPEND:-}"
# The guest mounts fresh tmpfs on /tmp and /run: a checkout there (CI may
# clone anywhere) is shared on its own and mounted back at the same path.
case $repo in
/tmp/* | /run/*) append+=" svs.repo=$repo" ;;
esac

# shellcheck disable=SC2054  # commas are QEMU option syntax
qemu=(qemu-system-x86_64
    -m "${SVS_VM_MEM:-2048}" -smp "${SVS_VM_SMP:-2}" -accel tcg,thread=multi
    -nographic -no-reboot -no-user-config -nic none
    -kernel "$boot_image" -initrd "$initrd" -append "$append"
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
    -virtfs "local,path=$results,mount_tag=results,security_model=none,multidevs=remap"
    -virtfs "local,path=$repo,mount_tag=repo,security_model=none,readonly=on,multidevs=remap"
    -device virtio-rng-pci)
# shellcheck disable=SC2206  # SVS_VM_QEMU is deliberately word-split
qemu+=(${SVS_VM_QEMU:-})

echo "$me: booting $kver (timeout ${timeout_s}s, console log $log)" >&2
start=$(date +%s.%N)
set +e
# stdin from /dev/null: QEMU must not put a terminal into raw mode or read from it.
# The sed drops the serial console's CRs and the firmware's terminal escapes.
timeout -k 10 "$timeout_s" "${qemu[@]}" < /dev/null 2>&1 |
    sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' | tee "$log"
st=("${PIPESTATUS[@]}")
set -e
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

boot=$(cat "$results/boot-seconds" 2>/dev/null || echo "?")
echo "$me: $kver: VM ran ${elapsed}s (guest boot ${boot}s), qemu status ${st[0]}" >&2
if [ "${st[0]}" = 124 ] || [ "${st[0]}" = 137 ]; then
    die "$kver: TIMEOUT: VM killed after ${timeout_s}s (SVS_VM_TIMEOUT); see $log" 124
fi
if [ -s "$results/exit-code" ]; then
    rc=$(cat "$results/exit-code")
    [[ $rc =~ ^[0-9]+$ ]] || die "$kver: garbage exit code '$rc' from the guest"
    exit "$rc"
fi
reason=$(grep -a -m1 -o 'SVS-INIT-FAILED: .*' "$log" || true)
[ -n "$reason" ] || reason=$(grep -a -m1 -o 'Kernel panic.*' "$log" || true)
[ -n "$reason" ] || [ -s "$results/boot-seconds" ] ||
    reason="guest never reached stage 2 (did it boot? qemu status ${st[0]})"
die "$kver: the guest reported no exit code${reason:+: $reason}; see $log"
