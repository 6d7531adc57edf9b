#!/usr/bin/env python3
"""Runs INSIDE a guest (command of tests/vm/run-guest.sh): passive health
(outlier ejection) and the p2c scheduler under a slow and a failing real
server (issue 18, part 3).

    bench/guest/feedback.py [quick]

Topology: three server hosts, namespaces svs-fb1..3, each with its own
redis-server (6379) and `connect_cost serve` (9000) on 10.0.1i.1, and its own
link (a veth pair) to the client host, a fresh namespace per run with
10.0.1i.100 on link i.  Faults, in the server namespaces:
  s2 (10.0.12.1)  20 ms of added delay: `tc qdisc add dev LINK root netem delay 20ms`
                  on its end of the link (every packet it sends, SYN-ACK included)
  s3 (10.0.13.1)  refuses 30% of new connections: iptables-legacy
                  `-A INPUT -p tcp --dport 6379 --syn -m statistic --mode random
                  --probability 0.3 -j REJECT --reject-with tcp-reset`
  s1 (10.0.11.1)  healthy
The virtual service 10.0.9.1:6379 balances over the three (weight 1 each),
configured in the client namespace with `sockvsadm -R` (ejection: `--eject 3`
on the -A line).

Configurations and methods (every run: a fresh client namespace and service):
  faulty   rr, lc, wlc, p2c, each without and with --eject 3 (eject time
           defaults: 30 s, max 300 s, 50%); plus, connect only, rr and p2c with
           --eject 3 --eject-time 1 --eject-time-max 2 (probes every 1-2 s:
           ejection cycles within one run); plus, pool only, p2c/warm: p2c
           after 300 connect-per-request requests on the same service (every
           server has an RTT sample when the pool opens)
  equal    no delay, no rejects: lc and p2c
  delayed  (redis-benchmark only) the delay without the rejects: rr, lc, p2c
Workloads:
  connect  build/bench/feedback_load connect CONC N: a new connection per
           request (redis-benchmark -k 0), every failed connect counted
  pool     feedback_load pool CONC N: CONC connections opened at the start and
           kept (-k 1); a refused connect is retried at once and counted
  rb-k0, rb-k1  redis-benchmark -t ping_inline -c CONC (-k 0 / -k 1), the real
           client, only where no server refuses: redis-benchmark does not
           survive refused connects (a client whose connect fails is dropped
           with its request, and the run never reaches -n: it hangs)
  connect_cost  build/bench/connect_cost connect 1 S through the three servers'
           port 9000 (no faults): direct (cycling the real addresses), rr, p2c,
           rr --eject 3, p2c --eject 3: what p2c and the TCP state tracepoint
           cost on the connect path
After each run, per real server (`sockvsadm -L -n --stats --json`): connections
scheduled, failed connects the module saw, ejections.

Runs are interleaved within each repetition, in an order rotated from one
repetition to the next.  Raw rows: $SVS_RESULTS/rows.tsv (workload, method,
rep, metric, value; workload = CONFIG/WORKLOAD) and meta.tsv; the host's
bench/feedback_report.py writes bench/results/KVER-feedback.md.
Parameters (environment; defaults full / quick):
  SVS_FB_REPS        3 / 1
  SVS_FB_CONC        requests in flight (16 / 16)
  SVS_FB_N_CONNECT   requests per connect run (10000 / 400)
  SVS_FB_N_POOL      requests per pool run (20000 / 2000)
  SVS_FB_N_RB        requests per redis-benchmark run (3000 / 400)
  SVS_FB_CC_SECONDS  seconds per connect_cost run (0.5 / 0.25)
  SVS_FB_ONLY        comma-separated parts (connect_cost,feedback,rb)
  SVS_FB_BUILD       where kmod/KVER/sock_vs.ko and userspace/sockvsadm are
                     (default: the repo's build/)
Exit status 0 when every run produced its rows.
"""

import json
import os
import subprocess
import sys
import time

import guestlib  # bench/guest/guestlib.py, beside this script
from guestlib import run

