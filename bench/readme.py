#!/usr/bin/env python3
"""Write the latest `make bench` results into README.md's benchmark section.

    bench/readme.py README.md RAWDIR...

Replaces the text between `<!-- bench:start -->` and `<!-- bench:end -->`
with: how the run was made, the issue's targets per kernel, the redis ratios
per kernel, the control plane, and the newest kernel's charts.  The figures
come from the same raw rows and the same code as bench/results/<kernel>.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (bench/report.py)

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def kernel_of(d, rawdir):
    return d.meta.get("kernel") or os.path.basename(os.path.normpath(rawdir))


def ratio(d, workload, method, metric):
    a, b = report.med(d.get(workload, method, metric)), report.med(d.get(workload, "direct", metric))
    return "%.2f" % (a / b) if a and b else "-"


def section(runs):
    kernels = [k for k, _ in runs]
    first = runs[0][1].meta
    out = [START, ""]
    out.append("`make bench` runs every method side by side in one guest boot per kernel (direct, "
               "direct with the module not loaded, sock_vs, a Cilium-style BPF socket balancer, IPVS "
               "NAT and DR, iptables DNAT, nftables DNAT; `redis-benchmark` steady and `-k 0`, a "
               "connect-cost tool at 1 to 100,000 services, the cost on traffic sock_vs does not "
               "balance, and the control plane at 10,000 services x 4 real servers), then connect "
               "scaling from 1 and 2 threads in a 2-vCPU guest of its own; "
               "[`bench/README.md`](bench/README.md) says how, and "
               "[`bench/results/`](bench/results/) holds the full reports and charts.")
    out.append("")
    out.append("**Guest figures under software emulation (QEMU TCG, no KVM) are for ratios between "
               "methods, not for absolute speed.** The guests count time in instructions (QEMU "
               "`-icount`) and have one vCPU shared by client, server and kernel, so a ratio says how "
               "many more guest instructions a request costs through a method than directly; "
               "repetitions agree within about 1%. A real machine with the client and the server on "
               "different hosts spends its time differently.")
    out.append("")
    out.append("Latest run: `%s` on %s, %s (%s host cores), kernels %s, each in its own guest, "
               "%s at the same time; %s repetitions, methods interleaved; wall time per guest %s s. "
               "Reports: %s." % (
                   first.get("command", "make bench"), first.get("host_date", "?"),
                   first.get("cpu_model", "?"), first.get("host_cores", "?"),
                   " and ".join(kernels), "run" if first.get("parallel") == "1" else "not run",
                   first.get("reps", "?"),
                   " and ".join(d.meta.get("guest_seconds", "?") for _, d in runs),
                   ", ".join("[`%s.md`](bench/results/%s.md)" % (k, k) for k in kernels)))
    out.append("")
    for k, d in runs:
        out.append("Targets of issue 4, kernel %s:" % k)
        out.append("")
        t = []
        report.targets(d, t)
        out.extend(t[2:])  # the table, without the verdict legend
        out.append("")
    out.append("Requests per second as a ratio to direct (median of the repetitions; %s):" %
               " / ".join(kernels))
    out.append("")
    out.append("| method | steady PING_INLINE | steady PING_MBULK | `-k 0` PING_INLINE | `-k 0` PING_MBULK |")
    out.append("|---|---|---|---|---|")
    for m in report.METHODS:
        cells = []
        for w in ("steady", "connect"):
            for t in ("PING_INLINE", "PING_MBULK"):
                cells.append(" / ".join(ratio(d, w, m, t + "_rps") for _, d in runs))
        out.append("| %s | %s |" % (m, " | ".join(cells)))
    out.append("")
    out.append("Control plane, %s services x %s real servers (`-R` and `-L -n` CPU time, user + system; Slab + Percpu "
               "growth; %s):" % (report.fmt(float(first.get("cp_services", 0))),
                                 first.get("cp_reals", "?"), " / ".join(kernels)))
    out.append("")
    out.append("| tool | -R CPU (s) | -L -n CPU (s) | kernel memory (kB) |")
    out.append("|---|---|---|---|")
    for method, tool in (("sock_vs", "sockvsadm"), ("ipvs", "ipvsadm")):
        out.append("| %s | %s |" % (tool, " | ".join(
            " / ".join(report.fmt(report.med(d.get("control", method, metric)), dig) for _, d in runs)
            for metric, dig in (("restore_cpu_s", 2), ("list_cpu_s", 2), ("kmem_kb", 0)))))
    out.append("")
    if any(d.get("scaling", "direct", "cps_t1") for _, d in runs):
        out.append("Connect scaling, 2 vCPUs, no icount (host time: noisy), connects/s with 2 threads "
                   "/ with 1 (median of the per-repetition ratios; %s):" % " / ".join(kernels))
        out.append("")
        out.append("| method | 2 threads / 1 thread | relative to direct's |")
        out.append("|---|---|---|")
        for m in report.SCALE_METHODS:
            cells = []
            for _, d in runs:
                sc, base = report.med(report.scaling_of(d, m)), report.med(report.scaling_of(d, "direct"))
                cells.append(("%.2f" % sc if sc else "-", "%.2f" % (sc / base) if sc and base else "-"))
            out.append("| %s | %s | %s |" % (m, " / ".join(c[0] for c in cells),
                                             " / ".join(c[1] for c in cells)))
        out.append("")
    out.append("What these figures do not show:")
    out.append("")
    out.append("- Scaling over many cores: the 2-vCPU guest shows whether a method serialises two "
               "connecting threads, not how it behaves on 64 cores, where a written shared cache line "
               "costs more with every CPU (sock_vs's connect path shares none host-wide; the connects "
               "to one service share its pick counter, those to one server its live count and list "
               "lock).")
    out.append("- Wall-clock time of the control plane: its times above are guest-instruction time "
               "too (`make bench-quick` measures it in host time, without icount).")
    out.append("- Two hosts: here the client and the server share one vCPU, so the server's work is "
               "part of every rate; what differs between methods is the work done on the client "
               "side (every method balances in the client namespace), which sock_vs does once per "
               "connection and the others per packet.")
    out.append("")
    k = kernels[-1]
    out.append("Kernel %s:" % k)
    out.append("")
    for w in ("steady", "connect"):
        out.append("![%s](bench/results/%s-%s.png)" % (w, k, w))
    out.append("")
    out.append(END)
    return "\n".join(out)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    runs = [(kernel_of(report.Data(r), r), report.Data(r)) for r in sys.argv[2:]]
    with open(path) as f:
        text = f.read()
    a, b = text.find(START), text.find(END)
    if a < 0 or b < a:
        print("readme.py: %s has no %s ... %s section" % (path, START, END), file=sys.stderr)
        return 1
    text = text[:a] + section(runs) + text[b + len(END):]
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    print("readme.py: %s: benchmark section from %s" % (path, ", ".join(k for k, _ in runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
