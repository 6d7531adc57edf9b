#!/usr/bin/env python3
"""A client process driven over stdin, for the sock_vs guest cases that need
connections made by a given process (hash key tgid) or from a given cgroup
(hash key cgroup), several times over the process's life.

    conn_client.py HOST PORT

Prints "READY <pid>", then answers every command line with one JSON line:

    conn N            N connections, one after the other; each: connect,
                      optional PING (a redis server answers +PONG), then
                      close with RST (SO_LINGER 0: no TIME_WAIT anywhere).
                      -> ["127.0.0.1:7001", ...] the real peer of each (the
                      kernel's socket table: getpeername() says the VIP), or
                      "ERR <errno name>"
    bind P N          the same, each socket bound to local port P first
                      (SO_REUSEADDR)
    socket            create one socket now and keep it (not connected)
    connkept          connect the kept socket -> [peer] (then RST-close it)
    ping on|off       send PING and expect +PONG on each connection (default on)
    quit              exit

ConnClient (below) runs one with svs.spawn() and talks to it.
"""

import errno
import json
import os
import signal
import socket
import struct
import sys

import svs


def rst_close(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def one(host, port, ping, lport=None, sock=None):
    s = sock or socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(60)
        if lport is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("", lport))
        s.connect((host, port))
        peer = svs.kernel_endpoints(s)[1]
        if ping:
            s.sendall(b"PING\r\n")
            buf = b""
            while not buf.endswith(b"\r\n"):
                d = s.recv(64)
                if not d:
                    break
                buf += d
            if buf != b"+PONG\r\n":
                return "ERR bad PING answer %r" % buf
        return "%s:%d" % (peer[0], peer[1])
    except socket.timeout:
        return "ERR timeout"
    except OSError as e:
        return "ERR " + errno.errorcode.get(e.errno, str(e.errno))
    finally:
        rst_close(s)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    ping = True
    kept = None
    print("READY %d" % os.getpid(), flush=True)
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        if w[0] == "conn":
            out = [one(host, port, ping) for _ in range(int(w[1]))]
        elif w[0] == "bind":
            out = [one(host, port, ping, lport=int(w[1])) for _ in range(int(w[2]))]
        elif w[0] == "socket":
            kept = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            out = "ok"
        elif w[0] == "connkept":
            out = [one(host, port, ping, sock=kept)]
            kept = None
        elif w[0] == "ping":
            ping = w[1] == "on"
            out = "ok"
        elif w[0] == "quit":
            return
        else:
            out = "ERR unknown command %r" % line
        print(json.dumps(out), flush=True)


class ConnClient:
    """conn_client.py as a child process (killed at cleanup)."""

    def __init__(self, host, port, netns=None):
        import subprocess
        import svs
        cmd = svs.netns_cmd(netns, [sys.executable, os.path.abspath(__file__), host, str(port)])
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)
        svs.defer(svs.kill, self.p)
        line = self._line(60)
        if not line.startswith("READY "):
            raise svs.Fail("conn_client did not start: %r; stderr %r" % (line, self.p.stderr.read()))
        self.pid = int(line.split()[1])

    def _line(self, timeout):
        import select
        import svs
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            raise svs.Fail("conn_client %s: no answer within %ss" % (self.p.pid, timeout))
        line = self.p.stdout.readline()
        if not line:
            raise svs.Fail("conn_client %s exited (%s)" % (self.p.pid, self.p.poll()))
        return line.strip()

    def ask(self, cmd, timeout=300):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return json.loads(self._line(timeout))

    def conn(self, n):
        return self.ask("conn %d" % n)

    def bind(self, lport, n):
        return self.ask("bind %d %d" % (lport, n))

    def quit(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(30)
        except (OSError, ValueError):
            pass


if __name__ == "__main__":
    main()
