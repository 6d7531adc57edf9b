#!/usr/bin/env python3
"""Turn one guest's raw benchmark rows into a Markdown report and PNG charts.

    bench/report.py RAWDIR OUTDIR

RAWDIR holds rows.tsv (workload, method, rep, metric, value), meta.tsv (from
bench/guest/bench.py) and host-meta.tsv (from bench/run-all.sh).  Writes
OUTDIR/<kernel>.md and OUTDIR/<kernel>-<workload>.png (steady, connect,
connect_cost, control).  Medians over the repetitions, spread as min-max.
"""

import collections
import os
import statistics
import sys

METHODS = ["direct", "direct-nomod", "sock_vs", "bpf", "ipvs-nat", "ipvs-dr", "iptables", "nftables"]
COLORS = {"direct": "#7f7f7f", "sock_vs": "#d62728", "ipvs-nat": "#1f77b4", "ipvs-dr": "#17becf",
          "iptables": "#ff7f0e", "nftables": "#2ca02c", "ipvs": "#1f77b4"}


def read_tsv(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            out = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    return out


def fnum(v):
    try:
        return float(v)
    except ValueError:
        return None


class Data:
    def __init__(self, rawdir):
        self.meta = {r[0]: r[1] for r in read_tsv(os.path.join(rawdir, "meta.tsv")) if len(r) >= 2}
        self.meta.update({r[0]: r[1] for r in read_tsv(os.path.join(rawdir, "host-meta.tsv"))
                          if len(r) >= 2})
        self.vals = collections.defaultdict(list)   # (workload, method, metric) -> [values]
        # make bench's scaling guest (2 vCPUs, no icount) writes into scaling/.
        self.scaling_meta = {r[0]: r[1] for r in read_tsv(os.path.join(rawdir, "scaling", "meta.tsv"))
                             if len(r) >= 2}
        self.scaling_meta.update({r[0]: r[1] for r in read_tsv(os.path.join(rawdir, "scaling", "host-meta.tsv"))
                                  if len(r) >= 2})
        for sub in ("", "scaling"):
            for r in read_tsv(os.path.join(rawdir, sub, "rows.tsv")):
                if sub and r[0] != "scaling":
                    continue
                if len(r) == 5 and fnum(r[4]) is not None:
                    self.vals[(r[0], r[1], r[3])].append(fnum(r[4]))

    def get(self, workload, method, metric):
        return self.vals.get((workload, method, metric), [])


def med(v):
    return statistics.median(v) if v else None


def fmt(x, digits=0):
    if x is None:
        return "-"
    if digits == 0:
        return "{:,.0f}".format(x)
    return "{:,.{}f}".format(x, digits)


def cell(v, digits=0):
    """median (min-max)"""
    if not v:
        return "-"
    if len(v) == 1:
        return fmt(v[0], digits)
    return "%s (%s-%s)" % (fmt(med(v), digits), fmt(min(v), digits), fmt(max(v), digits))


def ratio_cell(v, base):
    """median of v / median of base, and the spread of per-repetition ratios is not
    meaningful across independent runs, so the range is min(v)/med(base)..max(v)/med(base)."""
    if not v or not base or not med(base):
        return "-"
    b = med(base)
    if len(v) == 1:
        return "%.2f" % (v[0] / b)
    return "%.2f (%.2f-%.2f)" % (med(v) / b, min(v) / b, max(v) / b)


def redis_table(d, workload, out):
    tests = ["PING_INLINE", "PING_MBULK"]
    out.append("| method | " + " | ".join("%s req/s" % t for t in tests) + " | " +
               " | ".join("%s / direct" % t for t in tests) + " | reps |")
    out.append("|---" * (2 * len(tests) + 2) + "|")
    for m in METHODS:
        vs = [d.get(workload, m, t + "_rps") for t in tests]
        base = [d.get(workload, "direct", t + "_rps") for t in tests]
        out.append("| %s | %s | %s | %d |" % (
            m, " | ".join(cell(v) for v in vs),
            " | ".join(ratio_cell(v, b) for v, b in zip(vs, base)), max(len(v) for v in vs)))


def cc_services(d):
    return [int(x) for x in d.meta.get("cc_services", "1,1000,100000").split(",") if x]


def cc_table(d, out):
    out.append("| services | threads | direct connects/s | sock_vs connects/s | sock_vs / direct"
               " | overhead per connect | bpf connects/s | bpf / direct | sock_vs / bpf | reps |")
    out.append("|---" * 10 + "|")
    for n in cc_services(d):
        for t in (1, 2):
            dv = d.get("connect_cost", "direct", "cps_s%d_t%d" % (n, t))
            sv = d.get("connect_cost", "sock_vs", "cps_s%d_t%d" % (n, t))
            over = "-"
            if dv and sv and med(dv) and med(sv):
                # per connect, per thread: 1/rate difference
                us = (1.0 / med(sv) - 1.0 / med(dv)) * 1e6 * t
                over = "%+.0f us" % us
            bv = d.get("connect_cost", "bpf", "cps_s%d_t%d" % (n, t))
            out.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %d |" % (
                fmt(n), t, cell(dv), cell(sv), ratio_cell(sv, dv), over, cell(bv), ratio_cell(bv, dv),
                ratio_cell(sv, bv), max(len(dv), len(sv), len(bv))))
    out.append("")
    out.append("Time one `connect()` took (p50 / p99, microseconds; under icount, guest-instruction time):")
    out.append("")
    out.append("| services | threads | direct p50 / p99 | sock_vs p50 / p99 | bpf p50 / p99 |")
    out.append("|---" * 5 + "|")
    for n in cc_services(d):
        for t in (1, 2):
            cells = []
            for m in ("direct", "sock_vs", "bpf"):
                a = d.get("connect_cost", m, "p50us_s%d_t%d" % (n, t))
                b = d.get("connect_cost", m, "p99us_s%d_t%d" % (n, t))
                cells.append("%s / %s" % (cell(a, 1), cell(b, 1)))
            out.append("| %s | %d | %s |" % (fmt(n), t, " | ".join(cells)))
    loads = [(n, d.get("connect_cost", "sock_vs", "load_s_s%d" % n)) for n in cc_services(d)]
    out.append("")
    out.append("Loading the services with `sockvsadm -R` (one service per line plus one real"
               " server each; the measured service has three): " +
               ", ".join("%s service%s %s s" % (fmt(n), "" if n == 1 else "s", cell(v, 2))
                         for n, v in loads) + ".")


