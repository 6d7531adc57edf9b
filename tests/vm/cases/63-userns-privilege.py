#!/usr/bin/env python3
"""Privilege, over raw generic netlink and with sockvsadm.

- Without CAP_NET_ADMIN (as nobody, and as root with the capability
  dropped) every changing command (NEW/SET/DEL_SERVICE, NEW/SET/DEL_DEST,
  FLUSH, ZERO) is refused with EPERM and changes nothing; the reads
  (GET_SERVICE/GET_DEST dumps, GET_INFO) work.
- Root of a new user namespace (tests/vm/lib/userns_exec.py, which first
  leaves the guest's chroot, where user namespaces are refused) configures
  a network namespace that user namespace owns, and nothing else: in the
  initial namespace sockvsadm gets a permission error, and a netlink socket
  of the initial namespace opened by the real root before entering the user
  namespace is refused too (EPERM) once used from inside it.
- A network namespace owned by a non-initial user namespace has lower
  limits (module parameters userns_max_services, userns_max_dests): one more
  is refused with ENOSPC and a message naming the parameter; namespaces of
  the initial user namespace keep max_services/max_dests.
- Two namespaces holding the same service key: changes made in one (edit,
  delete a real server, delete the service, flush) never reach the other,
  and a key only the other has is "no such service" (ESRCH)."""

import errno
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

SVC = svs.VIP4 + ":80"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
NOCAP = ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"]
USERNS = [sys.executable, os.path.join(svs.LIB_DIR, "userns_exec.py")]
PERM = r"permi|not permitted"

# Every change, as raw requests, run by a child with the given privileges.
PROBE = r'''
import json, os, sys
sys.path.insert(0, %(lib)r)
import svs_genl as g
nl = g.Genl()
S = lambda *a: g.nest(g.ATTR["SERVICE"], *g.svc_attrs(*a))
D = lambda *a: g.nest(g.ATTR["DEST"], *g.dest_attrs(*a))
key = S(%(vip)r, 80)
out = {}
for name, cmd, attrs in [
        ("GET_INFO", "GET_INFO", b""),
        ("NEW_SERVICE", "NEW_SERVICE", S("10.255.63.9", 80, 6, "rr")),
        ("SET_SERVICE", "SET_SERVICE", S(%(vip)r, 80, 6, "wrr")),
        ("NEW_DEST", "NEW_DEST", key + D("127.0.0.9", 9639, 1)),
        ("SET_DEST", "SET_DEST", key + D("127.0.0.1", 9631, 7)),
        ("DEL_DEST", "DEL_DEST", key + D("127.0.0.1", 9631)),
        ("ZERO", "ZERO", b""),
        ("ZERO one service", "ZERO", key),
        ("DEL_SERVICE", "DEL_SERVICE", key),
        ("FLUSH", "FLUSH", b"")]:
    out[name] = nl.cmd(cmd, attrs).error
for name, cmd, attrs in [("GET_SERVICE dump", "GET_SERVICE", b""), ("GET_DEST dump", "GET_DEST", key)]:
    r = nl.cmd(cmd, attrs, flags=g.NLM_F_REQUEST | g.NLM_F_DUMP)
    out[name] = r.error if r.error else len(r.msgs)
print(json.dumps(out))
'''
CHANGES = ["NEW_SERVICE", "SET_SERVICE", "DEL_SERVICE", "NEW_DEST", "SET_DEST", "DEL_DEST", "FLUSH", "ZERO",
           "ZERO one service"]


def probe(prefix):
    code = PROBE % {"lib": svs.LIB_DIR, "vip": svs.VIP4}
    r = svs.run(prefix + [sys.executable, "-c", code])
    if r.returncode != 0:
        raise svs.Fail("raw probe under %s failed: %s" % (" ".join(prefix), r.stderr[-2000:]))
    return json.loads(r.stdout)


