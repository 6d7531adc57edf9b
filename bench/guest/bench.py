#!/usr/bin/env python3
"""Runs INSIDE a guest (command of tests/vm/run-guest.sh): the sock_vs benchmarks.

    bench/guest/bench.py [quick]

Topology (all in this guest): the server host is one namespace, svs-srv, with
one redis-server (port 6379) and one `connect_cost serve` (port 9000) that
answer on the three real server addresses 10.0.1.11-13 (and on the virtual
addresses on its lo, arp_ignore=1 / arp_announce=2, for IPVS-DR); the client
host is a fresh namespace (10.0.1.100) for every measured method, joined to
the server by its own veth pair.  Servers are pinned to vCPU 1 and load
generators to vCPU 0 (both to vCPU 0 in a one-vCPU guest, SVS_BENCH_SMP=1).

Methods: direct (one real server's address), direct-nomod (the same with the
sock_vs module unloaded for the run: the limit), sock_vs, bpf (a Cilium-style
cgroup socket balancer, bench/bpf/sock_lb.bpf.c: connect4/6 rewrite from a
BPF hash map, getpeername4/6 and recvmsg4/6 reverse translation, attached at
the root cgroup with bpftool only while its method runs), ipvs-nat, ipvs-dr,
iptables (legacy iptables, DNAT with -m statistic --mode random), nftables
(DNAT with numgen inc); every balancing method spreads over the same three
servers.  sock_vs stays loaded throughout (direct and bpf pay its connect
probe's miss); the unbalanced phase measures the module absent.

Workloads:
  steady        redis-benchmark -c 100 -P 1 -t ping (PING_INLINE, PING_MBULK); in the
                first repetition, which servers got connections (INFO stats)
  connect       the same with -k 0 (a new connection per request)
  connect_cost  build/bench/connect_cost from 1 and 2 threads: direct (the tool
                cycles over the three real addresses itself) against sock_vs
                (the virtual address, rr over the same three) and bpf (another
                virtual address in its map, random over the same three) with 1,
                1000 and 100000 services configured in the client namespace (and
                as many in the BPF map)
  unbalanced    `connect_cost micro` on traffic sock_vs does not balance: unconnected UDP
                sendto+recvfrom, TCP connect+accept+close, getpeername, getsockname, with the
                module absent, loaded with 1000 TCP + 1000 UDP services, loaded with the same
                services and the UDP ones --unconnected (the sendmsg kprobes installed), and
                (module absent) the BPF balancer attached with as many in its map (interleaved)
  udp_balanced  per datagram on a connected UDP socket (send + recv against a UDP echo):
                to the real server directly, through a sock_vs UDP service, through the
                BPF balancer; then udp_unconn: sendto + recvfrom on an unconnected socket, to
                the real server and to the virtual address of the service made --unconnected
  scaling       connect_cost from 1 and 2 threads through direct, sock_vs, bpf and IPVS NAT,
                each run in a fresh client namespace, in a guest with 2 vCPUs and no icount
                (make bench runs this phase in a guest of its own, after the icount ones;
                skipped in a one-vCPU or icount guest)
  control       10000 services x 4 real servers: sockvsadm -R vs ipvsadm -R of
                the same rules, kernel memory (Slab + Percpu), -L -n

Methods are interleaved within each repetition, in an order rotated from one
repetition to the next.  Raw results go to $SVS_RESULTS/rows.tsv (workload,
method, rep, metric, value) and $SVS_RESULTS/meta.tsv; bench/report.py turns
them into tables.  Parameters (environment; defaults full / quick):
  SVS_BENCH_REPS          3 / 1
  SVS_BENCH_STEADY_N      requests per test, steady (10000 / 1000)
  SVS_BENCH_CONNECT_N     requests per test, -k 0 (2000 / 200)
  SVS_BENCH_CC_SECONDS    seconds per connect_cost run (2, 0.25 under icount / 1)
  SVS_BENCH_CC_SERVICES   service counts (1,1000,100000 / 1,1000,10000)
  SVS_BENCH_CP_SERVICES   control plane services (10000 / 1000)
  SVS_BENCH_CP_REPS       control plane repetitions (1 / 1)
  SVS_BENCH_UNB_N         operations per micro run, x1 for udp/get*, /10 for tcp (20000 / 2000)
  SVS_BENCH_ONLY          comma-separated phases to run
                          (redis,connect_cost,scaling,unbalanced,control,profile)
The full sizes fit `make bench` (both kernels, one icount guest each, at the
same time) in 16 minutes of this idle 2-core host; under icount with one
vCPU repetitions agree within about 1%, so three are enough to show a spread.
Exit status 0 when every measurement produced its rows.
"""

import os
import socket
import struct
import subprocess
import sys
import time

import guestlib  # bench/guest/guestlib.py, beside this script
from guestlib import run

QUICK = "quick" in sys.argv[1:]
REPO = os.environ.get("SVS_REPO") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RESULTS = os.environ.get("SVS_RESULTS") or "/tmp"
KVER = os.uname().release
ADM = os.path.join(REPO, "build", "userspace", "sockvsadm")
CC = os.path.join(REPO, "build", "bench", "connect_cost")
KO = os.environ.get("SVS_KO") or os.path.join(REPO, "build", "kmod", KVER, "sock_vs.ko")
WORK = "/tmp/svs-bench"


param = guestlib.params("SVS_BENCH_", QUICK)


