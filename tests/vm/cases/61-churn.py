#!/usr/bin/env python3
# svs-timeout: 600
"""Churn under load. For SVS_CHURN_SECONDS (default 60) 4 threads connect
to 4 virtual services (TCP and connected UDP, IPv4 and IPv6) and exchange
data, while a configuring process (forked: no GIL shared with the clients)
adds, edits and deletes services and real
servers, changes weights (0 included) and schedulers, flushes (-C) and zeroes
counters (-Z), as fast as it can. Every change is timed (sent .. acked) and
its resulting set of usable real servers recorded. Each connect must either
reach a real server that was usable for that service at some moment between
the connect's start and end, or fail with ECONNREFUSED while the service had
no usable server, or with ENETUNREACH while it did not exist (the virtual
addresses are not routed: an unbalanced connect goes nowhere), or, for UDP,
with ECONNABORTED when a real server left meanwhile (its sockets are
terminated: --terminate udp, the default). Services are made persistent
(2 s) or not at random when added or given a scheduler. Afterwards
ActiveConn/InActConn return to 0, the module's slab objects and the
kernel's Percpu memory return to their starting level once the
configuration is flushed, the module unloads, and the kernel log is clean."""

import bisect
import collections
import errno
import json
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_genl as g  # noqa: E402
import svs_mem  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

V4, V6 = "10.255.61.1", "fd00:255::61"
SERVICES = [("tcp", V4, 80), ("udp", V4, 53), ("tcp", V6, 80), ("udp", V6, 53)]
PORTS = range(9611, 9615)
POOL = {V4: [("127.0.0.1", p) for p in PORTS], V6: [("::1", p) for p in PORTS]}
SCHEDS = ["rr", "wrr", "lc", "wlc", "sh", "mh", "port", "fixed", "fo"]
PROTO = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}


def svc_name(svc):
    return "%s %s" % (svc[0].upper(), svs.fmt_addr(svc[1], svc[2]))


class Config:
    """The configuring thread's view: the state after each change, with the
    time window in which the change took effect."""

    def __init__(self):
        self.state = {s: None for s in SERVICES}    # svc -> {(host, port): weight} or None
        self.history = [(float("-inf"), float("-inf"), self.usable())]
        self.applied = collections.Counter()
        self.errors = []

    def usable(self):
        return {s: (None if d is None else frozenset(k for k, w in d.items() if w > 0))
                for s, d in self.state.items()}

    def record(self, t_send, what):
        self.history.append((t_send, time.monotonic(), self.usable()))
        self.applied[what] += 1

    def windows(self, t0, t1):
        """States that held at some moment of [t0, t1]: state i holds from
        its change's send time until the next change's ack."""
        if getattr(self, "_sends", None) is None or len(self._sends) != len(self.history):
            self._sends = [h[0] for h in self.history]
            self._acks = [h[1] for h in self.history]
        hi = bisect.bisect_right(self._sends, t1)
        lo = max(0, bisect.bisect_left(self._acks, t0) - 1)
        return [h[2] for h in self.history[lo:hi]]


def key_attrs(svc, sched=None, rng=None):
    """A SERVICE nest; with @rng (adding a service or changing its scheduler)
    also a persistence timeout, 0 or 2 s (0 with the port scheduler, which
    refuses persistence), so that connects also go through templates that
    expire, and are dropped as their servers are quiesced or deleted."""
    proto, host, port = svc
    attrs = g.svc_attrs(host, port, proto=PROTO[proto], sched=sched)
    if rng is not None:
        attrs.append(g.u32(g.SVC["PERSIST"], 0 if sched == "port" else rng.choice((0, 2))))
    return g.nest(g.ATTR["SERVICE"], *attrs)


