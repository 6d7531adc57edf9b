#!/usr/bin/env python3
"""Shared helpers for the sock_vs in-guest integration tests (tests/vm/cases).

A case imports this module and wraps its body in case():

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    import svs

    def main():
        svs.fresh_config()
        ...
        svs.check_eq(got, want, "what is compared")

    svs.case(main)                      # or case(main, private_netns=True)

case() turns the outcome into the harness's exit codes (0 pass, 1 fail,
77 skip), runs the cleanups registered with defer() in reverse order, and
fails the case if the kernel log gained a BUG/WARNING/Oops while it ran.

The module is also a small command-line tool, used to run servers and
clients in other network namespaces (via `ip netns exec`):

    svs.py serve tcp|udp HOST PORT [--ident ID] [--tfo]   prints READY
    svs.py probe tcp|udp HOST PORT [--count N]            prints JSON
    svs.py hold HOST PORT             holds a TCP connection open; prints READY ID x
"""

import argparse
import contextlib
import ctypes
import errno
import json
import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

LIB_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("SVS_REPO") or os.path.abspath(os.path.join(LIB_DIR, "..", "..", ".."))
KVER = os.environ.get("SVS_KVER") or os.uname().release
RESULTS = os.environ.get("SVS_RESULTS") or tempfile.gettempdir()
if os.path.isdir(os.environ.get("SVS_CASE_TMP", "")):
    tempfile.tempdir = os.environ["SVS_CASE_TMP"]    # the harness's fresh per-case directory
SOCKVSADM = os.environ.get("SVS_SOCKVSADM") or os.path.join(REPO, "build", "userspace", "sockvsadm")
HEALTHD = os.environ.get("SVS_HEALTHD") or os.path.join(REPO, "build", "userspace", "sockvs-healthd")
KO_PATH = os.path.join(REPO, "build", "kmod", KVER, "sock_vs.ko")
UAPI_HEADER = os.path.join(REPO, "kmod", "include", "uapi", "linux", "sock_vs.h")

# Virtual addresses that exist nowhere: the module rewrites connects to them
# before any route lookup.
VIP4 = "10.255.0.1"
VIP6 = "fd00:255::1"

# Generous socket timeout: the guest runs under TCG, 10-50x slower than native.
SOCK_TIMEOUT = 20.0


def uapi_define(name):
    """Value of a #define in the uapi header (strings without their quotes)."""
    with open(UAPI_HEADER) as f:
        for line in f:
            m = re.match(r"#define\s+%s\s+(.*?)\s*(/\*.*)?$" % re.escape(name), line)
            if m:
                val = m.group(1)
                if val.startswith('"'):
                    return val[1:-1]
                if re.match(r"^[A-Z_][A-Z0-9_]*$", val):
                    return uapi_define(val)    # defined in terms of another macro
                return val
    raise KeyError(name)


def log(msg=""):
    print(msg, flush=True)


def step(msg):
    log("== " + msg)


# ---------------------------------------------------------------- assertions

class Fail(Exception):
    """A check failed: the case fails with this message."""


class Skip(Exception):
    """The case cannot run here: exit 77."""


def check(cond, msg, detail=None):
    if not cond:
        raise Fail(msg + ("\n" + str(detail) if detail is not None else ""))
    log("  ok: " + msg)


def check_eq(got, want, what):
    if got != want:
        raise Fail("%s\n    expected: %r\n    got:      %r" % (what, want, got))
    log("  ok: %s (= %r)" % (what, want))


def check_text_eq(got, want, what):
    """Compare multi-line text; on mismatch show both versions in full."""
    if got != want:
        raise Fail("%s\n--- expected ---\n%s--- got ---\n%s--- end ---" % (what, want, got))
    log("  ok: " + what)


def errno_name(e):
    return errno.errorcode.get(e, str(e)) if isinstance(e, int) else str(e)


def wait_for(pred, timeout, what, interval=0.05):
    """Poll pred() until it returns a true value; Fail with `what` (a string
    or a function returning one) after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() > deadline:
            raise Fail("timed out after %.0fs waiting for: %s"
                       % (timeout, what() if callable(what) else what))
        time.sleep(interval)


# ------------------------------------------------------------------ cleanups

_cleanups = []


def defer(fn, *args, **kwargs):
    """Register a cleanup; case() runs them in reverse order, even on failure."""
    _cleanups.append((fn, args, kwargs))
    return fn


def _run_cleanups():
    ok = True
    while _cleanups:
        fn, args, kwargs = _cleanups.pop()
        try:
            fn(*args, **kwargs)
        except Exception:
            ok = False
            log("cleanup %s failed:" % getattr(fn, "__name__", fn))
            traceback.print_exc(file=sys.stdout)
    return ok


# --------------------------------------------------------------- subprocess

def run(cmd, input=None, timeout=120):
    """Run a command; return CompletedProcess with text stdout/stderr."""
    try:
        return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("command timed out after %ss: %s" % (timeout, shlex.join(cmd)))


def run_ok(cmd, input=None, timeout=120):
    r = run(cmd, input=input, timeout=timeout)
    if r.returncode != 0:
        raise Fail("command failed (exit %d): %s\nstdout: %s\nstderr: %s"
                   % (r.returncode, shlex.join(cmd), r.stdout, r.stderr))
    return r.stdout


def netns_cmd(netns, cmd):
    return (["ip", "netns", "exec", netns] if netns else []) + list(cmd)


# ----------------------------------------------------------------- sockvsadm

def adm_cmd(*args, netns=None, prefix=()):
    return netns_cmd(netns, list(prefix) + [SOCKVSADM] + [str(a) for a in args])


def adm(*args, input=None, netns=None, prefix=()):
    """Run sockvsadm; return CompletedProcess (no check)."""
    return run(adm_cmd(*args, netns=netns, prefix=prefix), input=input)


def _desc(args, netns, prefix, input):
    s = shlex.join([str(a) for a in list(prefix) + ["sockvsadm"] + list(args)])
    if netns:
        s = "ip netns exec %s %s" % (netns, s)
    if input is not None:
        s += " < (%d lines)" % len(input.splitlines())
    return s


def adm_ok(*args, input=None, netns=None, prefix=(), quiet=False):
    """Run sockvsadm, require exit 0 and empty stderr; return stdout."""
    r = adm(*args, input=input, netns=netns, prefix=prefix)
    d = _desc(args, netns, prefix, input)
    if r.returncode != 0:
        raise Fail("`%s` failed with exit %d\nstderr: %s" % (d, r.returncode, r.stderr))
    if r.stderr:
        raise Fail("`%s` succeeded but wrote to stderr: %r" % (d, r.stderr))
    if not quiet:
        log("  $ " + d)
    return r.stdout


def adm_fail(*args, rc=(1,), err_re=None, input=None, netns=None, prefix=()):
    """Run sockvsadm expecting failure: exit code in rc, one-line-per-error
    stderr starting with 'sockvsadm: ', matching err_re (case-insensitive)."""
    r = adm(*args, input=input, netns=netns, prefix=prefix)
    d = _desc(args, netns, prefix, input)
    if r.returncode not in rc:
        raise Fail("`%s`: expected exit %s, got %d\nstdout: %r\nstderr: %r"
                   % (d, " or ".join(map(str, rc)), r.returncode, r.stdout, r.stderr))
    if not r.stderr.startswith("sockvsadm: "):
        raise Fail("`%s`: stderr should start with 'sockvsadm: ', got %r" % (d, r.stderr))
    if err_re and not re.search(err_re, r.stderr, re.I):
        raise Fail("`%s`: stderr %r does not match /%s/i" % (d, r.stderr, err_re))
    log("  ok: `%s` -> exit %d, %s" % (d, r.returncode, r.stderr.strip()))
    return r


def save(netns=None):
    return adm_ok("-S", "-n", netns=netns, quiet=True)


def flush(netns=None):
    adm_ok("-C", netns=netns, quiet=True)


def fresh_config(netns=None):
    """Clear the namespace's config now and again when the case ends."""
    flush(netns)
    defer(flush, netns)


