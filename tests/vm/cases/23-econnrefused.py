#!/usr/bin/env python3
"""A service without a usable real server (none at all, or all weight 0)
refuses connect() synchronously with ECONNREFUSED: blocking and
non-blocking TCP (v4, v6), connected UDP (v4, v6) and TCP Fast Open. It
happens at once (< 1 s, not a timeout), --stats Refused counts every one,
and the refused socket can still be used for a normal connect."""

import errno
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

T4 = ("TCP", svs.VIP4, 6379)
T6 = ("TCP", svs.VIP6, 6379)
U4 = ("UDP", svs.VIP4, 53)
U6 = ("UDP", svs.VIP6, 53)
LISTEN = ("127.0.0.1", 9231)
LISTEN6 = ("::1", 9231)
MAX_SECONDS = 1.0


def key(svc):
    return svs.fmt_addr(svc[1], svc[2])


def flag(svc):
    return "-t" if svc[0] == "TCP" else "-u"


def attempt(svc, how):
    """One connect attempt to svc; returns (errno or 0, seconds, socket)."""
    proto, host, port = svc
    s = socket.socket(svs.family_of(host), socket.SOCK_STREAM if proto == "TCP" else socket.SOCK_DGRAM)
    t0 = time.monotonic()
    if how == "blocking":
        try:    # really blocking (a Python timeout would make it non-blocking)
            s.connect((host, port))
            err = 0
        except socket.timeout:
            err = "timeout"
        except OSError as e:
            err = e.errno
    elif how == "nonblocking":
        s.setblocking(False)
        err = s.connect_ex((host, port))
    elif how == "fastopen":
        try:    # blocking, as a Python timeout would make the socket non-blocking
            s.sendto(b"hello", socket.MSG_FASTOPEN, (host, port))
            err = 0
        except socket.timeout:
            err = "timeout"
        except OSError as e:
            err = e.errno
    return err, time.monotonic() - t0, s


def expect_refused(svc, how, refused):
    err, secs, s = attempt(svc, how)
    s.close()
    what = "%s %s %s connect" % (how, svc[0], key(svc))
    if err != errno.ECONNREFUSED:
        raise svs.Fail("%s: expected ECONNREFUSED, got %s after %.2fs" % (what, svs.errno_name(err), secs))
    check(secs < MAX_SECONDS, "%s -> ECONNREFUSED in %.3fs" % (what, secs))
    refused[svc] = refused.get(svc, 0) + 1


def all_refused(services, refused, tfo):
    for svc in services:
        hows = ["blocking", "nonblocking"] if svc[0] == "TCP" else ["blocking"]
        if svc[0] == "TCP" and tfo:
            hows.append("fastopen")
        for how in hows:
            expect_refused(svc, how, refused)


def check_counters(refused, conns, what):
    st = svs.stats()
    got = {svc: (st.service(svc[0], key(svc))["refused"], st.service(svc[0], key(svc))["conns"])
           for svc in refused}
    want = {svc: (refused[svc], conns.get(svc, 0)) for svc in refused}
    check_eq(got, want, "--stats (Refused, Conns) per service %s" % what)


