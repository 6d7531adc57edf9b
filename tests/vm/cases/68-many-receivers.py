#!/usr/bin/env python3
"""More blocked receivers than any pool (review finding 9).

getpeername() and recvfrom() on balanced sockets used kretprobes, whose
instance pool (maxactive = max(256, 16 x CPUs)) a blocked recvfrom() holds
for its whole wait: with more receivers blocked than that, the rewrite was
skipped for everyone, and a resolver that checks an answer's source would
drop it. Now the virtual address comes from the balanced socket's own
operations, with nothing held per call.

400 balanced connected UDP sockets each get a thread blocked in recvfrom().
Then, with all of them still blocked, another balanced socket asks and
must see the virtual address as the answer's source and as its peer; then
every blocked receiver gets its answer, each reported from the virtual
address."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP = "10.255.68.1"
PORT = 9681
N = 400


def wchan(tid):
    try:
        with open("/proc/%d/task/%d/wchan" % (os.getpid(), tid)) as f:
            return f.read()
    except OSError:
        return ""


def udp_rcvbuf_errors():
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])


def main():
    svs.fresh_config()
    svs.echo_server("udp", "127.0.0.1", PORT)
    adm_ok("-A", "-u", "%s:53" % VIP, "-s", "rr")
    adm_ok("-a", "-u", "%s:53" % VIP, "-r", "127.0.0.1:%d" % PORT)

    step("%d balanced UDP sockets, a thread blocked in recvfrom() on each" % N)
    socks, got, threads = [], [None] * N, []
    for i in range(N):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(None)
        s.connect((VIP, 53))
        svs.defer(s.close)
        socks.append(s)

    def receive(i):
        data, src = socks[i].recvfrom(2000)
        got[i] = (data, src)

    for i in range(N):
        t = threading.Thread(target=receive, args=(i,), daemon=True)
        t.start()
        threads.append(t)
    # sock_vs's recvmsg waits itself (svs_sock_recvmsg); the kernel's in
    # __skb_wait_for_more_packets.
    def blocked():
        return sum(1 for t in threads if any(w in wchan(t.native_id) for w in ("recvmsg", "skb", "udp")))
    svs.wait_for(lambda: blocked() == N, 120, lambda: "%d threads blocked in recvfrom() (%d so far)"
                 % (N, blocked()))

    step("meanwhile another balanced socket: its answer and its peer show the virtual address")
    q = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    svs.defer(q.close)
    q.settimeout(svs.SOCK_TIMEOUT)
    q.connect((VIP, 53))
    q.send(b"probe")
    data, src = q.recvfrom(2000)
    check(data.startswith(b"ID "), "an answer %r" % data[:40])
    check_eq(src, (VIP, 53), "recvfrom() source with %d receivers blocked" % N)
    check_eq(q.getpeername(), (VIP, 53), "getpeername() with %d receivers blocked" % N)

    step("every blocked receiver gets its answer, from the virtual address")
    # Asked as a resolver would: again after a while for those without an
    # answer (400 queries at once can overflow the echo server's buffer).
    deadline = time.monotonic() + 120
    rounds = 0
    drops0 = udp_rcvbuf_errors()
    after_first = None
    while time.monotonic() < deadline:
        pending = [i for i in range(N) if got[i] is None]
        if not pending:
            break
        rounds += 1
        for k, i in enumerate(pending):
            socks[i].send(b"q%d" % i)
            if k % 50 == 49:
                time.sleep(0.05)
        # Until answers stop coming (the echo server and 400 woken threads
        # take their time on a slow guest).
        quiet, last = 0, -1
        while quiet < 5 and time.monotonic() < deadline:
            time.sleep(1)
            now = sum(1 for g in got if g is not None)
            quiet = quiet + 1 if now == last else 0
            last = now
        if after_first is None:
            after_first = sum(1 for i in range(N) if got[i] is None)
    drops = udp_rcvbuf_errors() - drops0
    svs.log("  queries sent in %d round(s); unanswered after the first: %s; UDP RcvbufErrors: %d"
            % (rounds, after_first, drops))
    # A receiver still waiting after the first round must have lost its
    # query or answer to a full buffer, not a wakeup.
    check((after_first or 0) <= drops, "every receiver left waiting is explained by a dropped datagram "
          "(%s waiting, %d dropped)" % (after_first, drops))
    for t in threads:
        t.join(5)
    missing = [i for i in range(N) if got[i] is None]
    check_eq(missing[:5], [], "all %d receivers returned" % N)
    wrong = [(i, got[i][1]) for i in range(N) if got[i] and got[i][1] != (VIP, 53)]
    check_eq(wrong[:5], [], "every answer's source is the virtual address (%d wrong)" % len(wrong))


if __name__ == "__main__":
    svs.case(main)