QUICK = "quick" in sys.argv[1:]
REPO = os.environ.get("SVS_REPO") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RESULTS = os.environ.get("SVS_RESULTS") or "/tmp"
KVER = os.uname().release
BUILD = os.environ.get("SVS_FB_BUILD") or os.path.join(REPO, "build")
ADM = os.path.join(BUILD, "userspace", "sockvsadm")
KO = os.path.join(BUILD, "kmod", KVER, "sock_vs.ko")
LOAD = os.path.join(REPO, "build", "bench", "feedback_load")
CC = os.path.join(REPO, "build", "bench", "connect_cost")
WORK = "/tmp/svs-fb"


param = guestlib.params("SVS_FB_", QUICK)


REPS = int(param("REPS", "3", "1"))
CONC = int(param("CONC", "16", "16"))
N_CONNECT = int(param("N_CONNECT", "10000", "400"))
N_POOL = int(param("N_POOL", "20000", "2000"))
N_RB = int(param("N_RB", "3000", "400"))
CC_SECONDS = float(param("CC_SECONDS", "0.5", "0.25"))
ONLY = [x for x in os.environ.get("SVS_FB_ONLY", "").split(",") if x]

VIP = "10.0.9.1"
CC_VIP = "10.0.9.2"
PORT = 6379
CC_PORT = 9000
NSRV = 3
SRV_NS = ["svs-fb%d" % i for i in range(1, NSRV + 1)]
SERVERS = ["10.0.1%d.1" % i for i in range(1, NSRV + 1)]
CLIENT_IPS = ["10.0.1%d.100" % i for i in range(1, NSRV + 1)]
DELAYED = 1          # index of s2
REJECTING = 2        # index of s3
DELAY = "20ms"
REJECT_P = "0.3"
EJECT = 3
NCPU = os.cpu_count() or 1
CLIENT_CPUS = "0"
SERVER_CPUS = "1" if NCPU > 1 else "0"
MODULES = ["veth", "sch_netem", "ip_tables", "iptable_filter", "x_tables", "xt_statistic", "xt_tcpudp",
           "nf_reject_ipv4", "ipt_REJECT"]
REJECT_RULE = ["INPUT", "-p", "tcp", "--dport", str(PORT), "--syn", "-m", "statistic", "--mode", "random",
               "--probability", REJECT_P, "-j", "REJECT", "--reject-with", "tcp-reset"]

# (name, scheduler, eject options): the faulty configuration's methods.
FAST_EJECT = {"eject": EJECT, "time": 1, "time_max": 2}
FAULTY = [(s + ("+eject" if e else ""), s, {"eject": EJECT} if e else None)
          for s in ("rr", "lc", "wlc", "p2c") for e in (False, True)]
FAULTY += [("rr+eject/1s", "rr", FAST_EJECT), ("p2c+eject/1s", "p2c", FAST_EJECT)]
# pool only: p2c after a warm-up (WARM_N connect-per-request requests on the same service just
# before the pool opens, so that every server has an RTT sample)
FAULTY += [("p2c/warm", "p2c", None)]
WARM_N = 300
EQUAL = [("lc", "lc", None), ("p2c", "p2c", None)]
RB_EQUAL = EQUAL
RB_DELAYED = [("rr", "rr", None), ("lc", "lc", None), ("p2c", "p2c", None)]

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


def nsx(ns, *cmd):
    return ["ip", "netns", "exec", ns] + list(cmd)


# ---------------------------------------------------------------- topology

def setup_servers():
    for m in MODULES:
        r = run(["modprobe", m], check=False)
        if r.returncode != 0 and m not in ("x_tables", "nf_reject_ipv4"):
            fail("modprobe %s: %s" % (m, r.stderr.strip()))
    if run(["grep", "-q", "^sock_vs ", "/proc/modules"], check=False).returncode != 0:
        run(["insmod", KO])
    os.makedirs(WORK, exist_ok=True)
    for ns in SRV_NS:
        run(["ip", "netns", "add", ns])
        run(nsx(ns, "ip", "link", "set", "lo", "up"))
        for k, v in (("net/core/somaxconn", 4096), ("net/ipv4/tcp_max_syn_backlog", 8192)):
            run(nsx(ns, "sh", "-c", "echo %s > /proc/sys/%s" % (v, k)))
        d = os.path.join(WORK, ns)
        os.makedirs(d, exist_ok=True)
        run(nsx(ns, "taskset", "-c", SERVER_CPUS, "redis-server", "--port", str(PORT), "--bind", "0.0.0.0",
                "--protected-mode", "no", "--save", "", "--appendonly", "no", "--daemonize", "yes",
                "--tcp-backlog", "4096", "--maxclients", "10000",
                "--dir", d, "--logfile", d + "/redis.log", "--pidfile", d + "/redis.pid"))
        subprocess.Popen(nsx(ns, "taskset", "-c", SERVER_CPUS, CC, "serve", str(CC_PORT)),
                         stdout=open(d + "/cc.log", "w"), stderr=subprocess.STDOUT)
    for ns in SRV_NS:
        for _ in range(300):
            if run(nsx(ns, "redis-cli", "-h", "127.0.0.1", "ping"), check=False).stdout.strip() == "PONG":
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("redis in %s did not answer" % ns)


