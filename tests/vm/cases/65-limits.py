#!/usr/bin/env python3
"""Limits and bad input. At each boundary - weight 0..65535, ports
1..65535, shards 1..1024, scheduler names from the known set, address
family consistency, lower threshold <= upper - the value on the edge is
accepted and the one past it is refused, over raw generic netlink (errno +
extended-ACK message, configuration unchanged) and with sockvsadm (exit
status, message). Then the module's limits: with max_services=3 and
max_dests=2 (module parameters, writable at run time), one more service or
real server fails with ENOSPC and sockvsadm says "limit reached", in every
namespace separately; -R stops at the line that hit the limit; raising the
limit lets the same command through."""

import errno
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_fuzz as fz  # noqa: E402
import svs_genl as g  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

SVC = svs.VIP4 + ":80"
PARAMS = "/sys/module/sock_vs/parameters/"
S, D = g.SVC, g.DEST
BAD = {errno.EINVAL, errno.ERANGE}


def svc_nest(*extra, addr=svs.VIP4, port=80, af=None):
    return g.nest(g.ATTR["SERVICE"], *g.svc_attrs(addr, port, af=af), *extra)


def dest_nest(*extra, addr="127.0.0.1", port=9651):
    return g.nest(g.ATTR["DEST"], g.nla(D["ADDR"], svs.socket.inet_pton(svs.family_of(addr), addr)),
                  g.u16(D["PORT"], port), *extra)


KEY = svc_nest()
NEW_KEY = "10.255.65.2"
# (what, command, attributes, None = accepted | set of errnos)
RAW = [
    ("weight 0", "SET_DEST", KEY + dest_nest(g.u32(D["WEIGHT"], 0)), None),
    ("weight 65535", "SET_DEST", KEY + dest_nest(g.u32(D["WEIGHT"], 65535)), None),
    ("weight 65536", "SET_DEST", KEY + dest_nest(g.u32(D["WEIGHT"], 65536)), BAD),
    ("weight 2^32-1", "SET_DEST", KEY + dest_nest(g.u32(D["WEIGHT"], 0xffffffff)), BAD),
    ("service port 65535", "NEW_SERVICE", svc_nest(g.string(S["SCHED_NAME"], "rr"), addr=NEW_KEY, port=65535),
     None),
    ("service port 0", "NEW_SERVICE", svc_nest(g.string(S["SCHED_NAME"], "rr"), addr=NEW_KEY, port=0), BAD),
    ("real server port 65535", "NEW_DEST", KEY + dest_nest(port=65535), None),
    ("real server port 0", "NEW_DEST", KEY + dest_nest(port=0), BAD),
    ("shards 1024", "NEW_DEST", KEY + dest_nest(g.u16(D["SHARDS"], 1024), port=9652), None),
    ("shards 1025", "NEW_DEST", KEY + dest_nest(g.u16(D["SHARDS"], 1025), port=9653), BAD),
    ("shards 0", "NEW_DEST", KEY + dest_nest(g.u16(D["SHARDS"], 0), port=9653), BAD),
    ("shards 1", "NEW_DEST", KEY + dest_nest(g.u16(D["SHARDS"], 1), port=9653), None),
] + [("scheduler %s" % s, "SET_SERVICE", svc_nest(g.string(S["SCHED_NAME"], s)), None)
     for s in ("rr", "wrr", "lc", "wlc", "sh", "mh", "port", "fixed", "fo")] + [
    ("scheduler 'dh' (IPVS has it, sock_vs not)", "SET_SERVICE", svc_nest(g.string(S["SCHED_NAME"], "dh")),
     {errno.ENOENT}),
    ("scheduler 'RR'", "SET_SERVICE", svc_nest(g.string(S["SCHED_NAME"], "RR")), {errno.ENOENT}),
    ("scheduler ''", "SET_SERVICE", svc_nest(g.string(S["SCHED_NAME"], "")), {errno.ENOENT}),
    ("IPv6 real server for an IPv4 service", "NEW_DEST", KEY + dest_nest(addr="::1"), {errno.EAFNOSUPPORT}),
    ("real server AF=AF_INET6 on an IPv4 service", "NEW_DEST",
     KEY + dest_nest(g.u16(D["AF"], svs.socket.AF_INET6), port=9654), {errno.EAFNOSUPPORT}),
    ("IPv6 service with an IPv4 address", "NEW_SERVICE",
     svc_nest(addr=NEW_KEY, af=svs.socket.AF_INET6), {errno.EAFNOSUPPORT}),
    ("thresholds lower 50 <= upper 100", "SET_DEST",
     KEY + dest_nest(g.u32(D["WEIGHT"], 1), g.u32(D["U_THRESH"], 100), g.u32(D["L_THRESH"], 50)), None),
    ("thresholds lower 100 = upper 100", "SET_DEST",
     KEY + dest_nest(g.u32(D["WEIGHT"], 1), g.u32(D["U_THRESH"], 100), g.u32(D["L_THRESH"], 100)), None),
    ("thresholds lower 101 > upper 100", "SET_DEST",
     KEY + dest_nest(g.u32(D["WEIGHT"], 1), g.u32(D["U_THRESH"], 100), g.u32(D["L_THRESH"], 101)),
     {errno.EINVAL}),
    ("lower threshold alone above the current upper (100)", "SET_DEST",
     KEY + dest_nest(g.u32(D["WEIGHT"], 1), g.u32(D["L_THRESH"], 200)), {errno.EINVAL}),
    ("upper threshold 2^31", "SET_DEST", KEY + dest_nest(g.u32(D["WEIGHT"], 1), g.u32(D["U_THRESH"], 1 << 31)),
     BAD),
]

