#!/usr/bin/env python3
"""rmmod sock_vs while 4 threads connect in a loop (2 to the VIP, 2 straight
to a plain address), three times. In this private netns the VIP is also a
local address with its own listener, so every connect succeeds whichever
way it goes: before the unload through the VIP -> real servers, after it ->
the VIP itself; plain connects always -> plain. No connect may fail.
Connections (TCP and connected UDP) scheduled before the unload keep
working after it and close cleanly. After insmod the namespace starts
empty, and a new configuration balances again."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP = svs.VIP4
SVC = VIP + ":80"
REAL = ["127.0.0.1:9401", "127.0.0.1:9402"]
PLAIN = ("127.0.0.1", 9403)
UDP_REAL = ("127.0.0.1", 9404)
CYCLES = 3


class Loader(threading.Thread):
    """Connects to (host, port) in a loop, recording (start, end, ident|ERR)."""

    def __init__(self, host, port):
        super().__init__(daemon=True)
        self.host, self.port = host, port
        self.results = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            r = svs.try_ident("tcp", self.host, self.port, timeout=15)
            self.results.append((t0, time.monotonic(), r))

    def count_after(self, t):
        return sum(1 for r in list(self.results) if r[0] > t)


def configure():
    adm_ok("-A", "-t", SVC, "-s", "rr")
    for r in REAL:
        adm_ok("-a", "-t", SVC, "-r", r, "-w", "1")
    adm_ok("-A", "-u", VIP + ":53", "-s", "rr")
    adm_ok("-a", "-u", VIP + ":53", "-r", svs.fmt_addr(*UDP_REAL), "-w", "1")


def ensure_loaded():
    if not svs.module_loaded():
        svs.insmod()


def cycle(n):
    step("cycle %d: configure and check balancing" % n)
    configure()
    seq = [svs.tcp_ident(VIP, 80) for _ in range(10)]
    svs.check_spread(svs.tally(seq), REAL, 10, "10 connects to %s" % SVC, exact={r: 5 for r in REAL})

    held = [svs.tcp_connect(VIP, 80) for _ in range(2)]
    held_ids = [svs.read_line(s)[3:] for s in held]
    check(set(held_ids) <= set(REAL), "2 held TCP connections through the VIP: %s" % held_ids)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(svs.SOCK_TIMEOUT)
    udp.connect((VIP, 53))
    udp.send(b"before")
    check_eq(udp.recv(100), b"ID %s before" % svs.fmt_addr(*UDP_REAL).encode(), "held connected UDP socket")

    loaders = [Loader(VIP, 80), Loader(VIP, 80), Loader(*PLAIN), Loader(*PLAIN)]
    for ld in loaders:
        ld.start()
    try:
        svs.wait_for(lambda: all(len(ld.results) >= 5 for ld in loaders), 120, "5 connects per thread")
        step("cycle %d: rmmod sock_vs under load" % n)
        t_start = time.monotonic()
        took = svs.rmmod(timeout=10)
        t_end = time.monotonic()
        svs.log("  rmmod took %.2fs" % took)
        check(not svs.module_loaded(), "module unloaded")
        svs.wait_for(lambda: all(ld.count_after(t_end) >= 10 for ld in loaders), 120,
                     "10 connects per thread after the unload")
    finally:
        for ld in loaders:
            ld.stop.set()
        for ld in loaders:
            ld.join(30)

    for ld in loaders[2:]:
        bad = [r for r in ld.results if r[2] != "plain"]
        check(not bad, "%d plain connects all reached plain" % len(ld.results), bad[:5])
    before = after = during = 0
    for ld in loaders[:2]:
        for t0, t1, ident in ld.results:
            if t1 < t_start:
                ok, before = ident in REAL, before + 1
            elif t0 > t_end:
                ok, after = ident == "vip-itself", after + 1
            else:
                ok, during = ident in REAL or ident == "vip-itself", during + 1
            if not ok:
                raise svs.Fail("VIP connect [%.3f, %.3f] (rmmod [%.3f, %.3f]) got %r"
                               % (t0, t1, t_start, t_end, ident))
    check(before >= 10 and after >= 20,
          "VIP connects: %d before the unload -> real servers, %d during -> either, %d after -> "
          "the VIP itself" % (before, during, after))

    for s, ident in zip(held, held_ids):
        s.sendall(b"still there\n")
        check_eq(svs.read_line(s), "still there", "held TCP connection to %s works after rmmod" % ident)
        s.close()
    udp.send(b"after")
    check_eq(udp.recv(100), b"ID %s after" % svs.fmt_addr(*UDP_REAL).encode(),
             "held connected UDP socket works after rmmod")
    udp.close()

    r = svs.adm("-L", "-n")
    check(r.returncode == 1 and r.stderr.startswith("sockvsadm: "),
          "sockvsadm -L -n without the module: exit 1 and %r" % r.stderr.strip(), (r.returncode, r.stderr))

    step("cycle %d: insmod" % n)
    svs.insmod()
    lst = svs.listing()
    check_eq((lst.nservices, lst.services), (0, []), "a freshly loaded module has no services here")
    check_eq(svs.tcp_ident(VIP, 80), "vip-itself", "without config the VIP itself answers")


def main():
    svs.fresh_config()
    svs.defer(ensure_loaded)    # runs before fresh_config's final -C
    svs.add_local_addr(VIP)
    svs.echo_server("tcp", VIP, 80, ident="vip-itself")
    for r in REAL:
        svs.echo_server("tcp", *svs.split_addr(r))
    svs.echo_server("tcp", *PLAIN, ident="plain")
    svs.echo_server("udp", *UDP_REAL)
    for n in range(1, CYCLES + 1):
        cycle(n)
    step("after %d cycles" % CYCLES)
    configure()
    seq = [svs.tcp_ident(VIP, 80) for _ in range(10)]
    svs.check_spread(svs.tally(seq), REAL, 10, "balancing works again", exact={r: 5 for r in REAL})


svs.case(main, private_netns=True)