reject_on = [False]


def set_reject(on):
    """The 30% reject rule in s3's namespace, on or off."""
    if on == reject_on[0]:
        return
    run(nsx(SRV_NS[REJECTING], "iptables-legacy", "-w", "-A" if on else "-D", *REJECT_RULE))
    reject_on[0] = on


client_seq = [0]


def eject_args(ej):
    a = ["--eject", str(ej["eject"])]
    if "time" in ej:
        a += ["--eject-time", str(ej["time"]), "--eject-time-max", str(ej["time_max"])]
    return a


def rules(vip, port, sched, ej):
    """sockvsadm -R input: the service vip:port over the three servers, weight 1."""
    vs = "%s:%d" % (vip, port)
    return ("-A -t %s -s %s%s\n" % (vs, sched, "".join(" " + x for x in eject_args(ej)) if ej else "")
            + "".join("-a -t %s -r %s:%d -w 1\n" % (vs, s, port) for s in SERVERS))


def client_ns(delay, vip=VIP, port=PORT, sched=None, ej=None):
    """A fresh client namespace, one link per server host (with delay, netem on s2's end of
    its link), configured with the service (sched given).  Few processes: each costs
    tens of milliseconds of guest time under TCG."""
    client_seq[0] += 1
    k = client_seq[0]
    ns = "svs-fbc%d" % k
    run(["ip", "netns", "add", ns])
    run(["ip", "-batch", "-"], input="".join(
        "link add e%d netns %s type veth peer name c%ds%d netns %s\n" % (i + 1, ns, k, i + 1, sns)
        for i, sns in enumerate(SRV_NS)))
    for i, sns in enumerate(SRV_NS):
        peer = "c%ds%d" % (k, i + 1)
        run(["ip", "-n", sns, "-batch", "-"], input="addr add %s/24 dev %s\nlink set %s up\n"
            % (SERVERS[i], peer, peer))
        if delay and i == DELAYED:
            run(["tc", "-n", sns, "qdisc", "add", "dev", peer, "root", "netem", "delay", DELAY, "limit", "10000"])
    run(["ip", "-n", ns, "-batch", "-"], input="link set lo up\n" + "".join(
        "addr add %s/24 dev e%d\nlink set e%d up\n" % (CLIENT_IPS[i], i + 1, i + 1) for i in range(NSRV)))
    # Then, in the namespace: sysctls; the neighbours resolved now (a direct connection
    # to each real address, not balanced: through netem, s2's ARP reply takes 20 ms too,
    # which the first requests of a run would otherwise wait for); the service.
    script = ("echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse; echo '1024 65535' > /proc/sys/net/ipv4/ip_local_port_range; "
              + "".join("redis-cli -h %s -p %d ping >/dev/null; " % (s, PORT) for s in SERVERS))
    if sched:
        path = os.path.join(WORK, "rules-%s" % ns)
        with open(path, "w") as f:
            f.write(rules(vip, port, sched, ej))
        script += "%s -R < %s" % (ADM, path)
    run(nsx(ns, "sh", "-c", script))
    return ns