def profile_k0(rawdir, method):
    """{symbol: us per request} from the profile phase's redis-benchmark -k 0 run."""
    out = {}
    for r in read_tsv(os.path.join(rawdir, "profile-k0-%s.tsv" % method)):
        if len(r) == 2 and fnum(r[1]) is not None:
            out[r[0]] = fnum(r[1])
    return out


SCALE_METHODS = ["direct", "sock_vs", "bpf", "ipvs-nat"]


def scaling_of(d, m):
    """Per repetition connects/s with 2 threads / with 1 (repetitions pair up by index)."""
    a, b = d.get("scaling", m, "cps_t1"), d.get("scaling", m, "cps_t2")
    return [y / x for x, y in zip(a, b) if x]


def scaling_table(d, out):
    out.append("| method | 1 thread connects/s | 2 threads connects/s | 2 threads / 1 thread "
               "| scaling / direct's | p50 / p99 us, 1 thread | p50 / p99 us, 2 threads | reps |")
    out.append("|---" * 8 + "|")
    base = med(scaling_of(d, "direct"))
    for m in SCALE_METHODS:
        a, b, sc = d.get("scaling", m, "cps_t1"), d.get("scaling", m, "cps_t2"), scaling_of(d, m)
        lat = ["%s / %s" % (cell(d.get("scaling", m, "p50us_t%d" % t), 1),
                            cell(d.get("scaling", m, "p99us_t%d" % t), 1)) for t in (1, 2)]
        out.append("| %s | %s | %s | %s | %s | %s | %s | %d |" % (
            m, cell(a), cell(b), cell(sc, 2), "%.2f" % (med(sc) / base) if sc and base else "-",
            lat[0], lat[1], max(len(a), len(b))))


UNB_OPS = [("udp", "unconnected UDP `sendto` + `recvfrom` with an address"),
           ("tcp", "TCP connect + accept + close (RST)"),
           ("getpeername", "`getpeername()`"), ("getsockname", "`getsockname()`")]


