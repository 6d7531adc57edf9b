#!/usr/bin/env python3
"""Helpers for tests/vm/cases/55-conn-storm.py: the module's per-real-server
counts next to the kernel's own view of the client sockets (ss), plus the
storm clients and servers that case needs.

    storm.py child HOST PORT N [--no-read]
        opens N TCP connections to HOST:PORT (reading each greeting line
        unless --no-read), prints "READY <local port>,...", then on a line
        "exit" on stdin leaves with os._exit(0): the connections are never
        closed by the program, only by the process's exit.
"""

import argparse
import ctypes
import errno
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svs  # noqa: E402

U32_SUSPECT = 1 << 31     # a count this large is a wrapped u32: a double decrement

# Client-side TCP states that are on their way somewhere else: "settled"
# means none of them is left (SYN-SENT is not one: phase 7 holds it on purpose).
TRANSIENT = ("FIN-WAIT-1", "FIN-WAIT-2", "CLOSING", "LAST-ACK", "SYN-RECV")
# States that are not an open socket for the comparison (UNCONN: UDP's CLOSE).
NOT_OPEN = ("TIME-WAIT", "CLOSE", "UNCONN")


# ------------------------------------------------------------------ ss

def _split_ss_addr(s):
    """'127.0.0.1:9551' / '[::1]:80' / '*:*' / '127.0.0.1%lo:80' -> (host, port or None)."""
    host, _, port = s.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.split("%", 1)[0]
    return host, (int(port) if port.isdigit() else None)


def ss_sockets(proto):
    """All sockets of this namespace as ss lists them (`ss -tanoH` or
    `ss -uanH`): list of dict(state, local=(host, port), peer=(host, port),
    timer: the timer name of `-o` or None).  A TCP entry whose timer is
    "timewait" is a timewait mini-socket (TIME-WAIT, or an orphan's
    FIN-WAIT-2 kept by tcp_fin_timeout), not a full socket."""
    cmd = ["ss", "-tanoH"] if proto == "tcp" else ["ss", "-uanH"]
    out = svs.run_ok(cmd)
    socks = []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        m = re.search(r"timer:\((\w+)", line)
        socks.append(dict(state=f[0], local=_split_ss_addr(f[3]), peer=_split_ss_addr(f[4]),
                          timer=m.group(1) if m else None))
    return socks


def client_view(socks, rip, shards):
    """The client-side sockets to real server rip ('host:port'): those whose
    peer is rip.  -> dict(states: {state: n} of full sockets, est, open
    (not TIME-WAIT/CLOSE/UNCONN, not a mini-socket), minisock_fw2 (orphan
    FIN-WAIT-2 mini-sockets), open_by_shard: list (local port % shards) of
    the open ones)."""
    host, port = svs.split_addr(rip)
    v = dict(states={}, est=0, open=0, tw=0, minisock_fw2=0, open_by_shard=[0] * shards)
    for s in socks:
        if s["peer"] != (host, port):
            continue
        st = s["state"]
        if st == "TIME-WAIT":
            v["tw"] += 1
            continue
        if s["timer"] == "timewait":        # a FIN-WAIT-2 mini-socket: no full socket left
            v["minisock_fw2"] += 1
            continue
        v["states"][st] = v["states"].get(st, 0) + 1
        if st == "ESTAB":
            v["est"] += 1
        if st not in NOT_OPEN:
            v["open"] += 1
            v["open_by_shard"][s["local"][1] % shards] += 1
    return v


# ------------------------------------------------------------------ module

class Dest:
    """A real server of the case: proto 'tcp'/'udp', service 'vip:vport',
    rip 'host:port', shards (1: not sharded)."""

    def __init__(self, proto, svc, rip, shards=1):
        self.proto, self.svc, self.rip, self.shards = proto, svc, rip, shards
        self.P = proto.upper()
        self.vip, self.vport = svs.split_addr(svc)

    def __repr__(self):
        return "%s %s -> %s%s" % (self.P, self.svc, self.rip,
                                  " (%d shards)" % self.shards if self.shards > 1 else "")


