#!/usr/bin/env python3
"""Weighted round robin with real redis: weights 1, 2, 3 on 127.0.0.1:7001-7003
behind 10.255.0.1:6379 (wrr). 36 sequential connections (6 full wrr cycles)
must land exactly 6 / 12 / 18, in an order that IPVS's wrr produces, and the
servers' own connection counts and --stats agree."""

import itertools
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP, VPORT = svs.VIP4, 6379
SVC = "%s:%d" % (VIP, VPORT)
WEIGHTS = {7001: 1, 7002: 2, 7003: 3}
CYCLES = 6


def ipvs_wrr_cycle(order, weights):
    """One full cycle of IPVS's wrr for real servers in list order `order`:
    passes with current weight cw = max .. 1 (gcd 1 here), each pass takes,
    in list order, every server whose weight >= cw."""
    seq = []
    for cw in range(max(weights.values()), 0, -1):
        seq += [s for s in order if weights[s] >= cw]
    return seq


def matches_ipvs_wrr(seq, weights):
    """Is seq a contiguous piece of IPVS's wrr sequence for some list order?"""
    for order in itertools.permutations(weights):
        cycle = ipvs_wrr_cycle(order, weights)
        reps = cycle * (len(seq) // len(cycle) + 2)
        for start in range(len(cycle)):
            if reps[start:start + len(seq)] == seq:
                return order
    return None


def main():
    svs.fresh_config()
    step("start redis-server on 127.0.0.1:%s" % list(WEIGHTS))
    servers = {p: svs.RedisServer(p) for p in WEIGHTS}

    adm_ok("-A", "-t", SVC, "-s", "wrr")
    for p, w in WEIGHTS.items():
        adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:%d" % p, "-w", str(w))
    adm_ok("-Z")
    base = {p: s.total_connections() for p, s in servers.items()}

    n = CYCLES * sum(WEIGHTS.values())
    step("%d sequential connections through %s" % (n, SVC))
    seq = [svs.redis_port_via(VIP, VPORT) for _ in range(n)]
    svs.log("  sequence: %s" % " ".join(str(p) for p in seq))

    counts = svs.tally(seq)
    check_eq({p: counts.get(p, 0) for p in WEIGHTS}, {p: w * CYCLES for p, w in WEIGHTS.items()},
             "connections per server (client view) = weight x %d" % CYCLES)
    got = {p: s.total_connections() - base[p] for p, s in servers.items()}
    check_eq(got, {p: w * CYCLES for p, w in WEIGHTS.items()},
             "total_connections_received growth per server")
    for i in range(len(seq) - 5):
        window = svs.tally(seq[i:i + 6])
        if window != WEIGHTS:
            raise svs.Fail("connections %d..%d are not one full wrr cycle: %r" % (i, i + 5, window))
    check(True, "every 6 consecutive connections hold exactly weight-many of each server")
    order = matches_ipvs_wrr(seq, WEIGHTS)
    check(order is not None, "the sequence is IPVS wrr's (real-server list order %s)" % (order,), seq)

    st = svs.stats().service("TCP", SVC)
    check_eq(st["dests"], {"127.0.0.1:%d" % p: got[p] for p in WEIGHTS}, "--stats per-server Conns")
    check_eq((st["conns"], st["refused"]), (n, 0), "--stats service Conns / Refused")

    step("redis-benchmark through the wrr VIP (concurrent connects)")
    base = {p: s.total_connections() for p, s in servers.items()}
    svs.redis_benchmark(VIP, VPORT, 30, 3000)
    got = {p: s.total_connections() - base[p] for p, s in servers.items()}
    svs.log("  connections per server: %r" % got)
    total = sum(got.values())
    for p, w in WEIGHTS.items():
        share = total * w / sum(WEIGHTS.values())
        check(abs(got[p] - share) <= 3, "server %d got %d of %d connections, weight share %.1f (+-3)"
              % (p, got[p], total, share), got)


svs.case(main)