def fmt_addr(host, port=None):
    h = "[%s]" % host if ":" in host else host
    return h if port is None else "%s:%d" % (h, port)


def split_addr(s):
    """'1.2.3.4:80' or '[::1]:80' -> (host, port)."""
    m = re.match(r"^\[(.*)\]:(\d+)$", s) or re.match(r"^([^:]*):(\d+)$", s)
    if not m:
        raise ValueError("bad address %r" % s)
    return m.group(1), int(m.group(2))


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


# `-L -n` layout (ipvsadm's, with the forwarding method "Sock").
LIST_HEADER_RE = re.compile(r"^Sock VS version (\S+) \(services=(\d+), hook=(\S+)\)$")
LIST_HDR2 = "Prot LocalAddress:Port Scheduler Flags"
LIST_HDR3 = "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"
STATS_HDR2 = ("Prot LocalAddress:Port               Conns  Refused Untracked   Killed  Ejected"
              "   Failed")
STATS_HDR3 = "  -> RemoteAddress:Port"


def list_dest_line(addr, weight, active=0, inact=0, fwd="Sock"):
    return ("  -> %-28s %-7s %-6d %-10d %-10d" % (addr, fwd, weight, active, inact)).rstrip()


def stats_service_line(proto, addr, conns, refused, untracked, killed=0, ejected=0, failed=0):
    return "%-33s %8s %8s %9s %8s %8s %8s" % ("%s  %s" % (proto, addr), conns, refused, untracked,
                                              killed, ejected, failed)


def stats_dest_line(addr, conns, killed=0, ejected=0, failed=0):
    return "  -> %-28s %8s %8s %9s %8s %8s %8s" % (addr, conns, "", "", killed, ejected, failed)


class Listing:
    """Parsed `sockvsadm -L -n`: header fields and services in order."""

    def __init__(self, text):
        self.text = text
        lines = text.splitlines()
        if len(lines) < 3:
            raise Fail("-L -n output has fewer than 3 header lines:\n" + text)
        m = LIST_HEADER_RE.match(lines[0])
        if not m:
            raise Fail("-L -n first line %r does not match %s" % (lines[0], LIST_HEADER_RE.pattern))
        self.version, self.nservices, self.hook = m.group(1), int(m.group(2)), m.group(3)
        if lines[1].rstrip() != LIST_HDR2 or lines[2].rstrip() != LIST_HDR3:
            raise Fail("-L -n header lines 2-3 differ:\n%r\n%r" % (lines[1], lines[2]))
        self.services = []   # dicts: proto, addr, sched, flags, dests (list of dicts)
        for line in lines[3:]:
            ms = re.match(r"^(TCP|UDP)  (\S+) (\S+)(?: (.*))?$", line.rstrip())
            md = re.match(r"^  -> (\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)(?:\s+(ejected|probing))?"
                          r"\s*$", line)
            if ms:
                self.services.append(dict(proto=ms.group(1), addr=ms.group(2), sched=ms.group(3),
                                          flags=(ms.group(4) or "").strip(), dests=[]))
            elif md and self.services:
                self.services[-1]["dests"].append(dict(
                    addr=md.group(1), fwd=md.group(2), weight=int(md.group(3)),
                    active=int(md.group(4)), inact=int(md.group(5)),
                    state=md.group(6) or ""))
            else:
                raise Fail("unparsable -L -n line %r in:\n%s" % (line, text))

    def service(self, proto, addr):
        for s in self.services:
            if s["proto"] == proto and s["addr"] == addr:
                return s
        raise Fail("service %s %s not in -L -n output:\n%s" % (proto, addr, self.text))

    def dest(self, proto, addr, rip):
        for d in self.service(proto, addr)["dests"]:
            if d["addr"] == rip:
                return d
        raise Fail("real server %s of %s %s not in -L -n output:\n%s" % (rip, proto, addr, self.text))

    def summary(self):
        """Set of (proto, addr, sched) and (proto, addr, rip, weight) tuples."""
        out = set()
        for s in self.services:
            out.add((s["proto"], s["addr"], s["sched"]))
            for d in s["dests"]:
                out.add((s["proto"], s["addr"], d["addr"], d["weight"]))
        return out


