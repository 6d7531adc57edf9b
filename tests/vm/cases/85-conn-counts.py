#!/usr/bin/env python3
# svs-timeout: 1500
"""ActiveConn/InActConn are exact: at every step, `sockvsadm -L -n` and
`-L -n --json` show, per real server, what the kernel's own view (`ss -tan`,
`ss -uan`) says of the balanced sockets this case holds: ESTAB is active,
every other state but TIME-WAIT (whose full socket is CLOSE) inactive,
closed, refused, failed and disconnected sockets nothing.

States produced: TCP ESTABLISHED (IPv4, IPv6), SYN_SENT (a real server
black-holed by an iptables DROP rule in this private namespace, or a dummy
device where iptables is missing), CLOSE_WAIT (the server closed),
FIN_WAIT2 (the client shut down its side), TIME_WAIT after both closed,
refused (RST: CLOSE), a connect that fails before SYN_SENT (no route to the
real server), a TCP disconnect (connect AF_UNSPEC) and its reconnect;
connected UDP (IPv4, IPv6, an IPv6 socket to a v4-mapped VIP), UDP
disconnect (AF_UNSPEC), reconnect to another VIP, reconnect to an address
that is no service, a UDP connect that fails after the rewrite (no route to
the real server), a UDP socket connected elsewhere first, a UDP and a TCP
socket aborted by `ss -K` (sock_diag).  Then real
servers deleted with sockets open and added again (their old sockets count
on the deleted server only), a server's sockets terminated (-K), a service
deleted with sockets in SYN_SENT, the module reloaded with sockets in every
state (the old sockets no longer count, new ones do); and churn: threads
opening and closing TCP and UDP sockets while servers close their ends,
listings read meanwhile never show a negative (wrapped) count, and once
every socket is closed every count is exactly 0 again, and so is the
schedulers' open-connection count.  The module WARNs if a real server is
freed with a count left (the case fails on any kernel warning)."""

import ctypes
import json
import os
import random
import resource
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP, VIP2, VIP6 = "10.255.0.1", "10.255.0.2", "fd00:255::1"
NOROUTE = "10.77.0.1"           # no route to it in this namespace: ENETUNREACH
T_A = "%s:80" % VIP             # TCP, two servers that hold connections
T_SYN = "%s:81" % VIP           # TCP, a black-holed server: SYN_SENT
T_REF = "%s:82" % VIP           # TCP, nothing listens: refused
T_NR = "%s:83" % VIP            # TCP, no route to the server
T_6 = "[%s]:80" % VIP6          # TCP over IPv6
U_A = "%s:53" % VIP             # UDP, two servers
U_B = "%s:53" % VIP2            # UDP, another VIP
U_NR = "%s:54" % VIP            # UDP, no route to the server
U_6 = "[%s]:53" % VIP6          # UDP over IPv6
R1, R2 = "127.0.0.1:9851", "127.0.0.1:9852"
R6 = "[::1]:9861"
UR1, UR2, URB, UR6 = "127.0.0.1:9853", "127.0.0.1:9854", "127.0.0.1:9855", "[::1]:9863"
ROUTE_NR_T, ROUTE_NR_U = NOROUTE + ":80", NOROUTE + ":53"
REFUSED = "127.0.0.1:9"

_libc = ctypes.CDLL(None, use_errno=True)


def disconnect(s):
    """connect(AF_UNSPEC): UDP disconnects, TCP aborts (tcp_disconnect)."""
    sa = (ctypes.c_ubyte * 16)()        # sa_family 0 = AF_UNSPEC
    if _libc.connect(s.fileno(), sa, 16) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "connect(AF_UNSPEC): " + os.strerror(e))


