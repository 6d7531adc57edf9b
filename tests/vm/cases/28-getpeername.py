#!/usr/bin/env python3
# svs-timeout: 900
"""getpeername() on a balanced socket returns the virtual address and port
the application connected to; with --real-peername it returns the real
server. TCP and connected UDP, IPv4 and IPv6 (and an IPv6 socket connected
to a v4-mapped VIP), SO_PEERNAME too. getsockname() is unchanged. Where the
socket really goes is checked independently: the server says who it is and
the kernel's socket table (/proc/net/*) shows the real remote end. -E
changes the choice for new connections only. A real program that reports
its peer from getpeername() (curl's %{remote_ip}, checked with strace to
call getpeername) sees the VIP by default and the real server with the
flag. recvfrom() on a connected UDP socket reports the VIP as the source
of the real server's datagrams (the real server with --real-peername),
directly and for glibc's resolver (getent, traced with strace) using a
name server behind a UDP VIP."""

import os
import re
import tempfile
import shutil
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

SO_PEERNAME = 28
VPORT = 80
UPORT = 53
REAL = {"virt": 9281, "real": 9282}     # real-server port per service kind
HTTP_PORT = 9283


def sockaddr_peer(raw, fam):
    """Decode a struct sockaddr_in / sockaddr_in6 from getsockopt(SO_PEERNAME)."""
    if fam == socket.AF_INET:
        port, = struct.unpack("!H", raw[2:4])
        return svs.fmt_addr(socket.inet_ntop(socket.AF_INET, raw[4:8]), port)
    port, = struct.unpack("!H", raw[2:4])
    return svs.fmt_addr(socket.inet_ntop(socket.AF_INET6, raw[8:24]), port)


def try_connect(host, port):
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except OSError:
        return False


def peer_str(sock):
    a = sock.getpeername()
    return svs.fmt_addr(a[0], a[1])


def name_str(sock):
    a = sock.getsockname()
    return svs.fmt_addr(a[0], a[1])


def vips(fam):
    """(VIP of the default service, VIP of the --real-peername one)."""
    return ("10.255.0.1", "10.255.0.2") if fam == "v4" else ("fd00:255::1", "fd00:255::2")


def loopback(fam):
    return "127.0.0.1" if fam == "v4" else "::1"


def check_socket(s, vip, vport, real, want_virtual, what):
    """One connected socket: getpeername, SO_PEERNAME, getsockname, and the
    kernel's own view."""
    want = svs.fmt_addr(vip, vport) if want_virtual else real
    check_eq(peer_str(s), want, "%s: getpeername()" % what)
    fam = s.family
    # the kernel wants exactly the size of the address (16 or 28 bytes)
    raw = s.getsockopt(socket.SOL_SOCKET, SO_PEERNAME, 16 if fam == socket.AF_INET else 28)
    check_eq(sockaddr_peer(raw, fam), want, "%s: getsockopt(SO_PEERNAME)" % what)
    local, remote = svs.kernel_endpoints(s)
    check_eq(svs.kernel_peer(s), real.replace("::ffff:", ""), "%s: the kernel's remote end is the real server" % what)
    check_eq(name_str(s), svs.fmt_addr(*local), "%s: getsockname() = the kernel's local end" % what)


def run_tcp(fam):
    vip, vip_real = vips(fam)
    lo = loopback(fam)
    for v, kind in ((vip, "virt"), (vip_real, "real")):
        real = svs.fmt_addr(lo, REAL[kind])
        step("TCP %s service %s -> %s%s" % (fam, svs.fmt_addr(v, VPORT), real,
                                           " --real-peername" if kind == "real" else ""))
        with svs.tcp_connect(v, VPORT) as s:
            check_eq(svs.read_line(s), "ID " + real, "the real server %s answered" % real)
            check_socket(s, v, VPORT, real, kind == "virt", "TCP %s %s" % (fam, kind))