def listing(netns=None, prefix=()):
    return Listing(adm_ok("-L", "-n", netns=netns, prefix=prefix, quiet=True))


class Stats:
    """Parsed `sockvsadm -L -n --stats --exact`."""

    def __init__(self, text):
        self.text = text
        lines = text.splitlines()
        if len(lines) < 3 or not LIST_HEADER_RE.match(lines[0]):
            raise Fail("--stats output header is wrong:\n" + text)
        if lines[1].rstrip() != STATS_HDR2 or lines[2].rstrip() != STATS_HDR3:
            raise Fail("--stats header lines 2-3 differ: %r %r\nexpected: %r %r"
                       % (lines[1], lines[2], STATS_HDR2, STATS_HDR3))
        # (proto, addr) -> dict(conns, refused, untracked, killed, ejected, failed,
        # dests={rip: conns}, dest_killed={rip: killed}, dest_ejected={rip: ejected},
        # dest_failed={rip: failed})
        self.services = {}
        cur = None
        for line in lines[3:]:
            ms = re.match(r"^(TCP|UDP)  (\S+)" + r"\s+(\d+)" * 6 + r"\s*$", line)
            md = re.match(r"^  -> (\S+)" + r"\s+(\d+)" * 4 + r"\s*$", line)
            if ms:
                cur = dict(conns=int(ms.group(3)), refused=int(ms.group(4)),
                           untracked=int(ms.group(5)), killed=int(ms.group(6)),
                           ejected=int(ms.group(7)), failed=int(ms.group(8)), dests={},
                           dest_killed={}, dest_ejected={}, dest_failed={})
                self.services[(ms.group(1), ms.group(2))] = cur
                want = stats_service_line(*ms.groups())
            elif md and cur is not None:
                cur["dests"][md.group(1)] = int(md.group(2))
                cur["dest_killed"][md.group(1)] = int(md.group(3))
                cur["dest_ejected"][md.group(1)] = int(md.group(4))
                cur["dest_failed"][md.group(1)] = int(md.group(5))
                want = stats_dest_line(*md.groups())
            else:
                raise Fail("unparsable --stats line %r in:\n%s" % (line, text))
            if line.rstrip() != want.rstrip():
                raise Fail("--stats line layout differs:\n    expected: %r\n    got:      %r"
                           % (want, line))

    def service(self, proto, addr):
        if (proto, addr) not in self.services:
            raise Fail("service %s %s not in --stats output:\n%s" % (proto, addr, self.text))
        return self.services[(proto, addr)]


def stats(netns=None):
    return Stats(adm_ok("-L", "-n", "--stats", "--exact", netns=netns, quiet=True))


def parse_save(text):
    """`-S -n` output -> set of ('svc', proto, addr, sched) and
    ('dest', proto, addr, rip, weight) tuples (other flags ignored)."""
    out = set()
    for line in text.splitlines():
        if not line.strip():
            continue
        toks = shlex.split(line)
        kind, proto, addr, sched, rip, weight = toks[0], None, None, None, None, None
        i = 1
        while i < len(toks):
            t = toks[i]
            if t in ("-t", "-u"):
                proto, addr = ("TCP" if t == "-t" else "UDP"), toks[i + 1]
                i += 2
            elif t == "-s":
                sched = toks[i + 1]
                i += 2
            elif t == "-r":
                rip = toks[i + 1]
                i += 2
            elif t == "-w":
                weight = int(toks[i + 1])
                i += 2
            else:
                i += 1
        if kind == "-A":
            out.add(("svc", proto, addr, sched))
        elif kind == "-a":
            out.add(("dest", proto, addr, rip, weight))
        else:
            raise Fail("unexpected -S -n line %r" % line)
    return out


# ------------------------------------------------------------------ servers

class EchoServer:
    """In-process TCP or UDP server that tells which server a client reached.

    TCP: on accept it sends b"ID <ident>\\n", then echoes whatever it gets
    (oneshot: closes right after the greeting, so the client socket ends
    without TIME_WAIT).
    UDP: each datagram is answered with b"ID <ident> " + datagram.
    `accepted` counts TCP connections / UDP datagrams; `peers` keeps their
    source addresses.
    """

    def __init__(self, proto, host, port, ident=None, tfo=False, oneshot=False, backlog=128):
        self.proto, self.host, self.port = proto, host, port
        self.oneshot = oneshot
        self.ident = ident or fmt_addr(host, port)
        self.accepted = 0
        self.peers = []
        self.lock = threading.Lock()
        self.conns = []
        fam = family_of(host)
        stype = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        self.sock = socket.socket(fam, stype)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if tfo:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
        self.sock.bind((host, port))
        if proto == "tcp":
            self.sock.listen(backlog)
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            try:
                if self.proto == "tcp":
                    conn, peer = self.sock.accept()
                else:
                    data, peer = self.sock.recvfrom(65536)
            except OSError:
                return
            if self.stopping or peer is None:
                return
            with self.lock:
                self.accepted += 1
                self.peers.append(peer)
            if self.proto == "tcp":
                with self.lock:
                    self.conns.append(conn)
                threading.Thread(target=self._serve_conn, args=(conn,), daemon=True).start()
            else:
                try:
                    self.sock.sendto(b"ID " + self.ident.encode() + b" " + data, peer)
                except OSError:
                    pass

    def _serve_conn(self, conn):
        try:
            conn.sendall(b"ID " + self.ident.encode() + b"\n")
            while not self.oneshot:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()
            with self.lock:
                if conn in self.conns:
                    self.conns.remove(conn)

    def count(self):
        with self.lock:
            return self.accepted

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(5)


def echo_server(proto, host, port, **kw):
    """Start an EchoServer and register its stop() as cleanup."""
    s = EchoServer(proto, host, port, **kw)
    defer(s.stop)
    return s


def read_line(sock, limit=4096):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise OSError(errno.ECONNRESET, "connection closed before a full line (got %r)" % buf)
        buf += chunk
        if len(buf) > limit:
            raise OSError(errno.EPROTO, "line too long")
    return buf[:-1].decode()