def drop_ns(ns):
    """The namespace's service counters (sockvsadm -L -n --stats --json) and the namespace gone."""
    r = run(nsx(ns, "sh", "-c", "%s -L -n --stats --json; %s -C" % (ADM, ADM)), check=False)
    run(["ip", "-n", ns, "-batch", "-"], input="".join("link del e%d\n" % (i + 1) for i in range(NSRV)),
        check=False)
    run(["ip", "netns", "del", ns], check=False)
    try:
        return json.loads(r.stdout)
    except ValueError:
        fail("sockvsadm -L -n --stats --json in %s: %r %r" % (ns, r.stdout[-300:], r.stderr[-300:]))
        return None


def dests_of(listing, vip=VIP, port=PORT):
    """{real server address: its -L --json entry} of vip:port in a listing."""
    for svc in (listing or {}).get("services", []):
        if svc.get("address") == vip and svc.get("port") == port:
            return {d.get("address"): d for d in svc.get("dests", [])}
    return {}


# ---------------------------------------------------------------- workloads

def parse_load(out):
    """feedback_load's output: (totals, {server index: per-server})."""
    tot, per = {}, {}
    for line in out.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "mode":
            tot = dict(zip(f[0::2], f[1::2]))
        elif f[0] == "local":
            d = dict(zip(f[2::2], f[3::2]))
            if f[1] in CLIENT_IPS:
                per[CLIENT_IPS.index(f[1])] = d
    return tot, per


METRICS = ["requests", "ok", "failed_requests", "connects", "failed_connects", "refused", "reset", "timeout",
           "other", "seconds", "rps", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us",
           "connect_p50_us", "connect_p99_us"]


def listing(ns):
    r = run(nsx(ns, ADM, "-L", "-n", "--stats", "--json"), check=False)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return None


def feedback_run(cfg, wl, name, sched, ej, rep):
    set_reject(cfg == "faulty")
    ns = client_ns(cfg in ("faulty", "delayed"), VIP, PORT, sched, ej)
    w = "%s/%s" % (cfg, wl)
    tot = per = st0 = None
    try:
        if name.endswith("/warm"):
            r = run(nsx(ns, "taskset", "-c", CLIENT_CPUS, LOAD, "connect", "4", str(WARM_N),
                        "%s:%d" % (VIP, PORT), "5000"), check=False, timeout=6000)
            log("%-14s %-13s rep %d: warm-up: %s" % (w, name, rep, r.stdout.splitlines()[0] if r.stdout else r.stderr))
            st0 = dests_of(listing(ns))     # the counters below are the measured run's alone
        n = N_CONNECT if wl == "connect" else N_POOL
        r = run(nsx(ns, "taskset", "-c", CLIENT_CPUS, LOAD, wl, str(CONC), str(n), "%s:%d" % (VIP, PORT), "5000"),
                check=False, timeout=6000)
        tot, per = parse_load(r.stdout)
        if r.returncode != 0 or not tot:
            fail("%s %s rep %d: feedback_load exit %d: %r %r" % (w, name, rep, r.returncode, r.stdout[-500:],
                                                                r.stderr[-500:]))
            tot = None
    finally:
        st = dests_of(drop_ns(ns))
    if tot is None:
        return
    for m in METRICS:
        row(w, name, rep, m, tot[m])
    for i in range(NSRV):
        p = per.get(i, {})
        row(w, name, rep, "s%d_requests" % (i + 1), p.get("requests", 0))
        row(w, name, rep, "s%d_failed_connects" % (i + 1), p.get("failed_connects", 0))
        row(w, name, rep, "s%d_p50_us" % (i + 1), p.get("p50_us", 0))
        row(w, name, rep, "s%d_p99_us" % (i + 1), p.get("p99_us", 0))
    ejections = 0
    if not st:
        fail("%s %s rep %d: no counters for the service" % (w, name, rep))
    for i, s in enumerate(SERVERS):
        d = dict(st.get(s, {}).get("stats", {}))
        for k, v in ((st0 or {}).get(s, {}).get("stats", {})).items():
            d[k] = d.get(k, 0) - v
        row(w, name, rep, "s%d_conns" % (i + 1), d.get("conns", 0))
        row(w, name, rep, "s%d_ejections" % (i + 1), d.get("ejected", 0))
        row(w, name, rep, "s%d_kfailed" % (i + 1), d.get("failed", 0))
        ejections += d.get("ejected", 0)
    row(w, name, rep, "ejections", ejections)
    log("%-14s %-13s rep %d: %s req in %ss, %s/s, p50 %.1f ms p99 %.1f ms, failed req %s conn %s, "
        "requests per server %s, ejections %d"
        % (w, name, rep, tot["requests"], tot["seconds"], tot["rps"], float(tot["p50_us"]) / 1e3,
           float(tot["p99_us"]) / 1e3, tot["failed_requests"], tot["failed_connects"],
           "/".join(str(per.get(i, {}).get("requests", 0)) for i in range(NSRV)), ejections))