# Under QEMU -icount (bench/run-all.sh's default for full runs) guest time counts
# instructions: runs repeat closely, so they can be fewer and shorter.
ICOUNT = os.environ.get("SVS_BENCH_ICOUNT", "off") != "off"
REPS = int(param("REPS", "3", "1"))
STEADY_N = int(param("STEADY_N", "10000", "1000"))
CONNECT_N = int(param("CONNECT_N", "2000", "200"))
CC_SECONDS = float(param("CC_SECONDS", "0.25" if ICOUNT else "2", "1"))
CC_SERVICES = [int(x) for x in param("CC_SERVICES", "1,1000,100000", "1,1000,10000").split(",")]
CP_SERVICES = int(param("CP_SERVICES", "10000", "1000"))
CP_REPS = int(param("CP_REPS", "1", "1"))
CP_REALS = 4
UNB_N = int(param("UNB_N", "20000", "2000"))
UNB_SERVICES = 1000
UNB_OPS = ["udp", "tcp", "getpeername", "getsockname"]
UDP_PORT = 9001
CLIENTS = 100
# Load generators on vCPU 0, servers on vCPU 1; a one-vCPU guest (SVS_BENCH_SMP=1)
# runs both on vCPU 0.
NCPU = os.cpu_count() or 1
CLIENT_CPUS = "0"
SERVER_CPUS = "1" if NCPU > 1 else "0"
BOTH_CPUS = "0,1" if NCPU > 1 else "0"

METHODS = ["direct", "direct-nomod", "sock_vs", "bpf", "ipvs-nat", "ipvs-dr", "iptables", "nftables"]
SERVERS = ["10.0.1.11", "10.0.1.12", "10.0.1.13"]
CLIENT_IP = "10.0.1.100"
VIP = "10.0.9.1"
CC_VIP = "10.0.9.2"
BPF_CC_VIP = "10.0.9.3"      # connect_cost's address in the BPF map (sock_vs has CC_VIP)
BPF_OBJ = os.path.join(REPO, "build", "bench", "sock_lb.bpf.o")
BPF_PIN = "/sys/fs/bpf/svs-lb"
BPF_HOOKS = [("connect4", "sock4_connect"), ("connect6", "sock6_connect"),
             ("getpeername4", "sock4_getpeername"), ("getpeername6", "sock6_getpeername"),
             ("recvmsg4", "sock4_recvmsg"), ("recvmsg6", "sock6_recvmsg")]
REDIS_PORT = 6379
CC_PORT = 9000
SERVER_NS = "svs-srv"
MODULES = ["veth", "nf_conntrack", "nf_nat", "ip_tables", "iptable_nat", "xt_nat",
           "xt_statistic", "xt_tcpudp", "nf_tables", "nft_chain_nat", "nft_nat", "nft_numgen",
           "ip_vs", "ip_vs_rr"]

failures = []
rows_f = None
t0 = time.monotonic()


def log(msg):
    print("[bench %6.0fs] %s" % (time.monotonic() - t0, msg), flush=True)


def row(workload, method, rep, metric, value):
    rows_f.write("%s\t%s\t%s\t%s\t%s\n" % (workload, method, rep, metric, value))
    rows_f.flush()


def fail(msg):
    log("ERROR: " + msg)
    failures.append(msg)


def sh(script, check=True, timeout=900):
    return run(["bash", "-c", script], check=check, timeout=timeout)


def nsx(ns, *cmd):
    return ["ip", "netns", "exec", ns] + list(cmd)


def sysctl(ns, key, value):
    path = "/proc/sys/" + key.replace(".", "/")
    run(nsx(ns, "sh", "-c", "echo '%s' > %s" % (value, path)))


# ---------------------------------------------------------------- topology

def setup_servers():
    for m in MODULES:
        r = run(["modprobe", m], check=False)
        if r.returncode != 0:
            fail("modprobe %s: %s" % (m, r.stderr.strip()))
    if run(["grep", "-q", "^sock_vs ", "/proc/modules"], check=False).returncode != 0:
        run(["insmod", KO])
    os.makedirs(WORK, exist_ok=True)
    ns = SERVER_NS
    run(["ip", "netns", "add", ns])
    run(nsx(ns, "ip", "link", "set", "lo", "up"))
    # IPVS-DR: the virtual addresses on lo, never answered for in ARP (the
    # "all" value applies to every interface the client namespaces add later).
    for k, v in (("net.ipv4.conf.all.arp_ignore", 1), ("net.ipv4.conf.all.arp_announce", 2),
                 ("net.core.somaxconn", 4096), ("net.ipv4.tcp_max_syn_backlog", 8192)):
        sysctl(ns, k, v)
    run(nsx(ns, "ip", "addr", "add", VIP + "/32", "dev", "lo"))
    run(nsx(ns, "ip", "addr", "add", CC_VIP + "/32", "dev", "lo"))
    d = os.path.join(WORK, ns)
    os.makedirs(d, exist_ok=True)
    # One redis-server and one connect_cost server answer on all three real
    # server addresses: direct (one address) and the balancers (three) then
    # cost the server the same work (one event loop, same batching).
    run(nsx(ns, "taskset", "-c", SERVER_CPUS, "redis-server", "--port", str(REDIS_PORT), "--bind", "0.0.0.0",
            "--protected-mode", "no", "--save", "", "--appendonly", "no", "--daemonize", "yes",
            "--tcp-backlog", "4096", "--maxclients", "10000",
            "--dir", d, "--logfile", d + "/redis.log", "--pidfile", d + "/redis.pid"))
    subprocess.Popen(nsx(ns, "taskset", "-c", SERVER_CPUS, CC, "serve", str(CC_PORT)),
                     stdout=open(d + "/cc.log", "w"), stderr=subprocess.STDOUT)
    subprocess.Popen(nsx(ns, "taskset", "-c", SERVER_CPUS, CC, "userve", str(UDP_PORT)),
                     stdout=open(d + "/ucc.log", "w"), stderr=subprocess.STDOUT)
    for _ in range(300):
        if run(nsx(ns, "redis-cli", "-h", "127.0.0.1", "ping"), check=False).stdout.strip() == "PONG":
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("redis in %s did not answer" % ns)


# ------------------------------------------------------------- the BPF anchor

bpf_state = {"loaded": False, "attached": False, "next": 0, "sets": {}}


def bpf_load():
    """Load sock_lb.bpf.o once: programs and maps pinned under BPF_PIN."""
    if bpf_state["loaded"]:
        return
    run(["bpftool", "prog", "loadall", BPF_OBJ, BPF_PIN, "pinmaps", BPF_PIN + "/maps"])
    bpf_state["loaded"] = True


