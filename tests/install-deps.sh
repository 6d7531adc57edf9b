#!/bin/bash
# Install, from Debian's archive, every package the build and the tests
# need.  Idempotent: does nothing when everything is there.
set -euo pipefail

pkgs=(
	# build
	build-essential cmake pkg-config g++ libnl-3-dev libnl-genl-3-dev
	libgtest-dev libgmock-dev clang-tidy
	# sockvsadm --json
	nlohmann-json3-dev
	# sockvs-healthd: TLS checks (OpenSSL), sd_notify and the watchdog
	libssl-dev libsystemd-dev
	# sockvs-agent: etcd's JSON gateway over libcurl; 83-agent runs Debian's etcd
	libcurl4-openssl-dev etcd-server etcd-client
	# libFuzzer targets (tests/fuzz): clang with its fuzzer/sanitizer runtimes
	clang libclang-rt-14-dev
	# kernels to test against, their headers, lint tools
	linux-image-amd64 linux-headers-amd64
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	linux-source-6.1 sparse
	# benchmarks (bench/): charts, the scheduler pick benchmark
	python3-matplotlib libbenchmark-dev
	# the bench's profile phase (perf in the guest, from the host's root)
	linux-perf
	# the BPF socket balancer the benchmarks compare with (bench/bpf/)
	clang llvm libbpf-dev bpftool
	# guests
	qemu-system-x86 busybox-static kmod cpio xz-utils
	# make install checks (tests/install-test.sh): DKMS, systemd-analyze, man
	dkms systemd man-db groff-base
	# make deb (debian/: Build-Depends beyond the build's own) and lintian
	debhelper dh-dkms lintian
	# make test-image: a Debian 12 image built from the archive, booted with
	# systemd (tests/image/); qemu-img for its throw-away overlays
	mmdebstrap qemu-utils e2fsprogs
	# what the tests run inside the guests
	redis-server redis-tools ipvsadm iptables nftables iproute2
	python3 util-linux procps
	# 28-getpeername: a real client that reports its peer, and strace to see it ask
	curl strace
	# 71-terminate, 74-unconnected-udp: real DNS servers and clients
	dnsmasq-base bind9-dnsutils
	# 74-metrics: a real Prometheus scrapes sockvs-healthd's /metrics
	prometheus
	# 77-ipvs-compat: Debian's keepalived, nginx and node exporter, unmodified
	keepalived nginx-light prometheus-node-exporter
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]} (run as root)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
