#!/usr/bin/env python3
"""Exemptions (issue 14): a service's SOCK_VS_SVC_ATTR_SKIP rules (a uid
range, a cgroup v2, a mark under a mask). A connect that matches a rule is
not balanced and reaches the virtual address itself (a trap listener on the
VIP); everybody else is balanced. Checked for processes running as the
skipped uids, a process in the skipped cgroup and in its descendant, sockets
with a matching SO_MARK, TCP and connected UDP, and a balanced UDP socket
that reconnects with a skipped mark (handed back). The rules are set with
the module's generic netlink protocol directly first; the dump carries them back; SET_SERVICE without the
nest keeps them, with an empty one clears them; bad rules (unknown cgroup,
relative path, a 9th rule, an inverted uid range, a mark outside its mask,
two kinds in one rule) are refused with the kernel's message and leave the
service unchanged. Then the same through sockvsadm: --skip-uid, --skip-cgroup
(under /sys/fs/cgroup), --skip-mark on -A and -E, --skip-none, what -L, -S
and --json print, -S | -R and -S --json | -R --json round trips, and bad
options refused (usage errors before any change, the kernel's message for a
cgroup that does not exist) with the configuration unchanged."""

import errno
import json
import os
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_genl as g  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

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


SKIP = {k[len("SOCK_VS_SKIP_ATTR_"):]: v for k, v in g.ENUMS["sock_vs_skip_attr"].items()}
SKIP_RULE = int(svs.uapi_define("SOCK_VS_SKIP_RULE"))


def uid_rule(lo, hi=None):
    return g.nest(SKIP_RULE, g.u32(SKIP["UID_MIN"], lo), *([g.u32(SKIP["UID_MAX"], hi)] if hi is not None else []))


def mark_rule(mark, mask=None):
    return g.nest(SKIP_RULE, g.u32(SKIP["MARK"], mark), *([g.u32(SKIP["MARK_MASK"], mask)] if mask is not None else []))


def cgroup_rule(path):
    return g.nest(SKIP_RULE, g.string(SKIP["CGROUP"], path))