def run_udp(fam):
    vip, vip_real = vips(fam)
    lo = loopback(fam)
    for v, kind in ((vip, "virt"), (vip_real, "real")):
        real = svs.fmt_addr(lo, REAL[kind])
        step("connected UDP %s service %s -> %s%s" % (fam, svs.fmt_addr(v, UPORT), real,
                                                     " --real-peername" if kind == "real" else ""))
        with socket.socket(svs.family_of(v), socket.SOCK_DGRAM) as s:
            s.settimeout(svs.SOCK_TIMEOUT)
            s.connect((v, UPORT))
            s.send(b"hello")
            data, src = s.recvfrom(1000)
            check_eq(data.split()[1].decode(), real, "the real server %s answered" % real)
            check_eq(svs.fmt_addr(src[0], src[1]), svs.fmt_addr(v, UPORT) if kind == "virt" else real,
                     "recvfrom(): the reply's source address")
            check_socket(s, v, UPORT, real, kind == "virt", "UDP %s %s" % (fam, kind))
            step("UDP %s: re-connect straight to the real server, then to the VIP again" % fam)
            s.connect((lo, REAL[kind]))
            check_eq(peer_str(s), real, "after connect() to %s: getpeername() is that address" % real)
            s.connect((v, UPORT))
            check_socket(s, v, UPORT, real, kind == "virt", "UDP %s %s again" % (fam, kind))


def run_mapped():
    vip, vip_real = vips("v4")
    for v, kind in ((vip, "virt"), (vip_real, "real")):
        real = svs.fmt_addr("127.0.0.1", REAL[kind])
        step("IPv6 TCP socket to the v4-mapped VIP ::ffff:%s (%s)" % (v, kind))
        with svs.tcp_connect("::ffff:" + v, VPORT) as s:
            check_eq(svs.read_line(s), "ID " + real, "the real server %s answered" % real)
            want = "[::ffff:%s]:%d" % (v, VPORT) if kind == "virt" else "[::ffff:127.0.0.1]:%d" % REAL[kind]
            check_eq(peer_str(s), want, "v4-mapped %s: getpeername()" % kind)
            check_eq(svs.kernel_peer(s), real, "v4-mapped %s: the kernel's remote end" % kind)


def run_edit():
    vip = vips("v4")[0]
    svc = svs.fmt_addr(vip, VPORT)
    real = svs.fmt_addr("127.0.0.1", REAL["virt"])
    step("-E turns --real-peername on and off: new connections follow, open ones keep theirs")
    old = svs.tcp_connect(vip, VPORT)
    svs.defer(old.close)
    check_eq(peer_str(old), svc, "before -E: getpeername() is the VIP")
    adm_ok("-E", "-t", svc, "-s", "rr", "--real-peername")
    check_eq(svs.listing().service("TCP", svc)["flags"], "real-peername", "-L shows real-peername")
    with svs.tcp_connect(vip, VPORT) as s:
        check_eq(peer_str(s), real, "after -E --real-peername: a new connection shows the real server")
    check_eq(peer_str(old), svc, "the connection opened before -E still shows the VIP")
    adm_ok("-E", "-t", svc, "-s", "rr")
    check_eq(svs.listing().service("TCP", svc)["flags"], "", "-E without --real-peername clears it")
    with svs.tcp_connect(vip, VPORT) as s:
        check_eq(peer_str(s), svc, "after -E without it: the VIP again")
    old.close()

    step("direct connections (not balanced) are untouched")
    with svs.tcp_connect("127.0.0.1", REAL["virt"]) as s:
        check_eq(peer_str(s), real, "direct connect: getpeername() is the server itself")