def main():
    svs.fresh_config()
    with open("/proc/sys/net/ipv4/tcp_fastopen") as f:
        tfo = bool(int(f.read()) & 1)
    if not tfo:
        svs.log("(net.ipv4.tcp_fastopen has no client bit: MSG_FASTOPEN attempts skipped here)")
    services = [T4, T6, U4, U6]
    refused, conns = {}, {}
    svs.echo_server("tcp", *LISTEN)
    svs.echo_server("tcp", *LISTEN6)

    step("services without any real server")
    for svc in services:
        adm_ok("-A", flag(svc), key(svc), "-s", "rr")
    all_refused(services, refused, tfo)
    check_counters(refused, conns, "with no real servers")

    step("a refused socket is left usable: connect it to a real listener")
    for svc, target in ((T4, LISTEN), (T6, LISTEN6)):
        err, secs, s = attempt(svc, "blocking")
        try:
            check_eq(svs.errno_name(err), "ECONNREFUSED", "first connect of the socket")
            refused[svc] += 1
            s.connect(target)
            check_eq(svs.read_line(s), "ID " + svs.fmt_addr(*target),
                     "the same socket then connects to %s" % svs.fmt_addr(*target))
        finally:
            s.close()

    step("services whose real servers all have weight 0")
    for svc in services:
        host = "127.0.0.1" if svc[1] == svs.VIP4 else "::1"
        adm_ok("-a", flag(svc), key(svc), "-r", svs.fmt_addr(host, 9231), "-w", "0")
        adm_ok("-a", flag(svc), key(svc), "-r", svs.fmt_addr(host, 9232), "-w", "1")
        adm_ok("-e", flag(svc), key(svc), "-r", svs.fmt_addr(host, 9232), "-w", "0")
    all_refused(services, refused, tfo)
    check_counters(refused, conns, "with all weights 0")

    step("one real server back to weight 1: connects go through again")
    adm_ok("-e", "-t", key(T4), "-r", "127.0.0.1:9231", "-w", "1")
    check_eq(svs.tcp_ident(T4[1], T4[2]), "127.0.0.1:9231", "TCP v4 connect reaches the real server")
    conns[T4] = 1
    adm_ok("-e", "-t", key(T6), "-r", "[::1]:9231", "-w", "1")
    check_eq(svs.tcp_ident(T6[1], T6[2]), "[::1]:9231", "TCP v6 connect reaches the real server")
    conns[T6] = 1
    check_counters(refused, conns, "after successful connects")

    step("real servers deleted again: refused again")
    adm_ok("-d", "-t", key(T4), "-r", "127.0.0.1:9231")
    adm_ok("-d", "-t", key(T4), "-r", "127.0.0.1:9232")
    all_refused([T4], refused, tfo)
    check_counters(refused, conns, "after deleting the real servers")

    step("a scheduled connect that the real server itself refuses (RST); the socket then listens")
    svc, rip = "10.255.0.1:6380", "127.0.0.1:9238"     # nothing listens on 9238
    adm_ok("-A", "-t", svc, "-s", "rr")
    adm_ok("-a", "-t", svc, "-r", rip, "-w", "1")
    err, secs, s = attempt(("TCP", svs.VIP4, 6380), "blocking")
    with s:
        check_eq(svs.errno_name(err), "ECONNREFUSED", "connect scheduled to %s, refused by its RST" % rip)
        st = svs.stats().service("TCP", svc)
        check_eq((st["conns"], st["refused"], st["dests"]), (1, 0, {rip: 1}),
                 "--stats: scheduled (Conns 1), not refused by sock_vs (Refused 0)")
        d = svs.listing().dest("TCP", svc, rip)
        check_eq(d["active"], 0, "-L -n: the refused socket is not an ActiveConn")
        svs.log("  (InActConn of the open, refused socket: %d)" % d["inact"])
        s.bind(("127.0.0.1", 9237))
        s.listen(4)
        with svs.tcp_connect("127.0.0.1", 9237) as c:
            a, _ = s.accept()
            with a:
                a.sendall(b"hello\n")
                check_eq(svs.read_line(c), "hello", "the same socket then listens and accepts")
    d = svs.listing().dest("TCP", svc, rip)
    check_eq((d["active"], d["inact"]), (0, 0), "nothing counted on %s afterwards" % rip)

    step("a connect to an address that is not a service is not refused by sock_vs")
    check_eq(svs.tcp_ident(*LISTEN), "127.0.0.1:9231", "direct connect to 127.0.0.1:9231")
    err, secs, s = attempt(("TCP", "127.0.0.1", 9239), "blocking")
    s.close()
    check_eq(svs.errno_name(err), "ECONNREFUSED", "closed local port still refuses (kernel RST)")
    check_counters(refused, conns, "unchanged by connects to other addresses")


svs.case(main)
