#!/usr/bin/env python3
"""getpeername() while the socket reconnects (review finding 7).

A balanced UDP socket reconnects, as fast as one thread can, alternately to
two virtual services (different real servers) while another thread calls
getpeername() on it in a loop. Every answer must be one of the two virtual
addresses: never a real server (a rewrite that missed because the record
changed under it) and never a mix of one record's address with the other's
port. Each reconnect publishes a new peer record (RCU) and a call that
started before a reconnect can still match the record it started with."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIPS = [("10.255.69.1", 53), ("10.255.69.2", 5353)]
REALS = [9691, 9692]
SECONDS = 20


def main():
    svs.fresh_config()
    for (vip, vport), real in zip(VIPS, REALS):
        svs.echo_server("udp", "127.0.0.1", real)
        adm_ok("-A", "-u", "%s:%d" % (vip, vport), "-s", "rr")
        adm_ok("-a", "-u", "%s:%d" % (vip, vport), "-r", "127.0.0.1:%d" % real)

    step("one thread reconnects between %s and %s, another calls getpeername(), %d s"
         % (svs.fmt_addr(*VIPS[0]), svs.fmt_addr(*VIPS[1]), SECONDS))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    svs.defer(s.close)
    s.connect(VIPS[0])
    stop = threading.Event()
    counts = {"reconnects": 0, "calls": 0}
    bad = {}

    def reconnect():
        i = 0
        while not stop.is_set():
            i += 1
            s.connect(VIPS[i % 2])
            counts["reconnects"] += 1

    def peer():
        while not stop.is_set():
            try:
                p = s.getpeername()
            except OSError as e:
                p = ("error", e.errno)
            counts["calls"] += 1
            if p not in VIPS:
                bad[p] = bad.get(p, 0) + 1

    threads = [threading.Thread(target=reconnect), threading.Thread(target=peer)]
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join(30)
    svs.log("  %d reconnects, %d getpeername() calls, unexpected answers %s"
            % (counts["reconnects"], counts["calls"], bad))
    check(counts["reconnects"] > 1000 and counts["calls"] > 1000,
          "both threads ran (%d reconnects, %d calls)" % (counts["reconnects"], counts["calls"]))
    check_eq(bad, {}, "every getpeername() answer is one of the two virtual addresses")


if __name__ == "__main__":
    svs.case(main)
