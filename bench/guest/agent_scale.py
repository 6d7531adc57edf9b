#!/usr/bin/env python3
"""Runs INSIDE a guest (command of tests/vm/run-guest.sh): sockvs-agent at
scale (issue 17: "1,000 services x 4 real servers: time from empty to
converged; p50/p99 latency from an etcd put to the kernel on 5 agents; agent
CPU and memory at idle and during a 5,000-change burst").

    bench/guest/agent_scale.py [quick]

Topology (as tests/vm/cases/83-agent.py, copied, not imported): a 3-member
cluster of Debian's /usr/bin/etcd (3.4) in the initial namespace, clients
on a bridge (10.77.0.1:23791-23793, peers on 127.0.0.1; heartbeat 300 ms,
election timeout 3 s), a veth per client namespace svsas1..5, one
`sockvs-agent run` in each (it configures the table of the namespace it
runs in), with the agent's default timers (--batch-ms 100, --probe-interval
3, --request-timeout 5, --resync 30, --page-size 500), --healthd-state
none.  The store's writer is this script (etcd's JSON gateway, urllib, from
the initial namespace).

Desired state: SERVICES services s00000.. (tcp 10.200.X.Y:80, rr), each with
RS static real servers (rs keys, 10.21R.X.Y:8080 with R the server's
index, X.Y = i // 250, i % 250 + 1, weight 1), put in
transactions of at most 128 operations (a service and its real servers in
the same transaction: 25 services per transaction for RS = 4).

Phases (rows: phase, who, rep, metric, value in $SVS_RESULTS/rows.tsv):
  fill     agents running on a store with only the marker (empty tables);
           the store is filled.  Per agent: converge_s = time from the first
           transaction's request to the agent's log line of the apply of a
           revision >= the last transaction's (the agent logs after the
           kernel answered), after_last_s = the same from the last
           transaction's response; observed_s = when this script saw the
           namespace's `sockvsadm -S -n` equal to the desired table (polled
           every 0.3 s, an upper bound).  fill_s: the puts themselves.
  start    the agents stopped (SIGTERM), their snapshots removed, their
           tables flushed (sockvsadm -C), then all started at once on the
           full store: converge_s = from the first start to that agent's
           apply line; observed_s as above.  REPS_START repetitions.
  idle     IDLE_S seconds with no change: per agent cpu_pct (utime+stime
           from /proc/PID/stat over the wall time), rss_kb (VmRSS at the
           end), hwm_kb (VmHWM: peak since the agent started).
  latency  PUTS single puts, each a weight change of one existing rs key
           (a random service and server), spaced GAP_S (+0-0.2 s random)
           after the previous one reached every agent.  Per (put, agent):
           kernel_ms = from the put's HTTP response to the first GET_DEST
           dump (raw generic netlink, tests/vm/lib/svs_genl.py, one socket
           per namespace) of that service in that namespace showing the new
           weight; the namespaces still waiting are polled in turn, then the
           bench sleeps max(POLL_MS, POLL_REL x the time since the response)
           (the cycle's own time is recorded: poll_cycle_ms), so a sample is
           late by at most that sleep plus a cycle;
           log_ms = from the response to the agent's log line of the apply
           (millisecond stamps; may be negative: the watch event can reach
           the agent before the response reaches this script).
  burst    BURST weight changes on the rs keys (every key in turn, a new
           weight each time) in transactions of 128 as fast as the store
           takes them.  Per agent: converge_s from the first request,
           after_last_s from the last response, cpu_s and cpu_pct over the
           burst until observed converged, rss_max_kb (VmRSS sampled every
           0.3 s), hwm_kb after.  Store: burst_put_s, changes_per_s.
  latency_b0  the agents restarted with --batch-ms 0 (snapshots and tables
           kept), then PUTS_B0 single puts measured as in latency: what the
           agent's batching window (100 ms by default) adds.
  idle_noresync  the agents restarted with --resync 3600, then idle as
           above: the idle cost without the periodic whole-table resync.
  latency_one  agents 2-5 stopped (tables left), the first restarted with
           its defaults, PUTS_ONE single puts: the latency of an agent that
           does not share the vCPU with four others (etcd still does).
  latency phases also record each agent's CPU over the phase (phase_cpu_s,
  phase_wall_s): the report derives the CPU per change from them.
Every phase ends with each namespace's `sockvsadm -S -n` equal to the
desired table (else a failure).  Exit status 0 when every phase converged.
Parameters (environment; defaults full / quick):
  SVS_AS_SERVICES 1000 / 50    SVS_AS_RS 4 / 4       SVS_AS_AGENTS 5 / 5
  SVS_AS_PUTS 200 / 20         SVS_AS_BURST 5000 / 200
  SVS_AS_PUTS_B0 100 / 10  (latency_b0; 0: no such phase)
  SVS_AS_PUTS_ONE 100 / 10 (latency_one; 0: no such phase)
  SVS_AS_IDLE_S 60 / 10        SVS_AS_REPS_START 3 / 1
  SVS_AS_POLL_MS 5 / 5         SVS_AS_POLL_REL 0.1 / 0.1
  SVS_AS_GAP_S 0.3 / 0.3
  SVS_AS_TIMEOUT  seconds for a phase to converge (1800 / 600)
"""

