#!/usr/bin/env python3
"""-S -n / -R round trip over TCP/UDP, IPv4/IPv6 services with varied
weights (including 0 and the maximum), and malformed -R input that must
apply nothing at all."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check_eq, check_text_eq, step  # noqa: E402

CONFIG = [
    ["-A", "-t", "10.255.0.1:6379", "-s", "rr"],
    ["-a", "-t", "10.255.0.1:6379", "-r", "127.0.0.2:7001", "-w", "1"],
    ["-a", "-t", "10.255.0.1:6379", "-r", "127.0.0.3:7002", "-w", "2"],
    ["-a", "-t", "10.255.0.1:6379", "-r", "127.0.0.4:7003", "-w", "0"],
    ["-A", "-u", "10.255.0.2:53", "-s", "wrr"],
    ["-a", "-u", "10.255.0.2:53", "-r", "127.0.0.2:5353", "-w", "5"],
    ["-A", "-u", "10.255.0.1:6379", "-s", "wrr"],
    ["-a", "-u", "10.255.0.1:6379", "-r", "127.0.0.2:7001", "-w", "7"],
    ["-A", "-t", "[fd00:255::1]:80", "-s", "wrr"],
    ["-a", "-t", "[fd00:255::1]:80", "-r", "[::1]:8081", "-w", "3"],
    ["-a", "-t", "[fd00:255::1]:80", "-r", "[fd00:1::2]:8082", "-w", "65535"],
    ["-A", "-u", "[fd00:255::2]:53", "-s", "rr"],
    ["-A", "-t", "10.255.0.3:443"],
]

EXPECTED = {
    ("svc", "TCP", "10.255.0.1:6379", "rr"),
    ("dest", "TCP", "10.255.0.1:6379", "127.0.0.2:7001", 1),
    ("dest", "TCP", "10.255.0.1:6379", "127.0.0.3:7002", 2),
    ("dest", "TCP", "10.255.0.1:6379", "127.0.0.4:7003", 0),
    ("svc", "UDP", "10.255.0.2:53", "wrr"),
    ("dest", "UDP", "10.255.0.2:53", "127.0.0.2:5353", 5),
    ("svc", "UDP", "10.255.0.1:6379", "wrr"),
    ("dest", "UDP", "10.255.0.1:6379", "127.0.0.2:7001", 7),
    ("svc", "TCP", "[fd00:255::1]:80", "wrr"),
    ("dest", "TCP", "[fd00:255::1]:80", "[::1]:8081", 3),
    ("dest", "TCP", "[fd00:255::1]:80", "[fd00:1::2]:8082", 65535),
    ("svc", "UDP", "[fd00:255::2]:53", "rr"),
}

# Each of these has valid lines before (and after) one bad line.
GOOD = "-A -t 10.255.0.9:80 -s rr\n-a -t 10.255.0.9:80 -r 127.0.0.2:8080 -w 1\n"
MALFORMED = {
    "unknown option": GOOD + "-A -t 10.255.0.10:80 --bogus\n",
    "garbage line": GOOD + "this is not a command\n-A -t 10.255.0.11:80 -s rr\n",
    "bad address": GOOD + "-A -t 10.255.0.300:80 -s rr\n",
    "bad port": GOOD + "-A -t 10.255.0.10:70000 -s rr\n",
    "port 0": GOOD + "-a -t 10.255.0.9:80 -r 127.0.0.3:0 -w 1\n",
    "bad weight": GOOD + "-a -t 10.255.0.9:80 -r 127.0.0.3:8080 -w 99999\n",
    "unknown scheduler": GOOD + "-A -t 10.255.0.10:80 -s nosuchsched\n",
    "family mix": GOOD + "-a -t 10.255.0.9:80 -r [::1]:8080 -w 1\n",
    "missing argument": GOOD + "-a -t 10.255.0.9:80 -r\n",
    "no command": GOOD + "-t 10.255.0.10:80 -s rr\n",
}


def main():
    svs.fresh_config()

    step("build a mixed configuration")
    for args in CONFIG:
        adm_ok(*args)
    default = svs.uapi_define("SOCK_VS_SCHED_DEFAULT")
    saved = svs.save()
    svs.log(saved)
    check_eq(svs.parse_save(saved), EXPECTED | {("svc", "TCP", "10.255.0.3:443", default)},
             "-S -n describes exactly the configuration")
    listed = svs.listing().text

    step("-C, then -R from the saved text")
    adm_ok("-C")
    check_eq(svs.save(), "", "-S -n empty after -C")
    adm_ok("-R", input=saved)
    check_text_eq(svs.save(), saved, "-S -n after -R is identical to before")
    check_text_eq(svs.listing().text, listed, "-L -n after -R is identical to before")

    step("-R of an empty input changes nothing")
    adm_ok("-R", input="")
    check_text_eq(svs.save(), saved, "-S -n unchanged by an empty -R")

    step("malformed -R input applies nothing (config present)")
    for what, text in MALFORMED.items():
        svs.log("  -- %s" % what)
        svs.adm_fail("-R", input=text, rc=(1, 2))
        check_text_eq(svs.save(), saved, "-S -n unchanged after malformed -R (%s)" % what)

    step("malformed -R input applies nothing (empty config)")
    adm_ok("-C")
    for what, text in MALFORMED.items():
        svs.log("  -- %s" % what)
        svs.adm_fail("-R", input=text, rc=(1, 2))
        check_eq(svs.save(), "", "config still empty after malformed -R (%s)" % what)

    step("the valid part alone restores fine (so the failures above were the bad lines)")
    adm_ok("-R", input=GOOD)
    check_eq(svs.parse_save(svs.save()), {("svc", "TCP", "10.255.0.9:80", "rr"),
                                          ("dest", "TCP", "10.255.0.9:80", "127.0.0.2:8080", 1)},
             "config after restoring the valid lines")


svs.case(main)
