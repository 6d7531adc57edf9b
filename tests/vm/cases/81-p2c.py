#!/usr/bin/env python3
"""The latency-aware scheduler p2c (issue 18): two weighted random choices,
the lower (handshake RTT x (open connections + 1)) takes the connect; the
RTT is the kernel's smoothed RTT of the balanced sockets as their handshakes
complete.

Three TCP servers on loopback; netem delays every packet to the third's
port by 20 ms (a prio qdisc on lo, a u32 filter on the destination port):

- rr gives it a third of 300 sequential connects;
- p2c, after a warm-up, gives it at most 3% of them: the two draws are
  distinct servers, and at equal load the delayed one loses every pair
  (it is tried again only once its RTT has decayed, SVS_P2C_DECAY_MS); the
  fast ones share the rest (drawn with replacement, it won 1/9);
- without the delay and with connections held open, p2c spreads 90 of them
  within 30 +- 10 each (the load term evens them);
- p2c is listed by name, and works without a sample (a new server is costed by load alone).
"""
# svs-timeout: 500

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import check, check_eq, step  # noqa: E402

VIP = svs.VIP4
PORTS = [9601, 9602, 9603]
SLOW = "127.0.0.1:%d" % PORTS[2]


def tc(*args):
    svs.run_ok(["tc"] + list(args))


def delay_on():
    tc("qdisc", "add", "dev", "lo", "root", "handle", "1:", "prio")
    tc("qdisc", "add", "dev", "lo", "parent", "1:3", "handle", "30:", "netem", "delay", "20ms")
    tc("filter", "add", "dev", "lo", "parent", "1:0", "protocol", "ip", "u32",
       "match", "ip", "dport", str(PORTS[2]), "0xffff", "flowid", "1:3")


def delay_off():
    svs.run(["tc", "qdisc", "del", "dev", "lo", "root"])


def share(n, port=80):
    got = [svs.tcp_ident(VIP, port) for _ in range(n)]
    t = svs.tally(got)
    svs.log("  %d connects: %s" % (n, t))
    return t


def main():
    svs.fresh_config()
    for p in PORTS:
        svs.echo_server("tcp", "127.0.0.1", p)
    svs.adm_ok("-A", "-t", "%s:80" % VIP, "-s", "rr")
    for p in PORTS:
        svs.adm_ok("-a", "-t", "%s:80" % VIP, "-r", "127.0.0.1:%d" % p, "-w", "1")
    svs.defer(delay_off)
    delay_on()
    # the delay holds: a direct connect to the slow server takes >= 20 ms
    t0 = time.monotonic()
    svs.tcp_ident("127.0.0.1", PORTS[2])
    check(time.monotonic() - t0 >= 0.02, "netem delays the slow server's port")

    step("rr: a third to the delayed server")
    t = share(300)
    check_eq(t.get(SLOW, 0), 100, "rr's share of the slow server")

    step("p2c: the delayed server loses every pair at equal load")
    svs.adm_ok("-E", "-t", "%s:80" % VIP, "-s", "p2c")
    check("p2c" in svs.adm_ok("-L", "-n"), "-L shows p2c")
    share(30)   # warm-up: every server gets a sample
    t = share(300)
    slow = t.get(SLOW, 0)
    check(slow <= 9, "p2c gives the delayed server at most 3%% (%d of 300)" % slow)
    check(all(t.get("127.0.0.1:%d" % p, 0) >= 120 for p in PORTS[:2]),
          "the fast servers share the rest: %s" % t)

    step("no delay, connections held open: p2c spreads them evenly")
    delay_off()
    # a new service: its servers' handshake times start afresh
    svs.adm_ok("-A", "-t", "%s:81" % VIP, "-s", "p2c")
    for p in PORTS:
        svs.adm_ok("-a", "-t", "%s:81" % VIP, "-r", "127.0.0.1:%d" % p, "-w", "1")
    share(30, 81)
    socks = []
    svs.defer(lambda: [s.close() for s in socks])
    got = []
    for _ in range(90):
        s = svs.tcp_connect(VIP, 81)
        got.append(svs.read_line(s)[3:])
        socks.append(s)
    t = svs.tally(got)
    svs.log("  90 held open: %s" % t)
    for p in PORTS:
        n = t.get("127.0.0.1:%d" % p, 0)
        check(20 <= n <= 40, "127.0.0.1:%d holds %d of 90 (30 +- 10)" % (p, n))


if __name__ == "__main__":
    svs.case(main)
