#!/bin/bash
# Build (or reuse) the busybox initramfs that boots a Debian kernel with the host's
# root filesystem over 9p.  Usage: build.sh KVER OUT.cpio.gz
#
# The image holds: busybox (static), /init (stage 1), /stage2 (runs as PID 1 inside
# the chroot), and uncompressed copies of the modules needed for a 9p+overlay root,
# listed in load order in /modules.  It is rebuilt when any input changes (a manifest
# of the inputs is kept next to it as OUT.inputs).
set -euo pipefail

die() { echo "initramfs/build.sh: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: build.sh KVER OUT.cpio.gz"
kver=$1 out=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
modroot=/lib/modules/$kver
[ -d "$modroot" ] || die "no $modroot"

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (apt-get install busybox-static)"
# The initramfs has no libc: busybox must be static.
if command -v file >/dev/null && ! file -L "$busybox" | grep -q 'statically linked'; then
    die "$busybox is not statically linked (apt-get install busybox-static)"
fi
for t in cpio gzip modprobe; do command -v "$t" >/dev/null || die "$t not found"; done

# Module load order: "insmod /lib/modules/.../x.ko[.xz] [params]" lines; builtins are
# reported as "builtin x" and need nothing.
mapfile -t mods < <(modprobe -a -S "$kver" --show-depends 9p 9pnet_virtio virtio_pci overlay virtio_rng |
    awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++')
# None at all is fine when every one is built in (the debug kernels, tests/kernels/).
if [ ${#mods[@]} -eq 0 ]; then
    modprobe -a -S "$kver" --show-depends 9p 9pnet_virtio virtio_pci overlay virtio_rng 2>&1 |
        grep -qv '^builtin ' && die "modprobe --show-depends found no modules for $kver"
fi

# Manifest of everything the image is made from.
manifest() {
    echo "kver $kver"
    sha256sum "$here/build.sh" "$here/init" "$here/stage2" "$busybox"
    local m
    for m in "${mods[@]}"; do stat -c 'mod %n %s %Y' "$m"; done
}
want=$(manifest)
if [ -s "$out" ] && [ -f "$out.inputs" ] && [ "$(cat "$out.inputs")" = "$want" ]; then
    exit 0
fi

mkdir -p "$(dirname "$out")"
stage=$(mktemp -d "$out.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,mods,host,upper,newroot}
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
install -m 0755 "$here/init" "$stage/init"
install -m 0755 "$here/stage2" "$stage/stage2"
if [ "$(id -u)" = 0 ]; then
    mknod -m 600 "$stage/dev/console" c 5 1
    mknod -m 666 "$stage/dev/null" c 1 3
fi
: > "$stage/modules"
for m in "${mods[@]}"; do
    base=$(basename "$m")
    case "$m" in
        *.ko.xz)  name=${base%.xz};  xz -dc "$m" > "$stage/mods/$name" ;;
        *.ko.zst) name=${base%.zst}; zstd -qdc "$m" > "$stage/mods/$name" ;;
        *.ko.gz)  name=${base%.gz};  gzip -dc "$m" > "$stage/mods/$name" ;;
        *.ko)     name=$base;        cp "$m" "$stage/mods/$name" ;;
        *) die "unexpected module file $m" ;;
    esac
    echo "/mods/$name" >> "$stage/modules"
done

tmp=$(mktemp "$out.XXXXXX")
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc --owner 0:0 | gzip -6 -n) > "$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
printf '%s\n' "$want" > "$out.inputs"
echo "initramfs/build.sh: built $out ($(du -k "$out" | cut -f1) KiB, ${#mods[@]} modules)" >&2