# (what, sockvsadm arguments, accepted?)
CLI = [
    ("weight 65535", ["-e", "-t", SVC, "-r", "127.0.0.1:9651", "-w", "65535"], True),
    ("weight 65536", ["-e", "-t", SVC, "-r", "127.0.0.1:9651", "-w", "65536"], False),
    ("weight -1", ["-e", "-t", SVC, "-r", "127.0.0.1:9651", "-w", "-1"], False),
    ("service port 0", ["-A", "-t", NEW_KEY + ":0", "-s", "rr"], False),
    ("service port 65536", ["-A", "-t", NEW_KEY + ":65536", "-s", "rr"], False),
    ("shards 1025", ["-a", "-t", SVC, "-r", "127.0.0.1:9655", "--shards", "1025"], False),
    ("shards 0", ["-a", "-t", SVC, "-r", "127.0.0.1:9655", "--shards", "0"], False),
    ("unknown scheduler", ["-E", "-t", SVC, "-s", "nosuch"], False),
    ("IPv6 real server for an IPv4 service", ["-a", "-t", SVC, "-r", "[::1]:9651"], False),
    ("lower threshold above upper", ["-e", "-t", SVC, "-r", "127.0.0.1:9651", "-w", "1", "-x", "10", "-y", "11"],
     False),
]


def set_param(name, value):
    with open(PARAMS + name) as f:
        old = f.read().strip()
    svs._write(PARAMS + name, str(value))
    svs.defer(svs._write, PARAMS + name, old)


