#!/usr/bin/env python3
"""sockvsadm basics: add / list / edit / delete services and real servers,
the exact `-L -n` layout, and that every refused command reports
'sockvsadm: <msg>' with the right exit code and changes nothing."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, check_text_eq, step  # noqa: E402

VIP = "10.255.0.1:6379"
VIP6 = "[fd00:255::1]:80"
NOSUCH = r"no such|not exist|not found|unknown"
PARSE_RC = (1, 2)   # a malformed argument may count as a usage error


def expect_refused(args, rc=(1,), err_re=None):
    """The command fails cleanly and leaves -S -n and -L -n unchanged."""
    before_save, before_list = svs.save(), svs.listing().summary()
    svs.adm_fail(*args, rc=rc, err_re=err_re)
    check_text_eq(svs.save(), before_save, "  -S -n unchanged")
    if svs.listing().summary() != before_list:
        raise svs.Fail("-L -n changed after a refused command")


def main():
    version = svs.uapi_define("SOCK_VS_VERSION")
    svs.fresh_config()

    step("empty configuration")
    lst = svs.listing()
    check_eq(lst.version, version, "-L -n reports the module version of sock_vs.h")
    check_eq(lst.nservices, 0, "services= count with no services")
    check_eq(lst.services, [], "no service lines")
    svs.log("  (hook=%s)" % lst.hook)
    check_eq(svs.save(), "", "-S -n prints nothing for an empty config")

    step("one service, one real server: exact -L -n layout")
    adm_ok("-A", "-t", VIP, "-s", "rr")
    adm_ok("-a", "-t", VIP, "-r", "127.0.0.5:6380", "-w", "1")
    out = svs.adm_ok("-L", "-n")
    hook = svs.Listing(out).hook
    want = "\n".join([
        "Sock VS version %s (services=1, hook=%s)" % (version, hook),
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.255.0.1:6379 rr",
        "  -> 127.0.0.5:6380               Sock    1      0          0",
    ]) + "\n"
    got = "".join(l.rstrip() + "\n" for l in out.splitlines())
    check_text_eq(got, want, "-L -n layout (trailing blanks ignored)")

    step("defaults: weight 1, scheduler %s" % svs.uapi_define("SOCK_VS_SCHED_DEFAULT"))
    adm_ok("-a", "-t", VIP, "-r", "127.0.0.6:6381")
    check_eq(svs.listing().dest("TCP", VIP, "127.0.0.6:6381")["weight"], 1,
             "weight of a real server added without -w")
    adm_ok("-A", "-u", "10.255.0.2:53")
    check_eq(svs.listing().service("UDP", "10.255.0.2:53")["sched"],
             svs.uapi_define("SOCK_VS_SCHED_DEFAULT"), "scheduler of a service added without -s")

    step("edit real server weight (-e) and service scheduler (-E)")
    adm_ok("-e", "-t", VIP, "-r", "127.0.0.6:6381", "-w", "5")
    lst = svs.listing()
    check_eq(lst.dest("TCP", VIP, "127.0.0.6:6381")["weight"], 5, "weight after -e -w 5")
    check_eq(lst.dest("TCP", VIP, "127.0.0.5:6380")["weight"], 1, "other real server untouched by -e")
    adm_ok("-e", "-t", VIP, "-r", "127.0.0.6:6381", "-w", "0")
    check_eq(svs.listing().dest("TCP", VIP, "127.0.0.6:6381")["weight"], 0, "weight 0 accepted (quiesce)")
    adm_ok("-e", "-t", VIP, "-r", "127.0.0.6:6381", "-w", "65535")
    check_eq(svs.listing().dest("TCP", VIP, "127.0.0.6:6381")["weight"], 65535, "maximum weight 65535")
    adm_ok("-E", "-t", VIP, "-s", "wrr")
    lst = svs.listing()
    check_eq(lst.service("TCP", VIP)["sched"], "wrr", "scheduler after -E -s wrr")
    check_eq(len(lst.service("TCP", VIP)["dests"]), 2, "real servers kept across -E")

    step("UDP and TCP on the same VIP:port are distinct services; IPv6 services")
    adm_ok("-A", "-u", VIP, "-s", "rr")
    adm_ok("-a", "-u", VIP, "-r", "127.0.0.7:6379", "-w", "3")
    adm_ok("-A", "-t", "[fd00:255:0::1]:80", "-s", "rr")
    adm_ok("-a", "-t", VIP6, "-r", "[::1]:8080", "-w", "2")
    adm_ok("-a", "-t", VIP6, "-r", "[fd00:0:0::2]:8081", "-w", "4")
    lst = svs.listing()
    check_eq(lst.nservices, 4, "services= count with 4 services")
    check_eq(lst.summary(), {
        ("TCP", VIP, "wrr"),
        ("TCP", VIP, "127.0.0.5:6380", 1),
        ("TCP", VIP, "127.0.0.6:6381", 65535),
        ("UDP", "10.255.0.2:53", svs.uapi_define("SOCK_VS_SCHED_DEFAULT")),
        ("UDP", VIP, "rr"),
        ("UDP", VIP, "127.0.0.7:6379", 3),
        ("TCP", VIP6, "rr"),
        ("TCP", VIP6, "[::1]:8080", 2),
        ("TCP", VIP6, "[fd00::2]:8081", 4),
    }, "-L -n content (IPv6 addresses printed in canonical form)")
    lines = [l.rstrip() for l in lst.text.splitlines()]
    check("TCP  [fd00:255::1]:80 rr" in lines, "IPv6 service line layout", lst.text)
    check(svs.list_dest_line("[::1]:8080", 2) in lines, "IPv6 real server line layout", lst.text)
    saved = svs.parse_save(svs.save())
    check_eq(saved, {
        ("svc", "TCP", VIP, "wrr"),
        ("dest", "TCP", VIP, "127.0.0.5:6380", 1),
        ("dest", "TCP", VIP, "127.0.0.6:6381", 65535),
        ("svc", "UDP", "10.255.0.2:53", svs.uapi_define("SOCK_VS_SCHED_DEFAULT")),
        ("svc", "UDP", VIP, "rr"),
        ("dest", "UDP", VIP, "127.0.0.7:6379", 3),
        ("svc", "TCP", VIP6, "rr"),
        ("dest", "TCP", VIP6, "[::1]:8080", 2),
        ("dest", "TCP", VIP6, "[fd00::2]:8081", 4),
    }, "-S -n content")

    step("refused commands: exit code, message, config unchanged")
    for bad in ["10.255.0.256:80", "10.255.0:80", "10.255.0.1.2:80", "[fd00::zz]:80",
                "[fd00::1]", "10.255.0.3"]:
        expect_refused(["-A", "-t", bad, "-s", "rr"], rc=PARSE_RC)
    expect_refused(["-a", "-t", VIP, "-r", "127.0.0.300:80"], rc=PARSE_RC)
    for port in ["0", "70000", "65536", "-1", "abc", ""]:
        expect_refused(["-A", "-t", "10.255.0.3:" + port, "-s", "rr"], rc=PARSE_RC)
    expect_refused(["-a", "-t", VIP, "-r", "127.0.0.8:70000"], rc=PARSE_RC)
    expect_refused(["-A", "-t", "10.255.0.3:80", "-s", "nosuchsched"], rc=PARSE_RC, err_re="sched")
    expect_refused(["-A", "-t", "10.255.0.3:80", "-s", "x" * 40], rc=PARSE_RC)
    expect_refused(["-E", "-t", VIP, "-s", "nosuchsched"], rc=PARSE_RC, err_re="sched")
    expect_refused(["-A", "-t", VIP, "-s", "rr"], err_re="exist")
    expect_refused(["-A", "-t", "[fd00:255::1]:80", "-s", "wrr"], err_re="exist")
    expect_refused(["-a", "-t", VIP, "-r", "127.0.0.5:6380", "-w", "2"], err_re="exist")
    for args in (["-a", "-t", "10.255.0.9:80", "-r", "127.0.0.5:80"],
                 ["-D", "-t", "10.255.0.9:80"],
                 ["-D", "-u", "10.255.0.1:6380"],
                 ["-D", "-t", "10.255.0.2:53"],           # exists as UDP only
                 ["-E", "-t", "10.255.0.9:80", "-s", "rr"],
                 ["-e", "-t", "10.255.0.9:80", "-r", "127.0.0.5:6380", "-w", "1"],
                 ["-d", "-t", "10.255.0.9:80", "-r", "127.0.0.5:6380"]):
        expect_refused(args, err_re=NOSUCH)
    for args in (["-d", "-t", VIP, "-r", "127.0.0.9:6380"],
                 ["-d", "-t", VIP, "-r", "127.0.0.5:6381"],   # right address, wrong port
                 ["-e", "-t", VIP, "-r", "127.0.0.9:6380", "-w", "3"],
                 ["-d", "-u", VIP, "-r", "127.0.0.5:6380"]):  # exists in the TCP service only
        expect_refused(args, err_re=NOSUCH)
    expect_refused(["-a", "-t", VIP, "-r", "[::1]:80"], rc=PARSE_RC)
    expect_refused(["-a", "-t", VIP6, "-r", "127.0.0.1:80"], rc=PARSE_RC)
    for w in ["65536", "70000", "-1", "abc"]:
        expect_refused(["-a", "-t", VIP, "-r", "127.0.0.8:80", "-w", w], rc=PARSE_RC)
    expect_refused(["-e", "-t", VIP, "-r", "127.0.0.5:6380", "-w", "70000"], rc=PARSE_RC)
    expect_refused(["--no-such-option"], rc=(2,))
    expect_refused(["-A", "-s", "rr"], rc=PARSE_RC)

    step("delete real servers and services")
    adm_ok("-d", "-t", VIP, "-r", "127.0.0.6:6381")
    lst = svs.listing()
    check_eq([d["addr"] for d in lst.service("TCP", VIP)["dests"]], ["127.0.0.5:6380"],
             "real servers left after -d")
    adm_ok("-D", "-t", VIP)
    lst = svs.listing()
    check(("TCP", VIP) not in {(s["proto"], s["addr"]) for s in lst.services}, "TCP service gone after -D")
    check_eq(lst.service("UDP", VIP)["dests"][0]["addr"], "127.0.0.7:6379",
             "UDP service on the same VIP:port untouched by -D -t")
    check_eq(lst.nservices, 3, "services= count after -D")
    adm_ok("-D", "-t", VIP6)
    adm_ok("-A", "-t", VIP, "-s", "rr")
    check_eq(svs.listing().service("TCP", VIP)["dests"], [],
             "a service re-added after -D starts without real servers")

    step("-C clears everything")
    adm_ok("-C")
    lst = svs.listing()
    check_eq((lst.nservices, lst.services), (0, []), "no services after -C")
    check_eq(svs.save(), "", "-S -n empty after -C")
    adm_ok("-C")
    check_eq(svs.listing().nservices, 0, "-C on an empty config succeeds")


svs.case(main)