def tcp_connect(host, port, timeout=SOCK_TIMEOUT):
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def tcp_ident(host, port, timeout=SOCK_TIMEOUT, wait_eof=False):
    """Connect over TCP, return the EchoServer ident that answered.
    wait_eof: wait for the server to close first (a oneshot EchoServer)."""
    with tcp_connect(host, port, timeout) as s:
        line = read_line(s)
        while wait_eof and s.recv(4096):
            pass
    if not line.startswith("ID "):
        raise Fail("unexpected greeting %r from %s" % (line, fmt_addr(host, port)))
    return line[3:]


def tcp_ident_nonblocking(host, port, timeout=SOCK_TIMEOUT):
    """tcp_ident with a non-blocking connect: connect_ex must say
    EINPROGRESS, the socket must become writable with SO_ERROR 0."""
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    try:
        s.setblocking(False)
        rc = s.connect_ex((host, port))
        if rc != errno.EINPROGRESS:
            raise Fail("non-blocking connect_ex to %s returned %s, expected EINPROGRESS"
                       % (fmt_addr(host, port), errno_name(rc)))
        _, w, _ = select.select([], [s], [], timeout)
        if not w:
            raise Fail("non-blocking connect to %s: not writable after %ss" % (fmt_addr(host, port), timeout))
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise Fail("non-blocking connect to %s: SO_ERROR %s" % (fmt_addr(host, port), errno_name(err)))
        s.settimeout(timeout)
        line = read_line(s)
    finally:
        s.close()
    if not line.startswith("ID "):
        raise Fail("unexpected greeting %r from %s" % (line, fmt_addr(host, port)))
    return line[3:]


def udp_ident(host, port, payload=b"ping", connected=True, timeout=SOCK_TIMEOUT):
    """Send one UDP datagram (connected socket by default); return
    (ident, echoed payload, reply source address)."""
    with socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        if connected:
            s.connect((host, port))
            s.send(payload)
        else:
            s.sendto(payload, (host, port))
        data, src = s.recvfrom(65536)
    m = re.match(rb"^ID (\S+) (.*)$", data, re.S)
    if not m:
        raise Fail("unexpected UDP reply %r" % data)
    return m.group(1).decode(), m.group(2), src


def try_ident(proto, host, port, timeout=SOCK_TIMEOUT):
    """Like tcp_ident/udp_ident but returns 'ERR <ERRNO>' instead of raising."""
    try:
        if proto == "tcp":
            return tcp_ident(host, port, timeout)
        return udp_ident(host, port, timeout=timeout)[0]
    except socket.timeout:
        return "ERR timeout"
    except OSError as e:
        return "ERR " + errno_name(e.errno)


def tally(items):
    out = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out


def check_spread(counts, servers, total, what, exact=None):
    """counts: ident -> n. Every connection must have reached one of
    `servers`; if exact is given (ident -> n) the counts must match it,
    otherwise max-min <= 1 (round robin)."""
    bad = {k: v for k, v in counts.items() if k not in servers}
    if bad:
        raise Fail("%s: connections reached unexpected targets %r (all counts %r)" % (what, bad, counts))
    full = {s: counts.get(s, 0) for s in servers}
    if sum(full.values()) != total:
        raise Fail("%s: %d of %d connections accounted for: %r" % (what, sum(full.values()), total, full))
    if exact is not None:
        check_eq(full, exact, what)
    else:
        check(max(full.values()) - min(full.values()) <= 1,
              "%s: round-robin spread within 1: %r" % (what, full), full)
    return full


# ---------------------------------------------------------------- processes

