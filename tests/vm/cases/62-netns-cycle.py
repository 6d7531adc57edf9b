#!/usr/bin/env python3
# svs-timeout: 900
"""Create, configure and destroy SVS_NETNS_CYCLES (default 1000) network
namespaces, one after another: in each, a service and two real servers
(raw generic netlink; every 50th with sockvsadm, a persistent service and a
connection balanced through it to a server inside that namespace, and an
--unconnected UDP service and a sendto() through it), its dump checked,
then the namespace is dropped with its configuration still in place. The
module's slab objects must come back to their starting level once the
kernel has cleaned the namespaces up (asynchronously: polled), and the
initial namespace's configuration is untouched."""

import ctypes
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_genl as g  # noqa: E402
import svs_mem  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
VIP = "10.255.62.1"


def enter_new_netns():
    if libc.unshare(CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "unshare(CLONE_NEWNET): " + os.strerror(e))


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


def configure_raw(i):
    nl = g.Genl()
    try:
        key = g.nest(g.ATTR["SERVICE"], *g.svc_attrs(VIP, 80 + i % 1000, sched="rr"))
        r = nl.cmd("NEW_SERVICE", key)
        if r.error:
            raise svs.Fail("netns %d: NEW_SERVICE: %s (%s)" % (i, svs.errno_name(-r.error), r.extack_msg))
        for p in (9621, 9622):
            r = nl.cmd("NEW_DEST", key + g.nest(g.ATTR["DEST"], *g.dest_attrs("127.0.0.1", p, 1 + p % 2)))
            if r.error:
                raise svs.Fail("netns %d: NEW_DEST: %s (%s)" % (i, svs.errno_name(-r.error), r.extack_msg))
        r = nl.cmd("GET_SERVICE", flags=g.NLM_F_REQUEST | g.NLM_F_DUMP)
        if r.error or len(r.msgs) != 1:
            raise svs.Fail("netns %d: dump: %r" % (i, r))
        svc = g.parse_attrs(g.parse_attrs(r.msgs[0])[g.ATTR["SERVICE"]])
        ndests = struct.unpack("=I", svc[g.SVC["NUM_DESTS"]])[0]
        if ndests != 2:
            raise svs.Fail("netns %d: dump shows %d real servers, expected 2" % (i, ndests))
    finally:
        nl.close()


def configure_with_tools(i):
    svs.run_ok(["ip", "link", "set", "lo", "up"])
    server = svs.EchoServer("tcp", "127.0.0.1", 9623, ident="ns%d" % i, oneshot=True)
    userver = svs.EchoServer("udp", "127.0.0.1", 9625, ident="u%d" % i)
    try:
        # Persistent (the connect leaves a template) and an --unconnected UDP
        # service (a sendto leaves a binding): both go with the namespace.
        svc = "%s:%d" % (VIP, 80)
        adm_ok("-A", "-t", svc, "-s", "rr", "-p", "60", quiet=True)
        adm_ok("-a", "-t", svc, "-r", "127.0.0.1:9623", quiet=True)
        adm_ok("-a", "-t", svc, "-r", "127.0.0.1:9624", "-w", "0", quiet=True)
        got = svs.tcp_ident(VIP, 80, wait_eof=True)
        if got != "ns%d" % i:
            raise svs.Fail("netns %d: connect through %s reached %r" % (i, svc, got))
        usvc = "%s:53" % VIP
        adm_ok("-A", "-u", usvc, "--unconnected", quiet=True)
        adm_ok("-a", "-u", usvc, "-r", "127.0.0.1:9625", quiet=True)
        got = svs.udp_ident(VIP, 53, connected=False)
        if got[0] != "u%d" % i or got[2][:2] != (VIP, 53):
            raise svs.Fail("netns %d: sendto through %s: %r" % (i, usvc, got))
    finally:
        server.stop()
        userver.stop()


def main():
    cycles = int(os.environ.get("SVS_NETNS_CYCLES", "1000"))
    svs.fresh_config()
    adm_ok("-A", "-t", svs.VIP4 + ":80", "-s", "wrr")
    adm_ok("-a", "-t", svs.VIP4 + ":80", "-r", "127.0.0.1:9620", "-w", "3")
    init_save = svs.save()
    start = svs_mem.snapshot()
    svs.log("starting memory: slab %s, Percpu %d kB" % (start["slab"], start["percpu_kb"]))

    step("%d network namespaces: create, configure, check, destroy" % cycles)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    t0 = time.monotonic()
    peak = None
    tooled = 0
    try:
        for i in range(cycles):
            enter_new_netns()
            if i % 50 == 0:
                configure_with_tools(i)
                tooled += 1
            else:
                configure_raw(i)
            if i == cycles // 2:
                peak = svs_mem.snapshot()
            # Leaving drops the last reference: the namespace goes away.
            setns(home)
    finally:
        setns(home)
        os.close(home)
    elapsed = time.monotonic() - t0
    svs.log("%d namespaces cycled in %.1fs (%d of them with sockvsadm and a balanced connection)"
            % (cycles, elapsed, tooled))
    if peak:
        svs.log("half-way: slab %s, Percpu %d kB" % (peak["slab"], peak["percpu_kb"]))
    check_eq(svs.save(), init_save, "initial namespace configuration unchanged")

    step("memory back once the namespaces are cleaned up")
    # The initial namespace's own service and real server stay: count them in.
    end = svs_mem.wait_back(start, "after %d namespaces" % cycles, timeout=300, percpu=False)
    svs.log("Percpu: %d kB at the start, %d kB at the end (whole kernel; not a module figure)"
            % (start["percpu_kb"], end["percpu_kb"]))
    svs.log("NETNS-SUMMARY cycles=%d seconds=%.0f slab_start=%s slab_end=%s"
            % (cycles, elapsed, start["slab"], end["slab"]))


svs.case(main)
