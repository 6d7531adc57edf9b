#!/usr/bin/env python3
# svs-timeout: 600
"""Shard placement has connect-time port semantics (review finding 8).

A client that closes first leaves every connection's local port in
TIME_WAIT. With bind() semantics a port of the shard's class is unusable
until its TIME_WAIT ends (60 s), so a 2-shard server could take only
range / 60 s new connections. sock_vs now takes ports the way the kernel's
own connect-time choice does: a port is usable when the four-tuple is
unique, and TIME_WAIT reuse follows tcp_tw_reuse (2, loopback: reused after
a second).

With ip_local_port_range shrunk to 400 ports (200 per class), the client
reconnects to a 2-shard server (shard = client port % 2, shard policy rr)
as fast as it can for 120 s, closing first every time. Every connect must
succeed (not one EADDRNOTAVAIL), land on the shard rr chose (the server's
view and the port agree), and the client must make more connections than
bind() semantics would have allowed in the time (400 per 60 s), or the
case could not tell the two apart.

Runs in a private network namespace, so the sysctls are its own."""

import errno
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from shard_server import ShardServer  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP = "10.255.57.1"
PORT = 9570
LO, HI = 40000, 40399
SECONDS = 120


def main():
    svs.sysctl_set("net.ipv4.ip_local_port_range", "%d %d" % (LO, HI))
    svs.sysctl_set("net.ipv4.ip_local_reserved_ports", "")
    check_eq(svs.read_sysctl("net.ipv4.tcp_tw_reuse"), "2", "tcp_tw_reuse is the default (2: loopback)")
    svs.fresh_config()
    server = ShardServer("127.0.0.1", PORT, 2)
    adm_ok("-A", "-t", "%s:80" % VIP, "-s", "rr", "--shard-policy", "rr")
    adm_ok("-a", "-t", "%s:80" % VIP, "-r", "127.0.0.1:%d" % PORT, "--shards", "2")

    step("reconnect, client closes first, for %d s" % SECONDS)
    n = 0
    errors = {}
    wrong = []
    per_shard = [0, 0]
    last = None
    t0 = time.monotonic()
    while time.monotonic() - t0 < SECONDS:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(svs.SOCK_TIMEOUT)
        try:
            s.connect((VIP, 80))
            w = svs.read_line(s).split()
            lport = s.getsockname()[1]
        except OSError as e:
            errors[errno.errorcode.get(e.errno, str(e))] = errors.get(errno.errorcode.get(e.errno, str(e)), 0) + 1
            s.close()
            continue
        s.close()                       # FIN first: our side keeps TIME_WAIT
        n += 1
        shard, seen = int(w[1]), int(w[3])
        per_shard[shard] += 1
        if seen != lport or shard != lport % 2 or not LO <= lport <= HI or shard == last:
            wrong.append((lport, seen, shard, last))
        last = shard
    took = time.monotonic() - t0
    svs.log("  %d connections in %.0f s (%.1f/s), per shard %s, errors %s" % (n, took, n / took, per_shard, errors))
    check_eq(errors, {}, "no connect failed (EADDRNOTAVAIL or other)")
    check_eq(wrong[:5], [], "every connection on the shard of its port, alternating (rr), port in range")
    limit = (HI - LO + 1) * took / 60.0
    check(n > limit, "more connections (%d) than bind() semantics allow in %.0f s (%.0f): the case shows "
          "the difference" % (n, took, limit))
    r = svs.run(["ss", "-Htan", "state", "time-wait"])
    tw = len(r.stdout.splitlines())
    svs.log("  TIME_WAIT sockets at the end: %d" % tw)
    check(tw > 0, "the client's closes left TIME_WAIT sockets (%d)" % tw)


if __name__ == "__main__":
    svs.case(main, private_netns=True)