class Holder:
    """TCP server: accepts and holds connections, closes one on request;
    with reap, closes a connection once its client did (and, with
    close_p, closes some of them itself soon after accepting).  One
    selector thread; requests go through a queue."""

    def __init__(self, addr, reap=False):
        host, port = svs.split_addr(addr)
        self.sock = socket.socket(svs.family_of(host), socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if ":" in host:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.sock.bind((host, port))
        self.sock.listen(1024)
        self.sock.setblocking(False)
        self.reap, self.close_p = reap, 0.0
        self.conns = {}                 # client's local address -> socket
        self.reqs = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        svs.defer(self.stop)

    def _close(self, sel, key):
        c = self.conns.pop(key, None)
        if c is not None:
            try:
                sel.unregister(c)
            except (KeyError, ValueError):
                pass            # its client closed first (unregistered, kept open)
            c.close()

    def _loop(self):
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, None)
        later = []                      # (when, key): closes of our own
        while not self.stopping:
            for k, _ in sel.select(0.02):
                if k.data is None:
                    try:
                        c, peer = self.sock.accept()
                    except OSError:
                        continue
                    c.setblocking(False)
                    key = svs.fmt_addr(peer[0], peer[1])
                    self.conns[key] = c
                    sel.register(c, selectors.EVENT_READ, key)
                    if self.close_p and random.random() < self.close_p:
                        later.append((time.monotonic() + random.random() * 0.05, key))
                else:
                    try:
                        data = k.fileobj.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        if self.reap:
                            self._close(sel, k.data)
                        else:
                            sel.unregister(k.fileobj)   # keep it open: FIN_WAIT2 there
            now = time.monotonic()
            for when, key in [x for x in later if x[0] <= now]:
                later.remove((when, key))
                self._close(sel, key)
            with self.lock:
                reqs, self.reqs = self.reqs, []
            for key, done in reqs:
                self._close(sel, key)
                done.set()
        for c in self.conns.values():
            c.close()
        self.conns.clear()

    def close_peer(self, key):
        svs.wait_for(lambda: key in self.conns, 30, "the server to accept %s" % key)
        done = threading.Event()
        with self.lock:
            self.reqs.append((key, done))
        if not done.wait(30):
            raise svs.Fail("the server did not close %s" % key)

    def stop(self):
        self.stopping = True
        self.thread.join(10)
        self.sock.close()


class Tracked:
    """A socket of this case and whether the module should count it:
    balanced, with its record on a real server that is listed."""

    def __init__(self, sock, proto, svc, counted=True):
        self.sock, self.proto, self.svc, self.counted = sock, proto, svc, counted

    def local(self):
        try:
            name = self.sock.getsockname()
        except OSError:
            return None
        return svs.fmt_addr(name[0], name[1])


socks = []      # every open Tracked socket


def track(sock, proto, svc, counted=True):
    t = Tracked(sock, proto, svc, counted)
    socks.append(t)
    return t


def close(t, rst=False):
    socks.remove(t)
    if rst:
        svs.rst_close(t.sock)
    else:
        t.sock.close()


def close_all():
    for t in list(socks):
        close(t, rst=t.proto == "tcp" and random.random() < 0.5)


def norm(addr):
    """ss's address of a v4-mapped peer as the IPv4 real server's."""
    if addr.startswith("[::ffff:") and "." in addr:
        host, port = svs.split_addr(addr)
        return "%s:%d" % (host[7:], port)
    return addr


def ss_table():
    """(proto, local) -> (state, peer) from ss -H -n -a; a live socket
    wins over a TIME-WAIT entry of the same local address."""
    out = {}
    for proto, flag in (("tcp", "-t"), ("udp", "-u")):
        for line in svs.run_ok(["ss", "-H", "-n", "-a", flag]).splitlines():
            w = line.split()
            if len(w) < 5:
                continue
            key = (proto, w[3])
            if key in out and w[0] == "TIME-WAIT":
                continue
            out[key] = (w[0], norm(w[4]))
    return out


NOT_COUNTED = {"TIME-WAIT", "UNCONN", "CLOSE", "CLOSED"}


def truth():
    """{(PROTO, service, real server): (active, inactive)} from ss, for
    the sockets that should count."""
    ss = ss_table()
    want = {}
    for t in socks:
        if not t.counted:
            continue
        local = t.local()
        got = ss.get((t.proto, local)) if local else None
        if not got or got[0] in NOT_COUNTED:
            continue
        state, peer = got
        key = (t.proto.upper(), t.svc, peer)
        a, i = want.get(key, (0, 0))
        want[key] = (a + 1, i) if state == "ESTAB" else (a, i + 1)
    return want


