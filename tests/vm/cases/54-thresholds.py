#!/usr/bin/env python3
# svs-timeout: 600
"""Connection thresholds (IPVS's -x/-y hysteresis) with rr over two TCP echo
servers, 127.0.0.1:8201 (-x 3 -y 1) and 127.0.0.1:8202, behind
10.255.0.1:8200.  All connections are held; before each connect the test
waits until the module's open counts equal its own, so every choice is
deterministic and is compared with a model of rr + thresholds (the service's
pick counter; the overload flag set when a connection brings the server to
its upper threshold, or when a pick finds it there, and cleared when a pick
finds it down to the lower one).

- once 8201 holds 3, new connections skip it; at 2 still; at 1 it takes
  connections again; `-L -n --thresholds` shows 3/1 and the overload flag;
- -e -x 4 -y 0: no lower threshold means below 3/4 of the upper one (2);
- both servers overloaded: connect() is refused (ECONNREFUSED, Refused);
- -S -n saves the thresholds; a lower threshold above the upper is refused."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP, VPORT = svs.VIP4, 8200
SVC = "%s:%d" % (VIP, VPORT)
A, B = "127.0.0.1:8201", "127.0.0.1:8202"
ORDER = [A, B]


class Model:
    """rr with thresholds as kmod/sched_rr.c + svs_sched_usable()."""

    def __init__(self):
        self.seq = 0
        self.upper = {A: 0, B: 0}
        self.lower = {A: 0, B: 0}
        self.over = {A: False, B: False}

    def usable(self, r, conns):
        u, lo = self.upper[r], self.lower[r]
        if not u:
            return True
        if self.over[r]:
            if (conns <= lo) if lo else (conns * 4 < u * 3):
                self.over[r] = False
                return True
            return False
        if conns >= u:
            self.over[r] = True
            return False
        return True

    def tracked(self, r, conns):
        """A connection to r is counted (conn.c): reaching the upper
        threshold marks it overloaded at once, as IPVS's bind does."""
        if self.upper[r] and conns >= self.upper[r]:
            self.over[r] = True

    def pick(self, open_):
        start = self.seq % len(ORDER)
        self.seq += 1
        for k in range(len(ORDER)):
            r = ORDER[(start + k) % len(ORDER)]
            if self.usable(r, open_[r]):
                return r
        return None


class Pool:
    def __init__(self):
        self.held = []
        self.open = {A: 0, B: 0}

    def close_one(self, rip):
        for i, (s, r) in enumerate(self.held):
            if r == rip:
                svs.rst_close(s)
                del self.held[i]
                self.open[r] -= 1
                return
        raise svs.Fail("no held connection to %s" % rip)

    def close_all(self):
        for s, _ in self.held:
            svs.rst_close(s)
        self.held = []
        self.open = {A: 0, B: 0}

    def settle(self, what):
        svs.wait_open_conns(VIP, VPORT, dict(self.open), what)


def connects(pool, model, n, what):
    """n connects, each held; each must reach the model's choice."""
    got = []
    for i in range(n):
        pool.settle("%s #%d" % (what, i))
        want = model.pick(dict(pool.open))
        if want is None:
            r = svs.try_ident("tcp", VIP, VPORT)
            if r != "ERR ECONNREFUSED":
                raise svs.Fail("%s #%d: expected ECONNREFUSED (both overloaded, open %r), got %r"
                               % (what, i, pool.open, r))
            got.append("refused")
            continue
        s = svs.tcp_connect(VIP, VPORT, timeout=60)
        rip = svs.read_line(s)[3:]
        pool.held.append((s, rip))
        pool.open[rip] += 1
        model.tracked(rip, pool.open[rip])
        if rip != want:
            raise svs.Fail("%s #%d: reached %s, expected %s (open before: %r, overloaded: %r)"
                           % (what, i, rip, want, {r: pool.open[r] - (r == rip) for r in ORDER}, model.over))
        got.append(rip)
    check(True, "%s: %s" % (what, " ".join(g if g == "refused" else g[-4:] for g in got)))
    return got