def rb_run(cfg, wl, name, sched, rep):
    """redis-benchmark (the real client) through the service; only without rejects."""
    set_reject(False)
    ns = client_ns(cfg == "delayed", VIP, PORT, sched, None)
    w = "%s/%s" % (cfg, wl)
    try:
        cmd = ["taskset", "-c", CLIENT_CPUS, "redis-benchmark", "-h", VIP, "-p", str(PORT), "-c", str(CONC),
               "-P", "1", "-n", str(N_RB), "-t", "ping_inline", "--csv", "-k", "0" if wl == "rb-k0" else "1"]
        r = run(nsx(ns, *cmd), check=False, timeout=6000)
    finally:
        st = dests_of(drop_ns(ns))
    lines = [[x.strip('"') for x in line.split(",")] for line in r.stdout.splitlines() if line.strip()]
    hdr = next((x for x in lines if x and x[0] == "test"), None)
    val = next((x for x in lines if x and x[0] == "PING_INLINE"), None)
    if r.returncode != 0 or not hdr or not val:
        fail("%s %s rep %d: redis-benchmark exit %d: %r %r" % (w, name, rep, r.returncode, r.stdout[-500:],
                                                              r.stderr[-500:]))
        return
    d = dict(zip(hdr, val))
    for k, m in (("rps", "rps"), ("avg_latency_ms", "mean_ms"), ("p50_latency_ms", "p50_ms"),
                 ("p95_latency_ms", "p95_ms"), ("p99_latency_ms", "p99_ms"), ("max_latency_ms", "max_ms")):
        row(w, name, rep, m, d.get(k, ""))
    conns = [st.get(s, {}).get("stats", {}).get("conns", 0) for s in SERVERS]
    for i, c in enumerate(conns):
        row(w, name, rep, "s%d_conns" % (i + 1), c)
    log("%-14s %-13s rep %d: %s req/s, p50 %s ms p99 %s ms, connections per server %s"
        % (w, name, rep, d.get("rps"), d.get("p50_latency_ms"), d.get("p99_latency_ms"),
           "/".join(map(str, conns))))