class Nl:
    def __init__(self):
        self.g = g.Genl()
        svs.defer(self.g.close)

    def service(self, cmd, proto, rules, sched="rr"):
        """NEW_SERVICE / SET_SERVICE of VIP:80 with a SKIP nest (None: none)."""
        attrs = g.svc_attrs(VIP, 80, proto, sched=sched)
        if rules is not None:
            attrs.append(g.nest(g.SVC["SKIP"], *rules))
        return self.g.cmd(cmd, g.nest(g.ATTR["SERVICE"], *attrs))

    def rules(self, proto):
        """The service's rules, from its dump: [{attr name: value}]."""
        r = self.g.cmd("GET_SERVICE", g.nest(g.ATTR["SERVICE"], *g.svc_attrs(VIP, 80, proto)))
        if r.error:
            raise svs.Fail("GET_SERVICE: %s" % svs.errno_name(-r.error))
        svc = g.parse_attrs(g.parse_attrs(r.msgs[0])[g.ATTR["SERVICE"]])
        out = []
        names = {v: k for k, v in SKIP.items()}
        for _, rule in g.attr_list(svc.get(g.SVC["SKIP"], b"")):
            d = {}
            for t, v in g.parse_attrs(rule).items():
                d[names[t]] = v.rstrip(b"\0").decode() if names[t] == "CGROUP" else \
                    struct.unpack("=Q" if len(v) == 8 else "=I", v)[0]
            out.append(d)
        return out


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
    nl = Nl()
    r = nl.service("NEW_SERVICE", socket.IPPROTO_TCP,
                   [uid_rule(4242, 4243), cgroup_rule(skipped), mark_rule(0x10, 0xf0)])
    check_eq((r.error, r.extack_msg), (0, None), "NEW_SERVICE with a uid range, a cgroup and a mark")
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

    step("the dump carries the rules; SET_SERVICE without them keeps them, with others replaces them")
    want = [{"UID_MIN": 4242, "UID_MAX": 4243},
            {"CGROUP": skipped, "CGROUP_ID": svs.cgroup_id(skipped)},
            {"MARK": 0x10, "MARK_MASK": 0xf0}]
    check_eq(nl.rules(socket.IPPROTO_TCP), want, "GET_SERVICE's SKIP nest")
    check_eq(nl.service("SET_SERVICE", socket.IPPROTO_TCP, None).error, 0, "SET_SERVICE without SKIP")
    check_eq(nl.rules(socket.IPPROTO_TCP), want, "the rules stay")
    check_eq(nl.service("SET_SERVICE", socket.IPPROTO_TCP, [mark_rule(0x20)]).error, 0, "SET_SERVICE: only mark 0x20")
    check_eq(nl.rules(socket.IPPROTO_TCP), [{"MARK": 0x20, "MARK_MASK": 0xffffffff}], "mark 0x20, mask all ones")
    check(ident_as(user=4242) in REAL, "now uid 4242 is balanced")
    check_eq(ident_marked(0x20), TRAP, "and SO_MARK 0x20 is not")
    check_eq(nl.service("SET_SERVICE", socket.IPPROTO_TCP, []).error, 0, "SET_SERVICE with an empty SKIP")
    check_eq(nl.rules(socket.IPPROTO_TCP), [], "no rules")
    check(ident_marked(0x20) in REAL, "SO_MARK 0x20 is balanced again")
    nl.service("SET_SERVICE", socket.IPPROTO_TCP, [mark_rule(0x20)])

    step("bad rules are refused with the kernel's message; the service keeps its rules")
    before = nl.rules(socket.IPPROTO_TCP)
    bad = [
        ([cgroup_rule("/svs-72-missing")], errno.ENOENT, "no such cgroup"),
        ([cgroup_rule("relative/path")], errno.EINVAL, "must start with /"),
        ([mark_rule(1)] * 9, errno.E2BIG, "at most 8"),
        ([uid_rule(5, 3)], errno.EINVAL, "uid range"),
        ([mark_rule(1, 0)], errno.EINVAL, "mark"),
        ([uid_rule(0xffffffff)], errno.EINVAL, "uid"),
        ([g.nest(SKIP_RULE, g.u32(SKIP["MARK"], 1), g.u32(SKIP["UID_MIN"], 1))], errno.EINVAL, "one of"),
    ]
    for rules, err, msg in bad:
        r = nl.service("SET_SERVICE", socket.IPPROTO_TCP, rules)
        check(r.error == -err and msg in (r.extack_msg or ""),
              "refused: %s (%s)" % (r.extack_msg, svs.errno_name(-r.error)))
    check_eq(nl.rules(socket.IPPROTO_TCP), before, "the rules are unchanged")
    check_eq(nl.service("NEW_SERVICE", socket.IPPROTO_UDP, [uid_rule(5, 3)]).error, -errno.EINVAL,
             "NEW_SERVICE with a bad rule is refused")
    check("UDP" not in adm_ok("-L", "-n"), "and creates nothing")

    step("connected UDP: a skipped mark, and a balanced socket reconnecting with it")
    udp = "%s:80" % VIP
    check_eq(nl.service("NEW_SERVICE", socket.IPPROTO_UDP, [mark_rule(7)]).error, 0, "UDP service, mark 7 skipped")
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
    cli(skipped, sub)


