#!/usr/bin/env python3
"""Fault injection on the module's own allocations (debug kernels with
failslab and fail_function; SKIP elsewhere).

Configuration: each slab cache of the module (failslab, only that cache)
and each function listed for error injection (fail_function) is made to
fail exactly once while the sockvsadm command that allocates there runs:
the command exits 1 with a message about memory, the saved configuration
(-S -n) is the same before and after, exactly one allocation failed (the
injection's `times` counter), and the same command then succeeds without
injection; svs_alloc_stats (one per block of counters) is armed while
objects are added until one needs a block. Transactions (sockvsadm -R, one kernel commit): every allocation a
commit makes through svs_txn_alloc, svs_zalloc and svs_alloc_dtable, and
the first of svs_service and svs_dest, is failed in turn, call after call
until the command goes through without reaching one: each failure is
ENOMEM with a message, the table is the same, and no transaction stays
open. Connect path: with the
svs_conn cache failing N times, N balanced TCP connects all reach the real
server; the service's untracked counter (-L --stats, --json) and the
module-wide one (-V) rise by exactly N, the open-connection count ignores
those sockets, and the next connect is tracked again. With the svs_peer
cache (a reconnect's record) failing N times, N tracked UDP sockets
reconnect: each is served, counted untracked and handed back
(getpeername() names the real server, the open count drops), and a
reconnect without injection tracks it again. Afterwards: nothing left armed, the module's slab
objects back to their starting level, and (if kmemleak is there) no leak
report mentioning sock_vs."""

import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_mem  # noqa: E402
import svs_txn as tx  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

FAILSLAB = "/sys/kernel/debug/failslab/"
FAILFN = "/sys/kernel/debug/fail_function/"
KMEMLEAK = "/sys/kernel/debug/kmemleak"
SLAB_KNOBS = ("probability", "interval", "times", "space", "verbose", "ignore-gfp-wait",
              "cache-filter", "task-filter")
FN_KNOBS = ("probability", "interval", "times", "space", "verbose", "task-filter")
TXN_EDIT = "10.255.68.100:80"   # the transaction trials' changed service
TXN_DEL = "10.255.68.101:80"    # and deleted one
TXN_NEW = 20                    # services the transaction adds: its index grows past 16 buckets

SVC = "10.255.66.10:80"         # the configuration trials' service (rr)
ECHO_PORT = 9660
N_CONNECTS = 5

failed = {}                     # site -> allocations failed on purpose (measured)


def rd(path):
    with open(path) as f:
        return f.read().strip()


def wr(path, value):
    svs._write(path, str(value))


def save_knobs(base, knobs):
    old = {k: rd(base + k) for k in knobs}

    def restore():
        for k, v in old.items():
            wr(base + k, v)
    svs.defer(restore)


def times_left(base):
    return int(rd(base + "times"))


def mark_cache(cache, on):
    """/sys/kernel/slab/CACHE/failslab; read-only on some kernels (6.1:
    SLAB_ATTR_RO), where only slub_debug=A,CACHE at boot sets it."""
    path = "/sys/kernel/slab/%s/failslab" % cache
    if rd(path) == str(int(on)):
        return
    try:
        wr(path, int(on))
    except PermissionError:
        if on:
            raise svs.Fail("%s is read-only on this kernel: boot with slub_debug=A,%s"
                           % (path, ",".join(svs_mem.CACHES)))


def slab_arm(cache, times):
    # Nothing may fail while the knobs change: times 0 first, the cache
    # filter before the probability, times last.
    for k, v in (("times", 0), ("cache-filter", "Y"), ("interval", 1), ("space", 0), ("verbose", 0),
                 ("ignore-gfp-wait", "N"), ("task-filter", "N"), ("probability", 100)):
        wr(FAILSLAB + k, v)
    for c in svs_mem.CACHES:
        if c != cache:
            mark_cache(c, False)
    mark_cache(cache, True)
    wr(FAILSLAB + "times", times)


def slab_disarm(cache):
    wr(FAILSLAB + "probability", 0)
    wr(FAILSLAB + "times", 0)
    mark_cache(cache, False)


def fn_arm(fn, skip=0):
    """Fail the call after `skip` calls that go through. should_fail()
    lets a call through while space > its size (1 here): space = skip + 1."""
    wr(FAILFN + "inject", fn)
    wr(FAILFN + fn + "/retval", 0)
    for k, v in (("times", 0), ("interval", 1), ("space", skip + 1 if skip else 0), ("verbose", 0),
                 ("task-filter", "N"), ("probability", 100), ("times", 1)):
        wr(FAILFN + k, v)


