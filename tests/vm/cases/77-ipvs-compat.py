#!/usr/bin/env python3
"""IPVS compatibility (issue 16): sock_vs loaded with ipvs_compat=1 answers
the kernel's IPVS generic netlink family, and Debian's own ipvsadm,
unmodified, configures it.

- Reference first: the same ipvsadm commands (good and bad ones) run against
  the kernel's real ip_vs, then against sock_vs in compat mode: every
  command's exit code and message match, and so do `ipvsadm -S -n`,
  `-L -n`, `-L -n --stats`, `--rate`, `--exact`, `-L --timeout`, and
  /proc/net/ip_vs (same blocks) and /proc/net/ip_vs_stats; `-S | -C; -R`
  gives the same table back;
- sockvsadm -S -n shows the table ipvsadm made (one table, two families);
- redis-benchmark through the virtual address is balanced as `ipvsadm -L -n`
  says (rr 1:1, then wrr 2:1 after `ipvsadm -e -w 2`), and `-L -n --stats`
  counts the connections the servers saw; -Z zeroes; -C flushes;
- what sock_vs cannot do (fwmark services, one-packet scheduling, a
  persistence engine, the sync daemon, an unknown scheduler) is refused with
  IPVS's errno for an invalid request and a log line, the table unchanged;
- unprivileged ipvsadm is refused as by IPVS; another network namespace has
  its own (empty) table and /proc/net/ip_vs;
- ip_vs cannot load while compat is on (one clear line in dmesg), and sock_vs
  with ipvs_compat=1 refuses to load while ip_vs is loaded (one line, nothing
  registered: the real ip_vs keeps working).
"""
# svs-timeout: 600

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import check, check_eq, step  # noqa: E402

VIP = svs.VIP4
VIP6 = svs.VIP6
PORTS = [9401, 9402]

# Commands whose outcome must be the same against ip_vs and against sock_vs.
# ipvsadm's defaults: scheduler wlc, direct routing (-g).
SEQUENCE = [
    "-A -t %s:80 -s rr" % VIP,
    "-A -t %s:80 -s rr" % VIP,                     # exists
    "-A -t %s:81 -s nosuch" % VIP,                 # no such scheduler
    "-A -t %s:81 -p 600" % VIP,                    # wlc, persistent
    "-A -u %s:53 -s wrr" % VIP,
    "-A -t [%s]:80 -s lc" % VIP6,
    "-a -t %s:80 -r 127.0.0.1:9301 -m -w 2" % VIP,
    "-a -t %s:80 -r 127.0.0.1:9302 -g -w 1 -x 100 -y 10" % VIP,
    "-a -t %s:80 -r 127.0.0.1:9302" % VIP,         # exists
    "-a -t %s:80 -r 127.0.0.1:9303 -i -w 0" % VIP,
    "-a -t %s:99 -r 127.0.0.1:9303" % VIP,         # no such service
    "-e -t %s:80 -r 127.0.0.1:9303 -w 3" % VIP,
    "-e -t %s:80 -r 127.0.0.1:9309 -w 3" % VIP,    # no such server
    "-a -t %s:80 -r 127.0.0.1:9304 -x 5 -y 10" % VIP,   # lower above upper
    "-a -t [%s]:80 -r [::1]:9301 -m" % VIP6,
    "-a -t %s:81 -r 127.0.0.1:9311" % VIP,
    "-d -t %s:80 -r 127.0.0.1:9309" % VIP,         # no such server
    "-d -t %s:80 -r 127.0.0.1:9303" % VIP,
    "-E -t %s:81 -s rr -p 120" % VIP,
    "-E -t %s:99 -s rr" % VIP,                     # no such service
    "-D -t %s:99" % VIP,                           # no such service
    "-a -u %s:53 -r 127.0.0.1:9353 -w 1" % VIP,
    "-A -t %s:82 -s sh" % VIP,
    "-D -t %s:82" % VIP,
    "--set 100 20 30",
]

LISTINGS = [["-S", "-n"], ["-L", "-n"], ["-L", "-n", "--stats"], ["-L", "-n", "--rate"],
            ["-L", "-n", "--exact"], ["-L", "-n", "--timeout"]]


def ipvsadm(args, netns=None, prefix=()):
    return svs.run(svs.netns_cmd(netns, list(prefix) + ["ipvsadm"] + list(args)))


def run_sequence():
    out = []
    for c in SEQUENCE:
        r = ipvsadm(c.split())
        out.append((c, r.returncode, r.stdout.strip(), r.stderr.strip()))
    return out


def read(path):
    with open(path) as f:
        return f.read()


def proc_blocks(text):
    """/proc/net/ip_vs as (header, sorted service blocks with sorted servers):
    ip_vs lists services in hash order, sock_vs in creation order."""
    lines = text.splitlines()
    head, blocks, cur = lines[:3], [], None
    for l in lines[3:]:
        if l.startswith("  ->"):
            cur[1].append(l)
        else:
            cur = (l, [])
            blocks.append(cur)
    return head, sorted((s, sorted(d)) for s, d in blocks)