def unbalanced_table(d, out):
    out.append("| operation on an unbalanced socket (loopback) | module absent (ns/op) | sock_vs loaded (ns/op)"
               " | loaded / absent | target <= 1.01 | loaded, UDP services --unconnected (ns/op)"
               " | unconn / absent | BPF balancer attached (ns/op) | bpf / absent | reps |")
    out.append("|---" * 10 + "|")
    for op, what in UNB_OPS:
        a, b = d.get("unbalanced", "absent", "ns_" + op), d.get("unbalanced", "loaded", "ns_" + op)
        u = d.get("unbalanced", "unconn", "ns_" + op)
        c = d.get("unbalanced", "bpf", "ns_" + op)
        rr = med(b) / med(a) if a and b and med(a) else None
        met = "-" if rr is None else ("met" if rr <= 1.01 else "not met")
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |" % (
            what, cell(a, 0), cell(b, 0), ratio_cell(b, a), met, cell(u, 0), ratio_cell(u, a),
            cell(c, 0), ratio_cell(c, a), max(len(a), len(b), len(c))))
    a, b = d.get("udp_balanced", "direct", "ns_dgram"), d.get("udp_balanced", "sock_vs", "ns_dgram")
    c = d.get("udp_balanced", "bpf", "ns_dgram")
    rr = med(b) / med(a) if a and b and med(a) else None
    out.append("")
    out.append("Per datagram on a connected UDP socket (`send` + `recv` against a UDP echo server, one "
               "real server): direct %s ns, through sock_vs %s ns, sock_vs / direct %s (target <= 1.02: %s); "
               "through the BPF balancer %s ns, bpf / direct %s."
               % (cell(a, 0), cell(b, 0), ratio_cell(b, a),
                  "-" if rr is None else ("met" if rr <= 1.02 else "not met"), cell(c, 0), ratio_cell(c, a)))
    a, b = d.get("udp_unconn", "direct", "ns_dgram"), d.get("udp_unconn", "sock_vs", "ns_dgram")
    if a or b:
        out.append("")
        out.append("Per datagram on an unconnected UDP socket (`sendto` + `recvfrom`, one real server, "
                   "the service --unconnected so the sendmsg hook is installed for both): to the real "
                   "server %s ns, to the virtual address through sock_vs %s ns, sock_vs / direct %s."
                   % (cell(a, 0), cell(b, 0), ratio_cell(b, a)))


def cp_table(d, out):
    metrics = [("restore_cpu_s", "-R CPU (s)", 2), ("list_cpu_s", "-L -n CPU (s)", 2),
               ("flush_cpu_s", "-C CPU (s)", 2), ("restore_s", "-R wall (s)", 2),
               ("list_s", "-L -n wall (s)", 2), ("flush_s", "-C wall (s)", 2),
               ("slab_kb", "Slab (kB)", 0), ("percpu_kb", "Percpu (kB)", 0),
               ("kmem_kb", "Slab + Percpu (kB)", 0)]
    out.append("| tool | " + " | ".join(m[1] for m in metrics) + " | reps |")
    out.append("|---" * (len(metrics) + 2) + "|")
    for method, tool in (("sock_vs", "sockvsadm"), ("ipvs", "ipvsadm")):
        vs = [d.get("control", method, m[0]) for m in metrics]
        out.append("| %s | %s | %d |" % (tool, " | ".join(cell(v, m[2]) for v, m in zip(vs, metrics)),
                                         max(len(v) for v in vs)))
    a, b = med(d.get("control", "sock_vs", "restore_cpu_s")), med(d.get("control", "ipvs", "restore_cpu_s"))
    if a and b:
        out.append("")
        out.append("`sockvsadm -R` / `ipvsadm -R` CPU time (user + system: the tool and the kernel "
                   "working for it): %.2f.  Wall time also counts the guest's waits for the host "
                   "(9p, a busy host CPU), which under icount pass at real time." % (a / b))