def module_view(dests):
    """{rip: dict(active, inact from -L -n; s_active, s_inact, shards,
    per_shard from -L -n --shards; raw: the GET_DEST dump's dict)}."""
    lst = svs.listing()
    shv = svs.shard_listing()
    raw = {}
    for d in dests:
        key = (d.proto, d.vip, d.vport)
        if key not in raw:
            raw[key] = svs.module_dests(d.vip, d.vport, d.proto)
    out = {}
    for d in dests:
        ld = lst.dest(d.P, d.svc, d.rip)
        if (d.P, d.svc) not in shv or d.rip not in shv[(d.P, d.svc)]["dests"]:
            raise svs.Fail("%r missing from -L -n --shards" % d)
        sd = shv[(d.P, d.svc)]["dests"][d.rip]
        rd = raw[(d.proto, d.vip, d.vport)].get(d.rip)
        if rd is None:
            raise svs.Fail("%r missing from the GET_DEST dump" % d)
        out[d.rip] = dict(active=ld["active"], inact=ld["inact"], s_active=sd["active"],
                          s_inact=sd["inact"], shards=sd["shards"], per_shard=sd["per_shard"], raw=rd)
    return out


def held_close_by_shard(held, shards):
    """held: an int (count only) or a list of local ports -> (total, per-shard
    list or None)."""
    if isinstance(held, int):
        return held, None
    per = [0] * shards
    for p in held:
        per[p % shards] += 1
    return len(held), per


def compare(dests, held_close=None, expect=None):
    """One reading of both views.  Returns (rows, problems, transient):
    rows: printable lines; problems: list of disagreements; transient:
    client-side sockets still in a closing state."""
    held_close = held_close or {}
    expect = expect or {}
    tcp = ss_sockets("tcp") if any(d.proto == "tcp" for d in dests) else []
    udp = ss_sockets("udp") if any(d.proto == "udp" for d in dests) else []
    mod = module_view(dests)
    rows, problems, transient = [], [], 0
    for d in dests:
        m = mod[d.rip]
        c = client_view(tcp if d.proto == "tcp" else udp, d.rip, d.shards)
        hc_total, hc_shard = held_close_by_shard(held_close.get(d.rip, 0), d.shards)
        transient += sum(n for st, n in c["states"].items() if st in TRANSIENT) + c["minisock_fw2"]
        per = m["per_shard"]
        tracked = sum(per) if per is not None else None
        others = ", ".join("%s %d" % kv for kv in sorted(c["states"].items())
                           if kv[0] not in ("ESTAB",)) or "-"
        rows.append("  %-40s module: Active %d InAct %d PerShard %s (sum %s) | "
                    "ss: ESTAB %d open %d TIME-WAIT %d fw2-mini %d other[%s] | held CLOSE %d"
                    % ("%s %s -> %s" % (d.P, d.svc, d.rip), m["active"], m["inact"], per, tracked,
                       c["est"], c["open"], c["tw"], c["minisock_fw2"], others, hc_total))

        def bad(msg):
            problems.append("%s: %s" % (d.rip, msg))

        nums = [m["active"], m["inact"], m["s_active"], m["s_inact"]] + list(per or []) + \
            [x for x in (m["raw"]["active"], m["raw"]["inact"]) if x is not None] + \
            list(m["raw"]["shard_conns"] or [])
        if any(x >= U32_SUSPECT for x in nums):
            bad("a count >= 2^31 (a wrapped u32: double decrement?): %r" % nums)
        if m["active"] != c["est"]:
            bad("ActiveConn %d != ESTABLISHED client sockets per ss %d" % (m["active"], c["est"]))
        if m["active"] + m["inact"] != c["open"]:
            bad("ActiveConn+InActConn %d+%d = %d != open (not TIME-WAIT/CLOSE) client sockets per ss %d (%r)"
                % (m["active"], m["inact"], m["active"] + m["inact"], c["open"], c["states"]))
        if (m["s_active"], m["s_inact"]) != (m["active"], m["inact"]):
            bad("--shards ActiveConn/InActConn %r != -L -n's %r"
                % ((m["s_active"], m["s_inact"]), (m["active"], m["inact"])))
        if (m["raw"]["active"], m["raw"]["inact"]) != (m["active"], m["inact"]):
            bad("GET_DEST dump active/inact %r != -L -n's %r"
                % ((m["raw"]["active"], m["raw"]["inact"]), (m["active"], m["inact"])))
        if m["shards"] != d.shards:
            bad("--shards says %d shards, configured %d" % (m["shards"], d.shards))
        if per is None:
            bad("--shards shows no per-shard counts ('-')")
        else:
            if per != m["raw"]["shard_conns"]:
                bad("--shards PerShard %r != GET_DEST SHARD_CONNS %r" % (per, m["raw"]["shard_conns"]))
            want_tracked = m["active"] + m["inact"] + hc_total
            if tracked != want_tracked:
                bad("PerShard total %d != ActiveConn+InActConn+held CLOSE sockets %d+%d+%d = %d"
                    % (tracked, m["active"], m["inact"], hc_total, want_tracked))
            if d.shards > 1 and hc_shard is not None:
                want = [a + b for a, b in zip(c["open_by_shard"], hc_shard)]
                if per != want:
                    bad("PerShard %r != per ss (open by local port %% %d) %r + held CLOSE %r"
                        % (per, d.shards, c["open_by_shard"], hc_shard))
        for k, want in expect.get(d.rip, {}).items():
            got = {"active": m["active"], "inact": m["inact"], "tracked": tracked}[k]
            if got != want:
                bad("expected %s %d, module says %d" % (k, want, got))
    return rows, problems, transient