def snapshot():
    snap = {" ".join(a): ipvsadm(a).stdout for a in LISTINGS}
    snap["/proc/net/ip_vs"] = proc_blocks(read("/proc/net/ip_vs"))
    snap["/proc/net/ip_vs_stats"] = read("/proc/net/ip_vs_stats")
    return snap


def ipvs_modules():
    return [l.split()[0] for l in read("/proc/modules").splitlines()
            if l.startswith("ip_vs")]


def unload_ipvs():
    mods = ipvs_modules()
    if mods:
        svs.run_ok(["modprobe", "-r"] + sorted(mods, key=lambda m: m == "ip_vs"))
    check(not ipvs_modules(), "ip_vs unloaded (%s)" % ipvs_modules())


def load_compat():
    svs.reload_module(["ipvs_compat=1"])


def restore_plain():
    if os.path.isdir("/sys/module/ip_vs"):
        unload_ipvs()
    svs.reload_module()


def main():
    svs.defer(restore_plain)

    step("reference: Debian's ipvsadm against the kernel's ip_vs")
    svs.run_ok(["modprobe", "ip_vs"])
    ipvsadm(["-C"])
    want = run_sequence()
    want_snap = snapshot()
    ipvsadm(["-C"])
    ipvsadm(["--set", "900", "120", "300"])
    unload_ipvs()

    step("the same commands against sock_vs with ipvs_compat=1")
    load_compat()
    check(not os.path.isdir("/sys/module/ip_vs"), "ip_vs not loaded by ipvsadm")
    got = run_sequence()
    for w, g in zip(want, got):
        svs.log("  ipvsadm %-48s ip_vs: %d %-28r sock_vs: %d %r" % (w[0], w[1], w[3], g[1], g[3]))
    check_eq([g[1:] for g in got], [w[1:] for w in want], "ipvsadm's exit codes and messages")
    got_snap = snapshot()
    for k in want_snap:
        check_eq(got_snap[k], want_snap[k], "`ipvsadm %s` / %s, sock_vs vs ip_vs" % (k, k)
                 if not k.startswith("/") else k)
    svs.log(want_snap["-S -n"])

    step("ipvsadm -S -n | ipvsadm -C; ipvsadm -R: the same table again")
    saved = ipvsadm(["-S", "-n"]).stdout
    svs.run_ok(["ipvsadm", "-C"])
    check_eq(ipvsadm(["-S", "-n"]).stdout, "", "ipvsadm -S after -C")
    svs.run_ok(["ipvsadm", "-R"], input=saved)
    check_eq(ipvsadm(["-S", "-n"]).stdout, saved, "ipvsadm -S after -R")

    step("sockvsadm shows the table ipvsadm made")
    save = svs.save()
    svs.log(save)
    for want_line in ["-A -t %s:80 -s rr" % VIP, "-a -t %s:80 -r 127.0.0.1:9301 -w 2" % VIP,
                      "-A -t %s:81 -s rr" % VIP, "-p 120",
                      "-A -u %s:53 -s wrr" % VIP, "-A -t [%s]:80 -s lc" % VIP6]:
        check(want_line in save, "sockvsadm -S has %r" % want_line)
    n_svc = len([l for l in save.splitlines() if l.startswith("-A")])
    check_eq(n_svc, 4, "services seen by sockvsadm")

    step("a change made by sockvsadm is seen by ipvsadm")
    # (ipvsadm gives a direct-routing server the service's port)
    svs.adm_ok("-e", "-t", "%s:80" % VIP, "-r", "127.0.0.1:80", "-w", "5")
    out = ipvsadm(["-L", "-n"]).stdout
    check(re.search(r"127\.0\.0\.1:80\s+Route\s+5\s", out), "ipvsadm -L shows weight 5, Route:\n" + out)

    step("unsupported IPVS features: refused (EINVAL), logged, table unchanged")
    before = ipvsadm(["-S", "-n"]).stdout
    marker = "sock_vs-tests: 77 refusals"
    svs.kmsg_mark(marker)
    for c in ["-A -f 7 -s rr", "-A -u [%s]:83 -s rr -o" % VIP6,
              "-A -t %s:84 -p 60 --pe sip" % VIP, "--start-daemon master --mcast-interface lo",
              "-A -t %s:85 -s dh" % VIP]:
        r = ipvsadm(c.split())
        svs.log("  ipvsadm %s -> %d %s" % (c, r.returncode, r.stderr.strip()))
        check(r.returncode != 0, "ipvsadm %s refused" % c)
    check_eq(ipvsadm(["-S", "-n"]).stdout, before, "table after the refusals")
    logged = [l for l in svs.kmsg_since(marker) if "IPVS request refused" in l]
    svs.log("\n".join("  " + l for l in logged))
    check(len(logged) >= 5, "a log line per refused feature (%d)" % len(logged))

    step("unprivileged ipvsadm is refused, as by IPVS")
    r = ipvsadm(["-L", "-n"], prefix=("setpriv", "--reuid=65534", "--regid=65534",
                                      "--clear-groups", "--inh-caps=-all"))
    svs.log("  as nobody: %d %s" % (r.returncode, r.stderr.strip()))
    check(r.returncode != 0, "ipvsadm -L as nobody fails")

    step("another network namespace has its own table and /proc/net/ip_vs")
    ns = "svs77"
    svs.netns_add(ns)
    out = ipvsadm(["-S", "-n"], netns=ns)
    check_eq((out.returncode, out.stdout), (0, ""), "ipvsadm -S in a new namespace")
    proc = svs.run_ok(["ip", "netns", "exec", ns, "cat", "/proc/net/ip_vs"])
    check_eq(len(proc.splitlines()), 3, "/proc/net/ip_vs lines in the new namespace")
    r = ipvsadm(["-A", "-t", "%s:80" % VIP, "-s", "rr"], netns=ns)
    check_eq(r.returncode, 0, "ipvsadm -A in the namespace")
    check("-A -t %s:80 -s rr" % VIP in svs.save(netns=ns), "sockvsadm sees the namespace's service")
    svs.netns_del(ns)

    step("redis-benchmark through the virtual address, balanced as ipvsadm says")
    ipvsadm(["-C"])
    servers = [svs.RedisServer(p) for p in PORTS]
    vs = "%s:6379" % VIP
    svs.run_ok(["ipvsadm", "-A", "-t", vs, "-s", "rr"])
    for p in PORTS:
        svs.run_ok(["ipvsadm", "-a", "-t", vs, "-r", "127.0.0.1:%d" % p, "-m", "-w", "1"])
    base = [s.total_connections() for s in servers]
    svs.redis_benchmark(VIP, 6379, clients=20, requests=2000)
    seen = [s.total_connections() - b for s, b in zip(servers, base)]
    svs.log("  rr 1:1: connections per server %s" % seen)
    # redis-benchmark opens one more connection to read the server's config
    check(sum(seen) >= 20 and abs(seen[0] - seen[1]) <= 1, "rr over two servers: %s" % seen)
    stats = ipvsadm(["-L", "-n", "--stats", "--exact"]).stdout
    svs.log(stats)
    for p, n in zip(PORTS, seen):
        check(re.search(r"127\.0\.0\.1:%d\s+%d\s" % (p, n), stats),
              "ipvsadm --stats counts %d connections for %d" % (n, p))
    svs.run_ok(["ipvsadm", "-E", "-t", vs, "-s", "wrr"])
    svs.run_ok(["ipvsadm", "-e", "-t", vs, "-r", "127.0.0.1:%d" % PORTS[0], "-m", "-w", "2"])
    base = [s.total_connections() for s in servers]
    svs.redis_benchmark(VIP, 6379, clients=30, requests=3000)
    seen = [s.total_connections() - b for s, b in zip(servers, base)]
    svs.log("  wrr 2:1: connections per server %s" % seen)
    check(sum(seen) >= 30 and abs(seen[0] - 2 * seen[1]) <= 2, "wrr 2:1: %s" % seen)
    svs.run_ok(["ipvsadm", "-Z"])
    stats = ipvsadm(["-L", "-n", "--stats", "--exact"]).stdout
    check(re.search(r"127\.0\.0\.1:%d\s+0\s" % PORTS[0], stats), "-Z zeroes:\n" + stats)
    svs.run_ok(["ipvsadm", "-C"])
    check_eq(svs.save(), "", "sockvsadm -S after ipvsadm -C")

    step("ip_vs cannot load while compat is on")
    marker = "sock_vs-tests: 77 load ip_vs"
    svs.kmsg_mark(marker)
    r = svs.run(["modprobe", "ip_vs"])
    svs.log("  modprobe ip_vs: %d %s" % (r.returncode, r.stderr.strip()))
    check(r.returncode != 0 and not os.path.isdir("/sys/module/ip_vs"), "ip_vs refused")
    lines = [l for l in svs.kmsg_since(marker) if "sock_vs" in l and "ip_vs" in l]
    svs.log("\n".join("  " + l for l in lines))
    check(any("not loaded" in l for l in lines), "one line in dmesg says why")
    check_eq(ipvsadm(["-L", "-n"]).returncode, 0, "ipvsadm still works against sock_vs")

    step("sock_vs with ipvs_compat=1 refuses to load while ip_vs is loaded")
    svs.rmmod()
    svs.run_ok(["modprobe", "ip_vs"])
    marker = "sock_vs-tests: 77 compat with ip_vs"
    svs.kmsg_mark(marker)
    r = svs.run(["insmod", svs.KO_PATH, "ipvs_compat=1"])
    svs.log("  insmod ipvs_compat=1: %d %s" % (r.returncode, r.stderr.strip()))
    check(r.returncode != 0 and not svs.module_loaded(), "insmod refused")
    lines = [l for l in svs.kmsg_since(marker) if "sock_vs" in l]
    svs.log("\n".join("  " + l for l in lines))
    check(any("ipvs_compat=1 refused" in l for l in lines), "one line in dmesg says why")
    r = ipvsadm(["-A", "-t", "%s:80" % VIP, "-s", "rr"])
    check_eq(r.returncode, 0, "the real ip_vs still answers ipvsadm")
    ipvsadm(["-C"])
    unload_ipvs()
    svs.insmod()


if __name__ == "__main__":
    svs.case(main)
