#!/bin/bash
# make test-image: the Debian packages in a real Debian 12 system booted with
# systemd under QEMU (TCG), checked as an administrator would
# (tests/image/guest.sh says what).
#
#   tests/image/run.sh
#
# 1. the image: tests/image/build-image.sh (mmdebstrap, cached under
#    /var/cache/sock_vs/image, reused)
# 2. two builds of the packages (packaging/deb.sh, DEB_BUILD_OPTIONS=nocheck:
#    the unit tests are make test's): version SOCK_VS_VERSION and a newer
#    SOCK_VS_VERSION+2 for the upgrade, each in a local apt repository
#    (dpkg-scanpackages) in build/image/share/repo1, repo2
# 3. QEMU boots the image's own kernel and initramfs, root on a qcow2 overlay
#    of the cached image (thrown away afterwards), the share over 9p; the
#    guest reboots once (QEMU runs with -no-reboot: this script starts it
#    again on the same disk), then powers off
# Environment:
#   SVS_DEB_REV=REV        package commit REV instead of the working tree
#   SVS_IMAGE_DEBS=D1:D2   use the .debs already in D1 and D2 (the second
#                          build newer), build nothing
#   SVS_IMAGE_QUICK=1      the quick form: no upgrade (one package build, one
#                          DKMS build in the guest instead of two)
#   SVS_IMAGE_TIMEOUT      seconds for each boot (default 1800)
#   SVS_IMAGE_SMP, SVS_IMAGE_MEM   guest CPUs (2) and MiB (2048)
# Output: one "PASS: image: ..." / "FAIL: image: ..." line per check, the
# times, then "N passed, N failed, N skipped" (as tests/run-all.sh counts); results and
# the guest's logs and journals in build/image/share/results/, consoles in
# build/image/console-bootN.log.  Exit status 0 iff nothing failed.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$repo"
out=$repo/build/image
share=$out/share
t_start=$(date +%s)
stamp() { echo "$(($(date +%s) - t_start))"; }
die() { echo "FAIL: image: $*"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (make deps)"
img=$(tests/image/build-image.sh) || die "building the image failed"
t_image=$(stamp)
echo "image: $img (kernel $(cat "$img/kernel-release")), ready after ${t_image} s"

mkdir -p "$out"
exec 9> "$out/.lock"
flock -n 9 || { echo "run.sh: another make test-image runs in $repo; waiting" >&2; flock 9; }
rm -rf "$share" "$out"/console-boot*.log "$out/overlay.qcow2"
mkdir -p "$share/results"

# 2. the packages, twice
if [ -n "${SVS_IMAGE_DEBS:-}" ]; then
	d1=${SVS_IMAGE_DEBS%%:*} d2=${SVS_IMAGE_DEBS#*:}
else
	d1=$out/deb1 d2=$out/deb2
	rev_opt=()
	# one commit for both builds, even if HEAD moves meanwhile
	[ -n "${SVS_DEB_REV:-}" ] && rev_opt=(-r "$(git rev-parse --verify "$SVS_DEB_REV^{commit}")")
	DEB_BUILD_OPTIONS=nocheck packaging/deb.sh -o "$d1" --no-lintian "${rev_opt[@]}" ||
		die "the first package build failed ($d1/build.log)"
	if [ "${SVS_IMAGE_QUICK:-0}" = 1 ]; then
		d2=$d1
	else
		DEB_BUILD_OPTIONS=nocheck packaging/deb.sh -o "$d2" -s 2 --no-lintian "${rev_opt[@]}" ||
			die "the second package build failed ($d2/build.log)"
	fi
fi
[ "${SVS_IMAGE_QUICK:-0}" = 1 ] && touch "$share/quick"
t_debs=$(stamp)
for n in 1 2; do
	d=$d1; [ $n = 2 ] && d=$d2
	mkdir -p "$share/repo$n"
	for p in sock-vs-dkms sockvsadm sockvs-healthd; do
		f=$(ls "$d"/${p}_*.deb 2>/dev/null | head -n 1)
		[ -n "$f" ] || die "no $p package in $d"
		cp "$f" "$share/repo$n/"
	done
	(cd "$share/repo$n" && dpkg-scanpackages --multiversion . /dev/null > Packages 2>/dev/null)
	dpkg-deb -f "$(ls "$share/repo$n"/sockvsadm_*.deb)" Version > "$share/version$n"
done
[ -f "$share/quick" ] || dpkg --compare-versions "$(cat "$share/version2")" gt "$(cat "$share/version1")" ||
	die "the second build ($(cat "$share/version2")) is not newer than the first ($(cat "$share/version1"))"
echo "packages: $(cat "$share/version1") and $(cat "$share/version2"), ready after ${t_debs} s"
cp tests/image/guest.sh "$share/guest.sh"

# 3. boot until the guest reports, at most three boots
qemu-img create -q -f qcow2 -b "$img/base.raw" -F raw "$out/overlay.qcow2"
kernel=$img/vmlinux
[ -s "$kernel" ] || kernel=$img/vmlinuz
append="root=/dev/vda rw console=ttyS0 quiet systemd.show_status=1 panic=-1 mitigations=off"
append+=" tsc=reliable no_timer_check watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=120"
boot_times=()
for boot in 1 2 3; do
	[ -s "$share/results/exit-code" ] && break
	s=$(date +%s)
	set +e
	# shellcheck disable=SC2054  # commas are QEMU option syntax
	timeout -k 10 "${SVS_IMAGE_TIMEOUT:-1800}" qemu-system-x86_64 \
		-m "${SVS_IMAGE_MEM:-2048}" -smp "${SVS_IMAGE_SMP:-2}" -accel tcg,thread=multi \
		-nographic -no-reboot -no-user-config -nic none \
		-kernel "$kernel" -initrd "$img/initrd.img" -append "$append" \
		-drive "file=$out/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe" \
		-virtfs "local,path=$share,mount_tag=svs,security_model=none,multidevs=remap" \
		-device virtio-rng-pci < /dev/null 2>&1 |
		sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' > "$out/console-boot$boot.log"
	qrc=${PIPESTATUS[0]}
	set -e
	boot_times+=("boot $boot: QEMU ran $(($(date +%s) - s)) s (status $qrc)")
	echo "${boot_times[-1]}"
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		echo "FAIL: image: boot $boot timed out after ${SVS_IMAGE_TIMEOUT:-1800} s (console: $out/console-boot$boot.log)" >> "$share/results/results.txt"
		break
	fi
done
rm -f "$out/overlay.qcow2"

res=$share/results
[ -s "$res/exit-code" ] ||
	echo "FAIL: image: the guest did not finish (see $out/console-boot*.log, $res/guest.log)" >> "$res/results.txt"
echo "=== image test results"
cat "$res/results.txt" 2>/dev/null
echo "=== times (s)"
[ -f "$res/times.txt" ] && sed 's/^/  guest: /' "$res/times.txt"
printf '  host: %s\n' "image ready at ${t_image}" "packages ready at ${t_debs}" "${boot_times[@]}" "total $(stamp)"
p=$(grep -c '^PASS: ' "$res/results.txt" 2>/dev/null || true)
f=$(grep -c '^FAIL: ' "$res/results.txt" 2>/dev/null || true)
s=$(grep -c '^SKIP: ' "$res/results.txt" 2>/dev/null || true)
echo "${p:-0} passed, ${f:-0} failed, ${s:-0} skipped"
[ "${f:-0}" -eq 0 ]
