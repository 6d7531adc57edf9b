#!/usr/bin/env python3
# svs-timeout: 900
"""Shard placement with lc/lc: two sharded test servers (shard = client port
% 4, like Seastar's "port" policy) on 127.0.0.1:9101/9102, `--shards 4` each,
behind 10.255.0.1:9100 with `-s lc --shard-policy lc`.

- 8 client threads x 100 held connections: every (server, shard) pair holds
  100 +- 1; the port each connection came from is the one the server saw,
  inside ip_local_port_range and never one of ip_local_reserved_ports (half
  the range is reserved, so a module that ignored the reservation would show);
  `-L -n --shards` per-shard counts (and the raw GET_DEST dump) equal the
  servers' own per-shard counts exactly.
- A client that binds its own port keeps it (shard = port % 4), even a
  reserved port (the reservation is only for automatic choice).
- With ip_local_port_range shrunk to 40000-40007 and both ports of the class
  the shard policy must use taken, connect() fails with EADDRNOTAVAIL (no
  other shard, nothing reaches the server); freeing one lets it through on
  exactly that port.
- The other shard policies on one 4-shard server: rr takes consecutive
  shards, hash (key tgid) always the shard the model computes for this
  process, cpu the pinned CPU's.  --shards cannot change on -e; 0 and 1025
  are refused; -S -n saves --shard-policy and --shards.

Runs in a private network namespace, so the sysctls are its own."""

import os
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_model  # noqa: E402
from shard_server import ShardServer  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP = svs.VIP4
VPORT = 9100
SVC = "%s:%d" % (VIP, VPORT)
SVC2 = "%s:%d" % (VIP, 9200)
SVC3 = "%s:%d" % (VIP, 9300)
SHARDS = 4
PORTS = [9101, 9102]
RIPS = ["127.0.0.1:%d" % p for p in PORTS]
THREADS, PER_THREAD = 8, 100
TOTAL = THREADS * PER_THREAD
RANGE = (40000, 41999)                 # 500 ports per class
RESERVED = "40000-40999,41500-41503"   # leaves 249 per class, 200 needed


def set_sysctl(key, value):
    """Write a sysctl; an empty value is written as a newline (a write of
    nothing would leave ip_local_reserved_ports as it was)."""
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write(value or "\n")


def restore(orig):
    for key, val in orig.items():
        set_sysctl(key, val)


def greeting(s):
    """The shard server's greeting: (shard, ident, peer port it saw)."""
    w = svs.read_line(s).split()
    if len(w) != 4 or w[0] != "SHARD":
        raise svs.Fail("unexpected greeting %r" % w)
    return int(w[1]), w[2], int(w[3])


def server_view(servers):
    """{rip: per-shard open counts} as the servers count them."""
    return {s.ident: s.stats()["open"] for s in servers}


def module_view():
    """({rip: per-shard} from -L -n --shards, {rip: per-shard} from the raw dump)."""
    lst = svs.shard_listing("TCP", SVC)["dests"]
    raw = svs.module_dests(VIP, VPORT)
    return ({r: lst[r]["per_shard"] for r in RIPS}, {r: raw[r]["shard_conns"] for r in RIPS})


def settled(servers, want_total, what):
    """Wait until the servers see want_total open connections and the module
    agrees with them shard by shard; return the servers' view."""
    last = {}

    def ok():
        sv = server_view(servers)
        lst, raw = module_view()
        last["v"] = (sv, lst, raw)
        return sum(map(sum, sv.values())) == want_total and sv == lst == raw

    svs.wait_for(ok, 120, lambda: "%s: servers %r, -L --shards %r, dump %r (want %d open)"
                 % ((what,) + last.get("v", (None, None, None)) + (want_total,)), interval=0.2)
    return last["v"][0]