def main():
    svs.fresh_config()
    adm_ok("-A", "-t", SVC, "-s", "rr")
    adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:9631", "-w", "2")
    adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:9632", "-w", "1")
    before = svs.save()

    for who, prefix in (("nobody", NOBODY), ("root without CAP_NET_ADMIN", NOCAP)):
        step("raw netlink as %s: every change EPERM, reads work" % who)
        out = probe(prefix)
        svs.log("  answers: %s" % out)
        check_eq({k: out[k] for k in CHANGES}, {k: -errno.EPERM for k in CHANGES}, "changes refused with EPERM")
        check_eq((out["GET_INFO"], out["GET_SERVICE dump"], out["GET_DEST dump"]), (0, 1, 2),
                 "GET_INFO works, dumps show 1 service and its 2 real servers")
        check_eq(svs.save(), before, "configuration unchanged")
    step("control: the same probe as root changes things (the probe is right)")
    out = probe([])
    check_eq({k: out[k] for k in CHANGES}, {k: 0 for k in CHANGES}, "changes accepted as root")
    svs.flush()
    adm_ok("-R", input=before)
    check_eq(svs.save(), before, "configuration restored")

    step("root of a new user namespace")
    r = svs.run(USERNS + ["--", "id", "-u"])
    check_eq((r.returncode, r.stdout.strip()), (0, "0"), "userns_exec.py runs a command as uid 0: %r"
             % r.stderr.strip())
    r = svs.run(USERNS + ["--", "cat", "/proc/self/uid_map"])
    check(r.returncode == 0 and r.stdout.split() == ["0", "0", "1"], "in a user namespace of its own: uid_map %r"
          % r.stdout.strip())
    script = ("{a} -A -t {svc} -s rr && {a} -a -t {svc} -r 127.0.0.1:9633 -w 3 && {a} -S -n"
              .format(a=svs.SOCKVSADM, svc=SVC))
    r = svs.run(USERNS + ["--net", "--", "sh", "-c", script])
    check_eq((r.returncode, r.stderr), (0, ""), "configures the network namespace it owns")
    check_eq(svs.parse_save(r.stdout), {("svc", "TCP", SVC, "rr"), ("dest", "TCP", SVC, "127.0.0.1:9633", 3)},
             "its -S -n shows its own service only")
    check_eq(svs.save(), before, "initial namespace unchanged")

    r = svs.run(USERNS + ["--", svs.SOCKVSADM, "-A", "-t", "10.255.63.2:80", "-s", "rr"])
    check(r.returncode == 1 and svs.re.search(PERM, r.stderr, svs.re.I),
          "-A in the initial network namespace refused: exit %d, %r" % (r.returncode, r.stderr.strip()))
    r = svs.run(USERNS + ["--", svs.SOCKVSADM, "-C"])
    check(r.returncode == 1 and svs.re.search(PERM, r.stderr, svs.re.I),
          "-C in the initial network namespace refused: exit %d, %r" % (r.returncode, r.stderr.strip()))
    r = svs.run(USERNS + ["--", svs.SOCKVSADM, "-S", "-n"])
    check_eq((r.returncode, r.stdout), (0, before), "-S -n of the initial namespace readable from the user namespace")
    r = svs.run(USERNS + ["--raw-probe", "10.255.63.3:80"])
    check_eq(r.stdout.strip(), "RAW EPERM",
             "a netlink socket the real root opened, used by the user namespace's root: NEW_SERVICE")
    r = svs.run(USERNS + ["--net", "--raw-probe", "10.255.63.3:80"])
    check_eq(r.stdout.strip(), "RAW EPERM", "the same from a network namespace of its own (the socket is "
             "still the initial namespace's)")
    check_eq(svs.save(), before, "initial namespace unchanged")

    step("lower limits in a namespace owned by a user namespace")
    params = "/sys/module/sock_vs/parameters/"
    old = {k: open(params + k).read().strip() for k in ("userns_max_services", "userns_max_dests")}
    for k, v in old.items():
        svs.defer(lambda k=k, v=v: open(params + k, "w").write(v))
    check_eq(old, {"userns_max_services": "1024", "userns_max_dests": "64"}, "default user-namespace limits")
    for k, v in (("userns_max_services", "2"), ("userns_max_dests", "1")):
        with open(params + k, "w") as f:
            f.write(v)
    script = ("for s in 1 2 3; do {a} -A -t 10.255.63.1$s:80 -s rr; echo rc=$?; done; "
              "{a} -a -t 10.255.63.11:80 -r 127.0.0.1:9636; echo rc=$?; "
              "{a} -a -t 10.255.63.11:80 -r 127.0.0.1:9637; echo rc=$?; {a} -S -n").format(a=svs.SOCKVSADM)
    r = svs.run(USERNS + ["--net", "--", "sh", "-c", script])
    svs.log("  out: %r err: %r" % (r.stdout, r.stderr))
    check_eq(svs.re.findall(r"rc=(\d+)", r.stdout), ["0", "0", "1", "0", "1"],
             "2 services and 1 real server accepted, the third service and the second server refused")
    check(svs.re.search(r"too many services for a namespace owned by a user namespace \(userns_max_services",
                        r.stderr) and svs.re.search(r"too many real servers for a namespace owned by a user "
                                                    r"namespace \(userns_max_dests", r.stderr),
          "both refusals name the parameter", r.stderr)
    check_eq(len(svs.parse_save(r.stdout.split("rc=1\n")[-1])), 3, "its table: the 2 services and 1 server")
    ns = "svs63lim"
    svs.netns_add(ns)
    for i in (1, 2, 3):
        adm_ok("-A", "-t", "10.255.63.2%d:80" % i, "-s", "rr", netns=ns)
    adm_ok("-a", "-t", "10.255.63.21:80", "-r", "127.0.0.1:9636", netns=ns)
    adm_ok("-a", "-t", "10.255.63.21:80", "-r", "127.0.0.1:9637", netns=ns)
    check_eq(len(svs.parse_save(svs.save(netns=ns))), 5,
             "a namespace of the initial user namespace is not limited by them")

    step("two namespaces with the same service key")
    A, B = "svs63a", "svs63b"
    for ns in (A, B):
        svs.netns_add(ns)
        adm_ok("-A", "-t", SVC, "-s", "rr", netns=ns)
        adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:9634", "-w", "1", netns=ns)
        adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:9635", "-w", "1", netns=ns)
    adm_ok("-A", "-t", "10.255.63.5:80", "-s", "rr", netns=B)
    b_save = svs.save(netns=B)
    for args in (["-E", "-t", SVC, "-s", "wrr"], ["-e", "-t", SVC, "-r", "127.0.0.1:9634", "-w", "9"],
                 ["-d", "-t", SVC, "-r", "127.0.0.1:9635"], ["-Z"], ["-D", "-t", SVC], ["-C"]):
        adm_ok(*args, netns=A)
        check_eq(svs.save(netns=B), b_save, "`sockvsadm %s` in %s leaves %s alone" % (" ".join(args), A, B))
    r = svs.adm("-D", "-t", "10.255.63.5:80", netns=A)
    check(r.returncode == 1 and "no such service" in r.stderr.lower(),
          "deleting %s's service from %s: %r" % (B, A, r.stderr.strip()))
    check_eq(svs.save(netns=B), b_save, "%s unchanged" % B)
    check_eq(svs.save(netns=A), "", "%s empty" % A)
    check_eq(svs.save(), before, "initial namespace unchanged")


svs.case(main)
