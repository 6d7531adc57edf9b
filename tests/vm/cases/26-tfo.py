#!/usr/bin/env python3
"""TCP Fast Open through a VIP (IPv4 and IPv6), in a private netns with
net.ipv4.tcp_fastopen=3: sendto(data, MSG_FASTOPEN, VIP) and
TCP_FASTOPEN_CONNECT + connect(VIP) reach a real server, get the echo, are
spread rr over two servers, and really carry their data in the SYN (TCP_INFO
says the SYN data was acked), as a direct TFO connect does."""

import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check_eq, step  # noqa: E402

PORTS = [9261, 9262]
N = 10
TCP_FASTOPEN_CONNECT = 30
TCPI_OPT_SYN_DATA = 32


def syn_data_acked(s):
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return bool(struct.unpack_from("B", info, 5)[0] & TCPI_OPT_SYN_DATA)


def tfo_exchange(host, port, payload, mode):
    """One TFO connection; returns (ident, SYN data acked?)."""
    with socket.socket(svs.family_of(host), socket.SOCK_STREAM) as s:
        # Blocking while connecting: a Python timeout makes the socket
        # non-blocking, and a cookie-less MSG_FASTOPEN would say EINPROGRESS.
        if mode == "sendto":
            s.sendto(payload, socket.MSG_FASTOPEN, (host, port))
        else:
            s.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1)
            s.connect((host, port))
            s.sendall(payload)
        s.settimeout(svs.SOCK_TIMEOUT)
        greeting = svs.read_line(s)
        echo = svs.read_line(s).encode() + b"\n"
        if not greeting.startswith("ID ") or echo != payload:
            raise svs.Fail("TFO to %s: got %r / %r for %r" % (svs.fmt_addr(host, port), greeting, echo, payload))
        return greeting[3:], syn_data_acked(s)


def run_family(vip, local):
    svc = svs.fmt_addr(vip, 80)
    real = [svs.fmt_addr(local, p) for p in PORTS]
    step("TFO control: directly to %s (gets the cookie, then sends data in the SYN)" % real[0])
    first = tfo_exchange(local, PORTS[0], b"direct 0\n", "sendto")
    second = tfo_exchange(local, PORTS[0], b"direct 1\n", "sendto")
    check_eq((first[0], second), (real[0], (real[0], True)),
             "direct MSG_FASTOPEN works and the second one carries SYN data")

    step("MSG_FASTOPEN through %s" % svc)
    adm_ok("-A", "-t", svc, "-s", "rr")
    for r in real:
        adm_ok("-a", "-t", svc, "-r", r, "-w", "1")
    results = [tfo_exchange(vip, 80, b"hello %d\n" % i, "sendto") for i in range(N)]
    svs.check_spread(svs.tally(r[0] for r in results), real, N, "%d MSG_FASTOPEN sends" % N,
                     exact={r: N // 2 for r in real})
    check_eq([r[1] for r in results], [True] * N, "every one carried its data in the SYN")
    check_eq(svs.stats().service("TCP", svc)["dests"], {r: N // 2 for r in real},
             "--stats per-server Conns")

    step("TCP_FASTOPEN_CONNECT + connect() through %s" % svc)
    results = [tfo_exchange(vip, 80, b"deferred %d\n" % i, "connect") for i in range(4)]
    svs.check_spread(svs.tally(r[0] for r in results), real, 4, "4 deferred TFO connects",
                     exact={r: 2 for r in real})
    check_eq([r[1] for r in results], [True] * 4, "every one carried its data in the SYN")

    adm_ok("-D", "-t", svc)
    check_eq(tfo_exchange(vip, 80, b"trap\n", "sendto")[0], "trap:" + svc,
             "after -D, MSG_FASTOPEN reaches the VIP itself")


def main():
    svs.fresh_config()
    svs.sysctl_set("net.ipv4.tcp_fastopen", 3)
    for vip, local in ((svs.VIP4, "127.0.0.1"), (svs.VIP6, "::1")):
        svs.add_local_addr(vip)
        svs.echo_server("tcp", vip, 80, ident="trap:" + svs.fmt_addr(vip, 80), tfo=True)
        for p in PORTS:
            svs.echo_server("tcp", local, p, tfo=True)
    run_family(svs.VIP4, "127.0.0.1")
    run_family(svs.VIP6, "::1")


svs.case(main, private_netns=True)
