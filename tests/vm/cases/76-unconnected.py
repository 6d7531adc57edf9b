#!/usr/bin/env python3
"""Unconnected UDP (issue 14): SOCK_VS_SVC_F_UNCONNECTED. sendto() on an
unconnected UDP socket to a virtual address goes to a real server chosen
once per socket and virtual address, recvfrom() reports the virtual
address, IPv4 and IPv6:

- without the flag an unconnected sendto() reaches the virtual address
  itself (a trap listener), and the kprobes on udp_sendmsg/udpv6_sendmsg
  are not installed; with a flagged service they are, and go again with it;
- 20 datagrams of one socket reach one server and come back from the VIP;
  new sockets are spread by rr; -L -c lists the bindings;
- deleting a socket's server makes its next datagram choose again;
- an exemption (SO_MARK) leaves a socket's datagrams to the VIP itself;
- no usable real server: sendto() fails with ECONNREFUSED;
- the flag on a TCP service is refused with the kernel's message;
- closing the sockets and flushing frees every record (slab counts);
- sockvsadm --unconnected: -A, -L, -S | -R, -E without it (the kprobes go),
  and on a TCP service a usage error.
"""

import errno
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_genl as g  # noqa: E402
import svs_mem  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

UNCONN = int(svs.uapi_define("SOCK_VS_SVC_F_UNCONNECTED"), 0)
SO_MARK = getattr(socket, "SO_MARK", 36)
KPROBES = "/sys/kernel/debug/kprobes/list"


def kprobed():
    """Which of udp_sendmsg / udpv6_sendmsg carry a kprobe."""
    if not os.path.exists(KPROBES):
        subprocess.run(["mount", "-t", "debugfs", "none", "/sys/kernel/debug"], check=False)
    with open(KPROBES) as f:
        text = f.read()
    return {s for s in ("udp_sendmsg", "udpv6_sendmsg") if (" " + s + "+") in text}


class Nl:
    def __init__(self):
        self.g = g.Genl()
        svs.defer(self.g.close)

    def flags(self, vip, port, flags, proto=socket.IPPROTO_UDP):
        attrs = g.svc_attrs(vip, port, proto) + [g.u32(g.SVC["FLAGS"], flags)]
        return self.g.cmd("SET_SERVICE", g.nest(g.ATTR["SERVICE"], *attrs))


def ask(s, vip, port, payload=b"ping"):
    s.sendto(payload, (vip, port))
    data, src = s.recvfrom(65536)
    return data.split()[1].decode(), src[:2]


def run_family(nl, vip, rip, ports, tag):
    svc = svs.fmt_addr(vip, 53)
    real = {svs.fmt_addr(rip, p) for p in ports}
    trap = "trap:" + svc
    svs.echo_server("udp", vip, 53, ident=trap)
    for p in ports:
        svs.echo_server("udp", rip, p)
    adm_ok("-A", "-u", svc, "-s", "rr")
    for p in ports:
        adm_ok("-a", "-u", svc, "-r", svs.fmt_addr(rip, p))

    step("%s: without the flag, unconnected datagrams reach the VIP itself" % tag)
    with socket.socket(svs.family_of(vip), socket.SOCK_DGRAM) as s:
        s.settimeout(svs.SOCK_TIMEOUT)
        check_eq(ask(s, vip, 53), (trap, (vip, 53)), "sendto %s without --unconnected" % svc)
    check_eq(svs.udp_ident(vip, 53)[0] in real, True, "a connected socket is balanced as before")

    step("%s: --unconnected: one server per socket, replies from the VIP" % tag)
    r = nl.flags(vip, 53, UNCONN)
    check_eq((r.error, r.extack_msg), (0, None), "SET_SERVICE FLAGS unconnected")
    check_eq(kprobed(), {"udp_sendmsg", "udpv6_sendmsg"}, "the sendmsg kprobes are installed")
    socks = []
    seen = set()
    for i in range(4):
        s = socket.socket(svs.family_of(vip), socket.SOCK_DGRAM)
        s.settimeout(svs.SOCK_TIMEOUT)
        svs.defer(s.close)
        socks.append(s)
        got = {ask(s, vip, 53, b"n%d" % k) for k in range(20 if i == 0 else 3)}
        check_eq(len(got), 1, "socket %d: its datagrams reach one server, answered from the VIP (%s)" % (i, got))
        ident, src = got.pop()
        check(ident in real and src == (vip, 53), "socket %d: %s, source %s" % (i, ident, src))
        seen.add(ident)
    check_eq(seen, real, "rr spread 4 sockets over both servers")
    listed = adm_ok("-L", "-n", "-c")
    lport = socks[0].getsockname()[1]
    check(any(svs.fmt_addr(vip, 53) in line and (":%d " % lport) in line for line in listed.splitlines()),
          "-L -c lists socket 0's binding (port %d):\n%s" % (lport, listed))

    step("%s: its server leaves: the next datagram chooses again" % tag)
    first, _ = ask(socks[0], vip, 53)
    adm_ok("-d", "-u", svc, "-r", first)
    other = (real - {first}).pop()
    check_eq(ask(socks[0], vip, 53), (other, (vip, 53)), "socket 0 now reaches %s" % other)
    adm_ok("-a", "-u", svc, "-r", first)

    step("%s: an exemption, and no usable server" % tag)
    r = g.Genl()
    svs.defer(r.close)
    skip = g.nest(g.SVC["SKIP"], g.nest(int(svs.uapi_define("SOCK_VS_SKIP_RULE")),
                                      g.u32(g.ENUMS["sock_vs_skip_attr"]["SOCK_VS_SKIP_ATTR_MARK"], 7)))
    check_eq(r.cmd("SET_SERVICE", g.nest(g.ATTR["SERVICE"], *g.svc_attrs(vip, 53, socket.IPPROTO_UDP), skip)).error,
             0, "exempt SO_MARK 7")
    with socket.socket(svs.family_of(vip), socket.SOCK_DGRAM) as s:
        s.settimeout(svs.SOCK_TIMEOUT)
        s.setsockopt(socket.SOL_SOCKET, SO_MARK, 7)
        check_eq(ask(s, vip, 53)[0], trap, "SO_MARK 7: to the VIP itself")
    for p in ports:
        adm_ok("-e", "-u", svc, "-r", svs.fmt_addr(rip, p), "-w", "0")
    with socket.socket(svs.family_of(vip), socket.SOCK_DGRAM) as s:
        try:
            s.sendto(b"x", (vip, 53))
            check(False, "sendto with every server quiesced should fail")
        except OSError as e:
            check_eq(e.errno, errno.ECONNREFUSED, "sendto with every server quiesced")
    for s in socks:
        s.close()
    adm_ok("-D", "-u", svc)


