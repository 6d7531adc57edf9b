#!/usr/bin/env python3
"""Round robin with real redis: three redis-server on 127.0.0.1:7001-7003
behind 10.255.0.1:6379 (rr). redis-cli and redis-benchmark through the VIP;
every server's total_connections_received grows equally (within 1), and the
--stats counters equal those growths exactly."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP, VPORT = svs.VIP4, 6379
SVC = "%s:%d" % (VIP, VPORT)
PORTS = [7001, 7002, 7003]
N_CLI = 30


def main():
    svs.fresh_config()
    step("start redis-server on 127.0.0.1:%s" % PORTS)
    servers = {p: svs.RedisServer(p) for p in PORTS}

    adm_ok("-A", "-t", SVC, "-s", "rr")
    for p in PORTS:
        adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:%d" % p, "-w", "1")
    adm_ok("-Z")
    st = svs.stats()
    check_eq(st.service("TCP", SVC)["conns"], 0, "Conns is 0 after -Z")
    base = {p: s.total_connections() for p, s in servers.items()}

    def deltas():
        return {p: s.total_connections() - base[p] for p, s in servers.items()}

    step("%d x `redis-cli -h %s -p %d ping` (one new connection each)" % (N_CLI, VIP, VPORT))
    for i in range(N_CLI):
        r = svs.run(["redis-cli", "-h", VIP, "-p", str(VPORT), "ping"], timeout=60)
        if r.returncode != 0 or r.stdout.strip() != "PONG":
            raise svs.Fail("redis-cli #%d through the VIP: exit %d, stdout %r, stderr %r"
                           % (i, r.returncode, r.stdout, r.stderr))
    d = deltas()
    check_eq(d, {p: N_CLI // len(PORTS) for p in PORTS},
             "connections per server after %d sequential redis-cli (rr exact)" % N_CLI)
    st = svs.stats()
    check_eq(st.service("TCP", SVC)["dests"], {"127.0.0.1:%d" % p: d[p] for p in PORTS},
             "--stats per-server Conns equal the redis connection counts")

    step("redis-benchmark -c 30 -n 3000 -t ping through the VIP")
    svs.redis_benchmark(VIP, VPORT, 30, 3000)
    d = deltas()
    svs.log("  connections per server so far: %r" % d)
    check(max(d.values()) - min(d.values()) <= 1, "rr: connection counts within 1 of each other", d)
    check(sum(d.values()) >= N_CLI + 2 * 30, "benchmark opened its 2x30 connections through the VIP", d)
    st = svs.stats()
    svc = st.service("TCP", SVC)
    check_eq(svc["dests"], {"127.0.0.1:%d" % p: d[p] for p in PORTS},
             "--stats per-server Conns equal the redis connection counts")
    check_eq(svc["conns"], sum(d.values()), "--stats service Conns is the sum")
    check_eq(svc["refused"], 0, "--stats Refused is 0")

    step("-Z zeroes the counters")
    adm_ok("-Z")
    svc = svs.stats().service("TCP", SVC)
    check_eq((svc["conns"], svc["refused"], set(svc["dests"].values())), (0, 0, {0}),
             "all counters 0 after -Z")

    step("redis-benchmark directly against one server and through the VIP")
    svs.redis_benchmark("127.0.0.1", PORTS[0], 10, 1000)
    svs.redis_benchmark(VIP, VPORT, 10, 1000)
    svc = svs.stats().service("TCP", SVC)
    check(svc["conns"] >= 20, "the VIP benchmark's connections were scheduled (Conns=%d)" % svc["conns"])
    check_eq(sum(svc["dests"].values()), svc["conns"], "per-server Conns add up to the service's")


svs.case(main)
