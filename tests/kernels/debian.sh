#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install Debian's PREEMPT_RT and cloud kernels with their headers (idempotent,
# like tests/install-deps.sh) and print the installed release names, one per line.
# Flavours whose kernel cannot run the guest harness (no 9p transport for the
# host root) are reported on stderr and still printed.
set -euo pipefail

flavours=(rt cloud)
pkgs=()
for f in "${flavours[@]}"; do pkgs+=("linux-image-$f-amd64" "linux-headers-$f-amd64"); done

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "kernels/debian.sh: missing packages: ${missing[*]} (run as root)" >&2
		exit 1
	fi
	echo "kernels/debian.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The release a metapackage points at: its linux-image-<release> dependency.
for f in "${flavours[@]}"; do
	rel=$(dpkg-query -W -f='${Depends}' "linux-image-$f-amd64" |
		tr ',' '\n' | sed -n 's/^ *linux-image-\([^ ]*\).*/\1/p' | head -n 1)
	[ -n "$rel" ] && [ -r "/boot/vmlinuz-$rel" ] && [ -d "/lib/modules/$rel/build" ] || {
		echo "kernels/debian.sh: $f: no installed release with image and headers" >&2
		exit 1
	}
	cfg=/boot/config-$rel
	if ! grep -Eq '^CONFIG_NET_9P_VIRTIO=[ym]' "$cfg" || ! grep -Eq '^CONFIG_9P_FS=[ym]' "$cfg"; then
		echo "kernels/debian.sh: $rel: no 9p over virtio (CONFIG_9P_FS/CONFIG_NET_9P_VIRTIO): tests/vm cannot boot it" >&2
	fi
	echo "$rel"
done