def agree(what, dests, held_close=None, expect=None, timeout=30):
    """Wait (bounded) until the client sockets have settled (no closing
    transients) and both views agree; print the compared numbers.  Fail with
    the last numbers if they never agree."""
    svs.log("-- %s" % what)
    deadline = time.monotonic() + timeout
    t0 = time.monotonic()
    while True:
        rows, problems, transient = compare(dests, held_close, expect)
        done = not problems and not transient
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    for r in rows:
        svs.log(r)
    if problems:
        raise svs.Fail("%s: the module's counts disagree with ss after %.1fs "
                       "(closing transients left: %d):\n  %s"
                       % (what, time.monotonic() - t0, transient, "\n  ".join(problems)))
    if transient:
        svs.log("  NOTE: %d client sockets still in a closing state after %ds; counts agree anyway"
                % (transient, timeout))
    svs.log("  ok: %s: module counts agree with ss (%.1fs to settle)" % (what, time.monotonic() - t0))


class Sampler(threading.Thread):
    """Reads -L -n in a loop while a storm runs: every count must stay below
    `limit` (a wrapped u32 would not)."""

    def __init__(self, dests, limit):
        super().__init__(daemon=True)
        self.dests, self.limit = dests, limit
        self.stop_ev = threading.Event()
        self.samples, self.max, self.bad = 0, 0, []

    def run(self):
        while not self.stop_ev.is_set():
            try:
                lst = svs.listing()
            except svs.Fail as e:
                self.bad.append(str(e))
                return
            for d in self.dests:
                x = lst.dest(d.P, d.svc, d.rip)
                v = max(x["active"], x["inact"], x["active"] + x["inact"])
                self.max = max(self.max, v)
                if v > self.limit:
                    self.bad.append("%s: ActiveConn %d InActConn %d (limit %d)"
                                    % (d.rip, x["active"], x["inact"], self.limit))
            self.samples += 1
            time.sleep(0.1)

    def finish(self):
        self.stop_ev.set()
        self.join(30)
        return self.samples, self.max, self.bad


# ------------------------------------------------------------------ clients

def short_conn(host, port):
    """connect, read the EchoServer greeting, send a line, read it back,
    close (client first: TIME-WAIT on this side).  -> server ident."""
    with svs.tcp_connect(host, port) as s:
        line = svs.read_line(s)
        s.sendall(b"storm\n")
        echo = svs.read_line(s)
    if not line.startswith("ID ") or echo != "storm":
        raise svs.Fail("unexpected exchange %r / %r" % (line, echo))
    return line[3:]


def threaded(n, threads, fn):
    """Run fn() n times spread over `threads` threads; -> (results, errors)."""
    results, errors, lock = [], [], threading.Lock()
    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    barrier = threading.Barrier(threads)

    def worker(k):
        mine = []
        try:
            barrier.wait(60)
            for _ in range(per[k]):
                mine.append(fn())
        except Exception as e:   # reported by the caller
            with lock:
                errors.append("thread %d after %d: %r" % (k, len(mine), e))
        with lock:
            results.extend(mine)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results, errors


