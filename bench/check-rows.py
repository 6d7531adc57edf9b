#!/usr/bin/env python3
"""Check that a benchmark run produced every row it should (never a speed).

    bench/check-rows.py RAWDIR LABEL

Reads RAWDIR/rows.tsv, meta.tsv and host-meta.tsv (bench/guest/bench.py,
bench/run-all.sh) and prints one "PASS: LABEL ..." or "FAIL: LABEL ..." line
per group of rows; exits 1 if any failed.  Expected: for every method and
repetition, PING_INLINE and PING_MBULK rates (steady and -k 0); for every
service count, the load time and, per repetition, direct and sock_vs
connect rates from 1 and 2 threads; connect scaling from 1 and 2 threads
(2 vCPUs, no icount: RAWDIR/scaling/ in full mode); unbalanced-traffic costs with the module
absent and loaded, and balanced connected UDP per datagram; for sock_vs and ipvs and every control
plane repetition, restore/list/flush times and memory deltas; the per-method
servers-hit check (direct 1 server, every balancer all 3); a clean kernel log;
the guest's exit status 0.
"""

import collections
import os
import sys

METHODS = ["direct", "direct-nomod", "sock_vs", "bpf", "ipvs-nat", "ipvs-dr", "iptables", "nftables"]


def read(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def main():
    rawdir, label = sys.argv[1], sys.argv[2]
    meta = {r[0]: r[1] for r in read(os.path.join(rawdir, "meta.tsv")) + read(
        os.path.join(rawdir, "host-meta.tsv")) if len(r) >= 2}
    have = collections.defaultdict(dict)   # (workload, method, metric) -> {rep: value}
    # make bench's scaling guest (2 vCPUs, no icount) writes into scaling/.
    smeta = {r[0]: r[1] for r in read(os.path.join(rawdir, "scaling", "meta.tsv")) + read(
        os.path.join(rawdir, "scaling", "host-meta.tsv")) if len(r) >= 2}
    for sub in ("", "scaling"):
        for r in read(os.path.join(rawdir, sub, "rows.tsv")):
            if len(r) != 5:
                continue
            if sub and r[0] == "check":
                r[1] += "_scaling_guest"   # its own kernel log check
            elif sub and r[0] != "scaling":
                continue
            try:
                have[(r[0], r[1], r[3])][r[2]] = float(r[4])
            except ValueError:
                pass
    results = []

    def expect(name, keys, reps):
        missing = ["%s/%s/%s rep %s" % (k[0], k[1], k[2], rep) for k in keys for rep in reps
                   if str(rep) not in have.get(k, {})]
        results.append((not missing, name, missing))

    if "kernel" not in meta or int(meta.get("reps", "0")) < 1:
        print("FAIL: %s: no meta.tsv from the guest in %s (it did not run)" % (label, rawdir))
        return 1
    reps = range(1, int(meta.get("reps", "0")) + 1)
    cp_reps = range(1, int(meta.get("cp_reps", "0")) + 1)
    counts = [int(x) for x in meta.get("cc_services", "").split(",") if x]
    for w, what in (("steady", "steady redis-benchmark"), ("connect", "connect-heavy (-k 0)")):
        for m in METHODS:
            expect("%s %s rows for %s" % (what, m, label.split()[0]),
                   [(w, m, t + s) for t in ("PING_INLINE", "PING_MBULK") for s in ("_rps", "_avg_ms")],
                   reps)
    for n in counts:
        expect("connect cost rows at %d services" % n,
               [("connect_cost", m, "%s_s%d_t%d" % (k, n, t)) for m in ("direct", "sock_vs", "bpf")
                for t in (1, 2) for k in ("cps", "p50us", "p99us")], reps)
        expect("sockvsadm -R load time of %d services" % n,
               [("connect_cost", "sock_vs", "load_s_s%d" % n)], [0])
    # Scaling needs 2 vCPUs without icount: this guest (quick mode) or a guest of its own.
    sreps = range(1, int((smeta or meta).get("reps", "0")) + 1)
    expect("connect scaling rows (1 and 2 threads) for direct, sock_vs, bpf, ipvs-nat",
           [("scaling", m, "%s_t%d" % (k, t)) for m in ("direct", "sock_vs", "bpf", "ipvs-nat")
            for t in (1, 2) for k in ("cps", "p50us", "p99us")], sreps)
    if smeta:
        rc = smeta.get("guest_exit")
        results.append((rc == "0", "scaling guest run exit status 0", ["exit status %s" % rc]))
        bad = have.get(("check", "kernel_log_scaling_guest", "bad_lines"), {}).get("0")
        results.append((bad == 0, "kernel log clean after the scaling guest", ["bad lines: %s" % bad]))
    expect("unbalanced traffic rows, module absent, loaded, loaded with --unconnected services, BPF balancer",
           [("unbalanced", st, "ns_" + op) for st in ("absent", "loaded", "unconn", "bpf")
            for op in ("udp", "tcp", "getpeername", "getsockname")], reps)
    expect("balanced connected UDP rows, direct, sock_vs, BPF balancer",
           [("udp_balanced", m, "ns_dgram") for m in ("direct", "sock_vs", "bpf")], reps)
    expect("unconnected UDP rows, direct and sock_vs --unconnected",
           [("udp_unconn", m, "ns_dgram") for m in ("direct", "sock_vs")], reps)
    for m in ("sock_vs", "ipvs"):
        expect("control plane rows for %s (%s services)" % (m, meta.get("cp_services", "?")),
               [("control", m, x) for x in ("restore_s", "list_s", "flush_s", "restore_cpu_s",
                                            "list_cpu_s", "flush_cpu_s", "slab_kb",
                                            "percpu_kb", "kmem_kb")], cp_reps)
    for m in METHODS:
        got = have.get(("check", m, "servers_hit"), {}).get("0")
        want = 1 if m.startswith("direct") else 3
        results.append((got == want, "%s reaches %d server(s)" % (m, want),
                        ["servers hit: %s" % got]))
    bad = have.get(("check", "kernel_log", "bad_lines"), {}).get("0")
    results.append((bad == 0, "kernel log clean after the benchmarks", ["bad lines: %s" % bad]))
    rc = meta.get("guest_exit")
    results.append((rc == "0", "guest run exit status 0", ["exit status %s" % rc]))

    for ok, name, detail in results:
        print("%s: %s: %s%s" % ("PASS" if ok else "FAIL", label, name,
                               "" if ok else " (%s)" % "; ".join(detail[:6])))
    return 0 if all(r[0] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
