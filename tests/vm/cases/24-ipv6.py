#!/usr/bin/env python3
"""IPv6: [fd00:255::1]:80 -> three TCP servers on [::1]:9241-9243.
Runs in a private netns where the VIP itself is also a local address with a
'trap' listener, so a connect that sock_vs does not rewrite is caught there.
Checks rr and wrr spread, non-blocking v6 connect, and that other ports of
the VIP, IPv4 sockets and v4-mapped addresses are left alone."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP = svs.VIP6
SVC = "[%s]:80" % VIP
PORTS = [9241, 9242, 9243]
REAL = ["[::1]:%d" % p for p in PORTS]


def main():
    svs.fresh_config()
    step("local VIPs with trap listeners, real servers on [::1]")
    svs.add_local_addr(VIP)
    svs.add_local_addr(svs.VIP4)
    svs.echo_server("tcp", VIP, 80, ident="trap6:80")
    svs.echo_server("tcp", VIP, 81, ident="trap6:81")
    svs.echo_server("tcp", svs.VIP4, 80, ident="trap4:80")
    for p in PORTS:
        svs.echo_server("tcp", "::1", p)
    svs.echo_server("tcp", "127.0.0.1", 9244)
    check_eq(svs.tcp_ident(VIP, 80), "trap6:80", "without a service the VIP's own listener answers")

    step("rr service %s" % SVC)
    adm_ok("-A", "-t", SVC, "-s", "rr")
    for r in REAL:
        adm_ok("-a", "-t", SVC, "-r", r, "-w", "1")
    seq = [svs.tcp_ident(VIP, 80) for _ in range(30)]
    svs.check_spread(svs.tally(seq), REAL, 30, "30 connects to %s" % SVC,
                     exact={r: 10 for r in REAL})
    check_eq(svs.stats().service("TCP", SVC)["dests"], {r: 10 for r in REAL}, "--stats per-server Conns")

    step("non-blocking IPv6 connect through the VIP")
    got = svs.tcp_ident_nonblocking(VIP, 80)
    check(got in REAL, "non-blocking connect reached a real server (%s)" % got)

    step("what must not be rewritten")
    check_eq(svs.tcp_ident(VIP, 81), "trap6:81", "another port of the VIP address")
    check_eq(svs.tcp_ident(svs.VIP4, 80), "trap4:80", "IPv4 socket to 10.255.0.1:80")
    check_eq(svs.tcp_ident("::ffff:" + svs.VIP4, 80), "trap4:80",
             "IPv6 socket to v4-mapped ::ffff:10.255.0.1:80")
    check_eq(svs.tcp_ident("127.0.0.1", 9244), "127.0.0.1:9244", "IPv4 socket to 127.0.0.1:9244")
    check_eq(svs.tcp_ident("::1", PORTS[0]), REAL[0], "IPv6 socket straight to a real server")

    step("real servers an IPv6 service cannot have")
    before = svs.adm_ok("-S", "-n")
    svs.adm_fail("-a", "-t", SVC, "-r", "[::ffff:127.0.0.1]:%d" % PORTS[0], err_re="v4-mapped real server")
    svs.adm_fail("-a", "-t", SVC, "-r", "[fe80::1]:%d" % PORTS[0], err_re="link-local")
    check_eq(svs.adm_ok("-S", "-n"), before, "refused real servers leave the configuration as it was")

    step("wrr with weights 1, 2, 3")
    adm_ok("-E", "-t", SVC, "-s", "wrr")
    for r, w in zip(REAL, (1, 2, 3)):
        adm_ok("-e", "-t", SVC, "-r", r, "-w", str(w))
    seq = [svs.tcp_ident(VIP, 80) for _ in range(36)]
    svs.check_spread(svs.tally(seq), REAL, 36, "36 connects with wrr 1:2:3",
                     exact={REAL[0]: 6, REAL[1]: 12, REAL[2]: 18})

    step("after -D the VIP's own listener answers again")
    adm_ok("-D", "-t", SVC)
    check_eq(svs.tcp_ident(VIP, 80), "trap6:80", "connect to the deleted service's VIP")


svs.case(main, private_netns=True)
