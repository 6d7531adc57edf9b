#!/bin/bash
# `make demo`, inside a guest: three redis servers behind one virtual
# address, configured with sockvsadm, redis-benchmark through the virtual
# address and directly, then the listing and both throughputs side by side.
set -euo pipefail
repo=${SVS_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
adm=$repo/build/userspace/sockvsadm
ko=$repo/build/kmod/$(uname -r)/sock_vs.ko
vip=10.255.0.1
work=$(mktemp -d)
requests=${SVS_DEMO_REQUESTS:-20000}
clients=${SVS_DEMO_CLIENTS:-30}

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "== sock_vs demo on kernel $(uname -r)"
grep -q '^sock_vs ' /proc/modules || step insmod "$ko"
for port in 7001 7002 7003; do
	redis-server --port $port --bind 127.0.0.1 --protected-mode no --save '' \
		--appendonly no --daemonize yes --dir "$work" \
		--logfile "$work/redis-$port.log" --pidfile "$work/redis-$port.pid"
done
for port in 7001 7002 7003; do
	until redis-cli -p $port ping >/dev/null 2>&1; do sleep 0.2; done
done
trap 'for p in 7001 7002 7003; do redis-cli -p $p shutdown nosave >/dev/null 2>&1 || true; done; "$adm" -C || true' EXIT

step "$adm" -A -t $vip:6379 -s rr
for port in 7001 7002 7003; do
	step "$adm" -a -t $vip:6379 -r 127.0.0.1:$port -w 1
done
step "$adm" -L -n

bench() { # host port -> requests per second (PING_INLINE)
	redis-benchmark -h "$1" -p "$2" -c "$clients" -n "$requests" -t ping_inline --csv 2>/dev/null |
		awk -F, '/PING_INLINE/ { gsub(/"/, "", $2); print $2 }'
}
printf '\n$ redis-benchmark -h %s -p 6379 -c %s -n %s -t ping_inline   (through sock_vs)\n' $vip "$clients" "$requests"
bench $vip 6379 > "$work/via" &
# While it runs: the benchmark's connections, spread over the three servers.
for _ in $(seq 50); do
	"$adm" -L -n | grep -q -E 'Sock +1 +[1-9]' && break
	sleep 0.2
done
step "$adm" -L -n
wait
via=$(cat "$work/via")
printf '$ redis-benchmark -h 127.0.0.1 -p 7001 -c %s -n %s -t ping_inline   (direct)\n' "$clients" "$requests"
direct=$(bench 127.0.0.1 7001)

step "$adm" -L -n --stats --exact
echo
echo "connections each redis server received (INFO stats):"
for port in 7001 7002 7003; do
	printf '  127.0.0.1:%s  %s\n' $port \
		"$(redis-cli -p $port info stats | tr -d '\r' | awk -F: '/^total_connections_received/ { print $2 }')"
done
echo
printf '%-28s %12s\n' "path" "PING_INLINE req/s"
printf '%-28s %12s\n' "direct 127.0.0.1:7001" "$direct"
printf '%-28s %12s\n' "sock_vs $vip:6379 (rr x3)" "$via"
awk -v d="$direct" -v v="$via" 'BEGIN { if (d > 0) printf "%-28s %12.2f\n", "ratio sock_vs / direct", v / d }'
echo "(one run under QEMU software emulation: absolute numbers are slow and noisy;"
echo " see bench/ for repeated, interleaved measurements)"
