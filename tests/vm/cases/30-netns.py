#!/usr/bin/env python3
"""Configuration is per network namespace. Namespaces a and b (lo up,
servers inside each) and the initial namespace each see and use only their
own services, even for the same VIP:port; deleting a namespace that still
has services (and an open scheduled connection) leaves the others working,
and a namespace created again starts empty."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

A, B = "svs30a", "svs30b"
VIP, SVC = svs.VIP4, svs.VIP4 + ":80"


def services(netns=None):
    lst = svs.listing(netns=netns)
    check_eq(lst.nservices, len(lst.services), "services= matches the service lines%s"
             % (" in " + netns if netns else ""))
    return lst.summary()


def probe(netns, n):
    return svs.tally(svs.probe("tcp", VIP, 80, count=n, netns=netns))


def main():
    svs.fresh_config()
    step("initial namespace: %s -> 127.0.0.1:9301 (ident init:9301)" % SVC)
    svs.echo_server("tcp", "127.0.0.1", 9301, ident="init:9301")
    adm_ok("-A", "-t", SVC, "-s", "rr")
    adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:9301", "-w", "1")
    init_save = svs.save()

    step("namespaces %s and %s with their own servers" % (A, B))
    for ns in (A, B):
        svs.netns_add(ns)
        for p in (9301, 9302):
            svs.spawn_echo_server("tcp", "127.0.0.1", p, netns=ns, ident="%s:%d" % (ns, p))
    svs.add_local_addr(VIP, netns=B)
    svs.spawn_echo_server("tcp", VIP, 80, netns=B, ident=B + ":vip-itself")

    step("configure %s in %s only" % (SVC, A))
    adm_ok("-A", "-t", SVC, "-s", "rr", netns=A)
    for p in (9301, 9302):
        adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:%d" % p, "-w", "1", netns=A)
    a_save = svs.save(netns=A)
    check_eq(services(A), {("TCP", SVC, "rr"), ("TCP", SVC, "127.0.0.1:9301", 1),
                           ("TCP", SVC, "127.0.0.1:9302", 1)}, "-L -n in %s" % A)
    check_eq(services(B), set(), "-L -n in %s shows no services" % B)
    check_eq(services(), {("TCP", SVC, "rr"), ("TCP", SVC, "127.0.0.1:9301", 1)},
             "-L -n in the initial namespace shows only its own service")

    step("connects in each namespace use that namespace's config")
    check_eq(probe(A, 10), {A + ":9301": 5, A + ":9302": 5}, "10 connects in %s (rr over its servers)" % A)
    check_eq(probe(B, 4), {B + ":vip-itself": 4}, "4 connects in %s reach the VIP itself (no service)" % B)
    check_eq(svs.tally(svs.tcp_ident(VIP, 80) for _ in range(4)), {"init:9301": 4},
             "4 connects in the initial namespace")

    step("the same service key in %s, with other real servers" % B)
    adm_ok("-A", "-t", SVC, "-s", "rr", netns=B)
    adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:9302", "-w", "1", netns=B)
    check_eq(probe(B, 4), {B + ":9302": 4}, "connects in %s go to its own real server" % B)
    check_eq(probe(A, 4), {A + ":9301": 2, A + ":9302": 2}, "%s unaffected" % A)
    check_eq(svs.save(netns=A), a_save, "-S -n in %s unchanged" % A)
    adm_ok("-C", netns=B)
    check_eq(probe(B, 2), {B + ":vip-itself": 2}, "-C in %s: back to the VIP itself" % B)
    check_eq(svs.save(netns=A), a_save, "-C in %s left %s alone" % (B, A))
    check_eq(svs.save(), init_save, "-C in %s left the initial namespace alone" % B)
    check_eq(svs.stats(netns=A).service("TCP", SVC)["dests"],
             {"127.0.0.1:9301": 7, "127.0.0.1:9302": 7}, "--stats in %s count only its connects" % A)
    check_eq(svs.stats().service("TCP", SVC)["dests"], {"127.0.0.1:9301": 4},
             "--stats in the initial namespace count only its connects")

    step("delete %s while it has services and an open scheduled connection" % A)
    held = svs.hold_connection(VIP, 80, netns=A)
    check(held.ready_line.split()[-1] in (A + ":9301", A + ":9302"),
          "held connection in %s: %s" % (A, held.ready_line))
    svs.netns_del(A)
    check_eq(probe(B, 2), {B + ":vip-itself": 2}, "%s still works" % B)
    check_eq(svs.tally(svs.tcp_ident(VIP, 80) for _ in range(3)), {"init:9301": 3},
             "the initial namespace still works")
    check_eq(svs.save(), init_save, "initial namespace config unchanged")

    step("a namespace created again under the same name starts empty")
    svs.netns_add(A)
    check_eq(services(A), set(), "-L -n in the new %s" % A)

    step("5 namespaces created, configured and deleted")
    for i in range(5):
        ns = "svs30-%d" % i
        svs.netns_add(ns)
        adm_ok("-A", "-t", SVC, "-s", "wrr", netns=ns)
        adm_ok("-A", "-u", "[fd00:255::1]:53", "-s", "rr", netns=ns)
        for p in range(3):
            adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:%d" % (9310 + p), netns=ns)
        check_eq(svs.listing(netns=ns).nservices, 2, "2 services in %s" % ns)
        svs.netns_del(ns)
    check_eq(svs.save(), init_save, "initial namespace config unchanged")
    check_eq(svs.tally(svs.tcp_ident(VIP, 80) for _ in range(2)), {"init:9301": 2},
             "the initial namespace still balances")


svs.case(main)