def targets(d, out):
    def r(workload, method, metric, base="direct"):
        a, b = med(d.get(workload, method, metric)), med(d.get(workload, base, metric))
        return a / b if a and b else None

    def overlap(workload, metric, a="sock_vs", b="direct"):
        x, y = d.get(workload, a, metric), d.get(workload, b, metric)
        if len(x) < 2 or len(y) < 2:
            return " (one repetition: noise)"
        return " (min-max ranges overlap)" if max(x) >= min(y) and max(y) >= min(x) else ""

    lines = []
    for t in ("PING_INLINE", "PING_MBULK"):
        x = r("steady", "sock_vs", t + "_rps")
        others = {m: r("steady", m, t + "_rps") for m in ("ipvs-nat", "iptables", "nftables")}
        if x is not None:
            ahead = all(v is not None and x > v for v in others.values())
            lines.append("| steady %s: sock_vs >= 0.98x direct, ahead of IPVS NAT, iptables, nftables"
                         " | %.2fx; %s | %s |" % (
                             t, x, ", ".join("%s %.2fx" % (m, v) for m, v in others.items() if v),
                             ("met" if x >= 0.98 and ahead else "not met") +
                             overlap("steady", t + "_rps")))
        x = r("connect", "sock_vs", t + "_rps")
        others = {m: r("connect", m, t + "_rps") for m in METHODS[3:]}
        if x is not None:
            ahead = all(v is not None and x > v for v in others.values())
            lines.append("| connect-heavy %s: sock_vs >= 0.95x direct, ahead of every other method"
                         " | %.2fx; %s | %s |" % (
                             t, x, ", ".join("%s %.2fx" % (m, v) for m, v in others.items() if v),
                             ("met" if x >= 0.95 and ahead else "not met") +
                             overlap("connect", t + "_rps")))
        x = r("connect", "sock_vs", t + "_rps", base="direct-nomod")
        y = r("connect", "sock_vs", t + "_rps", base="bpf")
        if x is not None and y is not None:
            lines.append("| connect-heavy %s (issue 13): sock_vs >= 0.98x direct without the module, and >= the "
                         "BPF balancer | %.2fx direct-nomod, %.2fx bpf | %s |" % (
                             t, x, y, ("met" if x >= 0.98 and y >= 1.0 else "not met") +
                             overlap("connect", t + "_rps", b="bpf")))
    ns = cc_services(d)
    for t in (1, 2):
        a = r("connect_cost", "sock_vs", "cps_s%d_t%d" % (ns[0], t))
        b = r("connect_cost", "sock_vs", "cps_s%d_t%d" % (ns[-1], t))
        if a and b:
            lines.append("| connect cost, %d thread%s: sock_vs/direct at %s and %s services within 10%%"
                         " | %.2fx and %.2fx | %s |" % (t, "s" if t > 1 else "", fmt(ns[0]), fmt(ns[-1]),
                                                       a, b, ("met" if abs(a / b - 1) <= 0.10 else "not met") + (
                                                           " (one repetition: noise)" if len(d.get(
                                                               "connect_cost", "sock_vs", "cps_s%d_t%d" % (ns[0], t))) < 2
                                                           else "")))
    a, b = med(scaling_of(d, "sock_vs")), med(scaling_of(d, "direct"))
    if a and b:
        lines.append("| connect scaling (issue 13, 2 vCPUs, no icount): sock_vs's 2-thread / 1-thread "
                     "connects/s within 5%% of direct's | %.2f vs %.2f (%.2fx) | %s |" % (
                         a, b, a / b, "met" if a / b >= 0.95 else "not met"))
    a, b = med(d.get("control", "sock_vs", "restore_cpu_s")), med(d.get("control", "ipvs", "restore_cpu_s"))
    if a and b:
        lines.append("| control plane: `sockvsadm -R` of %s services faster than `ipvsadm -R` (CPU time)"
                     " | %.2f s vs"
                     " %.2f s | %s |" % (fmt(float(d.meta.get("cp_services", 0))), a, b,
                                         "met" if a < b else "not met"))
    out.append("Verdicts compare medians; \"ranges overlap\" means sock_vs's and direct's min-max "
               "ranges overlap, i.e. this run cannot tell them apart.")
    out.append("")
    out.append("| target (issue 4) | measured (medians) | verdict |")
    out.append("|---|---|---|")
    out.extend(lines)