def listed():
    """What -L -n and -L -n --json show: {(PROTO, service, rip): (active, inactive)}."""
    text = {}
    for s in svs.listing().services:
        for d in s["dests"]:
            text[(s["proto"], s["addr"], d["addr"])] = (d["active"], d["inact"])
    doc = json.loads(adm_ok("-L", "-n", "--json", quiet=True))
    js = {}
    for s in doc["services"]:
        for d in s["dests"]:
            js[(s["protocol"].upper(), svs.fmt_addr(s["address"], s["port"]),
                svs.fmt_addr(d["address"], d["port"]))] = (d["active_conns"], d["inact_conns"])
    return text, js


def expect(what, timeout=60):
    """The listing equals the truth (polled: states settle)."""
    last = {}

    def ok():
        want = truth()
        text, js = listed()
        full = {k: want.get(k, (0, 0)) for k in text}
        last.update(want=want, text=text, js=js)
        return text == full and js == text and set(want) <= set(text)

    def why():
        want, text = last["want"], last["text"]
        diff = {k: ("ss", want.get(k, (0, 0)), "-L", text.get(k)) for k in set(want) | set(text)
                if want.get(k, (0, 0)) != text.get(k)}
        return "%s: ss and -L differ %r (json equal to -L: %s)" % (what, diff, last["js"] == text)

    svs.wait_for(ok, timeout, why, interval=0.2)
    shown = {"%s %s -> %s" % k: v for k, v in sorted(last["text"].items()) if v != (0, 0)}
    check(True, "%s: -L, -L --json and ss agree %s" % (what, shown))


def tcp(svc, addr=None, blocking=True):
    host, port = svs.split_addr(addr or svc)
    s = socket.socket(svs.family_of(host), socket.SOCK_STREAM)
    if blocking:
        s.settimeout(svs.SOCK_TIMEOUT)
        s.connect((host, port))
    else:
        s.setblocking(False)
        err = s.connect_ex((host, port))
        if err not in (0, 115):         # EINPROGRESS
            raise svs.Fail("non-blocking connect to %s: %s" % (svc, svs.errno_name(err)))
    return track(s, "tcp", svc)


def tcp_fails(svc, exc):
    host, port = svs.split_addr(svc)
    s = socket.socket(svs.family_of(host), socket.SOCK_STREAM)
    s.settimeout(svs.SOCK_TIMEOUT)
    try:
        s.connect((host, port))
    except exc:
        return track(s, "tcp", svc)
    s.close()
    raise svs.Fail("connect to %s did not fail with %s" % (svc, exc.__name__))


def udp(svc, family=None, to=None):
    host, port = svs.split_addr(to or svc)
    s = socket.socket(family or svs.family_of(host), socket.SOCK_DGRAM)
    s.settimeout(svs.SOCK_TIMEOUT)
    s.connect((host, port))
    return track(s, "udp", svc)


def udp_reconnect(t, svc, counted=True, to=None):
    host, port = svs.split_addr(to or svc)
    if t.sock.family == socket.AF_INET6 and "." in host:
        host = "::ffff:" + host
    t.sock.connect((host, port))
    t.svc, t.counted = svc, counted


def peer_of(t):
    return svs.kernel_peer(t.sock)


def blackhole():
    """A real server whose SYNs vanish: 127.0.0.9 behind an iptables DROP
    rule in this namespace, else one behind a dummy device."""
    r = svs.run(["iptables", "-w", "-I", "OUTPUT", "-d", "127.0.0.9", "-p", "tcp", "-j", "DROP"])
    if r.returncode == 0:
        svs.log("  (SYN_SENT: iptables DROP to 127.0.0.9)")
        return "127.0.0.9:9859"
    svs.log("  (iptables unusable here: %s; a dummy device instead)" % r.stderr.strip())
    svs.run_ok(["ip", "link", "add", "svsbh0", "type", "dummy"])
    svs.run_ok(["ip", "addr", "add", "10.78.0.1/24", "dev", "svsbh0"])
    svs.run_ok(["ip", "link", "set", "svsbh0", "up"])
    return "10.78.0.2:9859"


