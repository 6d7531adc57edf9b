#!/usr/bin/env python3
"""Weight 0 drains a real server: an open connection to it keeps working,
no new connection goes there, and it gets its share again once its weight
is restored. Checked for rr and for wrr, with real redis servers, from both
the client's view (which server answered) and the servers' own counters.
Also checks -L -n ActiveConn / InActConn for the held connection."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP, VPORT = svs.VIP4, 6379
SVC = "%s:%d" % (VIP, VPORT)
N = 60   # a multiple of every wrr period used below (3, 4, 5, 6) and of 2 and 3


def rip(p):
    return "127.0.0.1:%d" % p


def share(weights, n):
    """Exact per-server counts for n sequential connections (n a multiple of the period)."""
    total = sum(weights.values())
    return {p: n * w // total for p, w in weights.items() if w > 0}


def phase(servers, n, weights, held, what):
    """n new connections; check who got them (client and server view) and that
    the held connection still answers."""
    base = {p: s.total_connections() for p, s in servers.items()}
    seq = [svs.redis_port_via(VIP, VPORT) for _ in range(n)]
    counts = svs.tally(seq)
    want = share(weights, n)
    check_eq({p: counts[p] for p in counts}, want, "%s: new connections per server (client view)" % what)
    grew = {p: s.total_connections() - base[p] for p, s in servers.items()}
    check_eq(grew, {p: want.get(p, 0) for p in servers}, "%s: total_connections_received growth" % what)
    check_eq(held.cmd("PING"), "PONG", "%s: the held connection still answers PING" % what)


def conn_counts(port):
    d = svs.listing().dest("TCP", SVC, rip(port))
    return d["active"], d["inact"]


def scenario(servers, sched, weights):
    step("%s with weights %r" % (sched, weights))
    svs.flush()
    adm_ok("-A", "-t", SVC, "-s", sched)
    for p, w in weights.items():
        adm_ok("-a", "-t", SVC, "-r", rip(p), "-w", str(w))

    held = svs.RedisConn(VIP, VPORT)
    try:
        x = int(held.info("server")["tcp_port"])
        svs.log("  held connection went to %d" % x)
        check(x in servers, "held connection reached a real server (%d)" % x)
        check_eq(held.cmd("SET", "held", "yes"), "OK", "SET on the held connection")

        phase(servers, N, weights, held, "all weights > 0")
        svs.wait_for(lambda: conn_counts(x) == (1, 0), 20,
                     lambda: "-L -n ActiveConn=1 InActConn=0 for %d (the held connection); now %r"
                     % (x, conn_counts(x)))
        check(True, "-L -n shows the held connection as ActiveConn 1 of %s" % rip(x))

        adm_ok("-e", "-t", SVC, "-r", rip(x), "-w", "0")
        check_eq(svs.listing().dest("TCP", SVC, rip(x))["weight"], 0, "-L -n shows weight 0")
        quiesced = {**weights, x: 0}
        phase(servers, N, quiesced, held, "%d quiesced" % x)
        check_eq(held.cmd("GET", "held"), "yes", "the held connection still reads its data")
        check_eq(conn_counts(x), (1, 0), "ActiveConn still 1 on the quiesced server")

        adm_ok("-e", "-t", SVC, "-r", rip(x), "-w", str(weights[x]))
        phase(servers, N, weights, held, "%d restored to weight %d" % (x, weights[x]))
    finally:
        held.cmd("QUIT")
        while held.f.read(4096):   # let the server close first: no TIME_WAIT here
            pass
        held.close()
    svs.wait_for(lambda: conn_counts(x) == (0, 0), 20,
                 lambda: "ActiveConn/InActConn of %d back to 0 after closing the held connection;"
                 " now %r" % (x, conn_counts(x)))
    check(True, "-L -n counts drop to 0 once the held connection is closed")
    others = {p: conn_counts(p) for p in servers}
    check_eq(others, {p: (0, 0) for p in servers}, "no connection counted as open on any server")

    step("%s: a connection its server closes counts as InActConn until the client closes it" % sched)
    conn = svs.RedisConn(VIP, VPORT)
    try:
        y = int(conn.info("server")["tcp_port"])
        cid = conn.cmd("CLIENT", "ID")
        svs.wait_for(lambda: conn_counts(y) == (1, 0), 20,
                     lambda: "ActiveConn 1 for the new connection to %d; now %r" % (y, conn_counts(y)))
        check_eq(servers[y].ctl.cmd("CLIENT", "KILL", "ID", cid), 1, "CLIENT KILL on %d" % y)
        check_eq(conn.f.read(1), b"", "the client sees the server's FIN")
        svs.wait_for(lambda: conn_counts(y) == (0, 1), 20,
                     lambda: "ActiveConn 0, InActConn 1 (CLOSE_WAIT) on %d; now %r" % (y, conn_counts(y)))
        check(True, "server-closed connection on %d counts as InActConn 1" % y)
    finally:
        conn.close()
    svs.wait_for(lambda: conn_counts(y) == (0, 0), 20,
                 lambda: "counts of %d back to 0 after the client closed; now %r" % (y, conn_counts(y)))
    check(True, "and as nothing once the client closes it")


def main():
    svs.fresh_config()
    step("start redis-server on 127.0.0.1:7001-7003")
    servers = {p: svs.RedisServer(p) for p in (7001, 7002, 7003)}
    scenario(servers, "rr", {7001: 1, 7002: 1, 7003: 1})
    scenario(servers, "wrr", {7001: 1, 7002: 2, 7003: 3})


svs.case(main)
