#!/usr/bin/env python3
# svs-timeout: 900
"""lc and wlc with real redis servers (127.0.0.1:7001-7003 behind
10.255.0.1:6379).

lc: after 6 connections piled on one server (under -s fixed), -E -s lc sends
the next ones to the other two until they catch up.  Then connections of
uneven lifetimes (every 3rd held, the others closed at
once; now and then the oldest or newest held one closed; at one point every
held connection of one server closed).  Before each connect the test waits
until the module's open-connection counts (the raw GET_DEST dump) equal its
own bookkeeping; the server each connect reaches must then be one with the
fewest open connections; after a server is emptied, the next connects all go
to it until it has caught up.  -L -n ActiveConn, -L -n --shards and redis's
connected_clients agree with the bookkeeping at the end.

wlc: weights 1:3 (third server quiesced), then 1:2:3, all connections held:
each connect reaches a server with the fewest open connections per weight
and the counts end exactly proportional (the number of connections is a
multiple of the weight sum)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP, VPORT = svs.VIP4, 6379
SVC = "%s:%d" % (VIP, VPORT)
PORTS = [7001, 7002, 7003]
RIPS = ["127.0.0.1:%d" % p for p in PORTS]


class Pool:
    """Connections through the VIP and the test's own count of open ones."""

    def __init__(self):
        self.held = []                      # (sock, rip), oldest first
        self.open = {r: 0 for r in RIPS}

    def connect(self):
        s = svs.tcp_connect(VIP, VPORT, timeout=60)
        rip = svs.kernel_peer(s)    # getpeername() would say the VIP
        if rip not in RIPS:
            s.close()
            raise svs.Fail("connection reached %s, not a real server" % rip)
        s.sendall(b"PING\r\n")
        if s.recv(64) != b"+PONG\r\n":
            raise svs.Fail("no PONG from %s" % rip)
        return s, rip

    def hold(self, s, rip):
        self.held.append((s, rip))
        self.open[rip] += 1

    def close(self, idx):
        s, rip = self.held.pop(idx)
        svs.rst_close(s)
        self.open[rip] -= 1
        return rip

    def close_all(self, rip=None):
        for i in reversed(range(len(self.held))):
            if rip is None or self.held[i][1] == rip:
                self.close(i)

    def settle(self, what):
        svs.wait_open_conns(VIP, VPORT, dict(self.open), what)


def least(open_, weights, rip):
    """Is rip among the usable servers with the fewest open connections per
    weight (weights None: plain lc over every server)?"""
    w = weights or {r: 1 for r in open_}
    usable = [r for r in open_ if w[r] > 0]
    # c_a / w_a <= c_b / w_b  <=>  c_a * w_b <= c_b * w_a
    return rip in usable and all(open_[rip] * w[o] <= open_[o] * w[rip] for o in usable)


def lc_step(pool, i, hold, weights=None, what="lc"):
    pool.settle("%s connect #%d" % (what, i))
    before = dict(pool.open)
    s, rip = pool.connect()
    if not least(before, weights, rip):
        svs.rst_close(s)
        raise svs.Fail("%s connect #%d reached %s, but open connections were %r%s"
                       % (what, i, rip, before, " (weights %r)" % weights if weights else ""))
    if hold:
        pool.hold(s, rip)
    else:
        svs.rst_close(s)
    return rip


def main():
    svs.fresh_config()
    step("three redis servers behind %s; 6 connections held on the first (-s fixed)" % SVC)
    servers = {r: svs.RedisServer(p) for r, p in zip(RIPS, PORTS)}
    adm_ok("-A", "-t", SVC, "-s", "fixed")
    for r in RIPS:
        adm_ok("-a", "-t", SVC, "-r", r)
    pool = Pool()
    svs.defer(pool.close_all)
    for _ in range(6):
        pool.hold(*pool.connect())
    check_eq(pool.open, {RIPS[0]: 6, RIPS[1]: 0, RIPS[2]: 0}, "fixed: all 6 on the first server")

    step("-E -s lc: the other two catch up first")
    adm_ok("-E", "-t", SVC, "-s", "lc")
    got = [lc_step(pool, i, hold=True) for i in range(12)]
    check_eq(svs.tally(got), {RIPS[1]: 6, RIPS[2]: 6}, "the next 12 connects: 6 each on the two empty servers")
    pool.close_all()

    step("48 connects: every 3rd held, the others closed at once; now and then a held one closed")
    seq = []
    for i in range(48):
        seq.append(lc_step(pool, i, hold=(i % 3 == 0)))
        if i % 8 == 7 and pool.held:
            pool.close(0)                    # the oldest
        if i % 11 == 10 and pool.held:
            pool.close(len(pool.held) - 1)   # the newest
    svs.log("  servers in order: %s" % " ".join(r[-4:] for r in seq))
    check(True, "each of 48 connects reached a server with the fewest open connections")

    step("hold more, then close every held connection of one server")
    for i in range(12):
        lc_step(pool, 100 + i, hold=True)
    pool.settle("before emptying")
    victim = max(RIPS, key=lambda r: pool.open[r])
    others = min(pool.open[r] for r in RIPS if r != victim)
    svs.log("  open: %r; closing all %d on %s" % (pool.open, pool.open[victim], victim))
    pool.close_all(victim)
    got = [lc_step(pool, 200 + i, hold=True) for i in range(others)]
    check_eq(got, [victim] * others, "the next %d connects all go to the emptied %s" % (others, victim))
    lc_step(pool, 300, hold=True)

    step("the module, sockvsadm and redis agree with the bookkeeping")
    pool.settle("final lc state")
    lst = svs.listing()
    check_eq({r: (lst.dest("TCP", SVC, r)["active"], lst.dest("TCP", SVC, r)["inact"]) for r in RIPS},
             {r: (pool.open[r], 0) for r in RIPS}, "-L -n ActiveConn / InActConn")
    sh = svs.shard_listing("TCP", SVC)["dests"]
    check_eq({r: (sh[r]["shards"], sh[r]["per_shard"]) for r in RIPS},
             {r: (1, [pool.open[r]]) for r in RIPS}, "-L -n --shards: 1 shard, its open count")

    def redis_clients():
        return {r: int(s.ctl.info("clients")["connected_clients"]) - 1 for r, s in servers.items()}
    svs.wait_for(lambda: redis_clients() == pool.open, 60,
                 lambda: "redis connected_clients - 1 %r = bookkeeping %r" % (redis_clients(), pool.open))
    check(True, "redis connected_clients (minus the control connection) = open connections %r" % pool.open)
    pool.close_all()
    pool.settle("all closed")

    for weights, n in (({RIPS[0]: 1, RIPS[1]: 3, RIPS[2]: 0}, 40),
                       ({RIPS[0]: 1, RIPS[1]: 2, RIPS[2]: 3}, 60)):
        step("wlc, weights %s, %d held connections" % (":".join(str(weights[r]) for r in RIPS), n))
        adm_ok("-E", "-t", SVC, "-s", "wlc")
        for r in RIPS:
            adm_ok("-e", "-t", SVC, "-r", r, "-w", weights[r])
        for i in range(n):
            lc_step(pool, i, hold=True, weights=weights, what="wlc")
        total = sum(weights.values())
        want = {r: n * weights[r] // total for r in RIPS}
        check_eq(pool.open, want, "wlc: open connections proportional to the weights")
        pool.settle("wlc end")
        lst = svs.listing()
        check_eq({r: lst.dest("TCP", SVC, r)["active"] for r in RIPS}, want, "-L -n ActiveConn")
        pool.close_all()
        pool.settle("wlc all closed")


svs.case(main, private_netns=True)
