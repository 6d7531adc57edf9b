#!/usr/bin/env python3
# svs-timeout: 900
"""sockvsadm -L -c with thousands of balanced sockets: the kernel's dump takes
many netlink rounds and resumes each one from a cursor it leaves in a real
server's list of sockets.  Every open socket is listed exactly once, with its
own local address, also while other sockets open and close between and during
the rounds (those next to the cursor included); a listing abandoned half way
(the reader exits) leaves nothing behind: its server can still be deleted and
the module unloads clean (the harness's rmmod/kmemleak checks); ActiveConn
counts match."""

import os
import random
import resource
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_genl  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP = "10.255.7.1"
UPORT, TPORT = 53, 80
REALS = ["127.0.0.1:9701", "127.0.0.1:9702"]
TCP_REAL = 9711
N_STABLE = 1500         # UDP sockets open for the whole case
N_CHURN = 1500          # UDP sockets closed and replaced while listings run
N_TCP = 200


def udp_socket(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if port:
        s.bind(("127.0.0.1", port))
    s.connect((VIP, UPORT))
    return s


# Replacements bind ports below the ephemeral range, each used once: a new
# socket on the port of one just closed would be a second entry for the
# same address in a listing that saw the old one (not a duplicate).
FRESH_PORTS = iter(range(10000, 32000))


def local(s):
    return svs.fmt_addr(*s.getsockname()[:2])


def sources(conns, proto):
    return [c["source"] for c in conns if c["proto"] == proto]


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 16384), max(hard, 16384)))
    svs.fresh_config()
    step("a UDP service over two real servers, a TCP one over a listener")
    adm_ok("-A", "-u", "%s:%d" % (VIP, UPORT), "-s", "rr")
    for r in REALS:
        adm_ok("-a", "-u", "%s:%d" % (VIP, UPORT), "-r", r)
    adm_ok("-A", "-t", "%s:%d" % (VIP, TPORT), "-s", "rr")
    adm_ok("-a", "-t", "%s:%d" % (VIP, TPORT), "-r", "127.0.0.1:%d" % TCP_REAL)
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", TCP_REAL))
    lst.listen(4096)
    svs.defer(lst.close)

    step("%d stable and %d churning connected UDP sockets, interleaved; %d TCP"
         % (N_STABLE, N_CHURN, N_TCP))
    stable, churn = [], []
    for _ in range(N_STABLE):
        stable.append(udp_socket())
        churn.append(udp_socket())
    tcp = [svs.tcp_connect(VIP, TPORT) for _ in range(N_TCP)]
    for s in stable + tcp:
        svs.defer(s.close)

    step("a quiet table: every socket listed once")
    conns = svs.conn_listing()
    want = sorted(local(s) for s in stable + churn)
    got = sorted(sources(conns, "UDP"))
    check_eq(len(got), len(want), "UDP entries listed")
    check(got == want, "each UDP socket listed exactly once, with its own local address",
          "first differences: %r" % sorted(set(got) ^ set(want))[:5])
    check_eq(sorted(sources(conns, "TCP")), sorted(local(s) for s in tcp),
             "each TCP socket listed exactly once")
    check_eq(sorted({c["dest"] for c in conns if c["proto"] == "UDP"}), sorted(REALS),
             "both real servers listed")
    check(all(c["pid"] == os.getpid() for c in conns), "every entry names this process")
    ls = svs.listing()
    act = {d["addr"]: d["active"] for d in ls.service("UDP", "%s:%d" % (VIP, UPORT))["dests"]}
    per = svs.tally(c["dest"] for c in conns if c["proto"] == "UDP")
    check_eq(act, per, "ActiveConn per real server = its listed connected UDP sockets")

    step("listings while sockets close and open around the cursors")
    stop = threading.Event()
    lock = threading.Lock()
    moved = [0]
    rnd = random.Random(7)

    def churner():
        while not stop.is_set():
            with lock:
                i = rnd.randrange(len(churn))
                churn[i].close()
                churn[i] = udp_socket(next(FRESH_PORTS))
                moved[0] += 1

    t = threading.Thread(target=churner, daemon=True)
    t.start()
    try:
        want_stable = {local(s) for s in stable}
        for k in range(6):
            conns = svs.conn_listing(service="%s:%d" % (VIP, UPORT), proto="udp")
            got = sources(conns, "UDP")
            dup = [a for a, n in svs.tally(got).items() if n > 1]
            check(not dup, "listing %d: no socket listed twice" % (k + 1), "duplicates: %r" % dup[:5])
            missing = want_stable - set(got)
            check(not missing, "listing %d: all %d sockets open throughout are listed (%d entries)"
                  % (k + 1, len(want_stable), len(got)), "missing: %r" % sorted(missing)[:5])
    finally:
        stop.set()
        t.join(30)
    svs.log("sockets replaced during the listings: %d" % moved[0])
    check(moved[0] > 0, "sockets closed and opened while the listings ran")

    step("listings abandoned after their first round (the reader closes its socket), then the "
         "real servers go")
    for k in range(5):
        g = svs_genl.Genl()
        g.seq += 1
        g.sock.send(struct.pack("=IHHII", 20, g.family_id, svs_genl.NLM_F_REQUEST | svs_genl.NLM_F_DUMP,
                                g.seq, 0) + struct.pack("=BBH", svs_genl.CMD["GET_CONN"],
                                                        g.family_version, 0))
        data = g.sock.recv(1 << 16)
        typ = struct.unpack_from("=H", data, 4)[0]
        check(typ == g.family_id and len(data) < 3000 * 100,
              "abandoned dump %d: its first round carries part of the table (%d bytes)" % (k + 1, len(data)))
        g.close()
    conns = svs.conn_listing()
    check_eq(len(sources(conns, "UDP")), N_STABLE + N_CHURN, "a full listing after the abandoned ones")
    for s in churn:
        s.close()
    adm_ok("-d", "-u", "%s:%d" % (VIP, UPORT), "-r", REALS[0])
    adm_ok("-C")
    for s in stable + tcp:
        s.close()
    check_eq(svs.conn_listing(), [], "nothing listed after the sockets closed")
    check_eq(len(svs.listing().services), 0, "table empty")


svs.case(main, private_netns=True)
