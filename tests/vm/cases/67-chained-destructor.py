#!/usr/bin/env python3
"""Another subsystem on top of a balanced socket, then rmmod (review finding 1).

kTLS device offload, espintcp and L2TP save sk->sk_destruct and install
their own after connect, and kTLS/espintcp copy the socket's current
operations table as the base of theirs. tests/testmod/svs_chain.ko is a TCP
ULP that does both. A balanced TCP socket takes it (setsockopt TCP_ULP);
then sock_vs is unloaded while the socket is open. The socket must go on
working (data, getpeername) and, when it is closed, the chained destructor
must run exactly once: nothing of sock_vs may be called after unload, and
sock_vs may not undo what the other subsystem installed.

The same for the other way module text could leak to sockets sock_vs never
balanced: a socket whose balanced connect failed listens, and a connection
it accepts is used and closed after rmmod.

Before the per-socket operations (sock_vs owned sk_destruct), unload wrote
the original destructor back over the chained one: "destructs" stayed 0."""

import errno
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

V4 = "10.255.67.1"
PORT = 9671         # echo server
DEAD = 9672         # nothing listens here
LISTEN = 9673
TCP_ULP = 31
CHAIN_KO = os.path.join(svs.REPO, "build", "testmod", svs.KVER, "svs_chain.ko")


def param(name):
    with open("/sys/module/svs_chain/parameters/" + name) as f:
        return int(f.read())


def exchange(s, what):
    s.sendall(b"ping-67\n")
    check_eq(svs.read_line(s), "ping-67", what)


def main():
    if not os.path.exists(CHAIN_KO):
        raise svs.Fail("test module missing: %s (make testmod)" % CHAIN_KO)
    svs.fresh_config()
    svs.spawn_echo_server("tcp", "127.0.0.1", PORT)
    adm_ok("-A", "-t", V4 + ":80", "-s", "rr")
    adm_ok("-a", "-t", V4 + ":80", "-r", "127.0.0.1:%d" % PORT)
    adm_ok("-A", "-t", V4 + ":81", "-s", "rr")
    adm_ok("-a", "-t", V4 + ":81", "-r", "127.0.0.1:%d" % DEAD)
    svs.run_ok(["insmod", CHAIN_KO])
    svs.defer(lambda: svs.run(["rmmod", "svs_chain"]))
    svs.defer(lambda: None if svs.module_loaded() else svs.insmod())

    step("a balanced TCP connection takes the chaining ULP")
    s = svs.tcp_connect(V4, 80)
    greeting = svs.read_line(s)
    check(greeting.startswith("ID "), "greeting %r" % greeting)
    check_eq(s.getpeername()[:2], (V4, 80), "getpeername: the virtual address while balanced")
    s.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"svs_chain")
    check_eq(param("ops_copies"), 1, "the ULP copied the socket's operations")
    exchange(s, "echo after the ULP took the socket")
    check_eq(s.getpeername()[:2], ("127.0.0.1", PORT),
             "getpeername after another subsystem took the socket over: sock_vs handed it back first")

    step("a socket whose balanced connect failed listens and accepts")
    f = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    f.settimeout(None)      # blocking: a failed non-blocking connect leaves the socket "connecting"
    try:
        f.connect((V4, 81))
        raise svs.Fail("connect to a real server nobody listens on succeeded")
    except OSError as e:
        check_eq(e.errno, errno.ECONNREFUSED, "balanced connect to a dead real server: ECONNREFUSED")
    f.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    f.bind(("127.0.0.1", LISTEN))
    f.listen(4)
    c = socket.create_connection(("127.0.0.1", LISTEN), timeout=svs.SOCK_TIMEOUT)
    f.settimeout(svs.SOCK_TIMEOUT)
    child, _ = f.accept()
    child.settimeout(svs.SOCK_TIMEOUT)

    step("rmmod sock_vs with both open")
    svs.rmmod()
    exchange(s, "the chained socket still echoes after rmmod")
    check_eq(s.getpeername()[:2], ("127.0.0.1", PORT), "getpeername after rmmod: the real server")
    c.sendall(b"x")
    check_eq(child.recv(1), b"x", "the accepted child still receives after rmmod")
    check_eq(child.getpeername(), c.getsockname(), "the accepted child's getpeername after rmmod")
    check_eq(param("destructs"), 0, "no chained destructor ran yet")

    step("close everything: the chained destructor runs once")
    svs.rst_close(s)
    for x in (child, c, f):
        svs.rst_close(x)
    svs.wait_for(lambda: param("destructs") >= 1, 30, "the chained destructor ran")
    check_eq(param("destructs"), 1, "the chained destructor ran exactly once")
    svs.insmod()


if __name__ == "__main__":
    svs.case(main)
