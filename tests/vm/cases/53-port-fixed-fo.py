#!/usr/bin/env python3
# svs-timeout: 600
"""port, fixed and fo over three TCP echo servers, configured in the order
127.0.0.1:8102, :8103, :8101 (not address order: "configuration order" is
what counts), behind 10.255.0.1:8100.

- port: a socket bound to local port P reaches usable server P % 3 (P % 2
  with one quiesced), in configuration order, and keeps P; unbound sockets
  go round robin (each the next server in configuration order).  An
  overloaded server (-x 1, one connection held) drops out like a quiesced one.
- fixed: every connection to the first usable server; quiescing it moves
  new ones to the next, and so on; restoring it brings them back.
- fo: the usable server of highest weight; on a tie the first configured.
The --stats counters agree with what the clients saw."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP, VPORT = svs.VIP4, 8100
SVC = "%s:%d" % (VIP, VPORT)
ORDER = [8102, 8103, 8101]                 # configuration order
RIPS = ["127.0.0.1:%d" % p for p in ORDER]


def weights(ws):
    for r, w in zip(RIPS, ws):
        adm_ok("-e", "-t", SVC, "-r", r, "-w", w)


def bound_round(ports, usable, what):
    """Each port P: reaches usable[P % len(usable)] and keeps P."""
    got = {p: svs.tcp_ident_rst(VIP, VPORT, lport=p) for p in ports}
    want = {p: (usable[p % len(usable)], p) for p in ports}
    check_eq(got, want, "%s: bound port P -> usable server P %% %d, port kept" % (what, len(usable)))


def unbound_round(n, usable, what):
    """n unbound connects: each the next usable server in configuration order."""
    seq = [svs.tcp_ident_rst(VIP, VPORT)[0] for _ in range(n)]
    bad = [i for i in range(1, n)
           if seq[i] != usable[(usable.index(seq[i - 1]) + 1) % len(usable)]] if seq[0] in usable else [0]
    check_eq(bad, [], "%s: %d unbound connects rotate in configuration order (%s)"
             % (what, n, " ".join(s[-4:] for s in seq)))
    check_eq(svs.tally(seq), {r: n // len(usable) for r in usable}, "%s: spread" % what)
    return seq


def all_to(n, rip, what):
    seq = [svs.tcp_ident_rst(VIP, VPORT)[0] for _ in range(n)]
    check_eq(seq, [rip] * n, "%s: all %d connections to %s" % (what, n, rip))


def main():
    svs.fresh_config()
    step("echo servers; service %s -s port, real servers in the order %s" % (SVC, ORDER))
    for p in ORDER:
        svs.echo_server("tcp", "127.0.0.1", p)
    adm_ok("-A", "-t", SVC, "-s", "port")
    for r in RIPS:
        adm_ok("-a", "-t", SVC, "-r", r)
    check_eq([d["addr"] for d in svs.listing().service("TCP", SVC)["dests"]], RIPS,
             "-L -n lists the real servers in configuration order")
    adm_ok("-Z")
    seen = {r: 0 for r in RIPS}

    step("port: bound local ports")
    ports = list(range(46000, 46012))
    bound_round(ports, RIPS, "3 usable")
    for p in ports:
        seen[RIPS[p % 3]] += 1
    step("port: unbound sockets")
    for r in unbound_round(9, RIPS, "3 usable"):
        seen[r] += 1
    check_eq(svs.stats().service("TCP", SVC)["dests"], seen, "--stats per-server Conns")

    step("port: %s quiesced" % RIPS[1])
    adm_ok("-e", "-t", SVC, "-r", RIPS[1], "-w", "0")
    usable = [RIPS[0], RIPS[2]]
    bound_round(ports, usable, "2 usable")
    unbound_round(8, usable, "2 usable")
    adm_ok("-e", "-t", SVC, "-r", RIPS[1], "-w", "1")
    bound_round(ports[:6], RIPS, "restored")

    step("port: %s overloaded (-x 1, one connection held) drops out of the modulus" % RIPS[1])
    adm_ok("-e", "-t", SVC, "-r", RIPS[1], "-x", "1")
    hp = next(p for p in ports if p % 3 == 1)
    held = svs.tcp_connect_bound(VIP, VPORT, hp, timeout=60)
    try:
        check_eq(svs.read_line(held)[3:], RIPS[1], "bound to %d: %s" % (hp, RIPS[1]))
        svs.wait_open_conns(VIP, VPORT, {RIPS[0]: 0, RIPS[1]: 1, RIPS[2]: 0}, "one held on %s" % RIPS[1])
        bound_round([p for p in ports if p != hp], usable, "%s overloaded" % RIPS[1])
    finally:
        svs.rst_close(held)
    svs.wait_open_conns(VIP, VPORT, {r: 0 for r in RIPS}, "held connection closed")
    bound_round(ports[:6], RIPS, "%s below its threshold again" % RIPS[1])
    adm_ok("-e", "-t", SVC, "-r", RIPS[1], "-x", "0")

    step("fixed: the first usable server")
    adm_ok("-E", "-t", SVC, "-s", "fixed")
    check_eq(svs.listing().service("TCP", SVC)["sched"], "fixed", "-L -n shows fixed")
    all_to(6, RIPS[0], "fixed")
    bound_round([46000], [RIPS[0]], "fixed ignores the bound port")
    weights([0, 1, 1])
    all_to(6, RIPS[1], "fixed, first quiesced")
    weights([0, 0, 1])
    all_to(6, RIPS[2], "fixed, first two quiesced")
    weights([1, 0, 1])
    all_to(6, RIPS[0], "fixed, first restored")

    step("fo: the usable server of highest weight, first configured on a tie")
    adm_ok("-E", "-t", SVC, "-s", "fo")
    for ws, want in (([1, 3, 3], 1), ([1, 3, 4], 2), ([1, 0, 3], 2), ([1, 0, 0], 0),
                     ([5, 5, 5], 0), ([2, 7, 1], 1), ([0, 0, 0], None)):
        weights(ws)
        what = "fo, weights %s" % ws
        if want is None:
            got = svs.try_ident("tcp", VIP, VPORT)
            check_eq(got, "ERR ECONNREFUSED", "%s: nothing usable, refused" % what)
        else:
            all_to(4, RIPS[want], what)
    weights([1, 1, 1])
    st = svs.stats().service("TCP", SVC)
    check(st["refused"] == 1, "--stats Refused counts the one refused connect (%d)" % st["refused"])


svs.case(main, private_netns=True)