def main():
    svs.fresh_config()
    orig = {k: svs.read_sysctl(k) for k in ("net.ipv4.ip_local_port_range",
                                             "net.ipv4.ip_local_reserved_ports")}
    svs.defer(restore, orig)
    step("ephemeral range %d-%d, reserved %s" % (RANGE + (RESERVED,)))
    set_sysctl("net.ipv4.ip_local_port_range", "%d %d" % RANGE)
    set_sysctl("net.ipv4.ip_local_reserved_ports", RESERVED)
    lo, hi = svs.local_port_range()
    reserved = svs.reserved_ports()
    check_eq((lo, hi), RANGE, "ip_local_port_range as set")
    check_eq(len(reserved), 1004, "ip_local_reserved_ports as set")

    step("two sharded servers (4 shards each) behind %s, -s lc --shard-policy lc" % SVC)
    servers = [ShardServer("127.0.0.1", p, SHARDS) for p in PORTS]
    adm_ok("-A", "-t", SVC, "-s", "lc", "--shard-policy", "lc")
    for r in RIPS:
        adm_ok("-a", "-t", SVC, "-r", r, "--shards", str(SHARDS))
    view = svs.shard_listing("TCP", SVC)
    check_eq((view["sched"], view["flags"]), ("lc", "shard-policy lc"), "-L --shards service line")
    check_eq({r: (d["shards"], d["per_shard"]) for r, d in view["dests"].items()},
             {r: (SHARDS, [0] * SHARDS) for r in RIPS}, "-L --shards: 4 shards, no connection yet")
    check_eq(svs.listing().service("TCP", SVC)["flags"], "shard-policy lc", "-L -n shows the shard policy")

    step("%d threads x %d held connections through the VIP" % (THREADS, PER_THREAD))
    held, errors, lock = [], [], threading.Lock()
    barrier = threading.Barrier(THREADS)

    def worker(t):
        mine = []
        try:
            barrier.wait(60)
            for _ in range(PER_THREAD):
                s = svs.tcp_connect(VIP, VPORT, timeout=120)
                mine.append((s, s.getsockname()[1], svs.kernel_endpoints(s)[1]) + greeting(s))
        except Exception as e:   # reported below
            with lock:
                errors.append("thread %d after %d connections: %r" % (t, len(mine), e))
        with lock:
            held.extend(mine)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    try:
        check_eq(errors, [], "no connect failed")
        check_eq(len(held), TOTAL, "connections held")

        bad = [(lport, peer, sh, ident, seen) for _, lport, peer, sh, ident, seen in held
               if seen != lport or sh != lport % SHARDS or ident != "%s:%d" % peer or ident not in RIPS]
        check_eq(bad, [], "each connection: the server saw our local port, shard = port % 4, "
                 "the kernel's remote end is the server that answered")
        # Connect-time semantics (as the kernel's own port choice): a local
        # port may serve connections to different servers, never two to one.
        lports = [h[1] for h in held]
        check_eq(len(set((h[1], h[2]) for h in held)), TOTAL, "(local port, server) pairs are distinct")
        outside = sorted(p for p in lports if not lo <= p <= hi)
        check_eq(outside, [], "every local port is inside ip_local_port_range %d-%d" % (lo, hi))
        res = sorted(p for p in lports if p in reserved)
        check_eq(res, [], "no local port is one of ip_local_reserved_ports")

        sv = settled(servers, TOTAL, "after %d connections" % TOTAL)
        svs.log("  per-shard open connections (servers' view = module's): %r" % sv)
        off = {(r, k): n for r, v in sv.items() for k, n in enumerate(v) if abs(n - TOTAL // 8) > 1}
        check_eq(off, {}, "every (server, shard) pair holds %d +- 1" % (TOTAL // 8))
        check(True, "-L -n --shards and the GET_DEST dump equal the servers' per-shard counts")
        lst = svs.listing()
        got = {r: lst.dest("TCP", SVC, r)["active"] for r in RIPS}
        check_eq(got, {r: sum(sv[r]) for r in RIPS}, "-L -n ActiveConn per server = the server's open count")

        step("clients that bind their own port keep it")
        # outside the range, and 40001: reserved (only automatic choice avoids it), so free
        own = [45001, 45002, 45003, 45007, 40001]
        before = sv
        for p in own:
            s = svs.tcp_connect_bound(VIP, VPORT, p, timeout=60)
            sh, ident, seen = greeting(s)
            held.append((s, p, svs.kernel_endpoints(s)[1], sh, ident, seen))
            check_eq((s.getsockname()[1], seen, sh), (p, p, p % SHARDS),
                     "bound to %d: kept the port, shard %d (on %s)" % (p, p % SHARDS, ident))
            before[ident][sh] += 1
        sv = settled(servers, TOTAL + len(own), "after the bound clients")
        check_eq(sv, before, "each bound connection counted on its port's shard, module and server alike")
    finally:
        for h in held:
            svs.rst_close(h[0])
    settled(servers, 0, "after closing everything")
    check(True, "all per-shard counts back to 0 (module and servers)")

    step("ports exhausted: range 40000-40007 (2 ports per class), no reservation")
    set_sysctl("net.ipv4.ip_local_reserved_ports", "")
    check_eq(svs.reserved_ports(), set(), "no reserved port left")
    set_sysctl("net.ipv4.ip_local_port_range", "40000 40007")
    adm_ok("-A", "-t", SVC2, "-s", "lc", "--shard-policy", "lc")
    adm_ok("-a", "-t", SVC2, "-r", RIPS[0], "--shards", str(SHARDS))
    keep = []
    try:
        for p in (40001, 40002, 40003):
            s = svs.tcp_connect_bound(VIP, 9200, p, timeout=60)
            keep.append(s)
            check_eq(greeting(s)[0], p % SHARDS, "bound to %d: shard %d" % (p, p % SHARDS))
        raw = svs.module_dests(VIP, 9200)[RIPS[0]]["shard_conns"]
        check_eq(raw, [0, 1, 1, 1], "shards 1-3 hold one connection each: lc must choose shard 0")
        blockers = []
        for p in (40000, 40004):
            b = socket.socket()
            b.bind(("0.0.0.0", p))
            blockers.append(b)
            keep.append(b)
        accepted0 = servers[0].stats()["accepted"]
        for i in range(3):
            s = socket.socket()
            s.settimeout(60)
            try:
                rc = s.connect_ex((VIP, 9200))
                local = s.getsockname()[1]
            finally:
                svs.rst_close(s)
            check_eq((svs.errno_name(rc), local), ("EADDRNOTAVAIL", 0),
                     "connect #%d with both class-0 ports taken: EADDRNOTAVAIL, socket left unbound" % i)
        check_eq(servers[0].stats()["accepted"], accepted0, "nothing reached the server")
        check_eq(svs.module_dests(VIP, 9200)[RIPS[0]]["shard_conns"], [0, 1, 1, 1],
                 "per-shard counts unchanged")
        blockers[1].close()
        s = svs.tcp_connect(VIP, 9200, timeout=60)
        keep.append(s)
        sh, _, seen = greeting(s)
        check_eq((s.getsockname()[1], seen, sh), (40004, 40004, 0),
                 "with 40004 free again the connect goes through on exactly that port, shard 0")
        check_eq(svs.module_dests(VIP, 9200)[RIPS[0]]["shard_conns"], [1, 1, 1, 1], "per-shard counts")
    finally:
        for s in keep:
            svs.rst_close(s)
    step("restore the sysctls")
    restore(orig)
    check_eq({k: svs.read_sysctl(k) for k in orig}, orig, "sysctls restored")

    other_policies(servers[1])


def shards_of(n, what):
    """n sequential connects to SVC3; the shard each landed on (after
    checking the server saw the same port and shard)."""
    out = []
    for _ in range(n):
        s = svs.tcp_connect(VIP, 9300, timeout=60)
        try:
            sh, _, seen = greeting(s)
            lport = s.getsockname()[1]
        finally:
            svs.rst_close(s)
        if (seen, sh) != (lport, lport % SHARDS):
            raise svs.Fail("%s: local port %d, server saw %d on shard %d" % (what, lport, seen, sh))
        out.append(sh)
    return out


def other_policies(server):
    step("shard policies rr, hash and cpu on one 4-shard server (%s behind %s)" % (server.ident, SVC3))
    adm_ok("-A", "-t", SVC3, "-s", "rr")
    adm_ok("-a", "-t", SVC3, "-r", server.ident, "--shards", str(SHARDS))
    got = shards_of(8, "rr")
    check_eq([(got[i + 1] - got[i]) % SHARDS for i in range(7)], [1] * 7,
             "rr (the default): consecutive connects take consecutive shards (%s)" % got)

    adm_ok("-E", "-t", SVC3, "--shard-policy", "hash")
    want = svs_model.mix64(svs_model.hash_tgid(os.getpid())) % SHARDS
    check_eq(shards_of(6, "hash"), [want] * 6,
             "hash (key tgid): every connect of this process on shard mix64(key) %% 4 = %d" % want)

    adm_ok("-E", "-t", SVC3, "--shard-policy", "cpu")
    old = os.sched_getaffinity(0)
    try:
        for cpu in sorted(old)[:SHARDS]:
            os.sched_setaffinity(0, {cpu})
            check_eq(shards_of(4, "cpu %d" % cpu), [cpu % SHARDS] * 4,
                     "cpu: pinned to CPU %d, every connect on shard %d" % (cpu, cpu % SHARDS))
    finally:
        os.sched_setaffinity(0, old)

    step("shards are fixed for the life of a real server; bad values are refused")
    svs.adm_fail("-e", "-t", SVC3, "-r", server.ident, "--shards", "2", err_re="shards")
    svs.adm_fail("-a", "-t", SVC3, "-r", "127.0.0.1:9103", "--shards", "0", rc=(2,), err_re="shards")
    svs.adm_fail("-a", "-t", SVC3, "-r", "127.0.0.1:9103", "--shards", "1025", rc=(2,), err_re="shards")
    check_eq(svs.shard_listing("TCP", SVC3)["dests"][server.ident]["shards"], SHARDS, "still 4 shards")
    saved = svs.save()
    check("-A -t %s -s rr --shard-policy cpu\n" % SVC3 in saved
          and "-a -t %s -r %s -w 1 --shards 4\n" % (SVC3, server.ident) in saved,
          "-S -n saves the shard policy and the shards:\n" + saved)


svs.case(main, private_netns=True)