import base64
import calendar
import ctypes
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

import guestlib  # bench/guest/guestlib.py, beside this script
from guestlib import run

QUICK = "quick" in sys.argv[1:] or "--quick" in sys.argv[1:]
REPO = os.environ.get("SVS_REPO") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "vm", "lib"))
import svs_genl as g  # noqa: E402  (raw generic netlink; imports svs, no side effects)

RESULTS = os.environ.get("SVS_RESULTS") or "/tmp"
KVER = os.uname().release
BUILD = os.path.join(REPO, "build")
WORK = "/tmp/svs-as"
# The binaries are copied to the guest's tmpfs first: under icount a read from
# the host (9p) lets the guest's clock run ahead while it waits, which must
# not happen inside a measurement (nor to etcd's timers).  For the same reason
# the rows go to tmpfs and are copied to $SVS_RESULTS between phases.
SRC = {"sockvsadm": os.path.join(BUILD, "userspace", "sockvsadm"),
       "sockvs-agent": os.path.join(BUILD, "userspace", "sockvs-agent"),
       "etcd": "/usr/bin/etcd"}
ADM = os.path.join(WORK, "bin", "sockvsadm")
AGENT = os.path.join(WORK, "bin", "sockvs-agent")
ETCD = os.path.join(WORK, "bin", "etcd")
KO = os.path.join(BUILD, "kmod", KVER, "sock_vs.ko")


param = guestlib.params("SVS_AS_", QUICK)


SERVICES = int(param("SERVICES", "1000", "50"))
RS = int(param("RS", "4", "4"))
NAGENTS = int(param("AGENTS", "5", "5"))
PUTS = int(param("PUTS", "200", "20"))
PUTS_B0 = int(param("PUTS_B0", "100", "10"))
PUTS_ONE = int(param("PUTS_ONE", "100", "10"))
BURST = int(param("BURST", "5000", "200"))
IDLE_S = float(param("IDLE_S", "60", "10"))
REPS_START = int(param("REPS_START", "3", "1"))
POLL_MS = float(param("POLL_MS", "5", "5"))
GAP_S = float(param("GAP_S", "0.3", "0.3"))
POLL_REL = float(param("POLL_REL", "0.1", "0.1"))
TIMEOUT = float(param("TIMEOUT", "1800", "600"))
TXN_OPS = 128            # etcd 3.4's --max-txn-ops default
# SVS_AS_PROFILE=1: fill, then the idle and latency phases only, each with
# `perf record -e cpu-clock -p PID` on the first agent; `perf report` by
# symbol in $SVS_RESULTS/perf-PHASE.txt (the other phases are skipped).
PROFILE = os.environ.get("SVS_AS_PROFILE") == "1"

CELL = "as"
P = "/sockvs/v1/%s/" % CELL
BR, BR_ADDR = "svsasbr", "10.77.0.1"
CLIENTS = ["svsas%d" % i for i in range(1, NAGENTS + 1)]
MEMBERS = [("m1", 23791, 23801), ("m2", 23792, 23802), ("m3", 23793, 23803)]
ETCD_OPTS = ["--heartbeat-interval", "300", "--election-timeout", "3000",
             "--experimental-watch-progress-notify-interval", "2s"]
AGENT_OPTS = ["--healthd-state", "none"]
NOPROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CLK_TCK = os.sysconf("SC_CLK_TCK")
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)

failures = []
rows_f = None
t0 = time.monotonic()
procs = []


def log(msg):
    print("[bench %6.0fs] %s" % (time.monotonic() - t0, msg), flush=True)


def fail(msg):
    log("ERROR: " + msg)
    failures.append(msg)


def row(phase, who, rep, metric, value):
    rows_f.write("%s\t%s\t%s\t%s\t%s\n" % (phase, who, rep, metric, value))


def save_rows():
    """rows.tsv from tmpfs to $SVS_RESULTS (between phases only)."""
    rows_f.flush()
    if os.path.abspath(RESULTS) != os.path.abspath(WORK):
        subprocess.run(["cp", os.path.join(WORK, "rows.tsv"), os.path.join(RESULTS, "rows.tsv")])


def nsenter(ns, *cmd):
    """nsenter, not ip netns exec: no /sys remount per call (cheaper under TCG); it execs."""
    return ["nsenter", "--net=/run/netns/" + ns] + list(cmd)


def b64(s):
    return base64.b64encode(s.encode()).decode()


# ------------------------------------------------------------------ the store