def run_curl():
    curl, strace = shutil.which("curl"), shutil.which("strace")
    if not curl:
        raise svs.Fail("curl not installed (tests/install-deps.sh installs it)")
    step("a real program: curl reports its peer (%{remote_ip}) from getpeername()")
    servers = {}
    for lo in ("127.0.0.1", "::1"):
        servers[lo] = svs.spawn([sys.executable, "-m", "http.server", str(HTTP_PORT), "--bind", lo,
                                 "--directory", "/"])
    for fam in ("v4", "v6"):
        lo = loopback(fam)
        svs.wait_for(lambda: try_connect(lo, HTTP_PORT), 300, "http.server on %s" % lo)
        for v, kind in zip(vips(fam), ("virt", "real")):
            hsvc = svs.fmt_addr(v, 8080)
            adm_ok("-A", "-t", hsvc, "-s", "rr", *(["--real-peername"] if kind == "real" else []))
            adm_ok("-a", "-t", hsvc, "-r", svs.fmt_addr(lo, HTTP_PORT))
            url = "http://%s/" % hsvc
            cmd = [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code} %{remote_ip}", url]
            if strace:
                cmd = [strace, "-f", "-e", "trace=getpeername", "-o", os.path.join(svs.RESULTS, "curl-strace-%s-%s.txt" % (fam, kind))] + cmd
            r = svs.run(cmd, timeout=120)
            check_eq(r.returncode, 0, "curl %s exit status (stderr %r)" % (url, r.stderr[-300:]))
            # curl 7.88 takes %{remote_ip} from getpeername() (its port from the URL)
            want = "200 %s" % (v if kind == "virt" else lo)
            check_eq(r.stdout.strip(), want, "curl %s: %%{http_code} %%{remote_ip} (%s)" % (url, kind))
            if strace:
                with open(os.path.join(svs.RESULTS, "curl-strace-%s-%s.txt" % (fam, kind))) as f:
                    calls = [l for l in f if "getpeername(" in l and "= 0" in l]
                shown = (v, 8080) if kind == "virt" else (lo, HTTP_PORT)
                check(calls and all('"%s"' % shown[0] in l and "htons(%d)" % shown[1] in l for l in calls),
                      "strace: curl called getpeername() %d times, each returned %s"
                      % (len(calls), svs.fmt_addr(*shown)), "".join(calls))
            else:
                svs.log("NOTE: strace not installed: not checking that curl calls getpeername()")


def dns_answer(query, addr):
    """A DNS response to `query`: one A record `addr` for an A question,
    no answer otherwise."""
    qid, qd = query[:2], query[12:]
    end = qd.index(b"\0") + 5            # name, qtype, qclass
    question = qd[:end]
    qtype, = struct.unpack("!H", question[-4:-2])
    if qtype != 1:
        return qid + struct.pack("!HHHHH", 0x8180, 1, 0, 0, 0) + question
    return (qid + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + question
            + struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(addr))


def dns_server(host, port, answer):
    """A tiny UDP DNS server in a thread: answers every A question with `answer`."""
    import threading
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    svs.defer(s.close)

    def loop():
        while True:
            try:
                q, peer = s.recvfrom(2048)
                s.sendto(dns_answer(q, answer), peer)
            except (OSError, ValueError):
                return
    threading.Thread(target=loop, daemon=True).start()


def run_resolver():
    """glibc's resolver connects its UDP socket to the name server and reads
    the answers with recvfrom(): they come from the VIP by default, from the
    real server with --real-peername (glibc accepts both)."""
    step("a real program over connected UDP: glibc's resolver (getent) with a VIP as its name server")
    dns_server("127.0.0.1", 5353, "192.0.2.7")
    for vip, kind in (("10.255.0.3", "virt"), ("10.255.0.4", "real")):
        adm_ok("-A", "-u", vip + ":53", "-s", "rr", *(["--real-peername"] if kind == "real" else []))
        adm_ok("-a", "-u", vip + ":53", "-r", "127.0.0.1:5353")
        conf = os.path.join(tempfile.gettempdir(), "resolv-%s.conf" % kind)
        with open(conf, "w") as f:
            f.write("nameserver %s\noptions timeout:3 attempts:2\n" % vip)
        trace = os.path.join(svs.RESULTS, "getent-strace-%s.txt" % kind)
        strace = shutil.which("strace")
        # "hosts" (gethostbyname2): "ahosts" would use AI_ADDRCONFIG, which
        # queries nothing in a namespace with only a loopback interface
        getent = "getent hosts probe.svs.test"
        if strace:
            getent = "%s -f -e trace=connect,recvfrom -o %s %s" % (strace, trace, getent)
        r = svs.run(["unshare", "-m", "sh", "-c",
                     "mount --bind %s /etc/resolv.conf && exec %s" % (conf, getent)], timeout=120)
        check_eq((r.returncode, r.stdout.split()[:1]), (0, ["192.0.2.7"]),
                 "getent through %s:53 (%s): resolved (stderr %r)" % (vip, kind, r.stderr[-200:]))
        if strace:
            with open(trace) as f:
                lines = f.read()
            src = re.findall(r'recvfrom\(.*inet_addr\("([0-9.]+)"\)', lines)
            shown = vip if kind == "virt" else "127.0.0.1"
            check(src and set(src) == {shown} and 'inet_addr("%s")' % vip in lines,
                  "strace: getent connect()ed to %s and recvfrom() reported %s (%d answers)"
                  % (vip, shown, len(src)), lines[-2000:])


