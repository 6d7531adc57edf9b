#!/bin/bash
# `make demo`, inside a guest: one virtual address over three real server
# addresses, configured with sockvsadm, redis-benchmark through the virtual
# address and directly, then the listing and both throughputs side by side.
#
# Fair by construction, as in bench/: one redis-server answers on the three
# real server addresses (127.0.0.1-3), so direct (one address) and sock_vs
# (rr over three) cost the server the same work; the two are interleaved,
# SVS_DEMO_ROUNDS times, and the ratio is the median of the rounds.  `make
# demo` runs the guest with QEMU's instruction counting (bench/qemu-icount)
# and one vCPU, so a rate counts guest instructions and the host's load
# does not move it.
set -euo pipefail
repo=${SVS_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
adm=$repo/build/userspace/sockvsadm
ko=$repo/build/kmod/$(uname -r)/sock_vs.ko
vip=10.255.0.1
work=$(mktemp -d)
requests=${SVS_DEMO_REQUESTS:-20000}
clients=${SVS_DEMO_CLIENTS:-30}
rounds=${SVS_DEMO_ROUNDS:-3}
reals="127.0.0.1 127.0.0.2 127.0.0.3"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "== sock_vs demo on kernel $(uname -r)"
grep -q '^sock_vs ' /proc/modules || step insmod "$ko"
redis-server --port 7001 --bind $reals --protected-mode no --save '' \
	--appendonly no --daemonize yes --dir "$work" \
	--logfile "$work/redis.log" --pidfile "$work/redis.pid"
until redis-cli -p 7001 ping >/dev/null 2>&1; do sleep 0.2; done
trap 'redis-cli -p 7001 shutdown nosave >/dev/null 2>&1 || true; "$adm" -C || true' EXIT

step "$adm" -A -t $vip:6379 -s rr
for real in $reals; do
	step "$adm" -a -t $vip:6379 -r $real:7001 -w 1
done
step "$adm" -L -n

bench() { # host port -> requests per second (PING_INLINE)
	redis-benchmark -h "$1" -p "$2" -c "$clients" -n "$requests" -t ping_inline --csv 2>/dev/null |
		awk -F, '/PING_INLINE/ { gsub(/"/, "", $2); print $2 }'
}
printf '\n$ redis-benchmark -h %s -p 6379 -c %s -n %s -t ping_inline   (through sock_vs)\n' $vip "$clients" "$requests"
bench $vip 6379 > "$work/via1" &
# While it runs: the benchmark's connections, spread over the three addresses.
for _ in $(seq 50); do
	"$adm" -L -n | grep -q -E 'Sock +1 +[1-9]' && break
	sleep 0.2
done
step "$adm" -L -n
wait
printf '$ redis-benchmark -h 127.0.0.1 -p 7001 -c %s -n %s -t ping_inline   (direct)\n' "$clients" "$requests"
bench 127.0.0.1 7001 > "$work/direct1"
for r in $(seq 2 "$rounds"); do
	if [ $((r % 2)) = 0 ]; then
		bench 127.0.0.1 7001 > "$work/direct$r"; bench $vip 6379 > "$work/via$r"
	else
		bench $vip 6379 > "$work/via$r"; bench 127.0.0.1 7001 > "$work/direct$r"
	fi
done

step "$adm" -L -n --stats --exact
echo
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
direct=$(cat "$work"/direct* | median)
via=$(cat "$work"/via* | median)
ratios=$(for r in $(seq "$rounds"); do awk -v d="$(cat "$work/direct$r")" -v v="$(cat "$work/via$r")" \
	'BEGIN { if (d > 0) printf "%.3f\n", v / d }'; done)
printf '%-32s %14s\n' "path (median of $rounds rounds)" "PING_INLINE req/s"
printf '%-32s %14s\n' "direct 127.0.0.1:7001" "$direct"
printf '%-32s %14s\n' "sock_vs $vip:6379 (rr x3)" "$via"
printf '%-32s %14s   (rounds: %s)\n' "ratio sock_vs / direct" "$(echo "$ratios" | median)" "$(echo $ratios)"
echo "(same redis-server behind both paths; interleaved rounds in one boot; under"
echo " QEMU with -icount a rate counts guest instructions - see bench/ for the full"
echo " comparison with IPVS, iptables, nftables and a BPF socket balancer)"