def refused_conn(host, port, nonblocking):
    """A connect the real server's kernel refuses (RST): must fail with
    ECONNREFUSED.  -> the socket, kept open (state CLOSE)."""
    s = socket.socket(svs.family_of(host), socket.SOCK_STREAM)
    try:
        if nonblocking:
            s.setblocking(False)
            rc = s.connect_ex((host, port))
            if rc == errno.EINPROGRESS:
                _, w, _ = select.select([], [s], [], svs.SOCK_TIMEOUT)
                if not w:
                    raise svs.Fail("non-blocking connect to %s: no result after %ss"
                                   % (svs.fmt_addr(host, port), svs.SOCK_TIMEOUT))
                rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        else:
            try:    # really blocking
                s.connect((host, port))
                rc = 0
            except OSError as e:
                rc = e.errno
        if rc != errno.ECONNREFUSED:
            raise svs.Fail("%s connect to %s: expected ECONNREFUSED, got %s"
                           % ("non-blocking" if nonblocking else "blocking",
                              svs.fmt_addr(host, port), svs.errno_name(rc)))
    except BaseException:
        s.close()
        raise
    return s


def syn_sent_conn(host, port):
    """A non-blocking connect that stays in SYN-SENT (the SYN is dropped)."""
    s = socket.socket(svs.family_of(host), socket.SOCK_STREAM)
    s.setblocking(False)
    rc = s.connect_ex((host, port))
    if rc != errno.EINPROGRESS:
        s.close()
        raise svs.Fail("non-blocking connect to %s: %s, expected EINPROGRESS"
                       % (svs.fmt_addr(host, port), svs.errno_name(rc)))
    return s


_libc = ctypes.CDLL(None, use_errno=True)


def udp_disconnect(sock):
    """connect(AF_UNSPEC): dissolve a UDP socket's association (not a connect
    the module sees: the kernel calls udp_disconnect directly)."""
    sa = ctypes.create_string_buffer(struct.pack("=H14x", socket.AF_UNSPEC), 16)
    if _libc.connect(sock.fileno(), sa, 16) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "connect(AF_UNSPEC): " + os.strerror(e))


# ------------------------------------------------------------------ servers

class ResetServer:
    """TCP server that greets each connection (b"ID host:port\\n") and keeps
    it until reset_all() closes every one with SO_LINGER 0 (a RST)."""

    def __init__(self, host, port):
        self.ident = svs.fmt_addr(host, port)
        self.lock = threading.Lock()
        self.conns = []
        self.sock = socket.socket(svs.family_of(host), socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        svs.defer(self.stop)

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                c.sendall(b"ID " + self.ident.encode() + b"\n")
            except OSError:
                pass
            with self.lock:
                self.conns.append(c)

    def count(self):
        with self.lock:
            return len(self.conns)

    def reset_all(self):
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            svs.rst_close(c)
        return len(conns)

    def stop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.reset_all()
        self.thread.join(5)


# ------------------------------------------------------------------ child process

class Child:
    """`storm.py child` in its own process: holds n connections to
    host:port; exit() makes it leave without closing them, kill() SIGKILLs it."""

    def __init__(self, host, port, n, read=True, timeout=120):
        cmd = [sys.executable, os.path.abspath(__file__), "child", host, str(port), str(n)]
        if not read:
            cmd.append("--no-read")
        self.err = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True, start_new_session=True)
        svs.defer(svs.kill, self.p, signal.SIGKILL)
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        line = self.p.stdout.readline() if r else ""
        if not line.startswith("READY"):
            self.err.seek(0)
            raise svs.Fail("child %s: no READY line (got %r, exit %r); stderr:\n%s"
                           % (" ".join(cmd), line, self.p.poll(), self.err.read()[-2000:]))
        self.ports = [int(x) for x in line.split()[1].split(",")] if n else []

    def exit(self):
        self.p.stdin.write("exit\n")
        self.p.stdin.flush()
        return self.p.wait(60)

    def kill(self):
        os.kill(self.p.pid, signal.SIGKILL)
        return self.p.wait(60)


def _child(host, port, n, read):
    held = []
    for _ in range(n):
        s = svs.tcp_connect(host, port)
        if read:
            svs.read_line(s)
        held.append(s)
    print("READY " + ",".join(str(s.getsockname()[1]) for s in held), flush=True)
    for line in sys.stdin:
        if line.strip() == "exit":
            break
    os._exit(0)     # no close(), no interpreter teardown: the kernel closes them


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    cp = sub.add_parser("child")
    cp.add_argument("host")
    cp.add_argument("port", type=int)
    cp.add_argument("n", type=int)
    cp.add_argument("--no-read", action="store_true")
    a = ap.parse_args()
    _child(a.host, a.port, a.n, not a.no_read)
