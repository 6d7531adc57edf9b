#!/bin/bash
# Smoke test of the VM harness itself: are we in the guest kernel we asked for,
# with the module loaded and the tools and kernel features the other cases need?
set -uo pipefail

failed=0
check() { # check DESCRIPTION CMD...: run CMD, report ok/FAILED with its output
    local d=$1 out
    shift
    if out=$("$@" 2>&1); then
        echo "ok: $d"
    else
        echo "FAILED: $d${out:+: $out}"
        failed=1
    fi
}

# The guest kernel, not the host's: the host booted /boot/vmlinuz-$SVS_KVER and
# passed SVS_KVER in (the host's own kernel is a different build).
kver=$(uname -r)
check "uname -r ($kver) = SVS_KVER (${SVS_KVER:-unset})" test "$kver" = "${SVS_KVER:-}"
vendor=$(cat /sys/class/dmi/id/sys_vendor 2>/dev/null || true)
check "DMI vendor ($vendor) is QEMU" test "$vendor" = QEMU
check "/lib/modules/$kver present" test -d "/lib/modules/$kver/kernel"
check "sock_vs in /proc/modules" grep -q '^sock_vs ' /proc/modules

for t in python3 redis-server ip ipvsadm modprobe timeout; do
    check "$t exists" command -v "$t"
done

check "netns add/exec/del" bash -c \
    'ip netns add svs-smoke && ip netns exec svs-smoke ip link set lo up && ip netns del svs-smoke'
check "modprobe veth" modprobe veth
check "veth in /proc/modules" grep -q '^veth ' /proc/modules
# Kernel-initiated module loading (request_module -> /sbin/modprobe) must see the
# chroot, or iptables/ipvsadm/nft could not autoload their modules.
# shellcheck disable=SC2016
check "module autoload (ip link add type dummy)" bash -c \
    'ip netns add svs-smoke2 && ip netns exec svs-smoke2 ip link add svsdummy0 type dummy; r=$?; ip netns del svs-smoke2; exit $r'

# Guest environment the cases rely on.
n=$(ulimit -n)
check "ulimit -n ($n) >= 10032 (redis)" test "$n" -ge 10032
range=$(tr -s '\t ' ' ' < /proc/sys/net/ipv4/ip_local_port_range)
check "ip_local_port_range ($range) is the default" test "$range" = "32768 60999"
# shellcheck disable=SC2016
check "/dev/shm writable" bash -c 't=$(mktemp /dev/shm/svs.XXXXXX) && rm "$t"'
# shellcheck disable=SC2016
check "\$SVS_RESULTS writable" bash -c 't=$(mktemp "$SVS_RESULTS/.svs.XXXXXX") && rm "$t"'
check "cgroup2 mounted" grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts
check "debugfs mounted" grep -q ' /sys/kernel/debug debugfs ' /proc/mounts
check "repo at \$SVS_REPO" test -f "$SVS_REPO/tests/vm/cases/00-smoke.sh"
check "cwd ($(pwd -P)) = repo root" test "$(pwd -P)" = "$SVS_REPO"

exit $failed
