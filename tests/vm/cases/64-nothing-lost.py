#!/usr/bin/env python3
"""Nothing lost: connections established through a service keep working,
unchanged, whatever happens to the configuration afterwards; only new
connections see the change, with `--terminate none` (the default policy
terminates a deleted server's UDP sockets: case 71). For each event - its real server deleted (-d),
its service deleted (-D), the table flushed (-C), the module unloaded
(rmmod, with `--terminate all`: unloading never terminates) - a fresh configuration gets 4 connections (TCP and connected UDP,
IPv4 and IPv6) through its services; each exchanges data, the event
happens, then each exchanges data again and must reach the same real
server (same server identity, same peer address as before, TCP still
established, data echoed intact). New connects after the event go where the
new configuration says. After closing, ActiveConn/InActConn are 0."""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

V4, V6 = "10.255.64.1", "fd00:255::64"
FLOWS = [("tcp", V4, 80, "127.0.0.1"), ("udp", V4, 53, "127.0.0.1"),
         ("tcp", V6, 80, "::1"), ("udp", V6, 53, "::1")]
PORT_A, PORT_B = 9641, 9642
TCP_ESTABLISHED = 1


def svc_of(flow):
    proto, vip, vport, _ = flow
    return "-" + proto[0], svs.fmt_addr(vip, vport)


def configure(terminate):
    for flow in FLOWS:
        opt, svc = svc_of(flow)
        # fixed: the first usable server, A
        adm_ok("-A", opt, svc, "-s", "fixed", "--terminate", terminate, quiet=True)
        for p in (PORT_A, PORT_B):
            adm_ok("-a", opt, svc, "-r", svs.fmt_addr(flow[3], p), quiet=True)


class Conn:
    def __init__(self, flow):
        self.flow = flow
        proto, vip, vport, _ = flow
        self.s = socket.socket(svs.family_of(vip), socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
        self.s.settimeout(svs.SOCK_TIMEOUT)
        self.s.connect((vip, vport))
        # The real remote end as the kernel's socket table shows it:
        # getpeername() gives the virtual address while sock_vs is loaded.
        self.peer = svs.kernel_peer(self.s)
        self.n = 0
        if proto == "tcp":
            line = svs.read_line(self.s)
            check(line.startswith("ID "), "greeting %r" % line)
            self.ident = line[3:]
        else:
            self.ident = None
            self.ident = self.exchange()

    def exchange(self):
        """Send a numbered payload; return the server identity it came back from."""
        self.n += 1
        payload = ("%s-%d-%s" % (self.flow[0], self.n, "x" * 100)).encode()
        if self.flow[0] == "tcp":
            self.s.sendall(payload + b"\n")
            got = svs.read_line(self.s).encode()
            if got != payload:
                raise svs.Fail("%s: echoed %r, sent %r" % (self.name(), got[:40], payload[:40]))
            return self.ident
        self.s.send(payload)
        data = self.s.recv(65536)
        ident, _, echoed = data[3:].partition(b" ")
        if not data.startswith(b"ID ") or echoed != payload:
            raise svs.Fail("%s: UDP reply %r for %r" % (self.name(), data[:60], payload[:40]))
        return ident.decode()

    def tcp_state(self):
        info = self.s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        return info[0]

    def name(self):
        return "%s %s" % (self.flow[0].upper(), svs.fmt_addr(self.flow[1], self.flow[2]))

    def close(self):
        self.s.close()


def new_connect(flow):
    proto, vip, vport, _ = flow
    return svs.try_ident(proto, vip, vport, timeout=10)


# (what, event, where a new connect goes after it, the services' --terminate):
# deleting a server terminates its sockets by the policy (case 71), so
# the configuration events run with `none`; unloading never terminates,
# whatever the policy: it runs with `all`.
EVENTS = [
    ("delete its real server (-d)", lambda: [adm_ok("-d", *svc_of(f), "-r", svs.fmt_addr(f[3], PORT_A))
                                            for f in FLOWS],
     lambda f: svs.fmt_addr(f[3], PORT_B), "none"),
    ("delete its service (-D)", lambda: [adm_ok("-D", *svc_of(f)) for f in FLOWS], lambda f: "ERR ENETUNREACH",
     "none"),
    ("flush (-C)", lambda: adm_ok("-C"), lambda f: "ERR ENETUNREACH", "none"),
    ("unload the module (rmmod)", lambda: svs.rmmod(timeout=60), lambda f: "ERR ENETUNREACH", "all"),
]


def main():
    svs.fresh_config()
    for host in ("127.0.0.1", "::1"):
        for p in (PORT_A, PORT_B):
            for proto in ("tcp", "udp"):
                svs.echo_server(proto, host, p)
    total = 0
    for what, event, after, terminate in EVENTS:
        step("established connections survive: %s (--terminate %s)" % (what, terminate))
        if not svs.module_loaded():
            svs.insmod()
        svs.flush()
        configure(terminate)
        conns = [Conn(f) for f in FLOWS]
        svs.defer(lambda cs=conns: [c.close() for c in cs])
        before = {}
        for c in conns:
            before[c] = (c.exchange(), c.peer)
            check_eq(before[c][0], svs.fmt_addr(c.flow[3], PORT_A), "%s reaches server A before" % c.name())
        event()
        for c in conns:
            for _ in range(3):
                got = c.exchange()
            check_eq((got, svs.kernel_peer(c.s)), before[c],
                     "%s after %s: same server, same peer address, 3 more exchanges" % (c.name(), what))
            # getpeername() keeps the virtual address while the module is
            # loaded (the socket's record outlives its service); after rmmod
            # the kernel's own answer, the real server, is back.
            want = ((c.flow[1], c.flow[2]) if svs.module_loaded()
                    else svs.kernel_endpoints(c.s)[1])
            check_eq(tuple(c.s.getpeername()[:2]), want, "%s getpeername after %s" % (c.name(), what))
            if c.flow[0] == "tcp":
                check_eq(c.tcp_state(), TCP_ESTABLISHED, "%s still ESTABLISHED" % c.name())
            total += 1
        for f in FLOWS:
            check_eq(new_connect(f), after(f), "a new %s connect to %s after %s"
                     % (f[0].upper(), svs.fmt_addr(f[1], f[2]), what))
        for c in conns:
            c.close()
        if svs.module_loaded() and what.startswith("delete its real"):
            for f in FLOWS:
                d = svs.module_dests(f[1], f[2], f[0])
                svs.wait_for(lambda f=f: all((v["active"], v["inact"]) == (0, 0)
                                             for v in svs.module_dests(f[1], f[2], f[0]).values()),
                             30, "ActiveConn/InActConn of %s back to 0: %r" % (svs.fmt_addr(f[1], f[2]), d))
            check(True, "ActiveConn/InActConn back to 0 after closing")
    if not svs.module_loaded():
        svs.insmod()
    svs.log("NOTHING-LOST-SUMMARY connections=%d events=%d" % (total, len(EVENTS)))


svs.case(main)