def bpf_attach():
    bpf_load()
    for hook, prog in BPF_HOOKS:
        run(["bpftool", "cgroup", "attach", "/sys/fs/cgroup", hook, "pinned", "%s/%s" % (BPF_PIN, prog)])
    bpf_state["attached"] = True


def bpf_detach():
    if not bpf_state["attached"]:
        return
    for hook, prog in BPF_HOOKS:
        run(["bpftool", "cgroup", "detach", "/sys/fs/cgroup", hook, "pinned", "%s/%s" % (BPF_PIN, prog)],
            check=False)
    bpf_state["attached"] = False


def hexb(b):
    return [("%02x" % x) for x in b]


def bpf_services(entries):
    """entries: [(vip, port, proto, [(rip, rport)...])]: the maps' contents,
    written with one bpftool batch."""
    bpf_load()
    cmds = []
    for vip, port, proto, reals in entries:
        first = bpf_state["sets"].get(tuple(reals))
        if first is None:       # each distinct backend list is stored once
            first = bpf_state["next"]
            for i, (rip, rport) in enumerate(reals):
                val = socket.inet_aton(rip) + bytes(12) + struct.pack("!H", rport) + bytes(2)
                cmds.append("map update pinned %s/maps/backends key hex %s value hex %s"
                            % (BPF_PIN, " ".join(hexb(struct.pack("<I", first + i))), " ".join(hexb(val))))
            bpf_state["next"] = first + len(reals)
            bpf_state["sets"][tuple(reals)] = first
        key = socket.inet_aton(vip) + bytes(12) + struct.pack("!H", port) + bytes([proto, 0])
        cmds.append("map update pinned %s/maps/services key hex %s value hex %s"
                    % (BPF_PIN, " ".join(hexb(key)), " ".join(hexb(struct.pack("<II", first, len(reals))))))
    path = os.path.join(WORK, "bpf-batch-%d" % bpf_state["next"])
    with open(path, "w") as f:
        f.write("\n".join(cmds) + "\n")
    run(["bpftool", "batch", "file", path], timeout=3000)


client_seq = [0]


def client_ns(method):
    """A fresh client namespace configured for method; returns its name."""
    client_seq[0] += 1
    k = client_seq[0]
    ns = "svs-c%d" % k
    run(["ip", "netns", "add", ns])
    # The veth pair stands for the wire between the client host and the server
    # host; the server's end carries the three real server addresses.
    srv = "c%dh" % k
    run(["ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", srv,
         "netns", SERVER_NS])
    run(["ip", "-n", SERVER_NS, "-batch", "-"], input="".join(
        "addr add %s/24 dev %s\n" % (a, srv) for a in SERVERS) + "link set %s up\n" % srv)
    # Every method sees the same routes: the virtual addresses go towards the servers.
    run(["ip", "-n", ns, "-batch", "-"], input="link set lo up\naddr add %s/24 dev eth0\n"
        "link set eth0 up\nroute add 10.0.9.0/24 via %s\n" % (CLIENT_IP, SERVERS[0]))
    run(nsx(ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse; "
            "echo '1024 65535' > /proc/sys/net/ipv4/ip_local_port_range"))
    vs = "%s:%d" % (VIP, REDIS_PORT)
    if method == "sock_vs":
        rules = "-A -t %s -s rr\n" % vs + "".join(
            "-a -t %s -r %s:%d -w 1\n" % (vs, s, REDIS_PORT) for s in SERVERS)
        run(nsx(ns, ADM, "-R"), input=rules)
    elif method in ("ipvs-nat", "ipvs-dr"):
        fwd = "-m" if method == "ipvs-nat" else "-g"
        rules = "-A -t %s -s rr\n" % vs + "".join(
            "-a -t %s -r %s:%d %s -w 1\n" % (vs, s, REDIS_PORT, fwd) for s in SERVERS)
        run(nsx(ns, "ipvsadm", "-R"), input=rules)
    elif method == "iptables":
        n = len(SERVERS)
        for i, s in enumerate(SERVERS):
            stat = [] if i == n - 1 else ["-m", "statistic", "--mode", "random",
                                          "--probability", "%.5f" % (1.0 / (n - i))]
            run(nsx(ns, "iptables-legacy", "-t", "nat", "-A", "OUTPUT", "-d", VIP, "-p", "tcp",
                    "--dport", str(REDIS_PORT)) + stat +
                ["-j", "DNAT", "--to-destination", "%s:%d" % (s, REDIS_PORT)])
    elif method == "direct-nomod":
        if sock_vs_loaded():
            run(["rmmod", "sock_vs"])
        nomod[0] = True
    elif method == "bpf":
        bpf_services([(VIP, REDIS_PORT, 6, [(s, REDIS_PORT) for s in SERVERS])])
        bpf_attach()
    elif method == "nftables":
        m = ", ".join("%d : %s" % (i, s) for i, s in enumerate(SERVERS))
        rules = ("table ip svsbench {\n chain out {\n  type nat hook output priority -100;\n"
                 "  ip daddr %s tcp dport %d dnat to numgen inc mod %d map { %s }\n }\n}\n"
                 % (VIP, REDIS_PORT, len(SERVERS), m))
        run(nsx(ns, "nft", "-f", "-"), input=rules)
    elif method != "direct":
        raise ValueError(method)
    return ns


nomod = [False]


def drop_ns(ns):
    bpf_detach()
    if nomod[0]:
        run(["insmod", KO])
        nomod[0] = False
    # The veth pair first: deleting a namespace is asynchronous, and the
    # server's end must not keep the real server addresses meanwhile.
    run(["ip", "-n", ns, "link", "del", "eth0"], check=False)
    run(["ip", "netns", "del", ns], check=False)


def target(method):
    return SERVERS[0] if method.startswith("direct") else VIP


# ---------------------------------------------------------------- workloads