def configure(bh):
    for svc, rips in ((T_A, [R1, R2]), (T_SYN, [bh]), (T_REF, [REFUSED]), (T_NR, [ROUTE_NR_T]),
                      (T_6, [R6])):
        adm_ok("-A", "-t", svc, "-s", "rr")
        for r in rips:
            adm_ok("-a", "-t", svc, "-r", r)
    for svc, rips in ((U_A, [UR1, UR2]), (U_B, [URB]), (U_NR, [ROUTE_NR_U]), (U_6, [UR6])):
        adm_ok("-A", "-u", svc, "-s", "rr")
        for r in rips:
            adm_ok("-a", "-u", svc, "-r", r)


def churn(holders, seconds, threads=4):
    """Threads open and close TCP and UDP sockets through the VIPs while the
    servers close some connections themselves; the listing is read all the
    while.  Returns (connects, listings)."""
    for h in holders:
        h.reap, h.close_p = True, 0.3
    stop = threading.Event()
    errors, done = [], [0]
    lock = threading.Lock()

    def worker(seed):
        rnd = random.Random(seed)
        n = 0
        while not stop.is_set():
            try:
                if rnd.random() < 0.7:
                    host, port = svs.split_addr(T_A if rnd.random() < 0.8 else T_6)
                    s = socket.socket(svs.family_of(host), socket.SOCK_STREAM)
                    s.settimeout(svs.SOCK_TIMEOUT)
                    try:
                        s.connect((host, port))
                        act = rnd.randrange(4)
                        if act == 1:
                            time.sleep(rnd.random() * 0.05)     # the server may close first
                        elif act == 2:
                            s.shutdown(socket.SHUT_WR)
                            time.sleep(rnd.random() * 0.02)
                        elif act == 3:
                            disconnect(s)
                    finally:
                        if rnd.random() < 0.5:
                            svs.rst_close(s)
                        else:
                            s.close()
                else:
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    try:
                        s.connect(svs.split_addr(U_A))
                        act = rnd.randrange(3)
                        if act == 1:
                            disconnect(s)
                        elif act == 2:
                            s.connect(svs.split_addr(U_B))
                    finally:
                        s.close()
                n += 1
            except OSError as e:
                with lock:
                    errors.append("%s: %s" % (type(e).__name__, e))
        with lock:
            done[0] += n

    ws = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for w in ws:
        w.start()
    listings = 0
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            text, js = listed()
            for k, (a, i) in list(text.items()) + list(js.items()):
                if a >= 1 << 31 or i >= 1 << 31 or a + i > 10000:
                    raise svs.Fail("during churn %s %s -> %s shows %d/%d" % (k + (a, i)))
            listings += 1
    finally:
        stop.set()
        for w in ws:
            w.join(60)
        for h in holders:
            h.reap, h.close_p = False, 0.0
    if errors:
        svs.log("  (%d socket errors during churn, e.g. %s)" % (len(errors), errors[:3]))
    check(len(errors) <= done[0] // 10 + 5, "churn: few socket errors (%d of %d)" % (len(errors), done[0]))
    return done[0], listings


def main():
    svs.fresh_config()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    svs.sysctl_set("net.ipv4.tcp_syn_retries", 10)     # SYN_SENT lasts (minutes)

    step("servers (TCP holders, UDP echo), a black hole, services")
    holders = {r: Holder(r) for r in (R1, R2, R6)}
    for r in (UR1, UR2, URB, UR6):
        svs.echo_server("udp", *svs.split_addr(r))
    bh = blackhole()
    configure(bh)
    expect("nothing open")

    step("TCP: ESTABLISHED (IPv4 and IPv6)")
    est = [tcp(T_A) for _ in range(8)]
    est6 = [tcp(T_6) for _ in range(3)]
    expect("8 + 3 established")
    check_eq(sorted(peer_of(t) for t in est), sorted([R1] * 4 + [R2] * 4), "rr: 4 on each server")

    step("TCP: CLOSE_WAIT (the server closes), FIN_WAIT2 (the client shuts down), both")
    for t in est[:2] + est6[:1]:
        holders[norm(peer_of(t))].close_peer(t.local())
    for t in est[2:4]:
        t.sock.shutdown(socket.SHUT_WR)
    t = est[4]
    h = holders[peer_of(t)]
    t.sock.shutdown(socket.SHUT_WR)
    h.close_peer(t.local())     # both closed: TIME_WAIT, the socket is CLOSE
    expect("close-wait, fin-wait-2, time-wait")

    step("TCP: SYN_SENT to the black hole, refused, no route to the server")
    syn = [tcp(T_SYN, blocking=False) for _ in range(5)]
    refused = [tcp_fails(T_REF, ConnectionRefusedError) for _ in range(3)]
    for _ in range(2):
        tcp_fails(T_NR, OSError)
    expect("syn-sent, refused, unroutable")
    ss = ss_table()
    check_eq([ss.get(("tcp", t.local()), ("-",))[0] for t in syn], ["SYN-SENT"] * len(syn),
             "the black-holed sockets are in SYN_SENT")

    step("TCP: disconnect (connect AF_UNSPEC) and connect again")
    t = est[5]
    disconnect(t.sock)
    expect("one established socket disconnected")
    t.sock.settimeout(svs.SOCK_TIMEOUT)
    t.sock.connect(svs.split_addr(T_A))
    expect("and connected again")
    t = refused[0]
    try:                        # a refused socket connects again, elsewhere
        t.sock.connect(svs.split_addr(T_A))
    except ConnectionAbortedError:
        t.sock.connect(svs.split_addr(T_A))     # Linux: the first reports the old failure
    t.svc = T_A
    expect("a refused socket connected again")

    step("UDP: connected (IPv4, IPv6, v4-mapped), failed after the rewrite")
    ua = [udp(U_A) for _ in range(6)]
    u6 = [udp(U_6) for _ in range(2)]
    um = [udp(U_A, family=socket.AF_INET6, to="[::ffff:%s]:53" % VIP) for _ in range(2)]
    unr = []
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect(svs.split_addr(U_NR))
            s.close()
            raise svs.Fail("UDP connect to a server without a route succeeded")
        except OSError as e:
            check(not isinstance(e, svs.Fail), "UDP connect through %s fails after the rewrite (%s)"
                  % (U_NR, svs.errno_name(e.errno)))
        unr.append(track(s, "udp", U_NR))
    expect("connected UDP, 2 failed")

    step("UDP: disconnect, reconnect to another VIP, to a non-service address, a failed one again")
    disconnect(ua[0].sock)
    disconnect(u6[0].sock)
    expect("two disconnected")
    udp_reconnect(ua[0], U_B)
    udp_reconnect(ua[1], U_B)
    udp_reconnect(um[0], U_B)
    expect("reconnected to %s (one disconnected, one connected, one v4-mapped)" % U_B)
    udp_reconnect(ua[2], None, counted=False, to=URB)  # straight to a real server: handed back
    expect("one reconnected to a non-service address")
    udp_reconnect(unr[0], U_A)
    expect("a failed UDP socket connected again")
    direct = udp(None, to=URB)          # connected elsewhere first, then to the VIP
    direct.counted = False
    expect("a UDP socket connected to a real server directly")
    udp_reconnect(direct, U_A)
    expect("then to the VIP")

    step("sock_diag aborts a balanced UDP socket (ss -K) and a TCP one")
    for t in (ua[3], est6[2]):
        local = t.local()
        svs.run_ok(["ss", "-K", "-n", "-u" if t.proto == "udp" else "-t", "src", local])
        check(ss_table().get((t.proto, local)) is None, "ss -K: %s %s is gone from ss" % (t.proto, local))
    expect("after ss -K")
    udp_reconnect(ua[3], U_A)
    expect("the aborted UDP socket connected again")

    step("real servers deleted with sockets open, then added again")
    for t in socks:
        if t.svc == T_A and t.counted and t.proto == "tcp":
            try:
                if peer_of(t) == R2:
                    t.counted = False
            except svs.Fail:
                pass
    adm_ok("-d", "-t", T_A, "-r", R2)       # TCP sockets stay (terminate udp)
    expect("%s deleted" % R2)
    adm_ok("-a", "-t", T_A, "-r", R2)
    expect("%s added again: its old sockets count on the deleted one" % R2)
    for _ in range(4):
        tcp(T_A)
    expect("4 more established")
    for t in socks:
        if t.svc == U_A and t.counted:
            try:
                if peer_of(t) == UR2:
                    t.counted = False   # terminated (disconnected) by the delete
            except svs.Fail:
                pass
    adm_ok("-d", "-u", U_A, "-r", UR2)     # connected UDP sockets are terminated
    expect("%s deleted (its connected sockets terminated)" % UR2)
    adm_ok("-a", "-u", U_A, "-r", UR2)
    ua += [udp(U_A) for _ in range(2)]
    expect("%s added again, 2 more connected" % UR2)

    step("-K: terminate the sockets of a server that stays; -D with sockets in SYN_SENT")
    for t in socks:
        if t.proto == "tcp" and t.svc == T_A and t.counted:
            try:
                if peer_of(t) == R1:
                    t.counted = False
            except svs.Fail:
                pass
    adm_ok("-K", "-t", T_A, "-r", R1, "--terminate", "all")
    expect("%s's sockets terminated" % R1)
    for t in syn:
        t.counted = False
    adm_ok("-D", "-t", T_SYN)
    expect("the black-holed service deleted")
    adm_ok("-A", "-t", T_SYN, "-s", "rr")
    adm_ok("-a", "-t", T_SYN, "-r", bh)
    syn += [tcp(T_SYN, blocking=False) for _ in range(2)]
    expect("added again, 2 new SYN_SENT")

    step("close everything: every count 0")
    close_all()
    expect("all closed")
    for svc in (T_A, T_6, T_SYN, T_REF, T_NR):
        host, port = svs.split_addr(svc)
        check_eq(set(svs.module_open_conns(host, port).values()), {0},
                 "%s: the schedulers' open connections are 0" % svc)

    step("churn: threads open and close TCP and UDP sockets while the servers close some")
    n, listings = churn(list(holders.values()), 30)
    check(n > 0 and listings > 0, "churn: %d sockets opened and closed, %d listings read meanwhile"
          % (n, listings))
    expect("after churn, all closed")
    for svc in (T_A, T_6):
        host, port = svs.split_addr(svc)
        check_eq(set(svs.module_open_conns(host, port).values()), {0},
                 "%s: the schedulers' open connections are 0 after churn" % svc)

    step("module reload with sockets in every state")
    est = [tcp(T_A) for _ in range(4)] + [tcp(T_6)]
    holders[norm(peer_of(est[0]))].close_peer(est[0].local())
    est[1].sock.shutdown(socket.SHUT_WR)
    syn = [tcp(T_SYN, blocking=False) for _ in range(2)]
    tcp_fails(T_REF, ConnectionRefusedError)
    ua = [udp(U_A) for _ in range(3)] + [udp(U_6)]
    disconnect(ua[0].sock)
    expect("before the reload")
    saved = svs.save()
    svs.reload_module()
    for t in socks:
        t.counted = False               # handed back: ordinary sockets now
    adm_ok("-R", input=saved)
    expect("after the reload: the old sockets count nowhere")
    for _ in range(2):
        tcp(T_A)
        udp(U_A)
    tcp(T_SYN, blocking=False)
    disconnect(ua[1].sock)              # an old one: not balanced any more
    expect("new sockets after the reload")
    udp_reconnect(ua[2], U_A)           # an old one connects to the VIP again: balanced anew
    expect("an old UDP socket connected to the VIP again")
    close_all()
    expect("all closed after the reload")


svs.case(main, private_netns=True)
