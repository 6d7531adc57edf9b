#!/usr/bin/env python3
"""Raw rows of bench/guest/agent_scale.py to a Markdown report.

    bench/agent_report.py RAWDIR OUT.md

RAWDIR has rows.tsv (phase, who, rep, metric, value), meta.tsv (the guest's
settings) and host-meta.tsv (bench/run-agent-scale.sh's).  Repeated numbers
are shown as the median with the min-max range; percentiles are nearest-rank
(p99 of n samples: the ceil(0.99 n)-th smallest).  Only measured numbers:
a missing row prints "-" (and the phase is named under "Not measured").
Exit status 1 if there are no rows.
"""

import math
import os
import subprocess
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import read_tsv  # noqa: E402  (bench/report.py)


REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# sockvs-agent applies in one module transaction from 1469ccb on; before,
# with libsockvs's commands one by one.
TXN_AGENT = "1469ccb"


def kernel_step(commit):
    """How the agent of `commit` (as the report's host rows name it) changes the kernel."""
    rev = commit.split()[0] if commit else ""
    try:
        r = subprocess.run(["git", "merge-base", "--is-ancestor", TXN_AGENT, rev],
                           cwd=os.path.dirname(os.path.abspath(__file__)), capture_output=True)
        txn = r.returncode == 0
        known = r.returncode in (0, 1)
    except OSError:
        known = False
    if not known:
        return "(Whether this agent applies in one module transaction is unknown: commit %r.)" % commit
    if txn:
        return ("The agent applies each difference in one module transaction (`ApiKernelTable`, README "
                "\"The kernel step\").")
    return ("The agent of this commit applies a difference with libsockvs's commands one by one "
            "(`ApiKernelTable` before %s), not in one module transaction." % TXN_AGENT)


