#!/usr/bin/env python3
"""Port mapping: VIP port 80 -> real servers on ports 8081/8082; address
and port are both rewritten (traps on VIP:8081 and 127.0.0.1:80 must stay
silent), the source address is chosen for the real server's route, one real
server may serve two services, and non-blocking connect through the VIP
follows the usual EINPROGRESS / select / SO_ERROR=0 sequence."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP = svs.VIP4
REAL = ["127.0.0.1:8081", "127.0.0.1:8082"]


def main():
    svs.fresh_config()
    step("real servers on 127.0.0.1:8081/8082; traps on VIP:80, VIP:8081, 127.0.0.1:80")
    svs.add_local_addr(VIP)
    servers = [svs.echo_server("tcp", "127.0.0.1", p) for p in (8081, 8082)]
    traps = [svs.echo_server("tcp", VIP, 80, ident="trap:vip:80"),
             svs.echo_server("tcp", VIP, 8081, ident="trap:vip:8081"),
             svs.echo_server("tcp", "127.0.0.1", 80, ident="trap:127.0.0.1:80")]

    adm_ok("-A", "-t", VIP + ":80", "-s", "rr")
    for r in REAL:
        adm_ok("-a", "-t", VIP + ":80", "-r", r, "-w", "1")

    step("blocking connects to %s:80" % VIP)
    seq = [svs.tcp_ident(VIP, 80) for _ in range(20)]
    svs.check_spread(svs.tally(seq), REAL, 20, "20 connects", exact={r: 10 for r in REAL})
    check_eq([t.count() for t in traps], [0, 0, 0], "no trap listener saw a connection")
    peers = {p[0] for s in servers for p in s.peers}
    check_eq(peers, {"127.0.0.1"}, "source address chosen for the real server's route, not the VIP's")

    step("non-blocking connects through the VIP")
    seq = [svs.tcp_ident_nonblocking(VIP, 80) for _ in range(4)]
    svs.check_spread(svs.tally(seq), REAL, 4, "4 non-blocking connects", exact={r: 2 for r in REAL})

    step("a second service (port 81) using one of the same real servers")
    adm_ok("-A", "-t", VIP + ":81", "-s", "rr")
    adm_ok("-a", "-t", VIP + ":81", "-r", REAL[0], "-w", "1")
    seq = [svs.tcp_ident(VIP, 81) for _ in range(4)]
    check_eq(seq, [REAL[0]] * 4, "port-81 service always reaches %s" % REAL[0])
    seq = [svs.tcp_ident(VIP, 80) for _ in range(4)]
    svs.check_spread(svs.tally(seq), REAL, 4, "port-80 service unchanged", exact={r: 2 for r in REAL})
    check_eq(svs.tcp_ident(VIP, 8081), "trap:vip:8081", "VIP:8081 is not a service and is left alone")
    check_eq([t.count() for t in traps], [0, 1, 0], "only that direct connect reached a trap")

    st = svs.stats()
    check_eq(st.service("TCP", VIP + ":80")["dests"], {r: 14 for r in REAL}, "--stats port-80 service")
    check_eq(st.service("TCP", VIP + ":81")["dests"], {REAL[0]: 4}, "--stats port-81 service")

    step("IPv6 dual-stack socket to the v4-mapped VIP ::ffff:%s:80" % VIP)
    idents = [svs.tcp_ident("::ffff:" + VIP, 80) for _ in range(4)]
    balanced, trapped = set(idents) <= set(REAL), set(idents) == {"trap:vip:80"}
    check(balanced or trapped, "v4-mapped connects all go the same way (%s)" % idents)
    with svs.tcp_connect("::ffff:" + VIP, 80) as s:
        svs.log("NOTE: v4-mapped TCP connects are %s; getpeername() = %r, greeting %r"
                % ("balanced" if balanced else "NOT balanced (reach the VIP itself)",
                   s.getpeername(), svs.read_line(s)))


svs.case(main, private_netns=True)