def configurer(cfg, deadline, seed):
    rng = random.Random(seed)
    nl = g.Genl()
    try:
        while time.monotonic() < deadline:
            t = time.monotonic()
            svc = rng.choice(SERVICES)
            st = cfg.state[svc]
            x = rng.random()
            if st is None:
                what, cmd, attrs = "add service", "NEW_SERVICE", key_attrs(svc, rng.choice(SCHEDS), rng)
            elif x < 0.005:
                r = svs.adm("-C")
                if r.returncode != 0:
                    cfg.errors.append("sockvsadm -C: %s" % r.stderr.strip())
                    continue
                for s in SERVICES:
                    cfg.state[s] = None
                cfg.record(t, "flush (-C)")
                continue
            elif x < 0.015:
                r = svs.adm("-Z")
                if r.returncode != 0:
                    cfg.errors.append("sockvsadm -Z: %s" % r.stderr.strip())
                cfg.applied["zero (-Z)"] += 1
                continue
            elif x < 0.04:
                what, cmd, attrs = "zero service", "ZERO", key_attrs(svc)
            elif x < 0.06:
                what, cmd, attrs = "delete service", "DEL_SERVICE", key_attrs(svc)
            elif x < 0.18:
                what, cmd, attrs = "change scheduler", "SET_SERVICE", key_attrs(svc, rng.choice(SCHEDS), rng)
            else:
                dest = rng.choice(POOL[svc[1]])
                have = dest in st
                if not have:
                    w = rng.choice((0, 1, 1, 2, 3))
                    what, cmd = "add real server", "NEW_DEST"
                elif x < 0.40:
                    w = None
                    what, cmd = "delete real server", "DEL_DEST"
                else:
                    w = rng.choice((0, 1, 2, 5))
                    what, cmd = "change weight", "SET_DEST"
                attrs = key_attrs(svc) + g.nest(g.ATTR["DEST"], *g.dest_attrs(dest[0], dest[1], w))
            r = nl.cmd(cmd, attrs)
            if r.error:
                cfg.errors.append("%s %s: %s (%s)" % (what, svc_name(svc), svs.errno_name(-r.error),
                                                     r.extack_msg))
                continue
            if cmd == "NEW_SERVICE":
                cfg.state[svc] = {}
            elif cmd == "DEL_SERVICE":
                cfg.state[svc] = None
            elif cmd == "NEW_DEST" or cmd == "SET_DEST":
                st[dest] = w
            elif cmd == "DEL_DEST":
                del st[dest]
            if cmd == "ZERO":
                cfg.applied[what] += 1
            else:
                cfg.record(t, what)
            time.sleep(rng.choice((0, 0, 0.001)))
    except Exception as e:      # reported by the main thread
        cfg.errors.append("configuring thread died: %r" % e)
    finally:
        nl.close()