def fn_disarm(fn):
    wr(FAILFN + "probability", 0)
    wr(FAILFN + "inject", "!" + fn)


def adm_failing(kind, site, args, skip=0, input=None):
    """`sockvsadm args` with one failure armed at site: a slab cache (kind
    "slab") or a function for fail_function ("fn", after `skip` calls that
    go through). Returns its result and the failures left unused (0 or 1)."""
    if kind == "slab":
        slab_arm(site, 1)
    else:
        fn_arm(site, skip)
    try:
        r = svs.adm(*args, input=input)
    finally:
        left = times_left(FAILSLAB if kind == "slab" else FAILFN)
        if kind == "slab":
            slab_disarm(site)
        else:
            fn_disarm(site)
    return r, left


def trial(kind, site, args, skip=0, undo=None):
    """Run `sockvsadm args` with one failure armed at site; it must fail
    with ENOMEM, change nothing, and succeed once disarmed."""
    what = "%s%s" % (site, " (call %d)" % (skip + 1) if skip else "")
    before = svs.save()
    r, left = adm_failing(kind, site, args, skip)
    n = 1 - left
    failed[site] = failed.get(site, 0) + n
    svs.log("  %-32s sockvsadm %-48s -> exit %d, %s" % (what, " ".join(args), r.returncode, r.stderr.strip()))
    check_eq(n, 1, "%s: allocations failed by the injection" % what)
    check(r.returncode == 1 and r.stderr.startswith("sockvsadm: ") and
          re.search(r"memory|ENOMEM", r.stderr, re.I),
          "%s: exit 1 and a message about memory (exit %d, %r)" % (what, r.returncode, r.stderr))
    check_eq(svs.save(), before, "%s: -S -n unchanged by the failed command" % what)
    adm_ok(*args, quiet=True)   # the command itself is fine
    if undo:
        adm_ok(*undo, quiet=True)


def trial_block(args_of, limit=200):
    """svs_alloc_stats: armed while adding objects one by one; each command
    that does not reach the allocation must succeed, the first that does
    must be the clean failure trial() checks."""
    for i in range(1, limit + 1):
        args = args_of(i)
        before = svs.save()
        fn_arm("svs_alloc_stats")
        try:
            r = svs.adm(*args)
        finally:
            left = times_left(FAILFN)
            fn_disarm("svs_alloc_stats")
        if left == 0:
            failed["svs_alloc_stats"] = failed.get("svs_alloc_stats", 0) + 1
            svs.log("  %-32s sockvsadm %-48s -> exit %d, %s (object %d)"
                    % ("svs_alloc_stats", " ".join(args), r.returncode, r.stderr.strip(), i))
            check(r.returncode == 1 and r.stderr.startswith("sockvsadm: ") and
                  re.search(r"memory|ENOMEM", r.stderr, re.I),
                  "svs_alloc_stats: exit 1 and a message about memory (exit %d, %r)"
                  % (r.returncode, r.stderr))
            check_eq(svs.save(), before, "svs_alloc_stats: -S -n unchanged by the failed command")
            adm_ok(*args, quiet=True)
            return
        check_eq(r.returncode, 0, "sockvsadm %s with a counter slot free (%r)"
                 % (" ".join(args), r.stderr))
    raise svs.Fail("svs_alloc_stats never called in %d additions" % limit)


def txn_rules():
    """sockvsadm -R input that reaches every allocation of a commit: new
    services (more than the staged index's first 16 buckets), a changed one
    (a server leaves: the `gone` array; one joins), a deleted one (the
    victims)."""
    lines = []
    for i in range(1, TXN_NEW + 1):
        lines += ["-A -t 10.255.68.%d:80 -s wrr" % i, "-a -t 10.255.68.%d:80 -r 127.0.0.1:9700 -w 2" % i]
    lines += ["-d -t %s -r 127.0.0.1:9701" % TXN_EDIT, "-a -t %s -r 127.0.0.1:9703" % TXN_EDIT,
              "-D -t %s" % TXN_DEL]
    return "\n".join(lines) + "\n"