def check_view(pool, model, what):
    pool.settle(what)
    t = svs.threshold_listing("TCP", SVC)["dests"]
    want = {r: dict(upper=model.upper[r], lower=model.lower[r], active=pool.open[r], inact=0,
                    overloaded=model.over[r]) for r in ORDER}
    check_eq(t, want, "%s: -L -n --thresholds" % what)
    raw = svs.module_dests(VIP, VPORT)
    check_eq({r: (raw[r]["u_thresh"], raw[r]["l_thresh"], bool(raw[r]["overloaded"])) for r in ORDER},
             {r: (model.upper[r], model.lower[r], model.over[r]) for r in ORDER},
             "%s: GET_DEST dump thresholds and overload flag" % what)


def main():
    svs.fresh_config()
    step("echo servers %s, %s; %s -s rr; %s with -x 3 -y 1" % (A, B, SVC, A))
    for r in ORDER:
        svs.echo_server("tcp", "127.0.0.1", int(r.split(":")[1]))
    adm_ok("-A", "-t", SVC, "-s", "rr")
    adm_ok("-a", "-t", SVC, "-r", A, "-x", "3", "-y", "1")
    adm_ok("-a", "-t", SVC, "-r", B)
    model, pool = Model(), Pool()
    svs.defer(pool.close_all)
    model.upper[A], model.lower[A] = 3, 1
    check_view(pool, model, "configured")
    save = svs.save()
    check("-a -t %s -r %s -w 1 -x 3 -y 1" % (SVC, A) in save, "-S -n saves -x 3 -y 1:\n" + save)

    step("fill %s up to its upper threshold, then past it" % A)
    got = connects(pool, model, 6, "6 connects")
    check_eq(svs.tally(got), {A: 3, B: 3}, "rr while under the threshold")
    got = connects(pool, model, 4, "4 more")
    check_eq(got, [B] * 4, "at 3 open connections %s is skipped" % A)
    check_view(pool, model, "%s overloaded" % A)
    check(model.over[A], "the model agrees that %s is overloaded" % A)

    step("close one on %s: 2 open, still above the lower threshold 1" % A)
    pool.close_one(A)
    got = connects(pool, model, 4, "at 2")
    check_eq(got, [B] * 4, "at 2 open connections %s is still skipped" % A)
    check_view(pool, model, "%s at 2" % A)

    step("close another: 1 open = the lower threshold, %s is used again" % A)
    pool.close_one(A)
    got = connects(pool, model, 6, "at 1")
    check(A in got, "%s takes connections again" % A)
    check_eq(pool.open[A], 3, "%s back at its upper threshold" % A)
    check_view(pool, model, "after refilling")

    step("-e -x 4 -y 0: overloaded until below 3/4 of 4, i.e. at 2")
    pool.close_all()
    adm_ok("-e", "-t", SVC, "-r", A, "-x", "4", "-y", "0")
    model.upper[A], model.lower[A] = 4, 0
    check_view(pool, model, "after -e")
    got = connects(pool, model, 10, "refill")
    check_eq(pool.open[A], 4, "%s at its new upper threshold 4" % A)
    check(model.over[A], "and overloaded")
    pool.close_one(A)
    got = connects(pool, model, 4, "at 3")
    check_eq(got, [B] * 4, "at 3 (not below 3/4 of 4) %s is still skipped" % A)
    pool.close_one(A)
    got = connects(pool, model, 4, "at 2")
    check(A in got, "at 2 (below 3) %s takes connections again" % A)
    check_view(pool, model, "after the 3/4 rule")

    step("both servers overloaded: refused")
    adm_ok("-Z")
    adm_ok("-e", "-t", SVC, "-r", B, "-x", str(pool.open[B]), "-y", "0")
    model.upper[B] = pool.open[B]
    got = connects(pool, model, 8, "B capped at its open count")
    check("refused" in got, "some connects refused while both are overloaded")
    st = svs.stats().service("TCP", SVC)
    check_eq((st["conns"], st["refused"]), (len([g for g in got if g != "refused"]), got.count("refused")),
             "--stats Conns / Refused")
    check_view(pool, model, "both capped")

    step("lower threshold above the upper one is refused")
    svs.adm_fail("-a", "-t", SVC, "-r", "127.0.0.1:8203", "-x", "1", "-y", "3", rc=(1, 2), err_re="lower threshold")
    svs.adm_fail("-e", "-t", SVC, "-r", A, "-y", "5", rc=(1, 2), err_re="lower threshold")
    check_view(pool, model, "unchanged after the refused commands")


svs.case(main, private_netns=True)
