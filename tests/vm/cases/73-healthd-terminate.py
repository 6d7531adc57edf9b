#!/usr/bin/env python3
"""sockvs-healthd terminates a quiesced server's sockets (issue 14): two
dnsmasq servers (127.0.0.2 and .3, one port) behind a UDP virtual address,
checked over TCP on that port (dnsmasq answers DNS on TCP too). A long-lived DNS client keeps one
connected UDP socket on each server. One dnsmasq is killed: the daemon
quiesces it and terminates its balanced sockets by the service's policy
(udp), so the client on it finds its socket aborted (ECONNABORTED, where
without termination its next query would be refused by ICMP), reconnects
and is answered by the other server; the other client is untouched. With
`terminate-on-down no` in the service's configuration the socket of the
quiesced server stays connected."""

import errno
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_dns  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP = svs.VIP4
DNS = "%s:53" % VIP
PORT = 5300
ANSWERS = {"127.0.0.2": "10.9.0.1", "127.0.0.3": "10.9.0.2"}   # server address -> its answer
HEALTHD = svs.HEALTHD   # SVS_HEALTHD, or build/userspace/sockvs-healthd


def rip(host):
    return "%s:%d" % (host, PORT)


def weight(host):
    return svs.listing().dest("UDP", DNS, rip(host))["weight"]


def run(terminate_on_down):
    step("terminate-on-down %s" % terminate_on_down)
    servers = {h: svs_dns.dnsmasq(PORT, a, host=h) for h, a in ANSWERS.items()}
    svs.fresh_config()
    adm_ok("-A", "-u", DNS, "-s", "rr")
    for p in ANSWERS:
        adm_ok("-a", "-u", DNS, "-r", rip(p))
    clients = [svs_dns.DnsClient(VIP) for _ in ANSWERS]
    on = {}
    for c in clients:
        on[{a: p for p, a in ANSWERS.items()}[c.query()]] = c
    check_eq(sorted(on), sorted(ANSWERS), "one long-lived client on each dnsmasq")

    d = tempfile.mkdtemp(prefix="svs-73-")
    conf = os.path.join(d, "healthd.conf")
    with open(conf, "w") as f:
        f.write("state-file %s/state\ninterval 0.5\ntimeout 2\nfall 2\nrise 2\n"
                "service -u %s\n  check tcp\n  connect-port %d\n  terminate-on-down %s\n"
                % (d, DNS, PORT, terminate_on_down))
    daemon = svs.spawn([HEALTHD, "-c", conf, "--foreground"])

    def log():
        with open(daemon.errfile.name) as f:
            return f.read()
    svs.wait_for(lambda: log().count("checking") >= 2, 60, lambda: "the daemon checks both:\n" + log())

    victim, other = "127.0.0.2", "127.0.0.3"
    svs.kill(servers[victim])
    svs.wait_for(lambda: weight(victim) == 0, 60, lambda: "the daemon quiesces %d:\n%s" % (victim, log()))
    if terminate_on_down == "yes":
        svs.wait_for(lambda: re.search(r"terminated 1 open socket", log()), 30,
                     lambda: "the daemon logs the termination:\n" + log())
        check_eq(on[victim].query(), errno.ECONNABORTED,
                 "the client on the quiesced server finds its socket aborted")
        on[victim].reconnect()
        check_eq(on[victim].query(), ANSWERS[other], "it reconnects and the other server answers")
        check_eq(svs.stats().service("UDP", DNS)["killed"], 1, "Killed counts it")
    else:
        check("terminated" not in log(), "the daemon terminates nothing")
        check_eq(on[victim].query(), errno.ECONNREFUSED,
                 "the client's socket is still connected to the dead server (ICMP: refused)")
        check_eq(svs.stats().service("UDP", DNS)["killed"], 0, "Killed stays 0")
    check_eq(on[other].query(), ANSWERS[other], "the client on the healthy server is untouched")
    svs.kill(daemon)
    svs.kill(servers[other])


def main():
    svs.add_local_addr(VIP)
    run("yes")
    run("no")
    svs.flush()


svs.case(main, private_netns=True)
