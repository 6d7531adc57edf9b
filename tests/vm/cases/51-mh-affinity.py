#!/usr/bin/env python3
# svs-timeout: 900
"""mh (Maglev) affinity with real redis servers (127.0.0.1:7001-7003 behind
10.255.0.1:6379, `-s mh`), by hash key:

- tgid (default): 12 client processes x 10 connections: each process's 10
  land on one server; the processes use at least 2 servers; the redis
  servers' own connection counts agree.  Each process's server is also the
  one a Python model of the module's Maglev table predicts from its pid
  (tests/vm/lib/svs_model.py, checked against kmod/sched_mh.c on the host).
  Removing a server: the processes that were on the others stay where they
  were (Maglev's minimal disruption; the model tells which few, if any, it
  legitimately moves), those of the removed one move, each consistently.
  `-s sh` is the same table.
- local: sockets bound to the same local port go to the same server, from
  any process; different ports spread; an unbound socket falls back to the
  process.
- cgroup: processes of one cgroup go to one server; a process moved into a
  new cgroup v2 child is consistent there, and a socket created before the
  move keeps the cgroup it was created in (skipped if cgroup2 is not
  writable)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_model  # noqa: E402
from conn_client import ConnClient  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP, VPORT = svs.VIP4, 6379
SVC = "%s:%d" % (VIP, VPORT)
PORTS = [7001, 7002, 7003]
RIPS = ["127.0.0.1:%d" % p for p in PORTS]
NPROC, NCONN = 12, 10


def model(rips):
    return svs_model.Maglev([(r.split(":")[0], int(r.split(":")[1]), 1) for r in rips])


def one_server(results, what):
    """All connections of one batch reached the same server: return it."""
    if not results or any(r not in RIPS for r in results) or len(set(results)) != 1:
        raise svs.Fail("%s: expected every connection on one and the same real server, got %r"
                       % (what, results))
    return results[0]


def main():
    svs.fresh_config()
    step("three redis servers behind %s, -s mh (hash key tgid by default)" % SVC)
    servers = {r: svs.RedisServer(p) for r, p in zip(RIPS, PORTS)}
    adm_ok("-A", "-t", SVC, "-s", "mh")
    for r in RIPS:
        adm_ok("-a", "-t", SVC, "-r", r)
    s = svs.listing().service("TCP", SVC)
    check_eq((s["sched"], s["flags"]), ("mh", ""), "-L -n: mh, default hash key (not shown)")
    mg3 = model(RIPS)

    step("%d client processes x %d connections" % (NPROC, NCONN))
    base = {r: s.total_connections() for r, s in servers.items()}
    procs = [ConnClient(VIP, VPORT) for _ in range(NPROC)]
    where = {}
    for i, c in enumerate(procs):
        where[c.pid] = one_server(c.conn(NCONN), "process %d (pid %d)" % (i, c.pid))
    got = {r: s.total_connections() - base[r] for r, s in servers.items()}
    want = {r: NCONN * list(where.values()).count(r) for r in RIPS}
    check_eq(got, want, "redis total_connections_received growth matches what the clients saw")
    used = sorted(set(where.values()))
    svs.log("  servers by pid: %r" % where)
    check(len(used) >= 2, "the %d processes use %d servers (at least 2): %r" % (NPROC, len(used), used))
    pred = {pid: RIPS[mg3.pick(svs_model.hash_tgid(pid))] for pid in where}
    check_eq(where, pred, "each process's server is the one the Maglev model predicts from its pid")

    step("the same processes again, and with -s sh (the same table)")
    for c in procs[:4]:
        check_eq(one_server(c.conn(3), "pid %d again" % c.pid), where[c.pid], "pid %d: same server" % c.pid)
    adm_ok("-E", "-t", SVC, "-s", "sh")
    for c in procs[:4]:
        check_eq(one_server(c.conn(3), "pid %d under sh" % c.pid), where[c.pid],
                 "pid %d: same server under sh" % c.pid)
    adm_ok("-E", "-t", SVC, "-s", "mh")

    gone = max(RIPS, key=lambda r: list(where.values()).count(r))
    rest = [r for r in RIPS if r != gone]
    step("remove %s (the server with the most processes)" % gone)
    adm_ok("-d", "-t", SVC, "-r", gone)
    mg2 = model(rest)
    moved_by_maglev = sorted(pid for pid, r in where.items()
                             if r != gone and rest[mg2.pick(svs_model.hash_tgid(pid))] != r)
    if moved_by_maglev:
        svs.log("  NOTE: the model says Maglev also moves pids %r (table reshuffle)" % moved_by_maglev)
    after = {}
    for c in procs:
        after[c.pid] = one_server(c.conn(NCONN), "pid %d after the removal" % c.pid)
    stayed = {pid: after[pid] for pid, r in where.items() if r != gone and pid not in moved_by_maglev}
    check_eq(stayed, {pid: where[pid] for pid in stayed},
             "the %d processes on the remaining servers keep their server" % len(stayed))
    check(all(after[pid] in rest for pid in after), "nobody reaches the removed server")
    pred = {pid: rest[mg2.pick(svs_model.hash_tgid(pid))] for pid in after}
    check_eq(after, pred, "every process's new server is the model's")
    adm_ok("-a", "-t", SVC, "-r", gone)    # back to 3, appended last: the table depends on identities only
    for c in procs[:6]:
        check_eq(one_server(c.conn(2), "pid %d with %s back" % (c.pid, gone)), where[c.pid],
                 "pid %d: back on its first server once %s is back (order does not matter)" % (c.pid, gone))
    for c in procs:
        c.quit()

    step("--hash-key local: the bound local port decides")
    adm_ok("-E", "-t", SVC, "--hash-key", "local")
    s = svs.listing().service("TCP", SVC)
    check_eq((s["sched"], s["flags"]), ("mh", "hash-key local"), "-L -n shows hash-key local")
    a, b = ConnClient(VIP, VPORT), ConnClient(VIP, VPORT)
    by_port = {}
    for p in range(47000, 47012):
        by_port[p] = one_server(a.bind(p, 5), "process A bound to %d" % p)
        check_eq(by_port[p], RIPS[mg3.pick(svs_model.hash_local4(p))], "port %d: the model's server" % p)
    for p in (47000, 47005, 47011):
        check_eq(one_server(b.bind(p, 5), "process B bound to %d" % p), by_port[p],
                 "port %d from another process: the same server" % p)
    check(len(set(by_port.values())) >= 2, "12 local ports use %d servers (at least 2)" % len(set(by_port.values())))
    for c in (a, b):
        check_eq(one_server(c.conn(5), "unbound sockets of pid %d" % c.pid),
                 RIPS[mg3.pick(svs_model.hash_tgid(c.pid))],
                 "unbound sockets fall back to the process (pid %d)" % c.pid)
        c.quit()

    step("--hash-key cgroup: the socket's cgroup decides")
    adm_ok("-E", "-t", SVC, "--hash-key", "cgroup")
    s = svs.listing().service("TCP", SVC)
    check_eq((s["sched"], s["flags"]), ("mh", "hash-key cgroup"), "-L -n shows hash-key cgroup")
    here = svs.cgroup_of()
    cg_server = RIPS[mg3.pick(svs_model.hash_cgroup(svs.cgroup_id(here)))]
    procs = [ConnClient(VIP, VPORT) for _ in range(4)]
    for c in procs:
        check_eq(svs.cgroup_of(c.pid), here, "pid %d is in cgroup %s" % (c.pid, here))
        check_eq(one_server(c.conn(5), "pid %d in %s" % (c.pid, here)), cg_server,
                 "pid %d: the cgroup's server (model, cgroup id %d)" % (c.pid, svs.cgroup_id(here)))
    # A child cgroup that the model maps to another server than this one,
    # so that moving shows (cgroup ids only grow: a few tries suffice).
    for i in range(10):
        child = svs.cgroup2_child("svs-51-mh-%d" % i)
        if child is None:
            svs.log("NOTE: cgroup2 not writable here: the new-cgroup part is skipped")
            return
        cid = svs.cgroup_id(child)
        child_server = RIPS[mg3.pick(svs_model.hash_cgroup(cid))]
        if child_server != cg_server:
            break
    check(child_server != cg_server, "child cgroup %s maps to another server than %s (model)" % (child, here))
    c = procs[0]
    c.ask("socket")                    # created in the old cgroup
    svs.cgroup_move(c.pid, child)
    check_eq(svs.cgroup_of(c.pid), child, "pid %d moved to %s" % (c.pid, child))
    svs.log("  cgroup %s (id %d) -> %s by the model; %s (id %d) -> %s"
            % (child, cid, child_server, here, svs.cgroup_id(here), cg_server))
    check_eq(one_server(c.conn(NCONN), "pid %d in %s" % (c.pid, child)), child_server,
             "after the move: all on the new cgroup's server")
    check_eq(one_server(c.ask("connkept"), "socket made before the move"), cg_server,
             "a socket created before the move keeps its cgroup's server")
    for o in procs[1:]:
        check_eq(one_server(o.conn(3), "pid %d still in %s" % (o.pid, here)), cg_server,
                 "pid %d (not moved): unchanged" % o.pid)


svs.case(main, private_netns=True)
