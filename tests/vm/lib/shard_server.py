#!/usr/bin/env python3
"""A small sharded TCP server for the sock_vs guest cases, like Seastar's
"port" load-balancing policy (ScyllaDB's shard-aware port): every accepted
connection belongs to shard = peer port % N.

    shard_server.py HOST PORT --shards N --ctl UNIX_PATH [--ident ID]

Prints "READY" once listening.  On accept it sends one line
"SHARD <s> <ident> <peer port>\\n" and then holds the connection (echoing
whatever arrives) until the client closes or resets it; the connection then
stops counting.  The control socket (AF_UNIX stream, so that talking to it
uses no TCP port) answers one JSON line per request line:

    STATS    {"ident", "shards", "open": [per-shard open connections],
              "accepted": total, "ports": {shard: [peer ports open]}}
    QUIT     exits

ShardServer (below) starts one through svs.spawn() and reads its STATS.
Single-threaded (selectors), so hundreds of connections are cheap.
"""

import argparse
import json
import os
import selectors
import signal
import socket
import sys


def serve(host, port, nshards, ctl_path, ident):
    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, "listen")

    with_ctl = None
    if ctl_path:
        if os.path.exists(ctl_path):
            os.unlink(ctl_path)
        with_ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with_ctl.bind(ctl_path)
        with_ctl.listen(16)
        with_ctl.setblocking(False)
        sel.register(with_ctl, selectors.EVENT_READ, "ctl-listen")

    conns = {}          # socket -> (shard, peer port)
    ctl_bufs = {}       # control socket -> bytes
    state = {"accepted": 0}
    ident = ident or "%s:%d" % (host, port)

    def stats():
        opened = [0] * nshards
        ports = {str(s): [] for s in range(nshards)}
        for s, p in conns.values():
            opened[s] += 1
            ports[str(s)].append(p)
        for v in ports.values():
            v.sort()
        return {"ident": ident, "shards": nshards, "open": opened,
                "accepted": state["accepted"], "ports": ports}

    def drop(c):
        sel.unregister(c)
        conns.pop(c, None)
        c.close()

    print("READY", flush=True)
    while True:
        for key, _ in sel.select():
            what, s = key.data, key.fileobj
            if what == "listen":
                while True:
                    try:
                        c, peer = lsock.accept()
                    except BlockingIOError:
                        break
                    except OSError:
                        break
                    shard = peer[1] % nshards
                    state["accepted"] += 1
                    try:
                        c.sendall(("SHARD %d %s %d\n" % (shard, ident, peer[1])).encode())
                    except OSError:
                        c.close()
                        continue
                    c.setblocking(False)
                    conns[c] = (shard, peer[1])
                    sel.register(c, selectors.EVENT_READ, "conn")
            elif what == "conn":
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    drop(s)
                    continue
                try:
                    s.sendall(data)
                except OSError:
                    drop(s)
            elif what == "ctl-listen":
                try:
                    c, _ = s.accept()
                except OSError:
                    continue
                c.setblocking(True)
                ctl_bufs[c] = b""
                sel.register(c, selectors.EVENT_READ, "ctl")
            elif what == "ctl":
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    ctl_bufs.pop(s, None)
                    s.close()
                    continue
                ctl_bufs[s] += data
                while b"\n" in ctl_bufs[s]:
                    line, ctl_bufs[s] = ctl_bufs[s].split(b"\n", 1)
                    cmd = line.decode().strip().upper()
                    if cmd == "STATS":
                        s.sendall((json.dumps(stats()) + "\n").encode())
                    elif cmd == "QUIT":
                        s.sendall(b"{}\n")
                        os._exit(0)
                    else:
                        s.sendall((json.dumps({"error": "unknown command %r" % cmd}) + "\n").encode())


class ShardServer:
    """shard_server.py in a child process (stopped at cleanup), with its
    control socket in the case's temporary directory."""

    def __init__(self, host, port, shards, ident=None, netns=None):
        import tempfile
        import svs
        self.host, self.port, self.shards = host, port, shards
        self.ident = ident or svs.fmt_addr(host, port)
        self.ctl_path = os.path.join(tempfile.gettempdir(), "shard-%d-%d.ctl" % (port, os.getpid()))
        self.proc = svs.spawn([sys.executable, os.path.abspath(__file__), host, str(port),
                               "--shards", str(shards), "--ctl", self.ctl_path,
                               "--ident", self.ident], ready_prefix="READY", netns=netns)
        self.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ctl.settimeout(svs.SOCK_TIMEOUT * 3)
        self.ctl.connect(self.ctl_path)
        self.f = self.ctl.makefile("rb")
        svs.defer(self.close)

    def stats(self):
        """{"open": [per shard], "accepted": n, "ports": {shard(int): [ports]}}"""
        self.ctl.sendall(b"STATS\n")
        line = self.f.readline()
        if not line:
            import svs
            raise svs.Fail("shard server %s: control socket closed" % self.ident)
        st = json.loads(line)
        st["ports"] = {int(k): v for k, v in st["ports"].items()}
        return st

    def close(self):
        try:
            self.f.close()
            self.ctl.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--shards", type=int, required=True)
    ap.add_argument("--ctl")
    ap.add_argument("--ident")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    serve(a.host, a.port, a.shards, a.ctl, a.ident)


if __name__ == "__main__":
    main()