def txn_trials():
    """Fail each allocation of one -R transaction in turn (fail_function
    sites: call 1, 2, ... until the command needs no more of them; slab
    caches: the first object): ENOMEM with a message, -S -n unchanged, no
    transaction left open; then the same input goes through."""
    adm_ok("-A", "-t", TXN_EDIT, "-s", "rr")
    for port in (9701, 9702):
        adm_ok("-a", "-t", TXN_EDIT, "-r", "127.0.0.1:%d" % port)
    adm_ok("-A", "-t", TXN_DEL, "-s", "rr")
    adm_ok("-a", "-t", TXN_DEL, "-r", "127.0.0.1:9704")
    text = txn_rules()
    t = tx.Txn()        # for GET_INFO's count of open transactions
    svs.defer(t.close)
    before = svs.save()
    restore = "-C\n" + before       # -S output is -R input
    calls = {}
    for kind, site in (("fn", "svs_txn_alloc"), ("fn", "svs_zalloc"), ("fn", "svs_alloc_dtable"),
                       ("slab", "svs_service"), ("slab", "svs_dest")):
        for skip in range(400 if kind == "fn" else 1):
            what = "%s%s" % (site, " (call %d)" % (skip + 1) if skip else "")
            r, left = adm_failing(kind, site, ["-R"], skip, input=text)
            check_eq(t.info()["txns"], 0, "%s: no transaction left open" % what)
            if left == 1:       # the commit made no further call there
                check_eq((r.returncode, r.stderr), (0, ""), "-R with %s not failing" % what)
                check(kind == "fn" and skip > 0, "-R reaches %s at least once" % site)
                adm_ok("-R", input=restore, quiet=True)
                check_eq(svs.save(), before, "the table restored after a successful -R")
                break
            failed[site] = failed.get(site, 0) + 1
            calls[site] = skip + 1
            check(r.returncode == 1 and r.stderr.startswith("sockvsadm: ") and
                  re.search(r"memory|ENOMEM", r.stderr, re.I),
                  "-R with %s failing: exit 1 and a message about memory (exit %d, %r)"
                  % (what, r.returncode, r.stderr))
            check_eq(svs.save(), before, "-R with %s failing: -S -n unchanged" % what)
        else:
            if kind == "fn":
                raise svs.Fail("-R still reaches %s after 400 calls" % site)
    svs.log("  -R of %d services: allocations failed in turn: %s"
            % (TXN_NEW + 2, " ".join("%s=%d" % kv for kv in sorted(calls.items()))))
    adm_ok("-R", input=text, quiet=True)
    after = svs.save()
    check("127.0.0.1:9703" in after and TXN_DEL not in after, "the -R input applied")


def module_untracked():
    out = adm_ok("-V", quiet=True)
    m = re.search(r"untracked=(\d+)[,)]", out)
    check(m, "-V reports untracked=N", out)
    return int(m.group(1))


def svc_stats(key):
    return svc_stats_proto("TCP", key)


def svc_stats_proto(proto, key):
    st = svs.stats().service(proto, key)
    doc = json.loads(adm_ok("-L", "-n", "--stats", "--json", quiet=True))
    host, port = key.rsplit(":", 1)
    js = [s for s in doc["services"] if s["address"] == host and s["port"] == int(port)
          and s["protocol"].upper() == proto]
    check_eq(len(js), 1, "--json has service %s" % key)
    check_eq(js[0]["stats"]["untracked"], st["untracked"], "--json untracked equals -L --stats --exact")
    return st


def kmemleak_reports():
    for _ in range(2):
        wr(KMEMLEAK, "scan")
    text = rd(KMEMLEAK)
    return [b for b in re.split(r"(?=^unreferenced object)", text, flags=re.M) if b.strip()]


