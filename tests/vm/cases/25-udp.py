#!/usr/bin/env python3
"""Connected UDP, IPv4 and IPv6: connect(VIP) then send/recv reaches a real
server (told by the server's own reply, independent of getpeername), rr
spreads the sockets, a connected socket stays on its server, and a re-connect
is scheduled again. Unconnected sendto() to the VIP is NOT balanced: sock_vs
only acts on connect(), so such datagrams go to the VIP address itself (a
trap listener in this private netns)."""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

PORTS = [9251, 9252, 9253]
N = 30


def run_family(vip, local):
    svc = svs.fmt_addr(vip, 53)
    real = [svs.fmt_addr(local, p) for p in PORTS]
    step("UDP service %s -> %s" % (svc, real))
    adm_ok("-A", "-u", svc, "-s", "rr")
    for r in real:
        adm_ok("-a", "-u", svc, "-r", r, "-w", "1")

    seq = []
    for i in range(N):
        payload = b"datagram %d" % i
        ident, echoed, src = svs.udp_ident(vip, 53, payload=payload)
        if echoed != payload:
            raise svs.Fail("reply to %r echoed %r" % (payload, echoed))
        if svs.fmt_addr(src[0], src[1]) != svc:
            # sock_vs reports the virtual address as the source (issue 6)
            raise svs.Fail("reply from %r (recvfrom) but the socket connected to %s; the server says it is %s"
                           % (src, svc, ident))
        seq.append(ident)
    svs.check_spread(svs.tally(seq), real, N, "%d connected UDP sockets" % N,
                     exact={r: N // len(real) for r in real})
    check_eq(svs.stats().service("UDP", svc)["dests"], {r: N // len(real) for r in real},
             "--stats per-server Conns count the connects")

    def counts():
        return {d["addr"]: (d["active"], d["inact"]) for d in svs.listing().service("UDP", svc)["dests"]}

    def expect_counts(want, what):
        full = {r: want.get(r, (0, 0)) for r in real}
        svs.wait_for(lambda: counts() == full, 10, lambda: "%s: want %r, have %r" % (what, full, counts()))
        check(True, "%s: ActiveConn/InActConn %r" % (what, {k: v for k, v in full.items() if v != (0, 0)}))

    expect_counts({}, "no open sockets")
    with socket.socket(svs.family_of(vip), socket.SOCK_DGRAM) as s:
        s.settimeout(svs.SOCK_TIMEOUT)
        s.connect((vip, 53))
        svs.log("  (getpeername of a connected UDP socket: %r)" % (s.getpeername(),))
        idents = set()
        for i in range(5):
            s.send(b"again %d" % i)
            idents.add(s.recv(1000).split()[1].decode())
        check(len(idents) == 1 and idents <= set(real),
              "5 datagrams on one connected socket all reach the same real server %s" % idents)
        first = idents.pop()
        expect_counts({first: (1, 0)}, "one connected socket")
        s.connect((vip, 53))
        s.send(b"reconnected")
        second = s.recv(1000).split()[1].decode()
        check(second in real and second != first,
              "connect() again on the same socket is scheduled again (rr: %s -> %s)" % (first, second))
        expect_counts({second: (1, 0)}, "after the re-connect")
        s.connect((local, PORTS[0]))
        s.send(b"direct")
        check_eq(s.recv(1000).split()[1].decode(), real[0], "re-connect straight to %s" % real[0])
        expect_counts({}, "after re-connecting to a non-service address")
        s.connect((vip, 53))
        third = (set(real) - {first, second}).pop()    # rr's next after first, second
        expect_counts({third: (1, 0)}, "connected to the VIP once more")
    expect_counts({}, "after close")

    if ":" not in vip:
        # An IPv6 socket connecting to ::ffff:VIP goes through __ip6_datagram_connect()
        # into __ip4_datagram_connect(): balanced by the IPv4 service, like TCP.
        mapped = [svs.udp_ident("::ffff:" + vip, 53) for _ in range(len(real))]
        check_eq(sorted(m[0] for m in mapped), sorted(real),
                 "IPv6 sockets connected to v4-mapped ::ffff:%s are balanced (rr: each real server once)" % vip)
        check_eq({svs.fmt_addr(m[2][0], m[2][1]) for m in mapped}, {svs.fmt_addr("::ffff:" + vip, 53)},
                 "their replies come from ::ffff:%s:53 (recvfrom)" % vip)

    ident, echoed, src = svs.udp_ident(vip, 53, payload=b"unconnected", connected=False)
    check_eq(ident, "trap:" + svc, "unconnected sendto() to the VIP is not balanced (reaches the VIP itself)")

    adm_ok("-D", "-u", svc)
    ident, _, _ = svs.udp_ident(vip, 53)
    check_eq(ident, "trap:" + svc, "after -D a connected socket reaches the VIP itself")


def main():
    svs.fresh_config()
    step("local VIPs with UDP trap listeners; UDP echo servers on loopback")
    for vip, local in ((svs.VIP4, "127.0.0.1"), (svs.VIP6, "::1")):
        svs.add_local_addr(vip)
        svs.echo_server("udp", vip, 53, ident="trap:" + svs.fmt_addr(vip, 53))
        for p in PORTS:
            svs.echo_server("udp", local, p)
    run_family(svs.VIP4, "127.0.0.1")
    run_family(svs.VIP6, "::1")


svs.case(main, private_netns=True)
