#!/usr/bin/env python3
"""Exemptions (issue 14): --skip-uid, --skip-cgroup, --skip-mark. A connect
that matches a rule is not balanced and reaches the virtual address itself
(a trap listener on the VIP); everybody else is balanced. Checked for a uid
range (processes running as those uids), a cgroup v2 and its descendant (a
process moved there), a mark under a mask (SO_MARK), TCP and connected UDP,
a balanced UDP socket that reconnects with a skipped mark; -S/-R and --json
carry the rules; bad input (unknown cgroup, relative path, a 9th rule, an
inverted uid range, a mark outside its mask) is refused with the table
unchanged."""

import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_fail, adm_ok, check, check_eq, step  # noqa: E402

VIP = svs.VIP4
SVC = "%s:80" % VIP
PORTS = [9281, 9282]
REAL = {"127.0.0.1:%d" % p for p in PORTS}
TRAP = "trap:" + SVC
SO_MARK = getattr(socket, "SO_MARK", 36)


def ident_as(proto="tcp", user=None, cgroup=None):
    """Which server answers a connect from a new process (as @user, in @cgroup)."""
    def enter():
        if cgroup:
            svs.cgroup_move(os.getpid(), cgroup)
    cmd = [sys.executable, os.path.join(svs.LIB_DIR, "svs.py"), "probe", proto, VIP,
           SVC.rsplit(":", 1)[1]]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, user=user, preexec_fn=enter)
    if r.returncode:
        raise svs.Fail("probe as %s in %s failed: %s" % (user, cgroup, r.stderr))
    return json.loads(r.stdout)[0]


def ident_marked(mark, proto="tcp"):
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
        s.settimeout(svs.SOCK_TIMEOUT)
        s.connect((VIP, 80))
        if proto == "tcp":
            return svs.read_line(s)[3:]
        s.send(b"ping")
        return s.recv(1000).split()[1].decode()


def main():
    svs.fresh_config()
    svs.add_local_addr(VIP)
    for proto in ("tcp", "udp"):
        svs.echo_server(proto, VIP, 80, ident=TRAP)
        for p in PORTS:
            svs.echo_server(proto, "127.0.0.1", p)
    skipped = svs.cgroup2_child("svs-72-skip")
    other = svs.cgroup2_child("svs-72-other")
    if not skipped or not other:
        raise svs.Fail("cgroup v2 is needed for --skip-cgroup")
    sub = skipped + "/sub"
    os.mkdir(svs.CGROUP2_ROOT + sub)
    svs.defer(os.rmdir, svs.CGROUP2_ROOT + sub)

    step("TCP %s with three exemptions" % SVC)
    rules = ["--skip-uid", "4242-4243", "--skip-cgroup", skipped, "--skip-mark", "0x10/0xf0"]
    adm_ok("-A", "-t", SVC, "-s", "rr", *rules)
    for p in PORTS:
        adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:%d" % p)
    check(ident_as() in REAL, "root, outside the cgroups, no mark: balanced")
    for uid in (4242, 4243):
        check_eq(ident_as(user=uid), TRAP, "uid %d (in 4242-4243) is not balanced" % uid)
    check(ident_as(user=4244) in REAL, "uid 4244 is balanced")
    check_eq(ident_as(cgroup=skipped), TRAP, "a process in %s is not balanced" % skipped)
    check_eq(ident_as(cgroup=sub), TRAP, "a process in its descendant %s is not balanced" % sub)
    check(ident_as(cgroup=other) in REAL, "a process in %s is balanced" % other)
    for mark in (0x10, 0x1f):
        check_eq(ident_marked(mark), TRAP, "SO_MARK 0x%x (& 0xf0 == 0x10) is not balanced" % mark)
    check(ident_marked(0x20) in REAL, "SO_MARK 0x20 is balanced")

    step("-S, --json and -R carry the rules")
    saved = adm_ok("-S", "-n")
    for opt in ("--skip-uid 4242-4243", "--skip-cgroup " + skipped, "--skip-mark 0x10/0xf0"):
        check(opt in saved, "-S has %r" % opt)
    doc = json.loads(adm_ok("-L", "-n", "--json"))
    check_eq(len(doc["services"][0]["skip"]), 3, "--json lists 3 exemptions")
    adm_ok("-C")
    adm_ok("-R", input=saved)
    check_eq(adm_ok("-S", "-n"), saved, "-S after -C and -R of its output")
    check_eq(ident_as(user=4242), TRAP, "after -R, uid 4242 is still not balanced")

    step("-E replaces the rules; without them it keeps them")
    adm_ok("-E", "-t", SVC, "-s", "rr")
    check_eq(adm_ok("-S", "-n"), saved, "-E without exemptions keeps them")
    adm_ok("-E", "-t", SVC, "-s", "rr", "--skip-mark", "0x20")
    check(ident_as(user=4242) in REAL, "after -E with other rules, uid 4242 is balanced")
    check_eq(ident_marked(0x20), TRAP, "and SO_MARK 0x20 is not")

    step("bad input leaves the table unchanged")
    before = adm_ok("-S", "-n")
    adm_fail("-E", "-t", SVC, "-s", "rr", "--skip-cgroup", "/svs-72-missing", rc=(1, 2), err_re="cgroup")
    adm_fail("-E", "-t", SVC, "-s", "rr", "--skip-cgroup", "relative/path", rc=(1, 2), err_re="cgroup")
    adm_fail("-E", "-t", SVC, "-s", "rr", *(["--skip-mark", "1"] * 9), rc=(1, 2), err_re="8")
    adm_fail("-E", "-t", SVC, "-s", "rr", "--skip-uid", "5-3", rc=(1, 2), err_re="uid")
    adm_fail("-E", "-t", SVC, "-s", "rr", "--skip-uid", "abc", rc=(1, 2), err_re="uid")
    adm_fail("-E", "-t", SVC, "-s", "rr", "--skip-mark", "0x1/0x0", rc=(1, 2), err_re="mark")
    check_eq(adm_ok("-S", "-n"), before, "-S after the rejected commands")

    step("connected UDP: a skipped mark, and a balanced socket reconnecting with it")
    udp = "%s:80" % VIP
    adm_ok("-A", "-u", udp, "-s", "rr", "--skip-mark", "0x7")
    for p in PORTS:
        adm_ok("-a", "-u", udp, "-r", "127.0.0.1:%d" % p)
    check_eq(ident_marked(0x7, "udp"), TRAP, "a UDP socket with SO_MARK 7 is not balanced")
    check(ident_marked(0x8, "udp") in REAL, "SO_MARK 8 is balanced")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(svs.SOCK_TIMEOUT)
        s.connect((VIP, 80))
        s.send(b"one")
        check(s.recv(1000).split()[1].decode() in REAL, "a UDP socket, balanced")
        s.setsockopt(socket.SOL_SOCKET, SO_MARK, 7)
        s.connect((VIP, 80))
        s.send(b"two")
        check_eq(s.recv(1000).split()[1].decode(), TRAP, "reconnected with SO_MARK 7: not balanced")
        check_eq(s.getpeername(), (VIP, 80), "getpeername() of the handed-back socket")
    svs.flush()


svs.case(main, private_netns=True)