def main():
    svs.fresh_config()
    svs.add_local_addr(svs.VIP4)
    svs.add_local_addr(svs.VIP6)
    base = svs_mem.wait_back(svs_mem.snapshot(), "before the case", timeout=30, percpu=False)
    check_eq(kprobed(), set(), "no sendmsg kprobe while no service has the flag")
    nl = Nl()
    run_family(nl, svs.VIP4, "127.0.0.1", [9301, 9302], "IPv4")
    check_eq(kprobed(), set(), "the kprobes went with the last flagged service")
    run_family(nl, svs.VIP6, "::1", [9303, 9304], "IPv6")

    step("the flag on a TCP service is refused; memory is back")
    adm_ok("-A", "-t", "%s:80" % svs.VIP4)
    r = nl.flags(svs.VIP4, 80, UNCONN, proto=socket.IPPROTO_TCP)
    check(r.error == -errno.EINVAL and "UDP" in (r.extack_msg or ""), "TCP with unconnected: %r" % r)
    check_eq(kprobed(), set(), "no kprobe after the refusal")
    svs.flush()
    svs_mem.wait_back(base, "after flush", timeout=60, percpu=False)
    cli()


def cli():
    step("sockvsadm --unconnected")
    svc = "%s:54" % svs.VIP4
    real = {"127.0.0.1:9305", "127.0.0.1:9306"}
    for p in (9305, 9306):
        svs.echo_server("udp", "127.0.0.1", p)
    adm_ok("-A", "-u", svc, "-s", "rr", "--unconnected")
    for p in (9305, 9306):
        adm_ok("-a", "-u", svc, "-r", "127.0.0.1:%d" % p)
    check_eq(svs.listing().service("UDP", svc)["flags"], "unconnected", "-L's flags")
    saved = svs.save()
    check("-A -u %s -s rr --unconnected" % svc in saved.splitlines(), "-S writes --unconnected:\n%s" % saved)
    svs.flush()
    check_eq(kprobed(), set(), "flush took the kprobes away")
    adm_ok("-R", input=saved)
    check_eq(svs.save(), saved, "-S after -R")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(svs.SOCK_TIMEOUT)
        ident, src = ask(s, svs.VIP4, 54)
        check(ident in real and src == (svs.VIP4, 54), "after -R: %s from %s" % (ident, src))
    adm_ok("-E", "-u", svc, "-s", "rr")
    check_eq(svs.listing().service("UDP", svc)["flags"], "", "-E without --unconnected clears it")
    check_eq(kprobed(), set(), "and the kprobes went")
    svs.adm_fail("-A", "-t", "%s:81" % svs.VIP4, "--unconnected", rc=(2,), err_re="UDP services")
    svs.flush()


svs.case(main, private_netns=True)
