#!/usr/bin/env python3
"""Changes need CAP_NET_ADMIN over the namespace; reads do not.
As nobody (setpriv) and as root without CAP_NET_ADMIN, every changing
command (-A -a -e -E -d -D -C -Z -R) fails with a permission message and
exit 1 and changes nothing; -L -n, --stats and -S -n work and print the same
as for root. Root of a new user namespace may configure a network namespace
that user namespace owns, but not the initial one."""

import os
import shlex
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, check_text_eq, step  # noqa: E402

VIP, SVC = svs.VIP4, svs.VIP4 + ":80"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
NOCAP = ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"]
PERM = r"permi|not permitted"

CHANGES = [
    (["-A", "-t", "10.255.0.2:80", "-s", "rr"], None),
    (["-a", "-t", SVC, "-r", "127.0.0.1:9312", "-w", "1"], None),
    (["-e", "-t", SVC, "-r", "127.0.0.1:9311", "-w", "5"], None),
    (["-E", "-t", SVC, "-s", "wrr"], None),
    (["-d", "-t", SVC, "-r", "127.0.0.1:9311"], None),
    (["-D", "-t", SVC], None),
    (["-C"], None),
    (["-Z"], None),
    (["-R"], "-A -t 10.255.0.3:80 -s rr\n"),
]
READS = [["-L", "-n"], ["-L", "-n", "--stats", "--exact"], ["-S", "-n"]]


def main():
    svs.fresh_config()
    step("a configuration with non-zero counters")
    svs.echo_server("tcp", "127.0.0.1", 9311, oneshot=True)
    adm_ok("-A", "-t", SVC, "-s", "rr")
    adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:9311", "-w", "1")
    check_eq(svs.tcp_ident(VIP, 80, wait_eof=True), "127.0.0.1:9311", "connect through the VIP")
    dest = lambda: svs.listing().dest("TCP", SVC, "127.0.0.1:9311")  # noqa: E731
    svs.wait_for(lambda: (dest()["active"], dest()["inact"]) == (0, 0), 20,
                 lambda: "ActiveConn/InActConn back to 0 after the (server-closed) connection: %r" % dest())
    before = {tuple(r): adm_ok(*r, quiet=True) for r in READS}
    check_eq(svs.stats().service("TCP", SVC)["conns"], 1, "Conns is 1")

    for who, prefix in (("nobody", NOBODY), ("root without CAP_NET_ADMIN", NOCAP)):
        step("changes as %s are refused" % who)
        for args, stdin in CHANGES:
            svs.adm_fail(*args, rc=(1,), err_re=PERM, input=stdin, prefix=prefix)
            for r in READS:
                check_text_eq(adm_ok(*r, quiet=True), before[tuple(r)],
                              "  `%s` unchanged" % " ".join(r))
        step("reads as %s work and show the same" % who)
        for r in READS:
            check_text_eq(adm_ok(*r, prefix=prefix), before[tuple(r)], "`%s` as %s" % (" ".join(r), who))

    # unshare(CLONE_NEWUSER) is refused inside a chroot, as the guest is:
    # userns_exec.py leaves the chroot (in a private mount namespace) first.
    userns = [sys.executable, os.path.join(svs.LIB_DIR, "userns_exec.py")]
    step("root of a new user namespace owning a new network namespace may configure it")
    script = ("ip link set lo up && {a} -A -t {svc} -s rr && {a} -a -t {svc} -r 127.0.0.1:9311 -w 3"
              " && {a} -S -n").format(a=shlex.quote(svs.SOCKVSADM), svc=SVC)
    r = svs.run(userns + ["--net", "--", "sh", "-c", script])
    check_eq((r.returncode, r.stderr), (0, ""), "sockvsadm as root of a user namespace, in its own netns: "
             "exit status and stderr")
    check_eq(svs.parse_save(r.stdout), {("svc", "TCP", SVC, "rr"), ("dest", "TCP", SVC, "127.0.0.1:9311", 3)},
             "its -S -n shows the new service")
    check_text_eq(svs.save(), before[("-S", "-n")], "initial namespace unchanged")

    step("root of a new user namespace may not configure the initial network namespace")
    r = svs.run(userns + ["--", svs.SOCKVSADM, "-A", "-t", "10.255.0.2:80", "-s", "rr"])
    check_eq(r.returncode, 1, "exit status of -A from a user namespace")
    check(r.stderr.startswith("sockvsadm: ") and svs.re.search(PERM, r.stderr, svs.re.I),
          "permission error message: %r" % r.stderr.strip())
    r = svs.run(userns + ["--", svs.SOCKVSADM, "-S", "-n"])
    check_eq((r.returncode, r.stdout), (0, before[("-S", "-n")]), "-S -n from a user namespace reads it")
    check_text_eq(svs.save(), before[("-S", "-n")], "initial namespace unchanged")


svs.case(main)