def main():
    svs.fresh_config()
    adm_ok("-A", "-t", SVC, "-s", "rr")
    adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:9651", "-w", "1")
    nl = g.Genl()
    svs.defer(nl.close)

    step("raw netlink: each boundary accepted, each value past it refused with an errno and a message")
    problems = []
    dumper = fz.Batcher()       # the whole configuration in one process: faster than -S under TCG
    svs.defer(dumper.close)
    for what, cmd, attrs, bad in RAW:
        before = dumper.config()
        r = nl.cmd(cmd, attrs)
        after = dumper.config()
        res = svs.errno_name(-r.error) if r.error else "accepted"
        svs.log("  %-55s -> %s%s" % (what, res, ", extack %r" % r.extack_msg if r.extack_msg else ""))
        if bad is None:
            if r.error:
                problems.append("%s: refused (%s, %r)" % (what, res, r.extack_msg))
        else:
            if -r.error not in bad:
                problems.append("%s: %s, expected %s" % (what, res, "/".join(svs.errno_name(e) for e in bad)))
            if not r.extack_msg:
                problems.append("%s: refused without an extended-ACK message" % what)
            if after != before:
                problems.append("%s: refused but the configuration changed" % what)
    if problems:
        raise svs.Fail("%d boundary checks failed:\n  %s" % (len(problems), "\n  ".join(problems)))
    check(True, "%d boundaries behaved" % len(RAW))

    step("sockvsadm at the same boundaries")
    for what, args, ok in CLI:
        before = svs.save()
        r = svs.adm(*args)
        svs.log("  %-40s -> exit %d %s" % (what, r.returncode, r.stderr.strip()))
        if ok:
            check_eq(r.returncode, 0, what + ": accepted")
        else:
            check(r.returncode in (1, 2) and r.stderr.startswith("sockvsadm: ") and len(r.stderr.strip()) > 12,
                  what + ": refused with a message")
            check_eq(svs.save(), before, what + ": configuration unchanged")

    step("max_services=3, max_dests=2")
    svs.fresh_config()
    set_param("max_services", 3)
    set_param("max_dests", 2)
    info = svs.adm_ok("-V")
    svs.log(info.strip())
    check("max_services=3" in info and "max_dests=2" in info, "sockvsadm -V reports the limits")
    for i in range(1, 4):
        adm_ok("-A", "-t", "10.255.65.%d:80" % i, "-s", "rr", quiet=True)
    before = svs.save()
    r = svs.adm("-A", "-t", "10.255.65.4:80", "-s", "rr")
    check_eq(r.returncode, 1, "a 4th service: exit status")
    check(r.stderr.startswith("sockvsadm: ") and "limit reached" in r.stderr and "max_services" in r.stderr,
          "a 4th service: message %r" % r.stderr.strip())
    r = nl.cmd("NEW_SERVICE", svc_nest(addr="10.255.65.4"))
    check_eq((-r.error, bool(r.extack_msg)), (errno.ENOSPC, True), "raw NEW_SERVICE: ENOSPC with a message")
    for p in (9656, 9657):
        adm_ok("-a", "-t", "10.255.65.1:80", "-r", "127.0.0.1:%d" % p, quiet=True)
    before = svs.save()
    r = svs.adm("-a", "-t", "10.255.65.1:80", "-r", "127.0.0.1:9658")
    check(r.returncode == 1 and "limit reached" in r.stderr and "max_dests" in r.stderr,
          "a 3rd real server: exit %d, message %r" % (r.returncode, r.stderr.strip()))
    r = nl.cmd("NEW_DEST", svc_nest(addr="10.255.65.1") + dest_nest(port=9658))
    check_eq(-r.error, errno.ENOSPC, "raw NEW_DEST: ENOSPC")
    check_eq(svs.save(), before, "configuration unchanged by the refused additions")
    adm_ok("-a", "-t", "10.255.65.2:80", "-r", "127.0.0.1:9658")
    check(True, "another service still takes real servers (the limit is per service)")
    r = svs.adm("-R", input="-A -t 10.255.65.9:80 -s rr\n")
    check(r.returncode == 1 and "limit reached" in r.stderr, "-R hitting the limit: exit %d, %r"
          % (r.returncode, r.stderr.strip()))

    step("the limit is per namespace")
    ns = "svs65"
    svs.netns_add(ns)
    for i in range(1, 4):
        adm_ok("-A", "-t", "10.255.65.%d:80" % i, "-s", "rr", netns=ns, quiet=True)
    r = svs.adm("-A", "-t", "10.255.65.4:80", netns=ns)
    check(r.returncode == 1 and "limit reached" in r.stderr, "4th service in %s refused: %r"
          % (ns, r.stderr.strip()))

    step("raising the limit lets the same command through")
    svs._write(PARAMS + "max_services", "4")
    adm_ok("-A", "-t", "10.255.65.4:80", "-s", "rr")
    check_eq(len(svs.listing().services), 4, "4 services")


svs.case(main)