def run_unload():
    """rmmod while a task is blocked in recvfrom() on a balanced UDP socket
    (inside udp_recvmsg, under the kretprobe): the call returns normally
    afterwards, the module text is gone without a trace in dmesg."""
    import threading
    vip = vips("v4")[0]
    real = svs.fmt_addr("127.0.0.1", REAL["virt"])
    step("rmmod while recvfrom() blocks on a balanced UDP socket, then insmod")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    svs.defer(u.close)
    u.settimeout(None)      # blocking: recvfrom() sleeps in sock_vs's recvmsg (with a timeout, in poll)
    u.connect((vip, UPORT))
    got = []
    t = threading.Thread(target=lambda: got.append(u.recvfrom(1000)), daemon=True)
    t.start()
    def wchan():
        with open("/proc/%d/task/%d/wchan" % (os.getpid(), t.native_id)) as f:
            return f.read()
    # sock_vs's recvmsg waits for datagrams itself, so that unload can wake
    # it: the system call restarts on the kernel's operations.
    svs.wait_for(lambda: "svs_sock_recvmsg" in wchan(), 60,
                 lambda: "the thread to block in recvfrom() (wchan %r)" % wchan())
    took = svs.rmmod(timeout=30)
    svs.log("  rmmod took %.2fs" % took)
    u.send(b"after rmmod")
    t.join(60)
    check(got and got[0][0].split()[1].decode() == real,
          "the blocked recvfrom() returned the real server's reply after rmmod", got)
    check_eq(svs.fmt_addr(*got[0][1]), real, "its source is the real server (nothing rewrites it any more)")
    check_eq(peer_str(u), real, "getpeername() after rmmod: the real server")
    svs.insmod()
    check(svs.module_loaded(), "insmod again")


def main():
    svs.fresh_config()
    step("servers on loopback; services: default and --real-peername, TCP and UDP, IPv4 and IPv6")
    for fam in ("v4", "v6"):
        lo = loopback(fam)
        vip, vip_real = vips(fam)
        for kind, v in (("virt", vip), ("real", vip_real)):
            svs.echo_server("tcp", lo, REAL[kind])
            svs.echo_server("udp", lo, REAL[kind])
            extra = ["--real-peername"] if kind == "real" else []
            for opt, port in (("-t", VPORT), ("-u", UPORT)):
                svc = svs.fmt_addr(v, port)
                adm_ok("-A", opt, svc, "-s", "rr", *extra)
                adm_ok("-a", opt, svc, "-r", svs.fmt_addr(lo, REAL[kind]))
    saved = svs.save()
    check(len(re.findall(r"--real-peername", saved)) == 4, "-S writes --real-peername for the 4 services that have it", saved)
    lst = svs.listing()
    check_eq(lst.service("TCP", svs.fmt_addr(vips("v4")[1], VPORT))["flags"], "real-peername",
             "-L shows real-peername in the flags")
    check_eq(lst.service("TCP", svs.fmt_addr(vips("v4")[0], VPORT))["flags"], "", "and nothing by default")

    for fam in ("v4", "v6"):
        run_tcp(fam)
        run_udp(fam)
    run_mapped()
    run_edit()
    run_curl()
    run_resolver()
    run_unload()


svs.case(main, private_netns=True)