def cli(skipped, sub):
    step("sockvsadm -A with --skip-uid, --skip-cgroup, --skip-mark")
    adm_ok("-A", "-t", SVC, "-s", "rr", "--skip-uid", "4242-4243",
           "--skip-cgroup", svs.CGROUP2_ROOT + skipped + "/", "--skip-mark", "0x10/0xf0")
    for p in PORTS:
        adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:%d" % p)
    check(ident_as() in REAL, "root, outside the cgroups, no mark: balanced")
    check_eq(ident_as(user=4243), TRAP, "uid 4243 is not balanced")
    check_eq(ident_as(cgroup=sub), TRAP, "a process in %s is not balanced" % sub)
    check_eq(ident_marked(0x1f), TRAP, "SO_MARK 0x1f is not balanced")
    check(ident_marked(0x20) in REAL, "SO_MARK 0x20 is balanced")
    flags = "skip-uid 4242-4243 skip-cgroup %s skip-mark 0x10/0xf0" % skipped
    check_eq(svs.listing().service("TCP", SVC)["flags"], flags, "-L's flags")
    saved = svs.save()
    want = "-A -t %s -s rr --%s" % (SVC, flags.replace(" skip-", " --skip-"))
    check(want in saved.splitlines(), "-S writes %r:\n%s" % (want, saved))
    listed = json.loads(adm_ok("-L", "-n", "--json"))
    svc_json = [s for s in listed["services"] if s["protocol"] == "tcp"][0]
    check_eq(svc_json.get("skip"),
             [{"uid": [4242, 4243]}, {"cgroup": skipped, "cgroup_id": svs.cgroup_id(skipped)},
              {"mark": 16, "mask": 240}], "-L --json's skip")

    step("-S | -R and -S --json | -R --json keep the exemptions")
    svs.flush()
    adm_ok("-R", input=saved)
    check_eq(svs.save(), saved, "-S after -R")
    check_eq(ident_as(user=4242), TRAP, "uid 4242 is not balanced after -R")
    saved_json = adm_ok("-S", "--json")
    check("cgroup_id" not in saved_json, "-S --json leaves out cgroup_id")
    svs.flush()
    adm_ok("-R", "--json", input=saved_json)
    check_eq(svs.save(), saved, "-S after -R --json")

    step("-E replaces, keeps or clears the exemptions")
    adm_ok("-E", "-t", SVC, "-s", "rr", "--skip-mark", "7", "--skip-uid", "4244")
    check_eq(svs.listing().service("TCP", SVC)["flags"], "skip-mark 0x7 skip-uid 4244", "-E --skip-mark 7 --skip-uid 4244")
    check(ident_as(user=4242) in REAL, "uid 4242 is balanced again")
    check_eq(ident_as(user=4244), TRAP, "uid 4244 is not")
    adm_ok("-E", "-t", SVC, "-s", "wrr")
    check_eq(svs.listing().service("TCP", SVC)["flags"], "skip-mark 0x7 skip-uid 4244", "-E without --skip-* keeps them")

    step("bad exemptions are refused with a clear message; nothing changes")
    before = svs.save()
    bad = [
        (["--skip-cgroup", "relative/path"], 2, "absolute"),
        (["--skip-cgroup", "/a/../b"], 2, r"'\.\.'"),
        (["--skip-uid", "5-3"], 2, "ends before it starts"),
        (["--skip-uid", "4294967295"], 2, "0-4294967294"),
        (["--skip-uid", "-1"], 2, "--skip-uid"),
        (["--skip-mark", "1/0"], 2, "outside its mask"),
        (["--skip-mark", "0xg"], 2, "--skip-mark"),
        (["--skip-mark", "1"] * 9, 2, "at most 8"),
        (["--skip-none", "--skip-uid", "1"], 2, "--skip-none"),
        (["--skip-cgroup", "/svs-72-missing"], 1, "no such cgroup"),
    ]
    for opts, rc, err_re in bad:
        r = svs.adm_fail("-E", "-t", SVC, "-s", "wrr", *opts, rc=(rc,), err_re=err_re)
        check("scheduler" not in r.stderr, "the message is not about the scheduler: %r" % r.stderr)
        check_eq(svs.save(), before, "the configuration after a refused %s" % " ".join(opts))
    svs.adm_fail("-A", "-u", SVC, "--skip-cgroup", "/svs-72-missing", rc=(1,), err_re="no such cgroup")
    check_eq(svs.save(), before, "a refused -A creates nothing")
    svs.adm_fail("-a", "-t", SVC, "-r", "127.0.0.1:9283", "--skip-uid", "1", rc=(2,), err_re="skip-uid")

    step("-E --skip-none removes them")
    adm_ok("-E", "-t", SVC, "-s", "wrr", "--skip-none")
    check_eq(svs.listing().service("TCP", SVC)["flags"], "", "-E --skip-none")
    check(ident_marked(7) in REAL, "SO_MARK 7 is balanced")
    svs.flush()


svs.case(main, private_netns=True)