def pct(v, p):
    if not v:
        return None
    s = sorted(v)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def main():
    raw, out_path = sys.argv[1], sys.argv[2]
    rows = [r for r in read_tsv(os.path.join(raw, "rows.tsv")) if len(r) == 5]
    meta = {r[0]: r[1] for r in read_tsv(os.path.join(raw, "meta.tsv")) if len(r) >= 2}
    host = {r[0]: r[1] for r in read_tsv(os.path.join(raw, "host-meta.tsv")) if len(r) >= 2}
    data = {}   # (phase, who, metric) -> [values in rep order]
    for ph, who, _rep, metric, value in rows:
        try:
            data.setdefault((ph, who, metric), []).append(float(value))
        except ValueError:
            pass

    def vals(ph, who, metric):
        return data.get((ph, who, metric), [])

    def cell(ph, who, metric, fmt="%.1f", scale=1.0):
        v = [x * scale for x in vals(ph, who, metric)]
        if not v:
            return "-"
        s = fmt % statistics.median(v)
        if len(v) > 1:
            s += " (%s-%s)" % (fmt % min(v), fmt % max(v))
        return s

    agents = sorted({who for (ph, who, _m) in data if who.startswith("svsas")},
                    key=lambda w: int(w[5:]))
    etcds = sorted({who for (ph, who, _m) in data if who.startswith("etcd-")})
    o = []
    p = o.append
    kernel = meta.get("kernel", os.path.basename(os.path.normpath(raw)))
    quick = meta.get("quick") == "1"
    p("# sockvs-agent at scale: %s%s" % (kernel, " (quick)" if quick else ""))
    p("")
    p("Issue 17: \"1,000 services x 4 real servers: time from empty to converged; p50/p99 latency "
      "from an etcd put to the kernel on 5 agents; agent CPU and memory at idle and during a "
      "5,000-change burst.\" Measured by `bench/guest/agent_scale.py` in one QEMU guest; this file "
      "is written by `bench/agent_report.py` from the raw rows (`%s`: rows.tsv, meta.tsv, host-meta.tsv, "
      "the agents' last log lines and etcd's warnings)." % os.path.relpath(os.path.abspath(raw), REPO))
    p("")
    p("| | |")
    p("| --- | --- |")
    icount = host.get("icount", meta.get("icount", "?"))
    mode = ("QEMU TCG with instruction counting (`-icount shift=%s,sleep=off`, bench/qemu-icount): "
            "the guest's clock counts guest instructions (1 ns each) and skips idle time; every "
            "time below is guest time" % icount) if icount != "off" else \
        "QEMU TCG, guest clock follows the host's (`SVS_BENCH_ICOUNT=off`): times depend on the host's load"
    for k, v in (("command", "`%s`" % host.get("command", "?")),
                 ("commit", host.get("commit", "?")),
                 ("kernel", kernel),
                 ("guest", "%s vCPU(s); %s" % (meta.get("guest_cpus", host.get("smp", "?")), mode)),
                 ("host", "%s, %s cores; other QEMU guests running: %s before, %s after; load average %s "
                  "before, %s after; %s; the guest ran %s s (host time)"
                  % (host.get("cpu_model", "?"), host.get("host_cores", "?"), host.get("qemu_before", "?"),
                     host.get("qemu_after", "?"), host.get("loadavg_before", "?"), host.get("loadavg_after", "?"),
                     host.get("host_date", "?"), host.get("guest_seconds", "?"))),
                 ("guest exit", host.get("guest_exit", "?") + (" (every phase converged)"
                                                               if host.get("guest_exit") == "0" else
                                                               " (a failure: see below)")),
                 ("store", "3 members of `%s` in the guest's initial namespace, options `%s`; "
                  "written through its JSON gateway (`/v3/kv/txn`, `/v3/kv/put`) by the bench script"
                  % (meta.get("etcd", "?"), meta.get("etcd_opts", "?"))),
                 ("agents", "%s `sockvs-agent run`, one per client network namespace (its own sock_vs "
                  "table), each watching another member first; `%s`"
                  % (meta.get("agents", "?"), meta.get("agent_opts", "?"))),
                 ("desired state", "%s services (tcp, rr) x %s static real servers (`rs` keys), "
                  "in transactions of at most %s operations (a service with its real servers)"
                  % (meta.get("services", "?"), meta.get("rs", "?"), meta.get("txn_ops", "?"))),
                 ("guest clock at the start", "%s (runs ahead of the host's under icount: each wait for "
                  "the host, such as copying the binaries from 9p, skips to the next timer)" % meta.get("date", "?"))):
        p("| %s | %s |" % (k, v))
    p("")
    p("All processes (3 etcd members, %s agents, the bench script and its `sockvsadm` calls) share "
      "the guest's vCPU(s): an agent's numbers include waiting for the others. %s"
      % (meta.get("agents", "?"), kernel_step(host.get("commit", ""))))
    p("")

    # ---- headline
    p("## Headline")
    p("")
    lat_all = [x for a in agents for x in vals("latency", a, "kernel_ms")]
    log_all = [x for a in agents for x in vals("latency", a, "log_ms")]
    p("| what | value |")
    p("| --- | --- |")
    p("| empty to converged, agents running while the store is filled (worst agent, from the first put) "
      "| %s s |" % cell("fill", "all", "converge_s", "%.2f"))
    p("| empty kernel to converged, agents started on the full store (worst agent, from the first start) "
      "| %s s |" % cell("start", "all", "converge_s", "%.2f"))
    if lat_all:
        p("| put to kernel, all agents (%d samples; agents' default `--batch-ms 100`): p50 / p99 / max "
          "| %.1f / %.1f / %.1f ms |" % (len(lat_all), pct(lat_all, 50), pct(lat_all, 99), max(lat_all)))
        b0h = [x for a in agents for x in vals("latency_b0", a, "kernel_ms")]
        if b0h:
            p("| the same with `--batch-ms 0` (%d samples): p50 / p99 / max | %.1f / %.1f / %.1f ms |"
              % (len(b0h), pct(b0h, 50), pct(b0h, 99), max(b0h)))
    else:
        p("| put to kernel | not measured |")
    idle = [x for a in agents for x in vals("idle", a, "cpu_pct")]
    if idle:
        p("| agent CPU at idle (median agent, range) | %.3f%% (%.3f-%.3f%%) |"
          % (statistics.median(idle), min(idle), max(idle)))
    rss = [x for a in agents for x in vals("idle", a, "rss_kb")]
    if rss:
        p("| agent VmRSS at idle (median agent, range) | %.1f MiB (%.1f-%.1f) |"
          % (statistics.median(rss) / 1024, min(rss) / 1024, max(rss) / 1024))
    bcpu = [x for a in agents for x in vals("burst", a, "cpu_s")]
    if bcpu:
        p("| agent CPU during the %s-change burst, until converged (median agent, range) | %.2f s (%.2f-%.2f) |"
          % (meta.get("burst", "?"), statistics.median(bcpu), min(bcpu), max(bcpu)))
    bhwm = [x for a in agents for x in vals("burst", a, "hwm_kb")]
    if bhwm:
        p("| agent VmHWM after the burst (median agent, range) | %.1f MiB (%.1f-%.1f) |"
          % (statistics.median(bhwm) / 1024, min(bhwm) / 1024, max(bhwm) / 1024))
    p("| burst: converged after the last put (worst agent) | %s s |" % cell("burst", "all", "after_last_s", "%.2f"))
    p("")

    # ---- converge
    p("## From empty to converged")
    p("")
    p("**fill**: the agents run (watching a store with only the marker key, empty tables) while the bench "
      "puts the whole desired state: %s keys in %s transactions, taking %s s (first request to last "
      "response)."
      % (cell("fill", "store", "keys", "%.0f"), cell("fill", "store", "txns", "%.0f"),
         cell("fill", "store", "fill_s", "%.2f")))
    p("**start**: then, %s time(s): every agent stopped (SIGTERM), its snapshot removed, its namespace's "
      "table flushed (`sockvsadm -C`), and all started at once on the full store (each lists the prefix, "
      "%s keys, in pages of 500, then applies it)." % (meta.get("reps_start", "?"), cell("fill", "store", "keys", "%.0f")))
    p("")
    p("Definitions: *converge* = from the first put (fill) or the first agent's start (start) to the "
      "agent's log line of the apply of a revision at least the last put's (the agent logs it after the "
      "kernel answered; millisecond stamps); *after last put* = the same from the last transaction's "
      "response; *own start* = from that agent's own start; *observed* = when the bench saw that "
      "namespace's `sockvsadm -S -n` equal to the desired table (checked every 0.3 s after the apply "
      "line, each check a `sockvsadm` run: an upper bound). A phase counts only when every table "
      "equalled the desired table.")
    p("")
    p("| agent | fill: converge s | fill: after last put s | fill: observed s | start: converge s "
      "| start: own start s | start: observed s |")
    p("| --- | --- | --- | --- | --- | --- | --- |")
    for a in agents:
        p("| %s | %s | %s | %s | %s | %s | %s |"
          % (a, cell("fill", a, "converge_s", "%.2f"), cell("fill", a, "after_last_s", "%.2f"),
             cell("fill", a, "observed_s", "%.2f"), cell("start", a, "converge_s", "%.2f"),
             cell("start", a, "own_start_s", "%.2f"), cell("start", a, "observed_s", "%.2f")))
    p("| **worst** | %s | | | %s | | |" % (cell("fill", "all", "converge_s", "%.2f"),
                                          cell("start", "all", "converge_s", "%.2f")))
    p("")
    if len(vals("start", "all", "converge_s")) > 1:
        p("Start, worst agent per repetition: %s s."
          % ", ".join("%.2f" % x for x in vals("start", "all", "converge_s")))
        p("")

    # ---- latency
    p("## Put to kernel")
    p("")
    p("%s single puts (`/v3/kv/put`), each a new weight for one existing `rs` key (a random service and "
      "real server), the next one %s s (+ 0-0.2 s random) after the previous one was in every kernel. "
      "*kernel* = from the put's HTTP response to the first GET_DEST dump (raw generic netlink, one socket "
      "per namespace, from the bench process) that shows the new weight in that namespace. The bench polls "
      "the namespaces still waiting in turn, then sleeps %s ms or a tenth of the time since the response, "
      "whichever is longer (so that polling takes a small share of the vCPU the agents need): one cycle "
      "(the dumps) took %s ms at the median and %s ms at p99, so a sample is late by at most a cycle "
      "plus max(%s ms, 10%%) of the value. *log* = from the "
      "response to the agent's log line of that revision's apply (millisecond stamps; negative when the "
      "watch event reached the agent before the response reached the bench). *put* = the put's own "
      "request-to-response time."
      % (meta.get("puts", "?"), meta.get("gap_s", "?"), meta.get("poll_ms", "?"),
         cell("latency", "poll", "poll_cycle_ms_p50", "%.2f"), cell("latency", "poll", "poll_cycle_ms_p99", "%.2f"),
         meta.get("poll_ms", "?")))
    p("")
    def lat_row(name, v, lv, cpu=None):
        f = (lambda x: "-" if x is None else "%.1f" % x)
        p("| %s | %d | %s | %s | %s | %s | %s | %s |"
          % (name, len(v), f(pct(v, 50)), f(pct(v, 99)), f(max(v) if v else None), f(pct(lv, 50)),
             f(pct(lv, 99)), "-" if cpu is None else "%.0f" % cpu))

    def per_change_cpu_ms(ph, a):
        """The agent's CPU over the phase minus its idle rate over the same wall time, per put (ms)."""
        c, w, n = vals(ph, a, "phase_cpu_s"), vals(ph, a, "phase_wall_s"), len(vals(ph, a, "kernel_ms"))
        idle_pct = vals("idle", a, "cpu_pct")
        if not c or not w or not n or not idle_pct:
            return None
        return 1000.0 * (c[0] - idle_pct[0] / 100.0 * w[0]) / n

    def lat_table(ph, who):
        p("| agent | samples | kernel p50 ms | kernel p99 ms | kernel max ms | log p50 ms | log p99 ms "
          "| agent CPU per change ms |")
        p("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for a in who:
            lat_row(a, vals(ph, a, "kernel_ms"), vals(ph, a, "log_ms"), per_change_cpu_ms(ph, a))
        if len(who) > 1:
            lat_row("**all**", [x for a in who for x in vals(ph, a, "kernel_ms")],
                    [x for a in who for x in vals(ph, a, "log_ms")])
        p("")

    lat_table("latency", agents)
    by_put = {}
    for (ph, who, rep, metric, value) in rows:
        if ph == "latency" and metric == "kernel_ms":
            by_put[int(rep)] = max(by_put.get(int(rep), 0.0), float(value))
    if len(by_put) > 10:
        m = statistics.median(by_put.values())
        slow = sorted(n for n, v in by_put.items() if v > 2 * m)
        if slow:
            gaps = [b - a for a, b in zip(slow, slow[1:])]
            wall = vals("latency", agents[0], "phase_wall_s") if agents else []
            per = wall[0] / len(by_put) if wall else None
            p("Puts whose slowest agent took more than twice the median of that (%.0f ms): %s (%d of %d; "
              "spacing in puts: %s).%s"
              % (m, ", ".join(str(n) for n in slow), len(slow), len(by_put),
                 ", ".join(str(g) for g in gaps) or "-",
                 "" if per is None or not gaps else
                 " The phase took %.0f s for %d puts (%.2f s each), so %g puts are %.1f s; the agents resync "
                 "(read and compare the whole kernel table) every 30 s."
                 % (wall[0], len(by_put), per, statistics.median(gaps), per * statistics.median(gaps))))
            p("")
    p("*Agent CPU per change* = the agent's utime + stime over the whole phase (puts, gaps and all), minus "
      "its idle CPU rate (below) over the same wall time, divided by the number of puts: what one change "
      "costs the agent, whatever the batching; on one vCPU the five agents' costs add up before the last "
      "agent sees a change.")
    p("")
    put = vals("latency", "store", "put_ms")
    if put:
        p("The puts themselves: p50 %.1f ms, p99 %.1f ms." % (pct(put, 50), pct(put, 99)))
        p("")
    if [x for a in agents for x in vals("latency_b0", a, "kernel_ms")]:
        p("### The same with `--batch-ms 0`")
        p("")
        p("After the burst, the agents restarted with `--batch-ms 0` (their snapshots and tables kept; by "
          "default the first change of a batch waits up to 100 ms for more), then %s single puts measured "
          "the same way (poll cycle p50 %s ms, p99 %s ms)."
          % (meta.get("puts_b0", "?"), cell("latency_b0", "poll", "poll_cycle_ms_p50", "%.2f"),
             cell("latency_b0", "poll", "poll_cycle_ms_p99", "%.2f")))
        p("")
        lat_table("latency_b0", agents)
    one = [a for a in agents if vals("latency_one", a, "kernel_ms")]
    if one:
        p("### One agent alone")
        p("")
        p("Last, agents 2-%d stopped (their tables left as they were), %s restarted with its defaults "
          "(`--batch-ms 100`), then %s single puts measured the same way: an agent that does not share the "
          "vCPU with four others (the three etcd members and the bench still do; poll cycle p50 %s ms)."
          % (len(agents), one[0], meta.get("puts_one", "?"),
             cell("latency_one", "poll", "poll_cycle_ms_p50", "%.2f")))
        p("")
        lat_table("latency_one", one)

    # ---- idle
    p("## CPU and memory at idle")
    p("")
    p("%s s with no change, after the start phase and 3 s of settling. *CPU* = utime + stime from "
      "`/proc/PID/stat` (ticks of 10 ms) over the wall time; *VmRSS* at the end; *VmHWM* = the peak "
      "resident size since the agent started (it includes the listing of the full store). The agent "
      "resyncs (reads the whole kernel table) every 30 s and probes its member every 3 s; "
      "the window covers about %s resyncs." % (meta.get("idle_s", "?"),
                                                "%.0f" % (float(meta.get("idle_s", 0)) / 30)))
    p("")
    def idle_table(ph):
        p("| process | CPU % | CPU s | VmRSS MiB | VmHWM MiB |")
        p("| --- | --- | --- | --- | --- |")
        for a in agents:
            p("| %s | %s | %s | %s | %s |" % (a, cell(ph, a, "cpu_pct", "%.3f"), cell(ph, a, "cpu_s", "%.2f"),
                                             cell(ph, a, "rss_kb", "%.1f", 1 / 1024.0),
                                             cell(ph, a, "hwm_kb", "%.1f", 1 / 1024.0)))
        for e in etcds:
            if vals(ph, e, "cpu_pct"):
                p("| %s | %s | | %s | |" % (e, cell(ph, e, "cpu_pct", "%.3f"),
                                            cell(ph, e, "rss_kb", "%.1f", 1 / 1024.0)))
        p("")

    idle_table("idle")
    if [x for a in agents for x in vals("idle_noresync", a, "cpu_pct")]:
        p("### Idle without the resync")
        p("")
        p("After the burst, the agents restarted with `--resync 3600` (no whole-table comparison in the "
          "window), then %s s idle measured the same way. What remains every second is the status file "
          "(`status.json`, whose table hash is a SHA-256 over the whole applied table, computed at each "
          "write), plus the probe every 3 s and etcd's progress notifications every 2 s." % meta.get("idle_s", "?"))
        p("")
        idle_table("idle_noresync")

    # ---- burst
    p("## A %s-change burst" % meta.get("burst", "?"))
    p("")
    p("%s weight changes (every `rs` key in turn, a new weight each time) in %s transactions of at most %s "
      "operations, sent one after the other as fast as the store answered: %s s (%s changes/s; etcd's three "
      "members used %s s of CPU meanwhile). *converge* = from the first transaction's request to the agent's "
      "log line of the apply of the last transaction's revision (or a later one); *after last put* = from "
      "the last response; *observed* as above; *CPU* = the agent's utime + stime from the first request until "
      "the bench saw its apply line (sampled after each transaction and every 0.3 s), *CPU %%* the same over "
      "that wall time; *VmRSS max* = the largest VmRSS sampled then; *VmHWM* after; *applies* = kernel "
      "applies the agent logged (each a batch of revisions, `--batch-ms` 100)."
      % (meta.get("burst", "?"), cell("burst", "store", "txns", "%.0f"), meta.get("txn_ops", "?"),
         cell("burst", "store", "burst_put_s", "%.2f"), cell("burst", "store", "changes_per_s", "%.0f"),
         cell("burst", "etcd", "cpu_s_puts", "%.2f")))
    p("")
    p("| agent | converge s | after last put s | observed s | CPU s | CPU % | VmRSS max MiB | VmHWM MiB | applies |")
    p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for a in agents:
        p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |"
          % (a, cell("burst", a, "converge_s", "%.2f"), cell("burst", a, "after_last_s", "%.2f"),
             cell("burst", a, "observed_s", "%.2f"), cell("burst", a, "cpu_s", "%.2f"),
             cell("burst", a, "cpu_pct", "%.1f"), cell("burst", a, "rss_max_kb", "%.1f", 1 / 1024.0),
             cell("burst", a, "hwm_kb", "%.1f", 1 / 1024.0), cell("burst", a, "applies", "%.0f")))
    p("| **worst** | %s | %s | | | | | | |" % (cell("burst", "all", "converge_s", "%.2f"),
                                               cell("burst", "all", "after_last_s", "%.2f")))
    p("")

    # ---- checks
    p("## Checks")
    p("")
    bad = vals("check", "kernel_log", "bad_lines")
    p("- Kernel log: %s WARNING/BUG/Oops/Call Trace lines." % ("%.0f" % bad[0] if bad else "?"))
    warns = ["%s %.0f" % (e, vals("check", e, "log_warnings")[0]) for e in etcds if vals("check", e, "log_warnings")]
    if warns:
        p("- etcd warnings logged (`--log-level warn`; slow applies and the like): %s." % ", ".join(warns))
    for k, what in (("leader_changes_seen_total", "leader changes seen by each member (1 = the first election)"),
                    ("slow_apply_total", "slow applies (over 100 ms)"),
                    ("heartbeat_send_failures_total", "heartbeat send failures"),
                    ("proposals_failed_total", "failed proposals")):
        got = ["%s %.0f" % (e, vals("check", e, k)[0]) for e in etcds if vals("check", e, k)]
        if got:
            p("- etcd %s: %s." % (what, ", ".join(got)))
    missing = []
    for ph, metric, what in (("fill", "converge_s", "fill"), ("start", "converge_s", "start"),
                             ("idle", "cpu_pct", "idle"), ("burst", "converge_s", "burst")):
        if not vals(ph, "all" if ph != "idle" else (agents[0] if agents else "-"), metric):
            missing.append(what)
    if not lat_all:
        missing.append("latency")
    for ph, key, what in (("latency_b0", "puts_b0", "latency with --batch-ms 0"),
                          ("latency_one", "puts_one", "latency of one agent alone")):
        if meta.get(key, "0") not in ("0", "") and not vals(ph, agents[0] if agents else "-", "kernel_ms"):
            missing.append(what)
    if meta.get("puts_b0") and not vals("idle_noresync", agents[0] if agents else "-", "cpu_pct"):
        missing.append("idle without the resync")
    p("- Not measured (no rows, see the guest's output): %s." % (", ".join(missing) if missing else "nothing"))
    if meta.get("phase_s_fill"):
        p("- Guest time per phase: %s." % ", ".join("%s %s s" % (k[8:], v) for k, v in meta.items()
                                                    if k.startswith("phase_s_")))
    p("")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        f.write("\n".join(o))
    print("agent_report: %s (%d rows)" % (out_path, len(rows)))
    return 0 if rows else 1


sys.exit(main())