HOLD = """
import socket, sys
socks = [socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30) for _ in range(30)]
print("held", flush=True)
sys.stdin.read()
"""


def check_spread(ns, method):
    """Which real servers 30 new connections reach: the server's local addresses
    (IPVS-DR's packets keep the virtual address, so there IPVS's connection table)."""
    p = subprocess.Popen(nsx(ns, "python3", "-c", HOLD, target(method), str(REDIS_PORT)),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if p.stdout.readline().strip() != "held":
            fail("check %s: connections failed: %s" % (method, p.stderr.read()[-500:]))
            return
        got = dict.fromkeys(SERVERS, 0)
        if method == "ipvs-dr":
            # IPVS's connection table: "TCP 14:59 ESTABLISHED client virtual real".
            for line in run(nsx(ns, "ipvsadm", "-L", "-n", "-c")).stdout.splitlines():
                f = line.split()
                if len(f) >= 6 and f[0] == "TCP" and f[2] == "ESTABLISHED":
                    real = f[5].rsplit(":", 1)[0]
                    if real in got:
                        got[real] += 1
        else:
            out = run(nsx(SERVER_NS, "ss", "-tnH", "state", "established",
                          "( sport = :%d )" % REDIS_PORT)).stdout
            for line in out.splitlines():
                f = line.split()
                if len(f) >= 3 and f[2].rsplit(":", 1)[0] in got:
                    got[f[2].rsplit(":", 1)[0]] += 1
    finally:
        p.stdin.close()
        p.wait(timeout=60)
    counts = [got[a] for a in SERVERS]
    hit = sum(1 for g in counts if g > 0)
    want = 1 if method.startswith("direct") else len(SERVERS)
    log("check %-9s connections per real server %s" % (method, counts))
    if hit != want or sum(counts) != 30:
        fail("check %s: %d real servers reached (want %d), %d connections (want 30): %s"
             % (method, hit, want, sum(counts), counts))
    row("check", method, 0, "servers_hit", hit)
    for i, g in enumerate(counts, 1):
        row("check", method, 0, "conns_s%d" % i, g)


NSTAT = ["TcpExtTCPSynRetrans", "TcpRetransSegs", "TcpExtListenOverflows", "TcpExtListenDrops"]


def nstat(ns):
    """Absolute TCP counters of a namespace."""
    r = run(nsx(ns, "nstat", "-az") + NSTAT, check=False)
    out = dict.fromkeys(NSTAT, 0)
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in out:
            out[f[0]] = int(f[1])
    return out


def all_nstat(ns):
    """Counters of the client namespace and of the server's."""
    return nstat(ns), nstat(SERVER_NS)


def redis_cmd(method, n, keepalive):
    """The measured redis-benchmark command line (on the client's vCPU)."""
    cmd = ["taskset", "-c", CLIENT_CPUS, "redis-benchmark", "-h", target(method), "-p", str(REDIS_PORT),
           "-c", str(CLIENTS), "-P", "1", "-n", str(n), "-t", "ping", "--csv"]
    return cmd if keepalive else cmd + ["-k", "0"]


def redis_bench(ns, method, rep, workload, n, keepalive):
    cmd = redis_cmd(method, n, keepalive)
    c0, s0 = all_nstat(ns)
    r = run(nsx(ns, *cmd), check=False, timeout=6000)
    c1, s1 = all_nstat(ns)
    row(workload, method, rep, "client_syn_retrans", c1["TcpExtTCPSynRetrans"] - c0["TcpExtTCPSynRetrans"])
    row(workload, method, rep, "client_retrans", c1["TcpRetransSegs"] - c0["TcpRetransSegs"])
    row(workload, method, rep, "server_listen_drops",
        s1["TcpExtListenDrops"] - s0["TcpExtListenDrops"])
    row(workload, method, rep, "server_retrans", s1["TcpRetransSegs"] - s0["TcpRetransSegs"])
    got = {}
    for line in r.stdout.splitlines():
        f = [x.strip('"') for x in line.split(",")]
        if len(f) >= 3 and f[0] in ("PING_INLINE", "PING_MBULK"):
            got[f[0]] = (f[1], f[2])
    if r.returncode != 0 or len(got) != 2:
        fail("%s %s rep %d: redis-benchmark exit %d, out %r err %r"
             % (workload, method, rep, r.returncode, r.stdout[-500:], r.stderr[-500:]))
        return
    for test, (rps, lat) in sorted(got.items()):
        row(workload, method, rep, test + "_rps", rps)
        row(workload, method, rep, test + "_avg_ms", lat)
    log("%-7s %-9s rep %d: %s; client SYN retransmits %d, server listen drops %d"
        % (workload, method, rep, " ".join("%s %s req/s" % (t, v[0]) for t, v in sorted(got.items())),
           c1["TcpExtTCPSynRetrans"] - c0["TcpExtTCPSynRetrans"],
           s1["TcpExtListenDrops"] - s0["TcpExtListenDrops"]))


def redis_workloads():
    for rep in range(1, REPS + 1):
        k = (rep - 1) % len(METHODS)
        order = METHODS[k:] + METHODS[:k]
        log("rep %d/%d, order %s" % (rep, REPS, " ".join(order)))
        for method in order:
            ns = client_ns(method)
            try:
                if rep == 1:
                    check_spread(ns, method)
                redis_bench(ns, method, rep, "steady", STEADY_N, True)
                redis_bench(ns, method, rep, "connect", CONNECT_N, False)
            finally:
                drop_ns(ns)


def ip_of(i, base):
    return "%d.%d.%d.%d" % (base[0], base[1] + (i >> 16), (i >> 8) & 255, i & 255)


def cc_rules(nsvc):
    """nsvc services: the measured one (CC_VIP, rr over the servers) and nsvc - 1 others."""
    vs = "%s:%d" % (CC_VIP, CC_PORT)
    lines = ["-A -t %s -s rr" % vs] + ["-a -t %s -r %s:%d -w 1" % (vs, s, CC_PORT) for s in SERVERS]
    for i in range(1, nsvc):
        v = "%s:%d" % (ip_of(i, (172, 16)), CC_PORT)
        lines.append("-A -t %s -s rr" % v)
        lines.append("-a -t %s -r %s:%d -w 1" % (v, SERVERS[i % len(SERVERS)], CC_PORT))
    return "\n".join(lines) + "\n"


def timed_in_ns(ns, cmd, input_file=None, cpu=False):
    """Wall seconds of cmd run in ns (bash's `time`, without ip-netns-exec's own cost);
    with cpu=True (wall, user + system seconds).  Under icount the guest's clock runs
    at real time while the guest waits (for the host's 9p, or for a host CPU busy
    with another guest), so wall time carries the host's load; CPU time (the tool
    and the kernel working for it) does not."""
    redir = " < %s" % input_file if input_file else ""
    r = run(nsx(ns, "bash", "-c", "TIMEFORMAT='%%R %%U %%S'; time ( %s%s > /dev/null )"
                % (cmd, redir)), timeout=6000)
    wall, user, system = (float(x) for x in r.stderr.strip().splitlines()[-1].split())
    return (wall, user + system) if cpu else wall


def connect_cost():
    os.makedirs(WORK, exist_ok=True)
    direct = ["%s:%d" % (s, CC_PORT) for s in SERVERS]
    via = ["%s:%d" % (CC_VIP, CC_PORT)]
    for nsvc in CC_SERVICES:
        ns = client_ns("direct")
        try:
            path = os.path.join(WORK, "cc-%d.rules" % nsvc)
            with open(path, "w") as f:
                f.write(cc_rules(nsvc))
            secs = timed_in_ns(ns, ADM + " -R", path)
            row("connect_cost", "sock_vs", 0, "load_s_s%d" % nsvc, "%.3f" % secs)
            r = run(nsx(ns, ADM, "-L", "-n"))
            have = sum(1 for line in r.stdout.splitlines() if line.startswith("TCP "))
            log("connect_cost: %d services loaded in %.2fs (listing shows %d)" % (nsvc, secs, have))
            if have != nsvc:
                fail("connect_cost: %d services configured, -L shows %d" % (nsvc, have))
            bpf_services([("10.%d.%d.%d" % (3 + i // 62500, i // 250 % 250, i % 250 + 1), CC_PORT, 6,
                           [(SERVERS[0], CC_PORT)])
                          for i in range(nsvc - 1)] +
                         [(BPF_CC_VIP, CC_PORT, 6, [(s, CC_PORT) for s in SERVERS])])
            bvia = ["%s:%d" % (BPF_CC_VIP, CC_PORT)]
            runs = [("direct", 1, direct), ("sock_vs", 1, via), ("bpf", 1, bvia),
                    ("direct", 2, direct), ("sock_vs", 2, via), ("bpf", 2, bvia)]
            for rep in range(1, REPS + 1):
                k = (rep - 1) % len(runs)
                for method, threads, dests in runs[k:] + runs[:k]:
                    cpus = CLIENT_CPUS if threads == 1 else BOTH_CPUS
                    if method == "bpf":
                        bpf_attach()
                    try:
                        r = run(nsx(ns, "taskset", "-c", cpus, CC, "connect", str(threads),
                                    str(CC_SECONDS), *dests), check=False, timeout=3000)
                    finally:
                        bpf_detach()
                    f = r.stdout.split()
                    if r.returncode != 0 or len(f) < 8:
                        fail("connect_cost %s %d svc %d thr rep %d: exit %d %r %r"
                             % (method, nsvc, threads, rep, r.returncode, r.stdout, r.stderr))
                        continue
                    row("connect_cost", method, rep, "cps_s%d_t%d" % (nsvc, threads), f[5])
                    if len(f) >= 12:
                        row("connect_cost", method, rep, "p50us_s%d_t%d" % (nsvc, threads), f[9])
                        row("connect_cost", method, rep, "p99us_s%d_t%d" % (nsvc, threads), f[11])
                    log("connect_cost %-7s %6d svc %d thr rep %d: %s connects/s (errors %s), connect p50 %s us "
                        "p99 %s us" % (method, nsvc, threads, rep, f[5], f[7], f[9] if len(f) >= 12 else "-",
                                       f[11] if len(f) >= 12 else "-"))
        finally:
            run(nsx(ns, ADM, "-C"), check=False)
            drop_ns(ns)


SCALE_PORT = 9003      # the scaling phase's server: 2 accepting threads, not pinned
SCALE_METHODS = ["direct", "sock_vs", "bpf", "ipvs-nat"]


def scaling_ns(method):
    """A client namespace for one scaling run (one at a time: every client namespace
    has the same address, the server answers through the newest pair)."""
    ns = client_ns("direct")
    vs = "%s:%d" % (CC_VIP, SCALE_PORT)
    rules = "-A -t %s -s rr\n" % vs + "".join(
        "-a -t %s -r %s:%d -w 1%s\n" % (vs, s, SCALE_PORT, " -m" if method == "ipvs-nat" else "")
        for s in SERVERS)
    if method == "sock_vs":
        run(nsx(ns, ADM, "-R"), input=rules)
    elif method == "ipvs-nat":
        run(nsx(ns, "ipvsadm", "-R"), input=rules)
    return ns


def scaling():
    """Connects/s from 1 and 2 client threads through each method, in a guest with 2 vCPUs
    and no icount (multi-threaded TCG: each vCPU a host thread).  Every run in a fresh client
    namespace (IPVS's hooks and conntrack would otherwise tax the others' packets); the
    server, 2 accepting threads, may run on either vCPU.  Runs, threads and methods
    interleaved, order rotated each repetition."""
    if ICOUNT or NCPU < 2:
        log("scaling: skipped (needs 2 vCPUs without icount; make bench runs it in its own guest)")
        return
    d = os.path.join(WORK, SERVER_NS)
    subprocess.Popen(nsx(SERVER_NS, CC, "serve", str(SCALE_PORT), "2"),
                     stdout=open(d + "/scc.log", "w"), stderr=subprocess.STDOUT)
    time.sleep(1)
    dests = {"direct": ["%s:%d" % (s, SCALE_PORT) for s in SERVERS],
             "sock_vs": ["%s:%d" % (CC_VIP, SCALE_PORT)], "ipvs-nat": ["%s:%d" % (CC_VIP, SCALE_PORT)],
             "bpf": ["%s:%d" % (BPF_CC_VIP, SCALE_PORT)]}
    bpf_services([(BPF_CC_VIP, SCALE_PORT, 6, [(s, SCALE_PORT) for s in SERVERS])])
    runs = [(m, t) for t in (1, 2) for m in SCALE_METHODS]
    for rep in range(1, REPS + 1):
        k = (rep - 1) % len(runs)
        for method, threads in runs[k:] + runs[:k]:
            ns = scaling_ns(method)
            try:
                if method == "bpf":
                    bpf_attach()
                r = run(nsx(ns, CC, "connect", str(threads), str(CC_SECONDS), *dests[method]),
                        check=False, timeout=3000)
            finally:
                run(nsx(ns, ADM, "-C"), check=False)
                drop_ns(ns)
            f = r.stdout.split()
            if r.returncode != 0 or len(f) < 12:
                fail("scaling %s %d thr rep %d: exit %d %r %r"
                     % (method, threads, rep, r.returncode, r.stdout, r.stderr))
                continue
            row("scaling", method, rep, "cps_t%d" % threads, f[5])
            row("scaling", method, rep, "p50us_t%d" % threads, f[9])
            row("scaling", method, rep, "p99us_t%d" % threads, f[11])
            log("scaling %-8s %d thr rep %d: %s connects/s (errors %s), p50 %s us p99 %s us"
                % (method, threads, rep, f[5], f[7], f[9], f[11]))


def sock_vs_loaded():
    return run(["grep", "-q", "^sock_vs ", "/proc/modules"], check=False).returncode == 0


def micro(ns, op, n, *dest):
    r = run(nsx(ns, "taskset", "-c", CLIENT_CPUS, CC, "micro", op, str(n), *dest), check=False, timeout=3000)
    f = r.stdout.split()
    if r.returncode != 0 or len(f) < 6:
        fail("micro %s: exit %d %r %r" % (op, r.returncode, r.stdout, r.stderr))
        return None
    return float(f[5])


def unbalanced():
    """Traffic sock_vs does not balance, module absent vs loaded with services;
    then per datagram on a balanced connected UDP socket vs the real server."""
    ns = client_ns("direct")
    def rules_of(unconn):
        return "".join("-A -%s 10.2.%d.%d:%d -s rr%s\n-a -%s 10.2.%d.%d:%d -r %s:%d\n"
                       % (p, i // 250, i % 250 + 1, port, " --unconnected" if unconn and p == "u" else "",
                          p, i // 250, i % 250 + 1, port, SERVERS[0], port)
                       for p, port in (("t", CC_PORT), ("u", UDP_PORT)) for i in range(UNB_SERVICES))
    # unconn: the same services, the UDP ones --unconnected (its sendmsg kprobes installed).
    states = ["absent", "loaded", "unconn", "bpf"]
    bpf_services([("10.2.%d.%d" % (i // 250, i % 250 + 1), port, proto, [(SERVERS[0], port)])
                  for proto, port in ((6, CC_PORT), (17, UDP_PORT)) for i in range(UNB_SERVICES)])
    try:
        for rep in range(1, REPS + 1):
            k = (rep - 1) % len(states)
            for state in states[k:] + states[:k]:
                if state in ("absent", "bpf"):
                    if sock_vs_loaded():
                        run(["rmmod", "sock_vs"])
                    if state == "bpf":
                        bpf_attach()
                else:
                    if not sock_vs_loaded():
                        run(["insmod", KO])
                    run(nsx(ns, ADM, "-C"))
                    run(nsx(ns, ADM, "-R"), input=rules_of(state == "unconn"))
                    have = sum(1 for line in run(nsx(ns, ADM, "-L", "-n")).stdout.splitlines()
                               if line.startswith(("TCP ", "UDP ")))
                    if have != 2 * UNB_SERVICES:
                        fail("unbalanced: %d services configured, -L shows %d" % (2 * UNB_SERVICES, have))
                try:
                    for op in UNB_OPS:
                        v = micro(ns, op, UNB_N // 10 if op == "tcp" else UNB_N)
                        if v is not None:
                            row("unbalanced", state, rep, "ns_" + op, "%.1f" % v)
                            log("unbalanced %-7s rep %d %-12s %8.1f ns/op" % (state, rep, op, v))
                finally:
                    bpf_detach()
    finally:
        if not sock_vs_loaded():
            run(["insmod", KO])
        drop_ns(ns)
    # Balanced connected UDP: one real server, so both paths reach the same socket.
    ns = client_ns("direct")
    try:
        run(nsx(ns, ADM, "-R"), input="-A -u %s:%d -s rr\n-a -u %s:%d -r %s:%d\n"
            % (CC_VIP, UDP_PORT, CC_VIP, UDP_PORT, SERVERS[0], UDP_PORT))
        bpf_services([(BPF_CC_VIP, UDP_PORT, 17, [(SERVERS[0], UDP_PORT)])])
        runs = [("direct", "%s:%d" % (SERVERS[0], UDP_PORT)), ("sock_vs", "%s:%d" % (CC_VIP, UDP_PORT)),
                ("bpf", "%s:%d" % (BPF_CC_VIP, UDP_PORT))]
        for rep in range(1, REPS + 1):
            k = (rep - 1) % len(runs)
            for method, dest in runs[k:] + runs[:k]:
                if method == "bpf":
                    bpf_attach()
                try:
                    v = micro(ns, "udpconn", UNB_N, dest)
                finally:
                    bpf_detach()
                if v is not None:
                    row("udp_balanced", method, rep, "ns_dgram", "%.1f" % v)
                    log("udp_balanced %-7s rep %d %8.1f ns per send+recv" % (method, rep, v))
        # Unconnected: sendto + recvfrom, direct (with the service's sendmsg hook installed) vs
        # to the --unconnected virtual address (one binding, then each datagram rewritten).
        run(nsx(ns, ADM, "-E", "-u", "%s:%d" % (CC_VIP, UDP_PORT), "-s", "rr", "--unconnected"))
        runs = [("direct", "%s:%d" % (SERVERS[0], UDP_PORT)), ("sock_vs", "%s:%d" % (CC_VIP, UDP_PORT))]
        for rep in range(1, REPS + 1):
            k = (rep - 1) % len(runs)
            for method, dest in runs[k:] + runs[:k]:
                v = micro(ns, "udpunconn", UNB_N, dest)
                if v is not None:
                    row("udp_unconn", method, rep, "ns_dgram", "%.1f" % v)
                    log("udp_unconn %-7s rep %d %8.1f ns per sendto+recvfrom" % (method, rep, v))
    finally:
        run(nsx(ns, ADM, "-C"), check=False)
        drop_ns(ns)


def meminfo_kb():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k in ("Slab", "Percpu"):
                out[k] = int(v.split()[0])
    return out


def settle():
    run(["sync"])
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    time.sleep(1)


def control_plane():
    path = os.path.join(WORK, "cp.rules")
    lines = []
    for i in range(CP_SERVICES):
        vs = "%s:80" % ip_of(i + 1, (172, 16))
        lines.append("-A -t %s -s rr" % vs)
        for r in range(CP_REALS):
            lines.append("-a -t %s -r %s:8080 -m -w 1" % (vs, ip_of(i * CP_REALS + r + 1, (10, 64))))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    tools = [("sock_vs", ADM), ("ipvs", "ipvsadm")]
    for rep in range(1, CP_REPS + 1):
        for method, tool in tools[(rep - 1) % 2:] + tools[:(rep - 1) % 2]:
            ns = client_ns("direct")
            try:
                settle()
                m0 = meminfo_kb()
                restore, restore_cpu = timed_in_ns(ns, tool + " -R", path, cpu=True)
                settle()
                m1 = meminfo_kb()
                listing, list_cpu = timed_in_ns(ns, tool + " -L -n", cpu=True)
                r = run(nsx(ns, tool, "-L", "-n"))
                nsvc = sum(1 for line in r.stdout.splitlines() if line.startswith("TCP "))
                nreal = sum(1 for line in r.stdout.splitlines() if line.lstrip().startswith("->")
                            and "RemoteAddress" not in line)
                if (nsvc, nreal) != (CP_SERVICES, CP_SERVICES * CP_REALS):
                    fail("control %s: -L shows %d services, %d real servers" % (method, nsvc, nreal))
                flush, flush_cpu = timed_in_ns(ns, tool + " -C", cpu=True)
                slab = m1["Slab"] - m0["Slab"]
                percpu = m1["Percpu"] - m0["Percpu"]
                for metric, v in (("restore_s", "%.3f" % restore), ("list_s", "%.3f" % listing),
                                  ("flush_s", "%.3f" % flush), ("restore_cpu_s", "%.3f" % restore_cpu),
                                  ("list_cpu_s", "%.3f" % list_cpu), ("flush_cpu_s", "%.3f" % flush_cpu),
                                  ("slab_kb", slab),
                                  ("percpu_kb", percpu), ("kmem_kb", slab + percpu)):
                    row("control", method, rep, metric, v)
                log("control %-7s rep %d: -R %.2fs (CPU %.2fs), -L -n %.2fs (CPU %.2fs), -C %.2fs,"
                    " Slab %+d kB, Percpu %+d kB"
                    % (method, rep, restore, restore_cpu, listing, list_cpu, flush, slab, percpu))
            finally:
                drop_ns(ns)


def profile():
    """perf (cpu-clock, whole guest) while connect_cost runs through sock_vs and directly:
    the share of samples in the module and in the kprobe machinery."""
    if run(["which", "perf"], check=False).returncode != 0:
        fail("profile: perf not found (apt-get install linux-perf)")
        return
    ns = client_ns("direct")
    try:
        run(nsx(ns, ADM, "-R"), input="-A -t %s:%d -s rr\n" % (CC_VIP, CC_PORT) + "".join(
            "-a -t %s:%d -r %s:%d\n" % (CC_VIP, CC_PORT, s, CC_PORT) for s in SERVERS))
        runs = [(m, nsx(ns, "taskset", "-c", CLIENT_CPUS, CC, "connect", "1", str(CC_SECONDS * 2), *d))
                for m, d in (("sock_vs", ["%s:%d" % (CC_VIP, CC_PORT)]),
                             ("direct", ["%s:%d" % (s, CC_PORT) for s in SERVERS]))]
        # The listing of a control-plane-sized table (sockvsadm -L -n is the slower one).
        path = os.path.join(WORK, "cp.rules")
        if os.path.exists(path):
            runs.append(("sockvsadm_list", nsx(ns, "bash", "-c", ADM + " -L -n > /dev/null")))
        for method, cmd in runs:
            if method == "sockvsadm_list":
                run(nsx(ns, ADM, "-C"))
                run(nsx(ns, "bash", "-c", "%s -R < %s" % (ADM, path)), timeout=6000)
            data = os.path.join(WORK, "perf-%s.data" % method)
            r = run(["perf", "record", "-q", "-e", "cpu-clock", "-a", "-o", data, "--"] + cmd,
                    check=False, timeout=6000)
            if r.returncode != 0:
                fail("profile %s: perf record exit %d: %s" % (method, r.returncode, r.stderr[-500:]))
                continue
            rep = run(["perf", "report", "-i", data, "--stdio", "--sort", "dso,sym", "--percent-limit",
                       "0.01"], check=False, timeout=900)
            with open(os.path.join(RESULTS, "perf-%s.txt" % method), "w") as f:
                f.write(rep.stdout)
            mod = kp = 0.0
            top = []
            for line in rep.stdout.splitlines():
                fld = line.split()
                if len(fld) < 4 or not fld[0].endswith("%") or line.lstrip().startswith("#"):
                    continue
                pct = float(fld[0].rstrip("%"))
                sym = fld[-1]
                if fld[1] == "[sock_vs]" or sym.startswith("svs_"):
                    mod += pct
                if "kprobe" in sym or sym.startswith("ftrace_") or "arch_ftrace" in sym:
                    kp += pct
                if len(top) < 12:
                    top.append("%s %s %s" % (fld[0], fld[1], sym))
            row("profile", method, 1, "pct_sock_vs_module", "%.2f" % mod)
            row("profile", method, 1, "pct_kprobe_ftrace", "%.2f" % kp)
            log("profile %-7s: %.2f%% of samples in [sock_vs], %.2f%% in kprobe/ftrace; top: %s"
                % (method, mod, kp, "; ".join(top[:6])))
    finally:
        run(nsx(ns, ADM, "-C"), check=False)
        drop_ns(ns)
    profile_connect()


PROF_HZ = 20000


def profile_connect():
    """perf over the whole guest while `redis-benchmark -k 0` runs through direct (module not
    loaded), sock_vs and the BPF balancer: guest time per request by kernel symbol, written to
    $SVS_RESULTS/profile-k0-METHOD.tsv (symbol, us per request) for the report's comparison."""
    for method in ("direct-nomod", "sock_vs", "bpf"):
        ns = client_ns(method)
        try:
            data = os.path.join(WORK, "perf-k0-%s.data" % method)
            r = run(["perf", "record", "-q", "-e", "cpu-clock", "-F", str(PROF_HZ), "-a", "-o", data, "--"]
                    + nsx(ns, *redis_cmd(method, CONNECT_N, False)), check=False, timeout=6000)
            if r.returncode != 0:
                fail("profile k0 %s: perf record exit %d: %s" % (method, r.returncode, r.stderr[-500:]))
                continue
            rep = run(["perf", "report", "-i", data, "--stdio", "--sort", "dso,sym", "-F", "sample,dso,sym",
                       "--percent-limit", "0"], check=False, timeout=900)
        finally:
            drop_ns(ns)
        per = {}
        for line in rep.stdout.splitlines():
            f = line.split(None, 3)
            if len(f) == 4 and f[0].isdigit() and f[2] in ("[k]", "[.]"):
                # one sample = 1/PROF_HZ s of guest time; two tests of CONNECT_N requests
                key = "%s %s" % (f[1], f[3].strip())
                per[key] = per.get(key, 0) + int(f[0]) * 1e6 / PROF_HZ / (2 * CONNECT_N)
        with open(os.path.join(RESULTS, "profile-k0-%s.tsv" % method), "w") as out:
            for sym, us in sorted(per.items(), key=lambda kv: -kv[1]):
                out.write("%s\t%.4f\n" % (sym, us))
        row("profile", method, 1, "k0_us_per_req", "%.2f" % sum(per.values()))
        log("profile k0 %-12s: %.2f us of guest time per request in %d symbols"
            % (method, sum(per.values()), len(per)))


def main():
    global rows_f
    rows_f = open(os.path.join(RESULTS, "rows.tsv"), "w")
    with open(os.path.join(RESULTS, "meta.tsv"), "w") as meta:
        for k, v in (("kernel", KVER), ("quick", int(QUICK)), ("reps", REPS), ("steady_n", STEADY_N),
                     ("connect_n", CONNECT_N), ("clients", CLIENTS), ("cc_seconds", CC_SECONDS),
                     ("cc_services", ",".join(map(str, CC_SERVICES))), ("cp_services", CP_SERVICES),
                     ("cp_reals", CP_REALS), ("cp_reps", CP_REPS), ("unb_n", UNB_N),
                     ("unb_services", UNB_SERVICES), ("guest_cpus", os.cpu_count()),
                     ("icount", os.environ.get("SVS_BENCH_ICOUNT", "off")),
                     ("redis", run(["redis-server", "--version"]).stdout.split()[2]),
                     ("ipvsadm", run(["ipvsadm", "--version"], check=False).stdout.strip()),
                     ("iptables", run(["iptables-legacy", "--version"]).stdout.strip()),
                     ("nft", run(["nft", "--version"]).stdout.strip()),
                     ("date", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))):
            meta.write("%s\t%s\n" % (k, v))
    log("kernel %s, %s mode" % (KVER, "quick" if QUICK else "full"))
    setup_servers()
    phases = [("redis", redis_workloads),
              ("connect_cost", connect_cost), ("scaling", scaling), ("unbalanced", unbalanced),
              ("control", control_plane)]
    if not QUICK:
        phases.append(("profile", profile))
    only = os.environ.get("SVS_BENCH_ONLY", "")
    for name, fn in phases:
        if only and name not in only.split(","):
            continue
        log("=== %s" % name)
        t = time.monotonic()
        try:
            fn()
        except Exception as e:  # noqa: BLE001  record and go on with the next phase
            fail("%s: %s" % (name, e))
        with open(os.path.join(RESULTS, "meta.tsv"), "a") as meta:
            meta.write("phase_s_%s\t%.0f\n" % (name, time.monotonic() - t))
    dmesg = run(["dmesg"]).stdout
    bad = [line for line in dmesg.splitlines()
           if any(p in line for p in ("WARNING:", "BUG:", "Oops", "Call Trace", "lockdep"))]
    if bad:
        fail("kernel log: %s" % bad[:5])
    row("check", "kernel_log", 0, "bad_lines", len(bad))
    log("done in %.0fs, %d failures" % (time.monotonic() - t0, len(failures)))
    for f in failures:
        print("bench failure: " + f)
    return 1 if failures else 0


sys.exit(main())