def spawn(cmd, ready_prefix=None, timeout=60, netns=None):
    """Start a background process (killed at cleanup). If ready_prefix is
    given, wait until it prints a line starting with it; that line is kept
    in p.ready_line. Its stderr goes to p.errfile."""
    cmd = netns_cmd(netns, cmd)
    errfile = tempfile.NamedTemporaryFile(mode="w+", prefix="svs-spawn-", suffix=".err")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE if ready_prefix else subprocess.DEVNULL,
                         stderr=errfile, text=True, start_new_session=True)
    p.errfile = errfile
    defer(kill, p)
    if ready_prefix:
        deadline = time.monotonic() + timeout
        while True:
            r, _, _ = select.select([p.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                raise Fail("%s: not ready after %ss" % (shlex.join(cmd), timeout))
            line = p.stdout.readline()
            if not line:
                errfile.seek(0)
                raise Fail("%s exited (%s) before printing %r; stderr:\n%s"
                           % (shlex.join(cmd), p.wait(), ready_prefix, errfile.read()[-3000:]))
            if line.startswith(ready_prefix):
                p.ready_line = line.strip()
                break
    return p


def kill(p, sig=signal.SIGTERM):
    """Stop a process started by spawn() (its whole process group)."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)


def spawn_echo_server(proto, host, port, netns=None, ident=None, tfo=False):
    """EchoServer in a separate process, e.g. inside another netns."""
    cmd = [sys.executable, os.path.join(LIB_DIR, "svs.py"), "serve", proto, host, str(port)]
    if ident:
        cmd += ["--ident", ident]
    if tfo:
        cmd += ["--tfo"]
    return spawn(cmd, ready_prefix="READY", netns=netns)


def hold_connection(host, port, netns=None):
    """A process (in netns) holding one TCP connection to host:port open."""
    return spawn([sys.executable, os.path.join(LIB_DIR, "svs.py"), "hold", host, str(port)],
                 ready_prefix="READY ", netns=netns)


def probe(proto, host, port, count=1, netns=None):
    """Run `svs.py probe` (in netns): list of idents / 'ERR x' strings."""
    cmd = netns_cmd(netns, [sys.executable, os.path.join(LIB_DIR, "svs.py"), "probe",
                            proto, host, str(port), "--count", str(count)])
    return json.loads(run_ok(cmd, timeout=60 + 10 * count))


# -------------------------------------------------------------------- redis

def resp_encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def resp_read(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise OSError(errno.ECONNRESET, "redis connection closed (got %r)" % line)
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise Fail("redis error reply: %s" % rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode()
    if t == b"*":
        return [resp_read(f) for _ in range(int(rest))]
    raise Fail("bad redis reply %r" % line)


class RedisConn:
    """A minimal redis client on one TCP connection."""

    def __init__(self, host, port, timeout=SOCK_TIMEOUT):
        self.sock = tcp_connect(host, port, timeout)
        self.f = self.sock.makefile("rb")

    def cmd(self, *args):
        self.sock.sendall(resp_encode(*args))
        return resp_read(self.f)

    def info(self, section):
        text = self.cmd("INFO", section)
        out = {}
        for line in text.splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def close(self):
        self.f.close()
        self.sock.close()


def redis_port_via(host, port):
    """One new connection to host:port: which redis-server (its tcp_port)
    answered. Sends QUIT so the server closes first (no client TIME_WAIT)."""
    c = RedisConn(host, port)
    try:
        check_pong = c.cmd("PING")
        if check_pong != "PONG":
            raise Fail("PING via %s answered %r" % (fmt_addr(host, port), check_pong))
        p = int(c.info("server")["tcp_port"])
        c.cmd("QUIT")
        while c.f.read(4096):   # until the server has closed its side
            pass
    finally:
        c.close()
    return p


class RedisServer:
    """redis-server on host:port (no persistence), with a direct control
    connection opened once at start so that reading INFO does not add to
    total_connections_received."""

    def __init__(self, port, host="127.0.0.1"):
        self.port, self.host = port, host
        self.dir = tempfile.mkdtemp(prefix="redis-%d-" % port)
        self.proc = spawn(["redis-server", "--port", str(port), "--bind", host,
                           "--protected-mode", "no", "--save", "", "--appendonly", "no",
                           "--daemonize", "no", "--dir", self.dir,
                           "--logfile", os.path.join(self.dir, "redis.log")])

        def try_ping():
            if self.proc.poll() is not None:
                raise Fail("redis-server on port %d exited with %s; log:\n%s"
                           % (port, self.proc.returncode, self.log()))
            try:
                c = RedisConn(host, port, timeout=5)
            except OSError:
                return None
            try:
                return c if c.cmd("PING") == "PONG" else None
            except OSError:
                c.close()
                return None

        self.ctl = wait_for(try_ping, 60, "redis-server on %s" % fmt_addr(host, port), 0.1)
        defer(self.ctl.close)

    def log(self):
        try:
            with open(os.path.join(self.dir, "redis.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return "(no log)"

    def total_connections(self):
        return int(self.ctl.info("stats")["total_connections_received"])


def redis_benchmark(host, port, clients, requests, tests="ping", timeout=600):
    cmd = ["redis-benchmark", "-h", host, "-p", str(port), "-c", str(clients),
           "-n", str(requests), "-t", tests, "-q"]
    r = run(cmd, timeout=timeout)
    out = r.stdout.replace("\r", "\n")
    lines = [l for l in out.splitlines() if "requests per second" in l]
    if r.returncode != 0 or not lines:
        raise Fail("`%s` failed (exit %d)\nstdout: %s\nstderr: %s"
                   % (shlex.join(cmd), r.returncode, out[-2000:], r.stderr[-2000:]))
    for l in lines:
        log("    " + l.strip())
    return lines


# ------------------------------------------------------------------- netns

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def unshare_net():
    """Move this process into a new, private network namespace with lo up.
    It vanishes with the process (and its children)."""
    if _libc.unshare(CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "unshare(CLONE_NEWNET): " + os.strerror(e))
    run_ok(["ip", "link", "set", "lo", "up"])


def netns_add(name):
    """`ip netns add name` with lo up; deleted at cleanup."""
    run(["ip", "netns", "del", name])
    run_ok(["ip", "netns", "add", name])
    defer(netns_del, name)
    run_ok(["ip", "-n", name, "link", "set", "lo", "up"])


def netns_del(name):
    r = run(["ip", "netns", "pids", name])
    for pid in r.stdout.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    r = run(["ip", "netns", "del", name])
    if r.returncode != 0 and "No such file" not in r.stderr:
        raise Fail("ip netns del %s: %s" % (name, r.stderr))


def add_local_addr(addr, netns=None):
    """Add addr (/32 or /128) to lo of this (or the given) namespace."""
    if ":" in addr:
        cmd = ["ip", "-6", "addr", "add", addr + "/128", "dev", "lo", "nodad"]
    else:
        cmd = ["ip", "addr", "add", addr + "/32", "dev", "lo"]
    run_ok(netns_cmd(netns, cmd))


def sysctl_set(key, value):
    """Write a sysctl in the current netns; restored at cleanup."""
    path = "/proc/sys/" + key.replace(".", "/")
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write(str(value))
    defer(_write, path, old)
    return old


def _write(path, value):
    with open(path, "w") as f:
        f.write(value)


# ------------------------------------------------------------------- module

def module_loaded():
    return os.path.isdir("/sys/module/sock_vs")


def insmod():
    run_ok(["insmod", KO_PATH])


def reload_module(params=()):
    """rmmod sock_vs if it is loaded, then insmod it with module parameters
    (e.g. ["ipvs_compat=1"]); no parameters: the plain module again."""
    if module_loaded():
        rmmod()
    run_ok(["insmod", KO_PATH] + list(params))


def rmmod(timeout=10.0):
    """rmmod sock_vs, retrying while it is busy; returns seconds taken."""
    t0 = time.monotonic()
    while True:
        r = run(["rmmod", "sock_vs"])
        if r.returncode == 0:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise Fail("rmmod sock_vs kept failing for %ss: %s" % (timeout, r.stderr.strip()))
        time.sleep(0.2)


# ------------------------------------------------------------ kernel log

KMSG_BAD = re.compile(r"BUG:|WARNING:|Oops|general protection|Call Trace|UBSAN|KASAN|"
                      r"kernel BUG|soft lockup|hung_task|blocked for more than|"
                      r"rcu_sched detected|rcu: INFO|refcount_t:|list_add corruption|"
                      r"list_del corruption|use-after-free|double free|Unable to handle")


def kmsg_mark(text):
    try:
        with open("/dev/kmsg", "w") as f:
            f.write(text + "\n")
        return True
    except OSError:
        return False


def kmsg_since(marker):
    """Kernel log lines after the last occurrence of marker."""
    r = run(["dmesg"])
    lines = r.stdout.splitlines()
    idx = max((i for i, l in enumerate(lines) if marker in l), default=None)
    return [] if idx is None else lines[idx + 1:]


# --------------------------------------------------------------------- case

def case_name():
    return os.path.splitext(os.path.basename(sys.argv[0]))[0]


def _alarm(signum, frame):
    raise Fail("case timed out (SIGALRM)")


def harness_timeout():
    """The harness's timeout for this case: a '# svs-timeout: N' line in the
    case's first 20 lines, else SVS_CASE_TIMEOUT, else 300 s; times
    SVS_CASE_TIMEOUT_SCALE (run-all.sh sets it for the debug kernels)."""
    scale = int(os.environ.get("SVS_CASE_TIMEOUT_SCALE", "1"))
    try:
        with open(sys.argv[0]) as f:
            for _, line in zip(range(20), f):
                m = re.match(r"#\s*svs-timeout:\s*(\d+)", line)
                if m:
                    return int(m.group(1)) * scale
    except OSError:
        pass
    return int(os.environ.get("SVS_CASE_TIMEOUT", "300")) * scale


def case(main, private_netns=False):
    """Run main() as a test case and exit with 0 (pass), 1 (fail) or 77 (skip).

    private_netns: run the whole case in a new network namespace of its own
    (lo up, nothing else), so that nothing it sends can leave it.
    The case gives up (and still cleans up) shortly before the harness's
    timeout would kill it.
    """
    name = case_name()
    started = time.monotonic()
    total = harness_timeout()
    timeout = max(int(total * 0.9), total - 30)
    log("### %s (kernel %s)" % (name, os.uname().release))
    marker = "sock_vs-tests: begin %s %d" % (name, os.getpid())
    rc = 1
    marked = False
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        if not module_loaded():
            raise Fail("sock_vs module is not loaded (/sys/module/sock_vs missing)")
        if not os.access(SOCKVSADM, os.X_OK):
            raise Fail("sockvsadm not found at " + SOCKVSADM)
        marked = kmsg_mark(marker)
        if private_netns:
            unshare_net()
            log("(running in a private network namespace)")
        main()
        rc = 0
    except Skip as e:
        log("SKIP: %s" % e)
        rc = 77
    except Fail as e:
        log("FAIL: %s" % e)
        rc = 1
        if "SIGALRM" in str(e):
            log("(gave up after %ds of the harness's %ds)" % (timeout, total))
    except Exception:
        log("FAIL: unexpected exception:")
        traceback.print_exc(file=sys.stdout)
        rc = 1
    finally:
        signal.alarm(0)
        if not _run_cleanups() and rc == 0:
            log("FAIL: cleanup failed")
            rc = 1
        if not module_loaded():
            log("FAIL: sock_vs module not loaded at the end of the case; loading it again")
            r = run(["insmod", KO_PATH])
            log("insmod: exit %d %s" % (r.returncode, r.stderr.strip()))
            rc = 1
    try:
        bad = [l for l in kmsg_since(marker) if KMSG_BAD.search(l)] if marked else []
    except Exception:
        bad = []
    if bad:
        log("FAIL: kernel log has problems since the case started:\n  " + "\n  ".join(bad[:40]))
        rc = 1
    log("### %s: %s (%.1fs)" % (name, {0: "PASS", 77: "SKIP"}.get(rc, "FAIL"), time.monotonic() - started))
    sys.stdout.flush()
    os._exit(rc)


# ---------------------------------------------------------------- CLI tool

def _cli():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    sp = sub.add_parser("serve")
    sp.add_argument("proto", choices=["tcp", "udp"])
    sp.add_argument("host")
    sp.add_argument("port", type=int)
    sp.add_argument("--ident")
    sp.add_argument("--tfo", action="store_true")
    pp = sub.add_parser("probe")
    pp.add_argument("proto", choices=["tcp", "udp"])
    pp.add_argument("host")
    pp.add_argument("port", type=int)
    pp.add_argument("--count", type=int, default=1)
    hp = sub.add_parser("hold")
    hp.add_argument("host")
    hp.add_argument("port", type=int)
    a = ap.parse_args()
    if a.what == "serve":
        s = EchoServer(a.proto, a.host, a.port, ident=a.ident, tfo=a.tfo)
        print("READY", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        while True:
            time.sleep(3600)
    elif a.what == "hold":
        s = tcp_connect(a.host, a.port)
        print("READY " + read_line(s), flush=True)
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        while True:
            time.sleep(3600)
    else:
        print(json.dumps([try_ident(a.proto, a.host, a.port) for _ in range(a.count)]))


if __name__ == "__main__":
    _cli()


# ====================================================================
# Helpers for the scheduler / shard cases (tests/vm/cases/5*.py).
# Appended; nothing above depends on them.

import struct  # noqa: E402

def rst_close(sock):
    """Close with SO_LINGER 0: the peer gets a RST, nobody keeps TIME_WAIT,
    and the local port is free again at once."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def tcp_connect_bound(host, port, lport, laddr=None, timeout=SOCK_TIMEOUT, reuse=True):
    """A TCP socket bound to (laddr or any, lport) first, then connected."""
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        if reuse:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((laddr or ("::" if ":" in host else "0.0.0.0"), lport))
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def tcp_ident_rst(host, port, lport=None, timeout=SOCK_TIMEOUT):
    """tcp_ident() (EchoServer greeting) on a new connection, optionally bound
    to local port lport, closed with RST; returns (ident, local port)."""
    s = tcp_connect_bound(host, port, lport, timeout=timeout) if lport else tcp_connect(host, port, timeout)
    try:
        line = read_line(s)
        local = s.getsockname()[1]
    finally:
        rst_close(s)
    if not line.startswith("ID "):
        raise Fail("unexpected greeting %r from %s" % (line, fmt_addr(host, port)))
    return line[3:], local


def read_sysctl(key):
    with open("/proc/sys/" + key.replace(".", "/")) as f:
        return f.read().strip()


def local_port_range():
    lo, hi = read_sysctl("net.ipv4.ip_local_port_range").split()
    return int(lo), int(hi)


def reserved_ports():
    """net.ipv4.ip_local_reserved_ports as a set of ports."""
    out = set()
    text = read_sysctl("net.ipv4.ip_local_reserved_ports")
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    return out


def module_dests(vip, vport, proto="tcp", netns=None):
    """What the module itself reports about a service's real servers, read
    with a raw GET_DEST dump (svs_genl), independent of sockvsadm's output:
    {"127.0.0.1:7001": {weight, active, inact, conns (scheduled),
     u_thresh, l_thresh, shards, shard_conns (list), overloaded}}, in
    configuration order (dict order).  For a server of 1 shard,
    shard_conns[0] is its open-connection count as the schedulers see it
    (every tracked socket, CLOSE included, until it is freed)."""
    if netns:
        raise Fail("module_dests: netns not supported (run the case in its namespace)")
    import svs_genl as g
    nl = g.Genl()
    try:
        pr = socket.IPPROTO_TCP if proto == "tcp" else socket.IPPROTO_UDP
        r = nl.cmd("GET_DEST", g.nest(g.ATTR["SERVICE"], *g.svc_attrs(vip, vport, proto=pr)),
                   flags=g.NLM_F_REQUEST | g.NLM_F_DUMP)
    finally:
        nl.close()
    if r.error:
        raise Fail("GET_DEST dump of %s: %s (%s)" % (fmt_addr(vip, vport), errno_name(-r.error), r.extack_msg))
    out = {}
    D = g.DEST
    for m in r.msgs:
        top = g.parse_attrs(m)
        a = g.parse_attrs(top[g.ATTR["DEST"]])
        raw = a[D["ADDR"]]
        host = socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
        port = struct.unpack("=H", a[D["PORT"]])[0]

        def u32(name, default=None):
            return struct.unpack("=I", a[D[name]])[0] if D.get(name) in a else default

        st = g.parse_attrs(a[D["STATS"]]) if D["STATS"] in a else {}
        sc = a.get(D.get("SHARD_CONNS", -1))
        out[fmt_addr(host, port)] = dict(
            weight=u32("WEIGHT"), active=u32("ACTIVE_CONNS"), inact=u32("INACT_CONNS"),
            conns=struct.unpack("=Q", st[g.STATS["CONNS"]])[0] if g.STATS["CONNS"] in st else None,
            u_thresh=u32("U_THRESH"), l_thresh=u32("L_THRESH"),
            shards=struct.unpack("=H", a[D["SHARDS"]][:2])[0] if D.get("SHARDS") in a else None,
            shard_conns=list(struct.unpack("=%dI" % (len(sc) // 4), sc)) if sc is not None else None,
            overloaded=a[D["OVERLOADED"]][0] if D.get("OVERLOADED") in a else None)
    return out


def module_open_conns(vip, vport, proto="tcp"):
    """{rip: open connections as the schedulers count them} (the sum of
    SHARD_CONNS: every tracked socket until it is freed)."""
    return {rip: sum(d["shard_conns"]) for rip, d in module_dests(vip, vport, proto).items()}


def wait_open_conns(vip, vport, want, what, timeout=60):
    """Wait until the module's per-server open counts equal want ({rip: n})."""
    last = {}

    def ok():
        last["v"] = module_open_conns(vip, vport)
        return last["v"] == want

    wait_for(ok, timeout, lambda: "%s: module open connections %r, expected %r"
             % (what, last.get("v"), want), interval=0.1)


def _parse_view(text, view, hdr_re):
    """Services and their real-server lines of an -L view: list of dicts
    (proto, addr, sched, flags, dests: [dict(addr, fields: [tokens])])."""
    lines = text.splitlines()
    if len(lines) < 3 or not LIST_HEADER_RE.match(lines[0]):
        raise Fail("-L %s: header is wrong:\n%s" % (view, text))
    hdr = "\n".join(l.rstrip() for l in lines[1:3])
    if not re.match(hdr_re, hdr):
        raise Fail("-L %s: header lines 2-3 %r do not match %r" % (view, hdr, hdr_re))
    services = []
    for line in lines[3:]:
        ms = re.match(r"^(TCP|UDP)  (\S+) (\S+)(?: (.*))?$", line.rstrip())
        md = re.match(r"^  -> (\S+)\s+(.*?)\s*$", line)
        if ms:
            services.append(dict(proto=ms.group(1), addr=ms.group(2), sched=ms.group(3),
                                 flags=(ms.group(4) or "").strip(), dests=[]))
        elif md and services:
            services[-1]["dests"].append(dict(addr=md.group(1), fields=md.group(2).split()))
        else:
            raise Fail("-L %s: unparsable line %r in:\n%s" % (view, line, text))
    return services


def _view_dests(services, proto, addr, view, text):
    for s in services:
        if s["proto"] == proto and s["addr"] == addr:
            return s
    raise Fail("service %s %s not in -L %s output:\n%s" % (proto, addr, view, text))


def shard_listing(proto="TCP", addr=None, netns=None):
    """`sockvsadm -L -n --shards`: {service addr: {"sched", "flags", "dests":
    {rip: dict(shards, active, inact, per_shard: [ints] or None for "-")}}}
    (or that of one service if addr is given).  Checks the layout:
      Prot LocalAddress:Port Scheduler Flags
        -> RemoteAddress:Port           Shards ActiveConn InActConn  PerShard
    """
    text = adm_ok("-L", "-n", "--shards", netns=netns, quiet=True)
    services = _parse_view(text, "-n --shards",
                           r"^Prot LocalAddress:Port Scheduler Flags\n"
                           r"  -> RemoteAddress:Port\s+Shards\s+ActiveConn\s+InActConn\s+PerShard$")
    out = {}
    for s in services:
        dests = {}
        for d in s["dests"]:
            f = d["fields"]
            if len(f) < 4 or not all(x.isdigit() for x in f[:3]):
                raise Fail("-L -n --shards: bad real-server line for %s: %r" % (d["addr"], f))
            shards = int(f[0])
            per = None if f[3:] == ["-"] else [int(x) for x in f[3:]]
            if per is not None and len(per) != shards:
                raise Fail("-L -n --shards: %s has %d shards but %d per-shard counts: %r"
                           % (d["addr"], shards, len(per), f))
            dests[d["addr"]] = dict(shards=shards, active=int(f[1]), inact=int(f[2]), per_shard=per)
        out[(s["proto"], s["addr"])] = dict(sched=s["sched"], flags=s["flags"], dests=dests)
    if addr is None:
        return out
    if (proto, addr) not in out:
        raise Fail("service %s %s not in -L -n --shards output:\n%s" % (proto, addr, text))
    return out[(proto, addr)]


def threshold_listing(proto="TCP", addr=None, netns=None):
    """`sockvsadm -L -n --thresholds` (ipvsadm's layout):
      Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn
        -> RemoteAddress:Port
    -> {service: {"sched", "flags", "dests": {rip: dict(upper, lower, active,
    inact, overloaded)}}} (or one service's)."""
    text = adm_ok("-L", "-n", "--thresholds", netns=netns, quiet=True)
    services = _parse_view(text, "-n --thresholds",
                           r"^Prot LocalAddress:Port\s+Uthreshold\s+Lthreshold\s+ActiveConn\s+InActConn\n"
                           r"  -> RemoteAddress:Port$")
    out = {}
    for s in services:
        dests = {}
        for d in s["dests"]:
            f = d["fields"]
            if len(f) < 4 or not all(x.isdigit() for x in f[:4]) or f[4:] not in ([], ["overloaded"]):
                raise Fail("-L -n --thresholds: bad real-server line for %s: %r" % (d["addr"], f))
            dests[d["addr"]] = dict(upper=int(f[0]), lower=int(f[1]), active=int(f[2]),
                                    inact=int(f[3]), overloaded=f[4:] == ["overloaded"])
        out[(s["proto"], s["addr"])] = dict(sched=s["sched"], flags=s["flags"], dests=dests)
    if addr is None:
        return out
    if (proto, addr) not in out:
        raise Fail("service %s %s not in -L -n --thresholds output:\n%s" % (proto, addr, text))
    return out[(proto, addr)]


CGROUP2_ROOT = "/sys/fs/cgroup"


def cgroup_of(pid="self"):
    """The cgroup v2 path of a process ("/..." relative to the cgroup2 mount)."""
    with open("/proc/%s/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    raise Fail("no cgroup v2 entry in /proc/%s/cgroup" % pid)


def cgroup_id(path):
    """cgroup_id() of a cgroup v2 path: the inode number of its directory."""
    return os.stat(CGROUP2_ROOT + path).st_ino


def cgroup2_child(name):
    """Create a cgroup v2 child of this process's cgroup; returns its path
    (relative to the mount), or None if cgroup2 is not mounted/writable.
    At cleanup its processes move back to the parent and it is removed."""
    if not os.path.exists(os.path.join(CGROUP2_ROOT, "cgroup.procs")):
        return None
    parent = cgroup_of()
    path = (parent.rstrip("/") + "/" + name)
    full = CGROUP2_ROOT + path
    try:
        if os.path.isdir(full):
            _cgroup_remove(path)
        os.mkdir(full)
    except OSError as e:
        log("NOTE: cannot create cgroup %s: %s" % (full, e))
        return None
    defer(_cgroup_remove, path)
    return path


def cgroup_move(pid, path):
    with open(CGROUP2_ROOT + path + "/cgroup.procs", "w") as f:
        f.write("%d\n" % pid)


def _cgroup_remove(path):
    full = CGROUP2_ROOT + path
    parent = os.path.dirname(path.rstrip("/")) or "/"
    with open(full + "/cgroup.procs") as f:
        pids = [int(x) for x in f.read().split()]
    for pid in pids:
        with contextlib.suppress(OSError):
            cgroup_move(pid, parent)
    os.rmdir(full)


# ------------------------------------------------- getpeername, -L -c (issue 6)

def _proc_net_addr(hexaddr):
    """'0100007F:1F90' (/proc/net/tcp) or the IPv6 form -> (host, port)."""
    a, p = hexaddr.split(":")
    raw = bytes.fromhex(a)
    if len(raw) == 4:
        host = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:    # four host-order 32-bit words
        host = socket.inet_ntop(socket.AF_INET6,
                                b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
    return host, int(p, 16)


def kernel_endpoints(sock):
    """The socket's (local, remote) endpoints as the kernel's own socket table
    (/proc/net/{tcp,tcp6,udp,udp6}) shows them, found by its local port and
    inode: independent of getpeername(), which sock_vs may rewrite."""
    kind = "tcp" if sock.type == socket.SOCK_STREAM else "udp"
    inode = os.fstat(sock.fileno()).st_ino
    for name in (kind, kind + "6"):
        with open("/proc/net/" + name) as f:
            next(f)
            for line in f:
                w = line.split()
                if int(w[9]) == inode:
                    return _proc_net_addr(w[1]), _proc_net_addr(w[2])
    raise Fail("socket (inode %d) not found in /proc/net/%s*" % (inode, kind))


def kernel_peer(sock):
    """'host:port' of the socket's real remote end (see kernel_endpoints)."""
    host, port = kernel_endpoints(sock)[1]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return fmt_addr(host, port)


def conn_listing(service=None, proto="tcp", netns=None):
    """sockvsadm -L -c -n [-t|-u service] as a list of dicts: proto, state,
    source, virtual, dest, shard (None if no shard column), pid, comm."""
    args = ["-L", "-c", "-n"]
    if service:
        args += ["-u" if proto == "udp" else "-t", service]
    text = adm_ok(*args, netns=netns, quiet=True)
    lines = text.splitlines()
    if len(lines) < 2 or lines[0] != "Sock VS connection entries" or not lines[1].startswith("pro state"):
        raise Fail("unexpected -L -c header:\n" + text)
    sharded = " shard " in lines[1]
    out = []
    for l in lines[2:]:
        w = l.split()
        if len(w) != (7 if sharded else 6):
            raise Fail("unexpected -L -c line %r" % l)
        pid, _, comm = w[-1].partition("/")
        out.append({"proto": w[0], "state": w[1], "source": w[2], "virtual": w[3], "dest": w[4],
                    "shard": (None if w[5] == "-" else int(w[5])) if sharded else None,
                    "pid": int(pid), "comm": comm})
    return out