def main():
    if not os.path.isdir(FAILSLAB) or not os.path.isdir(FAILFN):
        raise svs.Skip("no %s or %s: kernel without CONFIG_FAILSLAB / CONFIG_FAIL_FUNCTION "
                       "(or debugfs not mounted)" % (FAILSLAB, FAILFN))
    check_eq(rd(FAILFN + "inject"), "", "no fail_function injection armed at start")
    svs.fresh_config()
    start = svs_mem.snapshot()
    svs.log("module slab objects at start: %s" % start["slab"])
    save_knobs(FAILSLAB, SLAB_KNOBS)
    save_knobs(FAILFN, FN_KNOBS)
    for c in svs_mem.CACHES:
        svs.defer(mark_cache, c, False)
    svs.defer(wr, FAILFN + "inject", " ")   # just blanks: removes every injection point
    last_injection = time.monotonic()

    step("configuration: one allocation failure per site, nothing changes")
    adm_ok("-A", "-t", SVC, "-s", "rr")
    d1 = ["-a", "-t", SVC, "-r", "127.0.0.1:9601"]
    trial("slab", "svs_service", ["-A", "-t", "10.255.66.1:80", "-s", "rr"])
    trial("slab", "svs_dest", d1)
    trial("fn", "svs_alloc_dtable", ["-A", "-t", "10.255.66.2:80", "-s", "rr"])
    trial("fn", "svs_alloc_dtable", ["-d", "-t", SVC, "-r", "127.0.0.1:9601"], undo=d1)
    trial("fn", "svs_alloc_shard_conns", ["-a", "-t", SVC, "-r", "127.0.0.1:9602", "--shards", "4"])
    # Counters come in blocks (one alloc_percpu() per block of slots): add
    # objects with the injection armed until one needs a new block.
    trial_block(lambda i: ["-A", "-t", "10.255.67.%d:80" % i, "-s", "rr"])              # service counters
    trial_block(lambda i: ["-a", "-t", SVC, "-r", "127.0.0.%d:9604" % (i + 10)])          # server counters
    trial("fn", "svs_zalloc", ["-a", "-t", SVC, "-r", "127.0.0.1:9603"])               # rr table
    trial("fn", "svs_zalloc", ["-E", "-t", SVC, "-s", "wrr"], undo=["-E", "-t", SVC, "-s", "rr"])
    for skip in range(3):       # mh: the table, then its two work arrays
        trial("fn", "svs_zalloc", ["-E", "-t", SVC, "-s", "mh"], skip=skip,
              undo=["-E", "-t", SVC, "-s", "rr"])
    last_injection = time.monotonic()
    check_eq(rd(FAILFN + "inject"), "", "no fail_function injection left armed")

    step("transactions: each allocation of one -R commit fails in turn, nothing changes")
    txn_trials()
    last_injection = time.monotonic()
    check_eq(rd(FAILFN + "inject"), "", "no fail_function injection left armed")

    vkey = "%s:80" % svs.VIP4
    echo = svs.echo_server("tcp", "127.0.0.1", ECHO_PORT)
    adm_ok("-A", "-t", vkey, "-s", "rr")
    adm_ok("-a", "-t", vkey, "-r", "127.0.0.1:%d" % ECHO_PORT)
    socks = []
    svs.defer(lambda: [s.close() for s in socks])
    # svs_conn: a socket's record (its operations, and its first connect's
    # peer): failed on first connects over TCP.
    step("connect path: %d balanced connects with svs_conn failing, all reach the server, "
         "all counted untracked" % N_CONNECTS)
    st0, total0, acc0 = svc_stats(vkey), module_untracked(), echo.count()
    open0 = svs.module_open_conns(svs.VIP4, 80)["127.0.0.1:%d" % ECHO_PORT]
    slab_arm("svs_conn", N_CONNECTS)
    try:
        for _ in range(N_CONNECTS):
            s = svs.tcp_connect(svs.VIP4, 80)
            socks.append(s)
            check_eq(svs.read_line(s), "ID 127.0.0.1:%d" % ECHO_PORT, "greeting through the VIP")
            check_eq(s.getpeername()[0], "127.0.0.1", "getpeername of an untracked socket: the real server")
    finally:
        left = times_left(FAILSLAB)
        slab_disarm("svs_conn")
    last_injection = time.monotonic()
    failed["svs_conn"] = N_CONNECTS - left
    check_eq(failed["svs_conn"], N_CONNECTS, "svs_conn allocations failed by the injection")
    check_eq(echo.count() - acc0, N_CONNECTS, "connections the real server accepted")
    st1, total1 = svc_stats(vkey), module_untracked()
    check_eq((st1["conns"] - st0["conns"], st1["untracked"] - st0["untracked"]), (N_CONNECTS, N_CONNECTS),
             "service Conns and Untracked growth")
    check_eq(total1 - total0, N_CONNECTS, "-V module-wide untracked growth")
    check_eq(svs.module_open_conns(svs.VIP4, 80), {"127.0.0.1:%d" % ECHO_PORT: open0},
             "untracked sockets are not counted open")

    # svs_peer: a reconnect's peer record.  Connected UDP sockets, tracked
    # by their first connect, connect again with svs_peer failing: each
    # reaches the server, is counted untracked and handed back (its old
    # record must not stay current: getpeername() is the real server's).
    step("connect path: %d UDP reconnects with svs_peer failing: served, untracked, handed back"
         % N_CONNECTS)
    ukey = "%s:%d" % (svs.VIP4, ECHO_PORT)
    uecho = svs.echo_server("udp", "127.0.0.1", ECHO_PORT)
    adm_ok("-A", "-u", ukey, "-s", "rr")
    adm_ok("-a", "-u", ukey, "-r", "127.0.0.1:%d" % ECHO_PORT)
    usocks = []
    for _ in range(N_CONNECTS):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(svs.SOCK_TIMEOUT)
        socks.append(u)
        u.connect((svs.VIP4, ECHO_PORT))
        check_eq(u.getpeername(), (svs.VIP4, ECHO_PORT), "a tracked UDP socket's peer: the VIP")
        usocks.append(u)
    check_eq(svs.module_open_conns(svs.VIP4, ECHO_PORT, "udp"), {"127.0.0.1:%d" % ECHO_PORT: N_CONNECTS},
             "tracked UDP sockets counted open")
    ust0, utotal0 = svc_stats_proto("UDP", ukey), module_untracked()
    slab_arm("svs_peer", N_CONNECTS)
    try:
        for u in usocks:
            u.connect((svs.VIP4, ECHO_PORT))
            u.send(b"again")
            data = u.recv(65536)
            check_eq(data, b"ID 127.0.0.1:%d again" % ECHO_PORT, "the reconnected socket's answer")
            check_eq(u.getpeername(), ("127.0.0.1", ECHO_PORT),
                     "getpeername after a reconnect without a record: the real server")
    finally:
        left = times_left(FAILSLAB)
        slab_disarm("svs_peer")
    last_injection = time.monotonic()
    failed["svs_peer"] = N_CONNECTS - left
    check_eq(failed["svs_peer"], N_CONNECTS, "svs_peer allocations failed by the injection")
    ust1 = svc_stats_proto("UDP", ukey)
    check_eq((ust1["conns"] - ust0["conns"], ust1["untracked"] - ust0["untracked"]),
             (N_CONNECTS, N_CONNECTS), "UDP service Conns and Untracked growth")
    check_eq(module_untracked() - utotal0, N_CONNECTS, "-V module-wide untracked growth (UDP)")
    check_eq(svs.module_open_conns(svs.VIP4, ECHO_PORT, "udp"), {"127.0.0.1:%d" % ECHO_PORT: 0},
             "handed-back UDP sockets are no longer counted open")
    for u in usocks:    # reconnect with the injection off: tracked again
        u.connect((svs.VIP4, ECHO_PORT))
        check_eq(u.getpeername(), (svs.VIP4, ECHO_PORT), "getpeername after a tracked reconnect")
    check_eq(svs.module_open_conns(svs.VIP4, ECHO_PORT, "udp"), {"127.0.0.1:%d" % ECHO_PORT: N_CONNECTS},
             "reconnected UDP sockets tracked again")
    s = svs.tcp_connect(svs.VIP4, 80)
    socks.append(s)
    check_eq(svs.read_line(s), "ID 127.0.0.1:%d" % ECHO_PORT, "greeting, injection off")
    check_eq(svs.module_open_conns(svs.VIP4, 80), {"127.0.0.1:%d" % ECHO_PORT: open0 + 1},
             "the next connect is tracked")
    check_eq(s.getpeername()[:2], (svs.VIP4, 80), "getpeername of a tracked socket: the virtual address")
    check_eq(svc_stats(vkey)["untracked"], st1["untracked"], "Untracked unchanged without injection")

    step("afterwards: nothing armed, memory back, no leak")
    for s in socks:
        s.close()
    socks.clear()
    svs.flush()
    check_eq(rd(FAILFN + "inject"), "", "fail_function: no injection point left")
    check_eq((rd(FAILSLAB + "probability"), rd(FAILSLAB + "times")), ("0", "0"),
             "failslab: probability 0, times 0")
    svs_mem.wait_back(start, "after fault injection", percpu=False)
    if os.path.exists(KMEMLEAK):
        # kmemleak only reports objects older than 5 s.
        time.sleep(max(0.0, 6.0 - (time.monotonic() - last_injection)))
        ours = [b for b in kmemleak_reports() if "sock_vs" in b]
        check(not ours, "kmemleak: %d reports mention sock_vs" % len(ours), "\n".join(ours[:3]))
        svs.log("  ok: kmemleak: no report mentions sock_vs")
    else:
        svs.log("  (no kmemleak on this kernel)")
    svs.log("INJECTED-FAILURES %s total=%d" % (" ".join("%s=%d" % kv for kv in sorted(failed.items())),
                                               sum(failed.values())))


svs.case(main)