def configurer_process(deadline, seed):
    """configurer() in a forked child (its own CPU time, no GIL shared with
    the clients); returns a function that waits for it and returns its Config.
    CLOCK_MONOTONIC is system-wide, so its times compare with the parent's."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        cfg = Config()
        configurer(cfg, deadline, seed)
        hist = [(a, b, [None if st[s] is None else sorted(st[s]) for s in SERVICES]) for a, b, st in cfg.history]
        with os.fdopen(wfd, "w") as f:
            json.dump({"history": hist[1:], "applied": cfg.applied, "errors": cfg.errors}, f)
        os._exit(0)
    os.close(wfd)

    def wait():
        with os.fdopen(rfd) as f:
            data = f.read()
        os.waitpid(pid, 0)
        if not data:
            raise svs.Fail("the configuring process died without a report")
        out = json.loads(data)
        cfg = Config()
        for a, b, sts in out["history"]:
            cfg.history.append((a, b, {s: None if d is None else frozenset(tuple(x) for x in d)
                                       for s, d in zip(SERVICES, sts)}))
        cfg.applied = collections.Counter(out["applied"])
        cfg.errors = out["errors"]
        return cfg
    return wait


def attempt(svc):
    proto, host, port = svc
    fam = svs.family_of(host)
    if proto == "tcp":
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(20)
            s.connect((host, port))
            line = svs.read_line(s)
            while s.recv(4096):         # the server closes first: no TIME_WAIT here
                pass
        return line[3:] if line.startswith("ID ") else "BAD " + line
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(20)
        s.connect((host, port))
        try:
            s.send(b"churn")
        except OSError as e:
            # Terminated between connect() and send() (its real server
            # left): the socket has no destination any more, and the
            # termination's error is pending (as in svs_dns.query()).
            pending = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e.errno == errno.EDESTADDRREQ and pending:
                raise OSError(pending, os.strerror(pending)) from e
            raise
        data = s.recv(65536)
    parts = data.split(b" ")
    return parts[1].decode() if len(parts) >= 3 and parts[0] == b"ID" and parts[2] == b"churn" else \
        "BAD %r" % data


def client(svc_list, results, stop, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        svc = rng.choice(svc_list)
        t0 = time.monotonic()
        try:
            r = attempt(svc)
        except socket.timeout:
            r = "ERR timeout"
        except OSError as e:
            r = "ERR " + svs.errno_name(e.errno)
        results.append((svc, t0, time.monotonic(), r))


def left_in(states):
    """Whether a real server left (or the service went) during the window:
    a connected UDP socket of a deleted server is terminated (--terminate
    udp, the default), its next call fails with ECONNABORTED. Weight 0
    makes a server leave the usable set without terminating anything; the
    states do not tell the two apart, so this accepts a little more."""
    for i, s in enumerate(states):
        if s is None:
            return True
        if any(t is not None and s - t for t in states[i + 1:]):
            return True
    return False


def judge(cfg, results):
    """(counts, problems) for the connect results."""
    counts = collections.Counter()
    problems = []
    for svc, t0, t1, r in results:
        states = [st[svc] for st in cfg.windows(t0, t1)]
        if r.startswith("ERR "):
            e = r[4:]
            ok = (e == "ECONNREFUSED" and any(s is not None and not s for s in states)) or \
                 (e == "ENETUNREACH" and any(s is None for s in states)) or \
                 (e == "ECONNABORTED" and svc[0] == "udp" and left_in(states))
            counts["%s %s" % (svc[0], e)] += 1
        else:
            host, port = svs.split_addr(r) if not r.startswith("BAD") else (None, None)
            ok = any(s is not None and (host, port) in s for s in states)
            counts["%s v%d connected" % (svc[0], 6 if ":" in svc[1] else 4)] += 1
        if not ok:
            problems.append("%s: %s after %.3fs; states in the window: %s"
                            % (svc_name(svc), r, t1 - t0,
                               [None if s is None else sorted(svs.fmt_addr(*d) for d in s) for s in states][-4:]))
    return counts, problems


def all_dest_counts():
    """{service: {rip: (active, inact)}} for every configured service."""
    out = {}
    for svc in SERVICES:
        try:
            d = svs.module_dests(svc[1], svc[2], svc[0])
        except svs.Fail:
            continue        # not configured
        out[svc_name(svc)] = {k: (v["active"], v["inact"]) for k, v in d.items()}
    return out


def main():
    seconds = float(os.environ.get("SVS_CHURN_SECONDS", "60"))
    seed = int(os.environ.get("SVS_SEED", "6161"))
    svs.fresh_config()
    specs = ["%s:%s" % (p, svs.fmt_addr(h, port)) for p in ("tcp", "udp")
             for h in ("127.0.0.1", "::1") for port in PORTS]
    svs.spawn([sys.executable, os.path.join(svs.LIB_DIR, "echo_servers.py")] + specs, ready_prefix="READY")

    step("warm-up: every service once, then flush; starting memory")
    for svc in SERVICES:
        adm_ok("-A", "-%s" % svc[0][0], svs.fmt_addr(svc[1], svc[2]), "-s", "rr", quiet=True)
        host, port = POOL[svc[1]][0]
        adm_ok("-a", "-%s" % svc[0][0], svs.fmt_addr(svc[1], svc[2]), "-r", svs.fmt_addr(host, port), quiet=True)
        check_eq(attempt(svc), svs.fmt_addr(host, port), "%s reaches its real server" % svc_name(svc))
    svs.flush()
    start = svs_mem.wait_back(svs_mem.snapshot(), "settled after the warm-up", timeout=30)
    svs.log("starting memory: slab %s, Percpu %d kB" % (start["slab"], start["percpu_kb"]))

    step("%.0f s: 4 connecting threads, 1 configuring process (seed %d)" % (seconds, seed))
    stop = threading.Event()
    results = [[] for _ in range(4)]
    t_start = time.monotonic()
    wait_cfg = configurer_process(t_start + seconds, seed + 100)
    # Each thread uses every service; thread i starts on its own one.
    threads = [threading.Thread(target=client, args=(SERVICES[i:] + SERVICES[:i], results[i], stop, seed + i),
                                daemon=True) for i in range(4)]
    mid = None
    for t in threads:
        t.start()
    while time.monotonic() - t_start < seconds:
        time.sleep(1)
        if mid is None and time.monotonic() - t_start > seconds / 2:
            mid = svs_mem.snapshot()
    stop.set()
    for t in threads:
        t.join(60)
        check(not t.is_alive(), "thread %s stopped" % t.name)
    elapsed = time.monotonic() - t_start
    cfg = wait_cfg()
    svs.log("module memory half-way: slab %s, Percpu %d kB" % (mid["slab"], mid["percpu_kb"]))

    allres = [r for rs in results for r in rs]
    counts, problems = judge(cfg, allres)
    changes = sum(v for k, v in cfg.applied.items())
    connected = sum(v for k, v in counts.items() if k.endswith("connected"))
    svs.log("connect attempts: %d in %.0fs; %s" % (len(allres), elapsed,
                                                    ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    svs.log("configuration changes applied: %d; %s" % (changes, ", ".join("%s %d" % kv
                                                                           for kv in sorted(cfg.applied.items()))))
    svs.log("CHURN-SUMMARY seconds=%.0f attempts=%d connected=%d refused=%d unreachable=%d changes=%d "
            "problems=%d config_errors=%d"
            % (elapsed, len(allres), connected,
               sum(v for k, v in counts.items() if k.endswith("ECONNREFUSED")),
               sum(v for k, v in counts.items() if k.endswith("ENETUNREACH")), changes, len(problems),
               len(cfg.errors)))
    if cfg.errors:
        raise svs.Fail("%d configuration changes failed:\n  %s" % (len(cfg.errors), "\n  ".join(cfg.errors[:20])))
    check(True, "every configuration change was accepted")
    if problems:
        raise svs.Fail("%d of %d connects were not explained by the configuration of their moment:\n  %s"
                       % (len(problems), len(allres), "\n  ".join(problems[:30])))
    check(True, "every connect reached a then-usable server or failed with the documented errno")
    check(connected > 0 and changes > 0, "connections were made (%d) and changes applied (%d)" % (connected, changes))
    for proto in ("tcp", "udp"):
        for v in (4, 6):
            check(counts["%s v%d connected" % (proto, v)] > 0, "%s over IPv%d balanced at least once" % (proto, v))

    step("after the churn")
    last = {}

    def idle():
        last["v"] = all_dest_counts()
        return all(c == (0, 0) for d in last["v"].values() for c in d.values())

    svs.wait_for(idle, 60, lambda: "ActiveConn/InActConn back to 0: %r" % last.get("v"), interval=0.5)
    check(True, "ActiveConn and InActConn are 0 on every real server left (%d services)" % len(last["v"]))
    svs.flush()
    svs_mem.wait_back(start, "after flush", timeout=120)
    step("the module unloads cleanly")
    t = svs.rmmod(timeout=60)
    check(True, "rmmod sock_vs in %.1fs" % t)
    svs.insmod()
    check(svs.module_loaded(), "module loaded again for the next cases")


svs.case(main)