def feedback():
    runs = []
    if not ONLY or "feedback" in ONLY:
        runs += [("faulty", wl, n, s, e) for wl in ("connect", "pool") for n, s, e in FAULTY
                 if (wl == "connect" and "/warm" not in n) or (wl == "pool" and "/1s" not in n)]
        runs += [("equal", wl, n, s, e) for wl in ("connect", "pool") for n, s, e in EQUAL]
    if not ONLY or "rb" in ONLY:
        runs += [("equal", wl, n, s, None) for wl in ("rb-k0", "rb-k1") for n, s, _ in RB_EQUAL]
        runs += [("delayed", wl, n, s, None) for wl in ("rb-k0", "rb-k1") for n, s, _ in RB_DELAYED]
    for rep in range(1, REPS + 1):
        k = ((rep - 1) * len(runs) // REPS) % max(1, len(runs))
        order = runs[k:] + runs[:k]
        log("rep %d/%d: %d runs, starting at %s/%s %s" % (rep, REPS, len(order), *order[0][:3]))
        for cfg, wl, name, sched, ej in order:
            try:
                if wl.startswith("rb-"):
                    rb_run(cfg, wl, name, sched, rep)
                else:
                    feedback_run(cfg, wl, name, sched, ej, rep)
            except Exception as e:  # noqa: BLE001  record, go on
                fail("%s/%s %s rep %d: %s" % (cfg, wl, name, rep, e))
    set_reject(False)


def connect_cost():
    """connect_cost through the three servers (no faults): what p2c and the
    tracepoint cost per connect.  One client namespace, the service edited
    between runs (a fresh ejection setting each time)."""
    set_reject(False)
    ns = client_ns(False)
    runs = [("direct", None, None), ("rr", "rr", None), ("p2c", "p2c", None),
            ("rr+eject", "rr", {"eject": EJECT}), ("p2c+eject", "p2c", {"eject": EJECT})]
    vs = "%s:%d" % (CC_VIP, CC_PORT)
    try:
        for rep in range(1, REPS + 1):
            k = (rep - 1) % len(runs)
            for name, sched, ej in runs[k:] + runs[:k]:
                run(nsx(ns, ADM, "-C"))
                if sched:
                    run(nsx(ns, ADM, "-R"), input=rules(CC_VIP, CC_PORT, sched, ej))
                dests = ["%s:%d" % (s, CC_PORT) for s in SERVERS] if not sched else [vs]
                r = run(nsx(ns, "taskset", "-c", CLIENT_CPUS, CC, "connect", "1", str(CC_SECONDS), *dests),
                        check=False, timeout=3000)
                f = r.stdout.split()
                if r.returncode != 0 or len(f) < 12:
                    fail("connect_cost %s rep %d: exit %d %r %r" % (name, rep, r.returncode, r.stdout, r.stderr))
                    continue
                row("connect_cost", name, rep, "cps", f[5])
                row("connect_cost", name, rep, "errors", f[7])
                row("connect_cost", name, rep, "p50_us", f[9])
                row("connect_cost", name, rep, "p99_us", f[11])
                log("connect_cost %-10s rep %d: %s connects/s (errors %s), connect p50 %s us p99 %s us"
                    % (name, rep, f[5], f[7], f[9], f[11]))
    finally:
        drop_ns(ns)


def main():
    global rows_f
    rows_f = open(os.path.join(RESULTS, "rows.tsv"), "w")
    log("kernel %s, %s mode, %d vCPU(s); module %s, sockvsadm %s" % (KVER, "quick" if QUICK else "full", NCPU,
                                                                    KO, ADM))
    setup_servers()
    with open(os.path.join(RESULTS, "meta.tsv"), "w") as meta:
        for k, v in (("kernel", KVER), ("quick", int(QUICK)), ("reps", REPS), ("conc", CONC),
                     ("n_connect", N_CONNECT), ("n_pool", N_POOL), ("n_rb", N_RB), ("cc_seconds", CC_SECONDS),
                     ("guest_cpus", NCPU), ("icount", os.environ.get("SVS_BENCH_ICOUNT", "off")),
                     ("eject_via", "sockvsadm --eject (sockvsadm -R)"),
                     ("module", KO), ("sockvsadm", ADM),
                     ("redis", run(["redis-server", "--version"]).stdout.split()[2]),
                     ("tc", run(["tc", "-V"], check=False).stdout.strip()),
                     ("iptables", run(["iptables-legacy", "--version"]).stdout.strip()),
                     ("date", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))):
            meta.write("%s\t%s\n" % (k, v))
    for name, fn in (("connect_cost", connect_cost), ("feedback", feedback)):
        if ONLY and name not in ONLY and not (name == "feedback" and "rb" in ONLY):
            continue
        log("=== %s" % name)
        t = time.monotonic()
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            fail("%s: %s" % (name, e))
        with open(os.path.join(RESULTS, "meta.tsv"), "a") as meta:
            meta.write("phase_s_%s\t%.0f\n" % (name, time.monotonic() - t))
    dmesg = run(["dmesg"]).stdout
    bad = [line for line in dmesg.splitlines()
           if any(p in line for p in ("WARNING:", "BUG:", "Oops", "Call Trace", "lockdep"))]
    if bad:
        fail("kernel log: %s" % bad[:5])
    row("check", "kernel_log", 0, "bad_lines", len(bad))
    row("check", "kernel_log", 0, "ejection_lines", sum(1 for line in dmesg.splitlines() if "ejected for" in line))
    with open(os.path.join(RESULTS, "dmesg.txt"), "w") as f:
        f.write(dmesg)
    log("done in %.0fs, %d failures" % (time.monotonic() - t0, len(failures)))
    for f in failures:
        print("bench failure: " + f)
    return 1 if failures else 0


sys.exit(main())