class Store:
    """etcd through its JSON gateway; `model` is what was put (key -> value)."""

    def __init__(self, members):
        self.members = members
        self.model = {}

    def call(self, path, body, timeout=60):
        last = None
        for m in self.members:
            try:
                req = urllib.request.Request("http://%s:%d%s" % (BR_ADDR, m.cport, path),
                                             data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"})
                with NOPROXY.open(req, timeout=timeout) as r:
                    out = json.loads(r.read().decode())
                if "error" in out:
                    last = out
                    continue
                return out
            except Exception as e:   # noqa: BLE001 - any member will do
                last = e
        raise RuntimeError("no etcd member answered %s: %s" % (path, last))

    def put(self, key, value):
        v = value if isinstance(value, str) else json.dumps(value)
        out = self.call("/v3/kv/put", {"key": b64(key), "value": b64(v)})
        self.model[key] = v
        return int(out["header"]["revision"])

    def txn(self, changes):
        """One revision: [(key, value or None for a delete)], at most 128."""
        assert len(changes) <= TXN_OPS
        ops = []
        for key, value in changes:
            if value is None:
                ops.append({"request_delete_range": {"key": b64(key)}})
                self.model.pop(key, None)
            else:
                v = value if isinstance(value, str) else json.dumps(value)
                ops.append({"request_put": {"key": b64(key), "value": b64(v)}})
                self.model[key] = v
        out = self.call("/v3/kv/txn", {"success": ops}, timeout=120)
        return int(out["header"]["revision"])

    def expected(self):
        """`sockvsadm -S -n` lines of the desired table (the model; rs keys only)."""
        lines = set()
        svcs = {}
        for k, v in self.model.items():
            if k.startswith(P + "svc/"):
                svcs[k[len(P) + 4:]] = json.loads(v)
        for name, s in svcs.items():
            vs = "%s:%d" % (s["address"], s["port"])
            lines.add("-A -t %s -s %s" % (vs, s.get("scheduler", "wrr")))
        for k, v in self.model.items():
            if k.startswith(P + "rs/"):
                name, ep = k[len(P) + 3:].split("/", 1)
                s = svcs[name]
                lines.add("-a -t %s:%d -r %s -w %d" % (s["address"], s["port"], ep,
                                                       json.loads(v or "{}").get("weight", 1)))
        return lines


class Member:
    def __init__(self, name, cport, pport):
        self.name, self.cport, self.pport = name, cport, pport
        self.dir = os.path.join(WORK, name)
        self.p = None

    def url(self):
        return "http://%s:%d" % (BR_ADDR, self.cport)

    def start(self):
        cluster = ",".join("%s=http://127.0.0.1:%d" % (n, pp) for n, _, pp in MEMBERS)
        self.log = open(os.path.join(WORK, self.name + ".log"), "w")
        self.p = subprocess.Popen([ETCD, "--name", self.name, "--data-dir", self.dir,
                                   "--listen-client-urls", self.url(),
                                   "--advertise-client-urls", self.url(),
                                   "--listen-peer-urls", "http://127.0.0.1:%d" % self.pport,
                                   "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.pport,
                                   "--initial-cluster", cluster, "--initial-cluster-state", "new",
                                   "--initial-cluster-token", "svsas"] + ETCD_OPTS +
                                  ["--logger", "zap", "--log-level", "warn"],
                                  stdout=subprocess.DEVNULL, stderr=self.log)
        procs.append(self.p)

    def metrics(self):
        """A few counters of the member's /metrics (leader changes, slow applies, ...)."""
        out = {}
        try:
            with NOPROXY.open(self.url() + "/metrics", timeout=30) as r:
                for line in r.read().decode().splitlines():
                    for name in ("etcd_server_leader_changes_seen_total", "etcd_server_slow_apply_total",
                                 "etcd_server_heartbeat_send_failures_total",
                                 "etcd_server_slow_read_indexes_total", "etcd_server_proposals_failed_total"):
                        if line.startswith(name + " "):
                            out[name] = float(line.split()[1])
        except Exception as e:  # noqa: BLE001
            log("metrics of %s: %s" % (self.name, e))
        return out

    def healthy(self):
        try:
            with NOPROXY.open(self.url() + "/health", timeout=5) as r:
                return json.loads(r.read().decode()).get("health") == "true"
        except Exception:   # noqa: BLE001
            return False


# --------------------------------------------------------------- the agents

STAMP_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z sockvs-agent\[\d+\]: (.*)$")
APPLY_RE = re.compile(r"^revision (\d+)(?: \([^)]*\))?: \d+ changes?")


def stamp_time(date, ms):
    return calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000.0


def proc_sample(pid):
    """(utime+stime in seconds, VmRSS kB, VmHWM kB) of a process."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    ticks = int(rest[11]) + int(rest[12])      # fields 14 and 15 (utime, stime)
    rss = hwm = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return ticks / CLK_TCK, rss, hwm


def genl_in(ns):
    """A generic netlink socket of namespace ns (created there with setns)."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + ns)
        try:
            return g.Genl()
        finally:
            if libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(fd)
        os.close(home)


def dest_weights(nl, vip, port):
    """{"addr:port": weight} of a service, from a GET_DEST dump."""
    r = nl.cmd("GET_DEST", g.nest(g.ATTR["SERVICE"], *g.svc_attrs(vip, port)),
               flags=g.NLM_F_REQUEST | g.NLM_F_DUMP)
    if r.error:
        return None
    out = {}
    for m in r.msgs:
        a = g.parse_attrs(g.parse_attrs(m)[g.ATTR["DEST"]])
        raw = a[g.DEST["ADDR"]]
        host = socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
        out["%s:%d" % (host, struct.unpack("=H", a[g.DEST["PORT"]])[0])] = \
            struct.unpack("=I", a[g.DEST["WEIGHT"]])[0]
    return out


class Agent:
    def __init__(self, ns, idx, members):
        self.ns, self.idx = ns, idx
        self.dir = os.path.join(WORK, ns)
        os.makedirs(self.dir, exist_ok=True)
        # Each agent starts on another member: the watches spread.
        order = members[idx % len(members):] + members[:idx % len(members)]
        self.endpoints = ",".join(m.url() for m in order)
        self.p = None
        self.starts = 0
        self.nl = None

    def start(self, extra=()):
        self.starts += 1
        self.logpath = os.path.join(self.dir, "agent-%d.log" % self.starts)
        self.logf = open(self.logpath, "w")
        self.applies = []      # (log time, revision)
        self.log_off = 0
        self.t_start = time.time()
        self.p = subprocess.Popen(nsenter(self.ns, AGENT, "run", "--cell", CELL, "--endpoints",
                                          self.endpoints, "--snapshot", self.dir + "/snapshot.json",
                                          "--status-file", self.dir + "/status.json", *AGENT_OPTS,
                                          *extra),
                                  stdout=subprocess.DEVNULL, stderr=self.logf)
        procs.append(self.p)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(120)
        self.logf.close()
        return rc

    def read_log(self):
        """New apply lines of the current log: self.applies."""
        with open(self.logpath) as f:
            f.seek(self.log_off)
            data = f.read()
        cut = data.rfind("\n") + 1
        self.log_off += len(data[:cut].encode())
        for line in data[:cut].splitlines():
            m = STAMP_RE.match(line)
            if m:
                a = APPLY_RE.match(m.group(3))
                if a:
                    self.applies.append((stamp_time(m.group(1), m.group(2)), int(a.group(1))))

    def applied_at(self, rev):
        """Log time of the first apply of a revision >= rev, or None."""
        self.read_log()
        return next((t for t, r in self.applies if r >= rev), None)

    def table(self):
        out = run(nsenter(self.ns, ADM, "-S", "-n")).stdout
        return set(line for line in out.splitlines() if line.strip())

    def sample(self):
        return proc_sample(self.p.pid)

    def log_tail(self, n=3000):
        with open(self.logpath) as f:
            return f.read()[-n:]


def converge(store, agents, rev, what, timeout=TIMEOUT, on_poll=None):
    """Wait until every agent logged the apply of a revision >= rev and its
    namespace's table equals the model.  {ns: (log time, observed time)}."""
    want = store.expected()
    done = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(agents):
        for a in agents:
            if a.ns in done:
                continue
            tl = a.applied_at(rev)
            if tl is None:
                continue
            if a.table() == want:
                done[a.ns] = (tl, time.time())
        if on_poll:
            on_poll()
        if len(done) == len(agents):
            break
        if time.monotonic() > deadline:
            for a in agents:
                if a.ns not in done:
                    have = a.table()
                    fail("%s: %s: not converged after %.0fs (revision %d): %d lines missing, %d extra; "
                         "log tail:\n%s" % (a.ns, what, timeout, rev, len(want - have), len(have - want),
                                            a.log_tail()))
            break
        time.sleep(0.3)
    log("  %s: %d/%d agents converged on revision >= %d (%d table lines)"
        % (what, len(done), len(agents), rev, len(want)))
    return done


# --------------------------------------------------------------- topology

def setup_network():
    run(["modprobe", "veth"], check=False)
    run(["modprobe", "bridge"], check=False)
    if run(["grep", "-q", "^sock_vs ", "/proc/modules"], check=False).returncode != 0:
        run(["insmod", KO])
    cmds = ["link add %s type bridge" % BR, "addr add %s/24 dev %s" % (BR_ADDR, BR),
            "link set %s up" % BR]
    inside = {}
    for i, ns in enumerate(CLIENTS):
        cmds.append("netns add %s" % ns)
        host_if = "svsasv%d" % i
        cmds += ["link add %s type veth peer name eth0 netns %s" % (host_if, ns),
                 "link set %s master %s up" % (host_if, BR)]
        inside[ns] = ["addr add 10.77.0.%d/24 dev eth0" % (100 + i), "link set eth0 up", "link set lo up"]
    run(["ip", "-batch", "-"], input="\n".join(cmds) + "\n")
    for ns, c in inside.items():
        run(["ip", "-n", ns, "-batch", "-"], input="\n".join(c) + "\n")


def svc_name(i):
    return "s%05d" % i


def svc_addr(i):
    return "10.200.%d.%d" % (i // 250, i % 250 + 1)


def rs_addr(i, k):
    return "10.%d.%d.%d:8080" % (210 + k, i // 250, i % 250 + 1)


def svc_value(i):
    return {"protocol": "tcp", "address": svc_addr(i), "port": 80, "scheduler": "rr"}


def rs_key(i, k):
    return P + "rs/%s/%s" % (svc_name(i), rs_addr(i, k))


def fill(store):
    """Every service and its real servers, 128 // (1 + RS) services per transaction.
    (time of the first request, of the last response, last revision, transactions)."""
    per = TXN_OPS // (1 + RS)
    t_first = time.time()
    rev = 0
    n = 0
    for i0 in range(0, SERVICES, per):
        batch = []
        for i in range(i0, min(i0 + per, SERVICES)):
            batch.append((P + "svc/" + svc_name(i), svc_value(i)))
            batch += [(rs_key(i, k), {"weight": 1}) for k in range(RS)]
        rev = store.txn(batch)
        n += 1
    return t_first, time.time(), rev, n


# ----------------------------------------------------------------- phases

def phase_fill(store, agents):
    log("=== fill: %d services x %d real servers into the store, %d agents running" % (SERVICES, RS, len(agents)))
    t_first, t_last, rev, n = fill(store)
    row("fill", "store", 1, "fill_s", "%.3f" % (t_last - t_first))
    row("fill", "store", 1, "txns", n)
    row("fill", "store", 1, "keys", SERVICES * (1 + RS))
    log("  %d keys in %d transactions in %.1fs" % (SERVICES * (1 + RS), n, t_last - t_first))
    done = converge(store, agents, rev, "fill")
    for ns, (tl, to) in done.items():
        row("fill", ns, 1, "converge_s", "%.3f" % (tl - t_first))
        row("fill", ns, 1, "after_last_s", "%.3f" % (tl - t_last))
        row("fill", ns, 1, "observed_s", "%.3f" % (to - t_first))
    if len(done) == len(agents):
        row("fill", "all", 1, "converge_s", "%.3f" % (max(tl for tl, _ in done.values()) - t_first))
        log("  fill: every agent converged %.1fs after the first put (%.1fs after the last)"
            % (max(tl for tl, _ in done.values()) - t_first, max(tl for tl, _ in done.values()) - t_last))
    return rev


def phase_start(store, agents, rev, rep):
    log("=== start %d: agents stopped, snapshots removed, tables flushed, all started on the full store" % rep)
    for a in agents:
        rc = a.stop()
        if rc != 0:
            fail("%s exited %d on SIGTERM" % (a.ns, rc))
        for f in ("snapshot.json", "status.json"):
            try:
                os.unlink(os.path.join(a.dir, f))
            except FileNotFoundError:
                pass
        run(nsenter(a.ns, ADM, "-C"))
        if run(nsenter(a.ns, ADM, "-S", "-n")).stdout.strip():
            fail("%s: table not empty after sockvsadm -C" % a.ns)
    t_first = time.time()
    for a in agents:
        a.start()
    done = converge(store, agents, rev, "start %d" % rep)
    for a in agents:
        if a.ns in done:
            tl, to = done[a.ns]
            row("start", a.ns, rep, "converge_s", "%.3f" % (tl - t_first))
            row("start", a.ns, rep, "own_start_s", "%.3f" % (tl - a.t_start))
            row("start", a.ns, rep, "observed_s", "%.3f" % (to - t_first))
    if len(done) == len(agents):
        worst = max(tl for tl, _ in done.values()) - t_first
        row("start", "all", rep, "converge_s", "%.3f" % worst)
        log("  start %d: every agent converged %.1fs after the first start" % (rep, worst))


def phase_idle(agents, members, phase="idle"):
    log("=== %s: %.0fs without a change" % (phase, IDLE_S))
    time.sleep(3)
    before = {a.ns: a.sample() for a in agents}
    eb = {m.name: proc_sample(m.p.pid) for m in members}
    w0 = time.time()
    time.sleep(IDLE_S)
    wall = time.time() - w0
    for a in agents:
        cpu, rss, hwm = a.sample()
        row(phase, a.ns, 1, "cpu_s", "%.2f" % (cpu - before[a.ns][0]))
        row(phase, a.ns, 1, "cpu_pct", "%.3f" % (100.0 * (cpu - before[a.ns][0]) / wall))
        row(phase, a.ns, 1, "rss_kb", rss)
        row(phase, a.ns, 1, "hwm_kb", hwm)
        log("  %s: %.2f%% CPU, VmRSS %d kB, VmHWM %d kB" % (a.ns, 100.0 * (cpu - before[a.ns][0]) / wall, rss, hwm))
    for m in members:
        cpu, rss, _ = proc_sample(m.p.pid)
        row(phase, "etcd-" + m.name, 1, "cpu_pct", "%.3f" % (100.0 * (cpu - eb[m.name][0]) / wall))
        row(phase, "etcd-" + m.name, 1, "rss_kb", rss)
    row(phase, "all", 1, "wall_s", "%.2f" % wall)


def phase_latency(store, agents, phase="latency", puts=PUTS, seed=17):
    log("=== %s: %d single puts (weight changes), polling every %.0f ms" % (phase, puts, POLL_MS))
    rnd = random.Random(seed)
    for a in agents:
        a.nl = genl_in(a.ns)
    cycles = []
    cpu0 = {a.ns: a.sample()[0] for a in agents}
    w0 = time.time()
    for n in range(1, puts + 1):
        i, k = rnd.randrange(SERVICES), rnd.randrange(RS)
        key = rs_key(i, k)
        cur = json.loads(store.model[key]).get("weight", 1)
        w = cur % 9 + 1
        ts = time.time()
        rev = store.put(key, {"weight": w})
        tr = time.time()
        ep = rs_addr(i, k)
        seen = {}
        deadline = tr + 60
        while len(seen) < len(agents) and time.time() < deadline:
            c0 = time.time()
            for a in agents:
                if a.ns in seen:
                    continue
                ws = dest_weights(a.nl, svc_addr(i), 80)
                if ws is not None and ws.get(ep) == w:
                    seen[a.ns] = time.time()
            cycles.append(time.time() - c0)
            if len(seen) < len(agents):
                # At least POLL_MS, and a tenth of the time waited so far: the polls
                # take a small share of the vCPU the agents need (a cycle of five
                # dumps costs about 2 ms of guest time).
                time.sleep(max(POLL_MS / 1000.0, POLL_REL * (time.time() - tr)))
        row(phase, "store", n, "put_ms", "%.2f" % (1000 * (tr - ts)))
        for a in agents:
            if a.ns in seen:
                row(phase, a.ns, n, "kernel_ms", "%.2f" % (1000 * (seen[a.ns] - tr)))
            else:
                fail("%s put %d (%s = %d, revision %d): %s did not show it within 60s"
                     % (phase, n, key, w, rev, a.ns))
            tl = a.applied_at(rev)
            if tl is not None:
                row(phase, a.ns, n, "log_ms", "%.1f" % (1000 * (tl - tr)))
        if n % 20 == 0 or n == puts:
            log("  %d/%d puts; this one: %s" % (n, puts, ", ".join(
                "%s %.0f ms" % (ns, 1000 * (t - tr)) for ns, t in sorted(seen.items()))))
        time.sleep(GAP_S + rnd.uniform(0, 0.2))
    cycles.sort()
    wall = time.time() - w0
    for a in agents:
        row(phase, a.ns, 0, "phase_cpu_s", "%.2f" % (a.sample()[0] - cpu0[a.ns]))
        row(phase, a.ns, 0, "phase_wall_s", "%.2f" % wall)
    row(phase, "poll", 0, "poll_cycle_ms_p50", "%.2f" % (1000 * cycles[len(cycles) // 2]))
    row(phase, "poll", 0, "poll_cycle_ms_p99", "%.2f" % (1000 * cycles[min(len(cycles) - 1, int(len(cycles) * 0.99))]))
    row(phase, "poll", 0, "poll_sleep_ms", POLL_MS)
    for a in agents:
        a.nl.close()
        a.nl = None
    # The model has what was put; every table must equal it.
    converge(store, agents, rev, "after the single puts (%s)" % phase, timeout=600)


def restart(agents, extra=()):
    for a in agents:
        rc = a.stop()
        if rc != 0:
            fail("%s exited %d on SIGTERM" % (a.ns, rc))
        a.start(extra)
    tw = time.monotonic()
    for a in agents:
        while "watching " + P not in a.log_tail(1 << 20):
            if time.monotonic() - tw > 600:
                raise RuntimeError("%s not watching after 600s:\n%s" % (a.ns, a.log_tail()))
            time.sleep(0.3)


def phase_idle_noresync(agents, members):
    """The agents restarted with --resync 3600: idle without the periodic
    whole-table comparison (what remains: the status file every second, the
    probe every 3 s, etcd's progress notifications)."""
    log("=== idle_noresync: agents restarted with --resync 3600")
    restart(agents, ["--resync", "3600"])
    phase_idle(agents, members, "idle_noresync")


def phase_latency_one(store, agents):
    """One agent running (the others stopped, their tables left): the put to
    kernel latency when the agent does not share the vCPU with four others."""
    log("=== latency_one: only %s running (default options)" % agents[0].ns)
    for a in agents[1:]:
        rc = a.stop()
        if rc != 0:
            fail("%s exited %d on SIGTERM" % (a.ns, rc))
    restart(agents[:1])
    time.sleep(3)
    phase_latency(store, agents[:1], "latency_one", PUTS_ONE, seed=19)


def phase_latency_b0(store, agents):
    """The agents restarted with --batch-ms 0 (their snapshots and tables kept),
    then the single puts again: the latency without the batching window."""
    log("=== latency_b0: agents restarted with --batch-ms 0")
    restart(agents, ["--batch-ms", "0"])
    time.sleep(3)
    phase_latency(store, agents, "latency_b0", PUTS_B0, seed=18)


def phase_burst(store, agents, members):
    log("=== burst: %d weight changes in transactions of %d" % (BURST, TXN_OPS))
    keys = [rs_key(i, k) for i in range(SERVICES) for k in range(RS)]
    before = {a.ns: a.sample() for a in agents}
    eb = {m.name: proc_sample(m.p.pid)[0] for m in members}
    rss_max = {a.ns: before[a.ns][1] for a in agents}
    cpu_at = {}

    def poll():
        now = time.time()
        for a in agents:
            if a.ns in cpu_at:
                continue
            cpu, rss, _ = a.sample()
            rss_max[a.ns] = max(rss_max[a.ns], rss)
            # converged: the apply line is in the log (the table check follows in converge())
            if a.applies and a.applies[-1][1] >= last_rev[0]:
                cpu_at[a.ns] = (cpu, now)

    last_rev = [1 << 62]
    t_first = time.time()
    batch = []
    n = 0
    rev = 0
    for c in range(BURST):
        key = keys[c % len(keys)]
        cur = json.loads(store.model[key]).get("weight", 1)
        batch.append((key, {"weight": cur % 9 + 1}))
        if len(batch) == TXN_OPS or c == BURST - 1:
            rev = store.txn(batch)
            n += 1
            batch = []
            poll()
    t_last = time.time()
    last_rev[0] = rev
    ecpu = sum(proc_sample(m.p.pid)[0] - eb[m.name] for m in members)
    row("burst", "store", 1, "burst_put_s", "%.3f" % (t_last - t_first))
    row("burst", "store", 1, "txns", n)
    row("burst", "store", 1, "changes_per_s", "%.0f" % (BURST / (t_last - t_first)))
    row("burst", "etcd", 1, "cpu_s_puts", "%.2f" % ecpu)
    log("  %d changes in %d transactions in %.1fs (%.0f/s)" % (BURST, n, t_last - t_first, BURST / (t_last - t_first)))
    done = converge(store, agents, rev, "burst", on_poll=poll)
    for a in agents:
        if a.ns not in done:
            continue
        tl, to = done[a.ns]
        cpu, tw = cpu_at.get(a.ns, (a.sample()[0], to))
        _, rss, hwm = a.sample()
        row("burst", a.ns, 1, "converge_s", "%.3f" % (tl - t_first))
        row("burst", a.ns, 1, "after_last_s", "%.3f" % (tl - t_last))
        row("burst", a.ns, 1, "observed_s", "%.3f" % (to - t_first))
        row("burst", a.ns, 1, "cpu_s", "%.2f" % (cpu - before[a.ns][0]))
        row("burst", a.ns, 1, "cpu_pct", "%.1f" % (100.0 * (cpu - before[a.ns][0]) / max(1e-3, tw - t_first)))
        row("burst", a.ns, 1, "rss_max_kb", max(rss_max[a.ns], rss))
        row("burst", a.ns, 1, "hwm_kb", hwm)
        row("burst", a.ns, 1, "applies", sum(1 for t, _ in a.applies if t >= t_first))
        log("  %s: converged %.2fs after the last put; %.2f s CPU (%.1f%%), VmRSS max %d kB, VmHWM %d kB"
            % (a.ns, tl - t_last, cpu - before[a.ns][0], 100.0 * (cpu - before[a.ns][0]) / max(1e-3, tw - t_first),
               max(rss_max[a.ns], rss), hwm))
    if len(done) == len(agents):
        row("burst", "all", 1, "converge_s", "%.3f" % (max(tl for tl, _ in done.values()) - t_first))
        row("burst", "all", 1, "after_last_s", "%.3f" % (max(tl for tl, _ in done.values()) - t_last))


class Perf:
    """perf record on one process for the duration of a with block."""

    def __init__(self, pid, name):
        self.pid, self.name = pid, name
        self.data = os.path.join(WORK, "perf-%s.data" % name)

    def __enter__(self):
        if PROFILE:
            self.p = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-p", str(self.pid),
                                       "-o", self.data], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(1)
        return self

    def __exit__(self, *exc):
        if not PROFILE:
            return False
        self.p.send_signal(signal.SIGINT)
        err = self.p.communicate(timeout=600)[1]
        r = run(["perf", "report", "-i", self.data, "--stdio", "--sort", "dso,sym", "--percent-limit", "0.5"],
                check=False)
        with open(os.path.join(RESULTS, "perf-%s.txt" % self.name), "w") as f:
            f.write("# perf record -e cpu-clock -F 999 -p PID (%s) during %s\n%s\n%s%s"
                    % (AGENT, self.name, err, r.stdout, r.stderr[-2000:]))
        return False


def main():
    global rows_f
    os.makedirs(os.path.join(WORK, "bin"), exist_ok=True)
    rows_f = open(os.path.join(WORK, "rows.tsv"), "w")
    log("kernel %s, %s mode, %d vCPU(s); %d services x %d rs, %d agents, %d puts, burst %d"
        % (KVER, "quick" if QUICK else "full", os.cpu_count() or 1, SERVICES, RS, NAGENTS, PUTS, BURST))
    for path in list(SRC.values()) + [KO]:
        if not os.path.exists(path):
            print("bench failure: %s missing" % path)
            return 1
    for name, path in SRC.items():
        run(["cp", path, os.path.join(WORK, "bin", name)])
    setup_network()
    members = [Member(*m) for m in MEMBERS]
    for m in members:
        m.start()
    tw = time.monotonic()
    while not all(m.healthy() for m in members):
        if time.monotonic() - tw > 300:
            print("bench failure: etcd not healthy after 300s")
            return 1
        time.sleep(0.5)
    log("etcd: 3 healthy members after %.1fs" % (time.monotonic() - tw))
    etcd_ver = run([ETCD, "--version"]).stdout.split("\n")[0]
    with open(os.path.join(RESULTS, "meta.tsv"), "w") as meta:
        for k, v in (("kernel", KVER), ("quick", int(QUICK)), ("services", SERVICES), ("rs", RS),
                     ("agents", NAGENTS), ("puts", PUTS), ("puts_b0", PUTS_B0), ("puts_one", PUTS_ONE), ("burst", BURST), ("idle_s", IDLE_S),
                     ("reps_start", REPS_START), ("poll_ms", POLL_MS), ("poll_rel", POLL_REL), ("gap_s", GAP_S), ("txn_ops", TXN_OPS),
                     ("guest_cpus", os.cpu_count() or 1), ("profile", int(PROFILE)), ("icount", os.environ.get("SVS_BENCH_ICOUNT", "off")),
                     ("etcd", etcd_ver), ("etcd_opts", " ".join(ETCD_OPTS)),
                     ("agent_opts", " ".join(AGENT_OPTS) + " (other timers: defaults)"),
                     ("date", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))):
            meta.write("%s\t%s\n" % (k, v))
    store = Store(members)
    rev = store.put(P + "marker", {"version": 1})
    agents = [Agent(ns, i, members) for i, ns in enumerate(CLIENTS)]
    for a in agents:
        a.start()
    tw = time.monotonic()
    for a in agents:
        while "watching " + P not in a.log_tail(1 << 20):
            if time.monotonic() - tw > 300:
                print("bench failure: %s not watching after 300s:\n%s" % (a.ns, a.log_tail()))
                return 1
            time.sleep(0.3)
        a.read_log()
    log("agents: %d watching the empty prefix after %.1fs" % (len(agents), time.monotonic() - tw))
    phases = []

    def timed(name, fn, *args):
        """Run one phase; its time goes to meta.tsv, its rows to $SVS_RESULTS."""
        t = time.monotonic()
        out = fn(*args)
        phases.append((name, time.monotonic() - t))
        save_rows()
        return out

    try:
        rev = timed("fill", phase_fill, store, agents)
        if PROFILE:
            with Perf(agents[0].p.pid, "idle"):
                phase_idle(agents, members)
            with Perf(agents[0].p.pid, "latency"):
                phase_latency(store, agents)
            save_rows()
            raise StopIteration("profile done")
        for rep in range(1, REPS_START + 1):
            timed("start%d" % rep, phase_start, store, agents, rev, rep)
        timed("idle", phase_idle, agents, members)
        timed("latency", phase_latency, store, agents)
        timed("burst", phase_burst, store, agents, members)
        if PUTS_B0 > 0:
            timed("latency_b0", phase_latency_b0, store, agents)
        timed("idle_noresync", phase_idle_noresync, agents, members)
        if PUTS_ONE > 0:
            timed("latency_one", phase_latency_one, store, agents)
        for a in agents:
            if a.p.poll() is None:
                rc = a.stop()
                if rc != 0:
                    fail("%s exited %d on SIGTERM" % (a.ns, rc))
    except StopIteration:
        pass
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        fail("phase failed: %r" % e)
    with open(os.path.join(RESULTS, "meta.tsv"), "a") as meta:
        for name, s in phases:
            meta.write("phase_s_%s\t%.0f\n" % (name, s))
    dmesg = run(["dmesg"]).stdout
    bad = [line for line in dmesg.splitlines()
           if any(p in line for p in ("WARNING:", "BUG:", "Oops", "Call Trace", "lockdep"))]
    if bad:
        fail("kernel log: %s" % bad[:5])
    row("check", "kernel_log", 0, "bad_lines", len(bad))
    # The agents' last logs, for a look afterwards.
    with open(os.path.join(RESULTS, "agent-logs.txt"), "w") as out:
        for a in agents:
            out.write("==== %s (start %d)\n%s\n" % (a.ns, a.starts, a.log_tail(20000)))
    for m in members:
        m.log.flush()
        with open(os.path.join(WORK, m.name + ".log")) as f:
            text = f.read()
        warns = [line for line in text.splitlines() if '"level":"warn"' in line]
        row("check", "etcd-" + m.name, 0, "log_warnings", len(warns))
        with open(os.path.join(RESULTS, "etcd-warnings.txt"), "a") as out:
            out.write("==== %s: %d warnings\n%s\n" % (m.name, len(warns), "\n".join(warns[:100])))
    for m in members:
        for k, v in m.metrics().items():
            row("check", "etcd-" + m.name, 0, k[len("etcd_server_"):], "%.0f" % v)
    for p in procs:
        if p.poll() is None:
            p.kill()
    save_rows()
    log("done in %.0fs, %d failures" % (time.monotonic() - t0, len(failures)))
    for f in failures:
        print("bench failure: " + f.split("\n")[0])
    return 1 if failures else 0


sys.exit(main())
