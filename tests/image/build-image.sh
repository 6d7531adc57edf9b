#!/bin/bash
# A minimal Debian 12 system image for tests/image/run.sh (make test-image):
# mmdebstrap from Debian's archive, systemd as init, Debian's 6.1 kernel
# (linux-image-amd64) with its headers (DKMS builds sock_vs inside), and what
# the test runs (python3's http.server as real servers).  Cached under
# /var/cache/sock_vs/image/KEY/, KEY a hash of the package list, the archive
# lines and this script; reused while they do not change.
#
#   tests/image/build-image.sh        prints the cache directory, building it
#                                     first when it is not there
#
# The cache directory holds:
#   base.raw     ext4 root filesystem (4 GiB, sparse) that guests never
#                write: each boot uses a qcow2 overlay on it
#   vmlinuz, initrd.img, vmlinux   the image's kernel and initramfs (vmlinux:
#                the ELF kernel extracted from vmlinuz, for QEMU's PVH boot)
#   kernel-release, packages.txt (dpkg -l of the image), build.log
#
# Nothing of the host's apt configuration is used or changed: mmdebstrap
# reads the archive lines below (SVS_IMAGE_MIRROR, SVS_IMAGE_SECURITY).
# In the image: no apt sources (the guest has no network; the test adds a
# local file: repository), /dev/vda as root, and svs-runner.service, which
# mounts the 9p share "svs" at /mnt/svs and runs /mnt/svs/guest.sh at every
# boot when it exists.
set -euo pipefail
me=build-image.sh
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cache_root=${SVS_IMAGE_CACHE:-/var/cache/sock_vs/image}
mirror=${SVS_IMAGE_MIRROR:-http://deb.debian.org/debian}
security=${SVS_IMAGE_SECURITY:-http://deb.debian.org/debian-security}
suite=bookworm

pkgs=(
	systemd-sysv udev kmod procps iproute2 util-linux
	# Debian's 6.1 kernel and its headers: one ABI, from the same archive
	linux-image-amd64 linux-headers-amd64
	# DKMS and what it builds and signs with
	dkms openssl
	# what the three packages link against (the guest has no network: apt
	# installs them from a local repository and finds these installed)
	libnl-3-200 libnl-genl-3-200 libstdc++6
	# real servers and a client
	python3
)
archive=(
	"deb $mirror $suite main"
	"deb $mirror $suite-updates main"
	"deb $security $suite-security main"
)
key=$( { printf '%s\n' "${pkgs[@]}" "${archive[@]}"; cat "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-16)
dir=$cache_root/$key
mkdir -p "$cache_root"
exec 9> "$cache_root/.lock-$key"
flock 9
if [ -e "$dir/complete" ]; then
	echo "$dir"
	exit 0
fi

for t in mmdebstrap mkfs.ext4 qemu-img; do
	command -v "$t" >/dev/null || { echo "$me: $t not found (make deps)" >&2; exit 1; }
done
rm -rf "$dir"
mkdir -p "$dir"
root=$dir/root
start=$(date +%s)
echo "$me: building the image in $dir (mmdebstrap from $mirror; several minutes)" >&2

# The runner the test drives the guest with.
runner_unit='[Unit]
Description=sock_vs image test runner (tests/image/guest.sh over 9p)
After=multi-user.target
ConditionVirtualization=vm

[Service]
Type=oneshot
ExecStart=/bin/sh -c "mkdir -p /mnt/svs && { mountpoint -q /mnt/svs || mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 svs /mnt/svs; } && test -f /mnt/svs/guest.sh && exec /bin/bash /mnt/svs/guest.sh"
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target'

if ! mmdebstrap --variant=apt --mode=root --format=directory \
	--include="$(IFS=,; echo "${pkgs[*]}")" \
	--customize-hook='echo "/dev/vda / ext4 defaults,errors=remount-ro 0 1" > "$1/etc/fstab"' \
	--customize-hook='echo svs-image > "$1/etc/hostname"' \
	--customize-hook='printf "127.0.0.1 localhost\n127.0.1.1 svs-image\n" > "$1/etc/hosts"' \
	--customize-hook='rm -f "$1/etc/apt/sources.list"; rm -rf "$1"/var/lib/apt/lists/*_dists_*' \
	--customize-hook="printf '%s\n' '$runner_unit' > \"\$1/etc/systemd/system/svs-runner.service\"" \
	--customize-hook='chroot "$1" systemctl enable svs-runner.service' \
	--customize-hook='chroot "$1" passwd -d root' \
	--customize-hook='chroot "$1" dpkg-query -W -f="\${Package} \${Version}\n" > "$1/../packages.txt"' \
	"$suite" "$root" "${archive[@]}" > "$dir/build.log" 2>&1; then
	tail -n 30 "$dir/build.log" >&2
	echo "$me: mmdebstrap failed; log in $dir/build.log" >&2
	exit 1
fi
krel=$(cd "$root/lib/modules" && ls | sort -V | tail -n 1)
[ -n "$krel" ] && [ -f "$root/boot/vmlinuz-$krel" ] && [ -d "$root/usr/src/linux-headers-$krel" ] ||
	{ echo "$me: no kernel with headers in the image" >&2; exit 1; }
[ -f "$root/boot/initrd.img-$krel" ] || { echo "$me: no initramfs for $krel in the image" >&2; exit 1; }
echo "$krel" > "$dir/kernel-release"
cp "$root/boot/vmlinuz-$krel" "$dir/vmlinuz"
cp "$root/boot/initrd.img-$krel" "$dir/initrd.img"
"$repo/tests/vm/initramfs/extract-vmlinux.py" "$dir/vmlinuz" "$dir/vmlinux" >/dev/null 2>&1 || rm -f "$dir/vmlinux"
truncate -s 4G "$dir/base.raw"
mkfs.ext4 -q -F -L svs-root -d "$root" "$dir/base.raw"
rm -rf "$root"
touch "$dir/complete"
echo "$me: image ready in $(($(date +%s) - start)) s: kernel $krel, $(wc -l < "$dir/packages.txt") packages" >&2
echo "$dir"