def chart(d, kernel, workload, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    groups = []
    if workload in ("steady", "connect"):
        groups = [(t, [(m, d.get(workload, m, t + "_rps")) for m in METHODS])
                  for t in ("PING_INLINE", "PING_MBULK")]
        ax.set_ylabel("requests/s (median, min-max)")
        title = {"steady": "redis-benchmark -c 100 -P 1 -t ping",
                 "connect": "redis-benchmark -c 100 -P 1 -t ping -k 0"}[workload]
    elif workload == "connect_cost":
        groups = [("%s svc, %d thr" % (fmt(n), t),
                   [(m, d.get(workload, m, "cps_s%d_t%d" % (n, t))) for m in ("direct", "sock_vs")])
                  for n in cc_services(d) for t in (1, 2)]
        ax.set_ylabel("connects/s (median, min-max)")
        title = "connect + close (RST) from 1 and 2 threads"
    else:
        groups = [(label, [(m, d.get(workload, m, metric)) for m in ("sock_vs", "ipvs")])
                  for metric, label in (("restore_cpu_s", "-R CPU (s)"), ("list_cpu_s", "-L -n CPU (s)"))]
        ax.set_ylabel("CPU seconds, user + system (median, min-max)")
        title = "control plane: %s services x %s real servers" % (
            fmt(float(d.meta.get("cp_services", 0))), d.meta.get("cp_reals", "?"))
    width = 0.8 / max(len(g[1]) for g in groups)
    seen = set()
    for gi, (_, bars) in enumerate(groups):
        for bi, (m, v) in enumerate(bars):
            if not v:
                continue
            x = gi + (bi - (len(bars) - 1) / 2) * width
            y = med(v)
            label = None if m in seen else m
            seen.add(m)
            ax.bar(x, y, width * 0.9, color=COLORS.get(m, "#999999"), label=label,
                   yerr=[[y - min(v)], [max(v) - y]], capsize=2)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g[0] for g in groups], fontsize=8)
    ax.set_title("%s (kernel %s, QEMU TCG guest: compare ratios only)" % (title, kernel), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    d = Data(sys.argv[1])
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    kernel = d.meta.get("kernel") or os.path.basename(os.path.normpath(sys.argv[1]))
    m = d.meta
    out = ["# sock_vs benchmarks: kernel %s" % kernel, ""]
    out.append("Produced by `%s` on %s (guest start %s)." % (
        m.get("command", "bench/run-all.sh"), m.get("host_date", "?"), m.get("date", "?")))
    out.append("")
    out.append("- Machine: %s, %s host cores; guest: QEMU TCG (software emulation, no KVM), "
               "%s vCPU%s, %s MiB." % (m.get("cpu_model", "?"), m.get("host_cores", "?"),
                                        m.get("guest_cpus", "?"),
                                        "" if m.get("guest_cpus") == "1" else "s",
                                        m.get("guest_mem", "?")))
    ic = m.get("icount", "off")
    if ic != "off":
        out.append("- QEMU `-icount shift=%s,sleep=off`: the guest's clock advances %d ns per guest "
                   "instruction executed (idle time is skipped), so rates are in guest-instruction "
                   "time and do not depend on the host's load." % (
                       ic, 2 ** int(ic) if ic.isdigit() else 0))
        if m.get("guest_cpus") == "1":
            out.append("- One vCPU: the load generator, the servers and the kernel's work for both run "
                       "on it, so a rate counts every guest instruction a request costs, including "
                       "each method's per-connection and per-packet work. The 2-thread connect_cost "
                       "runs interleave on that vCPU: they exercise concurrency, not scaling.")
        else:
            out.append("- icount needs single-threaded TCG: the vCPUs run in turn, so 2 threads "
                       "cannot beat 1 thread here.")
    else:
        out.append("- Guest clock = host time (no icount): the host's load swings every figure.")
    out.append("- Other QEMU guests running on the host: %s at the start, %s at the end; load average "
               "at the start %s." % (
                   m.get("qemu_before", "?"), m.get("qemu_after", "?"), m.get("loadavg_before", "?")))
    out.append("- Guest run time: %s s. Repetitions: %s (methods interleaved, order rotated each "
               "repetition); %s mode." % (m.get("guest_seconds", "?"), m.get("reps", "?"),
                                          "quick" if m.get("quick") == "1" else "full"))
    if m.get("guest_exit", "0") != "0":
        out.append("- **The guest did not finish** (run-guest.sh exit status %s, after %s s): what "
                   "shows `-` or is missing below was not measured; see `check-%s.txt`." % (
                       m.get("guest_exit"), m.get("guest_seconds", "?"), kernel))
    out.append("- %s, %s, %s, redis %s." % (m.get("ipvsadm", "?"), m.get("iptables", "?"),
                                           m.get("nft", "?"), m.get("redis", "?")))
    out.append("")
    out.append("Topology: one server namespace whose single redis-server (and connect_cost server) "
               "answers on the three real server addresses, joined to a fresh client namespace per "
               "method by a veth pair; direct uses one of the three addresses, every balancer all "
               "three, so the server does the same work for every method.")
    out.append("")
    out.append("Figures from a guest under software emulation are "
               "for ratios between methods measured in the same boot, not for absolute speed. "
               "Cells are `median (min-max)` over the repetitions; ratio cells divide by the median "
               "of direct.")
    out.append("")
    out.append("## Targets")
    out.append("")
    targets(d, out)
    out.append("")
    out.append("## Steady state: `redis-benchmark -c %s -P 1 -t ping -n %s`" % (
        m.get("clients", "100"), m.get("steady_n", "?")))
    out.append("")
    redis_table(d, "steady", out)
    out.append("")
    out.append("## Connect-heavy: the same with `-k 0 -n %s`" % m.get("connect_n", "?"))
    out.append("")
    redis_table(d, "connect", out)
    out.append("")
    out.append("## Connect cost: `connect_cost connect THREADS %s ADDR...`" % m.get("cc_seconds", "?"))
    out.append("")
    out.append("direct: the tool cycles over the three real servers' addresses itself; sock_vs: the "
               "virtual address, rr over the same three. The module is loaded for both (direct pays "
               "the kprobe and a lookup that misses). The overhead column is the difference of the "
               "median time per connect per thread.")
    out.append("")
    cc_table(d, out)
    out.append("")
    if d.get("scaling", "direct", "cps_t1"):
        sm = d.scaling_meta or m
        out.append("## Connect scaling: `connect_cost connect 1|2 %s ADDR...`, 2 vCPUs" % sm.get(
            "cc_seconds", "?"))
        out.append("")
        out.append("In %s: QEMU with %s vCPUs and multi-threaded TCG (each vCPU a host thread), "
                   "**no icount**: host time, so these figures carry the host's load (other QEMU guests "
                   "at the start: %s; load average %s). Each method in its own client namespace "
                   "(IPVS NAT's hooks would tax the others), the server (2 accepting threads) on either "
                   "vCPU, the client threads unpinned; runs interleaved, order rotated each repetition. "
                   "What 2 vCPUs can show: whether a method serialises two connecting threads "
                   "(a shared lock or a written cache line would make 2 threads no faster than 1). What "
                   "they cannot: how a method scales to many cores, where the cost of a shared cache "
                   "line grows with the number of CPUs that write it; and the client and the server "
                   "share the two vCPUs, so no method reaches 2x." % (
                       "a guest of its own" if d.scaling_meta else "this guest",
                       sm.get("guest_cpus", "?"), sm.get("qemu_before", "?"), sm.get("loadavg_before", "?")))
        out.append("")
        scaling_table(d, out)
        out.append("")
    if d.get("unbalanced", "absent", "ns_udp"):
        out.append("## Traffic sock_vs does not balance: `connect_cost micro OP %s`" % m.get("unb_n", "?"))
        out.append("")
        out.append("Module absent against loaded with %s TCP and %s UDP services in the client "
                   "namespace, interleaved in the same boot; medians (min-max). Under icount a "
                   "nanosecond is a guest instruction." % (m.get("unb_services", "?"), m.get("unb_services", "?")))
        out.append("")
        unbalanced_table(d, out)
        out.append("")
    out.append("## Control plane: %s services x %s real servers" % (
        fmt(float(m.get("cp_services", 0))), m.get("cp_reals", "?")))
    out.append("")
    out.append("The same rules file through `sockvsadm -R` and `ipvsadm -R`, each in a fresh namespace; "
               "memory is the change of /proc/meminfo Slab and Percpu across the restore (after "
               "`sync; echo 3 > drop_caches`).")
    out.append("")
    cp_table(d, out)
    out.append("")
    prof = [(mm, d.get("profile", mm, "pct_sock_vs_module"), d.get("profile", mm, "pct_kprobe_ftrace"))
            for mm in ("sock_vs", "direct", "sockvsadm_list")]
    if any(p[1] for p in prof):
        out.append("## Profile")
        out.append("")
        out.append("`perf record -e cpu-clock -a` over the whole guest while `connect_cost` runs "
                   "(1 thread, 1 service) through sock_vs and directly, and while `sockvsadm -L -n` "
                   "lists the control-plane table: share of samples in the module (symbols svs_*) and in the "
                   "kprobe/ftrace code. Full reports: `perf-*.txt` in the raw directory.")
        out.append("")
        out.append("| run | samples in [sock_vs] | samples in kprobe/ftrace |")
        out.append("|---|---|---|")
        for mm, a, b in prof:
            if a:
                out.append("| %s | %.2f%% | %.2f%% |" % (mm, a[0], b[0] if b else 0))
        out.append("")
    k0 = {mm: profile_k0(sys.argv[1], mm) for mm in ("direct-nomod", "sock_vs", "bpf")}
    if all(k0.values()):
        out.append("### Where a connection's time goes: `redis-benchmark -k 0` under `perf`")
        out.append("")
        out.append("`perf record -e cpu-clock -F 20000 -a` over the guest while `redis-benchmark -k 0 "
                   "-n %s` runs once per method: microseconds of guest time per request by symbol "
                   "(client, server and kernel together; one run each, so a symbol's figure is good to "
                   "about 0.1 us). Idle (`native_safe_halt`) is the vCPU waiting for a timer; it is part "
                   "of the measured rate but not work. Largest differences from direct with the module "
                   "not loaded:" % m.get("connect_n", "?"))
        out.append("")
        def is_idle(x):     # native_safe_halt on 6.1, pv_native_safe_halt on 6.12
            return x.endswith("safe_halt")

        def idle_of(mm):
            return sum(v for x, v in k0[mm].items() if is_idle(x))
        out.append("| | direct-nomod | sock_vs | bpf |")
        out.append("|---|---|---|---|")
        out.append("| total us per request | %s |" % " | ".join(
            "%.2f" % sum(k0[mm].values()) for mm in ("direct-nomod", "sock_vs", "bpf")))
        out.append("| of which idle | %s |" % " | ".join(
            "%.2f" % idle_of(mm) for mm in ("direct-nomod", "sock_vs", "bpf")))
        out.append("| not idle | %s |" % " | ".join(
            "%.2f" % (sum(k0[mm].values()) - idle_of(mm)) for mm in ("direct-nomod", "sock_vs", "bpf")))
        out.append("")
        syms = set(k0["sock_vs"]) | set(k0["direct-nomod"])
        diff = sorted((k0["sock_vs"].get(x, 0) - k0["direct-nomod"].get(x, 0), x) for x in syms if not is_idle(x))
        out.append("| symbol | direct-nomod | sock_vs | bpf | sock_vs - direct-nomod |")
        out.append("|---|---|---|---|---|")
        for dv, x in list(reversed(diff))[:15]:
            out.append("| `%s` | %.3f | %.3f | %.3f | %+.3f |" % (
                x, k0["direct-nomod"].get(x, 0), k0["sock_vs"].get(x, 0), k0["bpf"].get(x, 0), dv))
        mine = sum(v for x, v in k0["sock_vs"].items() if x.startswith("[sock_vs]") or "kprobe" in x
                   or "ftrace" in x or "rhashtable" in x or "srcu" in x)
        out.append("")
        out.append("sock_vs's own code and what it calls for itself (the module, kprobe/ftrace, "
                   "rhashtable, srcu): %.2f us per request." % mine)
        out.append("")
    out.append("## Checks")
    out.append("")

    def spread(mm):
        per = [d.get("check", mm, "conns_s%d" % i) for i in (1, 2, 3)]
        if not all(per):
            return "-"
        return "/".join("%d" % v[0] for v in per)

    out.append("30 connections held open through each method before its first steady run, per real "
               "server (10.0.1.11/12/13): " +
               ", ".join("%s %s" % (mm, spread(mm)) for mm in METHODS) +
               ". Kernel log WARN/BUG/Oops lines after the run: %s." %
               (",".join("%d" % x for x in d.get("check", "kernel_log", "bad_lines")) or "-"))
    charts = []
    for w in ("steady", "connect", "connect_cost", "control"):
        name = "%s-%s.png" % (kernel, w)
        try:
            chart(d, kernel, w, os.path.join(outdir, name))
            charts.append(name)
        except Exception as e:  # noqa: BLE001  a chart never hides the tables
            print("report.py: chart %s: %s" % (w, e), file=sys.stderr)
    if charts:
        out.append("")
        out.append("## Charts")
        out.append("")
        out.extend("![%s](%s)" % (c, c) for c in charts)
    with open(os.path.join(outdir, "%s.md" % kernel), "w") as f:
        f.write("\n".join(out) + "\n")
    print("report.py: wrote %s/%s.md and %d charts" % (outdir, kernel, len(charts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
