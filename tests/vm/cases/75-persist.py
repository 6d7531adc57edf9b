#!/usr/bin/env python3
"""Persistence (issue 14, ipvsadm's -p): SOCK_VS_SVC_ATTR_PERSIST and the
templates of SOCK_VS_CMD_GET_TEMPLATE. Real processes connect through a TCP
service with two real servers and rr:

- 50 connects of one process land on one server, and its template names it
  (client = its tgid, open connections, expiry);
- several processes each stay on the server their own template names, and
  between them use both servers (rr goes on over new clients only);
- a template lives while a connection uses it, and expires the timeout
  after the last one closed (the next connect is scheduled anew);
- quiescing (weight 0) or deleting a template's server drops the template
  at once, and the client's next connect moves;
- hash key netns: every process of the namespace is one client;
- the port scheduler with persistence is refused, persistence above the
  maximum is refused, both with the kernel's message, nothing changed;
- flush and the end of a namespace free every template (slab counts);
- sockvsadm: -A -p, -L's "persistent N", -S's "-p N", -S | -R and --json
  round trips, -L -c's TEMPLATE rows, -E without -p, --hash-key netns, and
  bad -p values and -p with -s port (usage errors).
"""

import errno
import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_genl as g  # noqa: E402
import svs_mem  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP = svs.VIP4
SVC = "%s:80" % VIP
PORTS = [9291, 9292]
REAL = ["127.0.0.1:%d" % p for p in PORTS]
TMPL = {k[len("SOCK_VS_TMPL_ATTR_"):]: v for k, v in g.ENUMS["sock_vs_tmpl_attr"].items()}
HASH = {k[len("SOCK_VS_HASH_"):]: v for k, v in g.ENUMS["sock_vs_hash_key"].items()}
PERSIST_MAX = int(svs.uapi_define("SOCK_VS_PERSIST_MAX"))


class Nl:
    def __init__(self):
        self.g = g.Genl()
        svs.defer(self.g.close)

    def persist(self, timeout, hash_key=None, sched=None, cmd="SET_SERVICE"):
        attrs = g.svc_attrs(VIP, 80, socket.IPPROTO_TCP, sched=sched)
        attrs.append(g.u32(g.SVC["PERSIST"], timeout))
        if hash_key is not None:
            attrs.append(g.nla(g.SVC["HASH_KEY"], struct.pack("=B", HASH[hash_key])))
        return self.g.cmd(cmd, g.nest(g.ATTR["SERVICE"], *attrs))

    def service_persist(self):
        r = self.g.cmd("GET_SERVICE", g.nest(g.ATTR["SERVICE"], *g.svc_attrs(VIP, 80)))
        if r.error:
            raise svs.Fail("GET_SERVICE: %s" % svs.errno_name(-r.error))
        svc = g.parse_attrs(g.parse_attrs(r.msgs[0])[g.ATTR["SERVICE"]])
        return struct.unpack("=I", svc[g.SVC["PERSIST"]])[0]

    def templates(self):
        """[{name: value}] of the namespace's templates (DADDR as 'ip:port')."""
        r = self.g.cmd("GET_TEMPLATE", flags=g.NLM_F_REQUEST | g.NLM_F_DUMP)
        if r.error:
            raise svs.Fail("GET_TEMPLATE dump: %s %s" % (svs.errno_name(-r.error), r.extack_msg))
        out = []
        for m in r.msgs:
            a = g.parse_attrs(g.parse_attrs(m)[g.ATTR["TEMPLATE"]])
            fam = struct.unpack("=H", a[TMPL["AF"]])[0]
            out.append({
                "dest": "%s:%d" % (socket.inet_ntop(fam, a[TMPL["DADDR"]]),
                                   struct.unpack("=H", a[TMPL["DPORT"]])[0]),
                "vip": "%s:%d" % (socket.inet_ntop(fam, a[TMPL["VADDR"]]),
                                  struct.unpack("=H", a[TMPL["VPORT"]])[0]),
                "kind": a[TMPL["CLIENT_KIND"]][0],
                "client": struct.unpack("=Q", a[TMPL["CLIENT"]])[0],
                "conns": struct.unpack("=I", a[TMPL["CONNS"]])[0],
                "expires": struct.unpack("=I", a[TMPL["EXPIRES"]])[0],
            })
        return out

    def info(self, name):
        r = self.g.cmd("GET_INFO")
        info = g.parse_attrs(g.parse_attrs(r.msgs[0])[g.ATTR["INFO"]])
        return struct.unpack("=I", info[g.INFO[name]])[0]


def probe_proc(count):
    """A new process that connects @count times: (its pid, the idents)."""
    p = subprocess.Popen([sys.executable, os.path.join(svs.LIB_DIR, "svs.py"), "probe", "tcp",
                          VIP, "80", "--count", str(count)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60 + 10 * count)
    if p.returncode:
        raise svs.Fail("probe failed: %s" % err)
    return p.pid, json.loads(out)


def of_client(tmpls, pid):
    mine = [t for t in tmpls if t["kind"] == HASH["TGID"] and t["client"] == pid]
    check_eq(len(mine), 1, "templates of process %d" % pid)
    return mine[0]


def main():
    svs.fresh_config()
    svs.add_local_addr(VIP)
    for p in PORTS:
        svs.echo_server("tcp", "127.0.0.1", p)
    base = svs_mem.wait_back(svs_mem.snapshot(), "before the case", timeout=30, percpu=False)
    nl = Nl()

    step("a persistent rr service; 50 connects of one process land on one server")
    adm_ok("-A", "-t", SVC, "-s", "rr")
    for p in PORTS:
        adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:%d" % p)
    r = nl.persist(300)
    check_eq((r.error, r.extack_msg), (0, None), "SET_SERVICE PERSIST 300")
    check_eq(nl.service_persist(), 300, "GET_SERVICE's PERSIST")
    pid, idents = probe_proc(50)
    check_eq(len(set(idents)), 1, "50 connects of process %d went to one server (%s)" % (pid, sorted(set(idents))))
    t = of_client(nl.templates(), pid)
    check_eq(t["dest"], idents[0], "its template names that server")
    check_eq((t["vip"], t["conns"]), (SVC, 0), "the template's service, no open connection")
    check(290 <= t["expires"] <= 300, "it expires in %ds (timeout 300)" % t["expires"])
    check_eq(nl.info("TEMPLATES"), 1, "GET_INFO: one template")

    step("more processes: each on its own template's server, both servers used")
    seen = set()
    for _ in range(4):
        pid, idents = probe_proc(5)
        check_eq(len(set(idents)), 1, "process %d stays on one server" % pid)
        check_eq(of_client(nl.templates(), pid)["dest"], idents[0], "and its template names it")
        seen.add(idents[0])
    check_eq(seen, set(REAL), "rr over new clients used both servers")

    step("a template lives while its connection is open, expires after the timeout")
    adm_ok("-C")
    check_eq(nl.templates(), [], "flush drops every template")
    adm_ok("-A", "-t", SVC, "-s", "rr")
    for p in PORTS:
        adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:%d" % p)
    check_eq(nl.persist(2).error, 0, "PERSIST 2")
    holder = svs.hold_connection(VIP, 80)
    held = holder.ready_line.split()[2]
    time.sleep(3.5)
    t = of_client(nl.templates(), holder.pid)
    check_eq((t["dest"], t["conns"], t["expires"]), (held, 1, 2), "after 3.5s its template stays (1 connection, expires: the timeout)")
    svs.kill(holder)
    svs.wait_for(lambda: of_client(nl.templates(), holder.pid)["conns"] == 0, 10, "the connection's close")
    svs.wait_for(lambda: not nl.templates(), 10, "the template's expiry (2s after the close)")
    svs.wait_for(lambda: nl.info("TEMPLATES") == 0, 10, "the sweep (every second) to free it (GET_INFO)")

    step("quiescing or deleting a template's server drops it; the client moves")
    check_eq(nl.persist(300).error, 0, "PERSIST 300")
    # One process: a connection held open, then its next connects.
    script = ("import sys,time;sys.path.insert(0,%r);import svs\n"
              "a=svs.tcp_ident(%r,80);print(a,flush=True);sys.stdin.readline()\n"
              "print(' '.join(svs.tcp_ident(%r,80) for _ in range(3)),flush=True);sys.stdin.readline()\n"
              "print(' '.join(svs.tcp_ident(%r,80) for _ in range(3)),flush=True)\n") % (svs.LIB_DIR, VIP, VIP, VIP)
    p = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    svs.defer(p.kill)
    first = p.stdout.readline().strip()
    check(first in REAL, "first connect to %s" % first)
    other = [x for x in REAL if x != first][0]
    adm_ok("-e", "-t", SVC, "-r", first, "-w", "0")
    check_eq([t for t in nl.templates() if t["client"] == p.pid], [], "quiescing %s dropped its template" % first)
    p.stdin.write("\n")
    p.stdin.flush()
    check_eq(p.stdout.readline().split(), [other] * 3, "the next 3 connects go to %s" % other)
    check_eq(of_client(nl.templates(), p.pid)["dest"], other, "its new template names it")
    adm_ok("-e", "-t", SVC, "-r", first, "-w", "1")
    adm_ok("-d", "-t", SVC, "-r", other)
    check_eq([t for t in nl.templates() if t["client"] == p.pid], [], "deleting %s dropped its template" % other)
    p.stdin.write("\n")
    p.stdin.flush()
    check_eq(p.stdout.readline().split(), [first] * 3, "the next 3 connects go to %s" % first)
    p.wait(30)
    adm_ok("-a", "-t", SVC, "-r", other)

    step("hash key netns: every process of the namespace is one client")
    check_eq(nl.persist(300, hash_key="NETNS").error, 0, "PERSIST 300, HASH_KEY netns")
    got = set()
    for _ in range(4):
        got.update(probe_proc(3)[1])
    check_eq(len(got), 1, "4 processes went to one server (%s)" % sorted(got))
    netns_t = [t for t in nl.templates() if t["kind"] == HASH["NETNS"]]
    check_eq([(t["client"], t["dest"]) for t in netns_t], [(0, got.pop())], "one netns template names it")

    step("bad input is refused with the kernel's message; nothing changes")
    r = nl.persist(300, sched="port")
    check(r.error == -errno.EINVAL and "port scheduler" in (r.extack_msg or ""), "port scheduler with persistence: %r" % r)
    r = nl.persist(PERSIST_MAX + 1)
    check_eq(r.error, -errno.ERANGE, "PERSIST above %d (the policy's range check)" % PERSIST_MAX)
    check_eq(nl.service_persist(), 300, "persistence unchanged")
    check_eq(svs.listing().service("TCP", SVC)["sched"], "rr", "scheduler unchanged")

    step("persistence off: templates go; flush leaves no template objects")
    check_eq(nl.persist(0).error, 0, "PERSIST 0")
    check_eq(nl.templates(), [], "no templates without persistence")
    check_eq(nl.persist(300).error, 0, "PERSIST 300 again")
    for _ in range(3):
        probe_proc(2)
    check(len(nl.templates()) >= 1, "templates again")
    svs.flush()
    check_eq(nl.info("TEMPLATES"), 0, "GET_INFO after flush")
    svs_mem.wait_back(base, "after flush", timeout=60, percpu=False)

    step("templates of a namespace that goes away are freed with it")
    ns = "svs-75"
    svs.netns_add(ns)
    svs.add_local_addr(VIP, netns=ns)
    for p in PORTS:
        svs.spawn_echo_server("tcp", "127.0.0.1", p, netns=ns)
    adm_ok("-A", "-t", SVC, "-s", "rr", netns=ns)
    for p in PORTS:
        adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:%d" % p, netns=ns)
    svs.run_ok(svs.netns_cmd(ns, [sys.executable, "-c",
        "import sys;sys.path.insert(0,%r);import svs_genl as g,socket,struct;n=g.Genl();"
        "r=n.cmd('SET_SERVICE',g.nest(g.ATTR['SERVICE'],*g.svc_attrs(%r,80),g.u32(g.SVC['PERSIST'],300)));"
        "sys.exit(-r.error)" % (svs.LIB_DIR, VIP)]))
    for _ in range(3):
        check(all(x in REAL for x in svs.probe("tcp", VIP, 80, count=2, netns=ns)), "balanced in %s" % ns)
    holder = svs.hold_connection(VIP, 80, netns=ns)
    check(svs_mem.slab_objects()["svs_tmpl"] > base["slab"]["svs_tmpl"], "templates exist in %s" % ns)
    svs.kill(holder)
    svs.netns_del(ns)
    svs_mem.wait_back(base, "after the namespace's deletion", timeout=60, percpu=False)
    cli(nl)


def cli(nl):
    step("sockvsadm -A -p, -L, -S, -R, --json, -L -c")
    adm_ok("-A", "-t", SVC, "-s", "rr", "-p", "120")
    for p in PORTS:
        adm_ok("-a", "-t", SVC, "-r", "127.0.0.1:%d" % p)
    check_eq(svs.listing().service("TCP", SVC)["flags"], "persistent 120", "-L's flags")
    saved = svs.save()
    check("-A -t %s -s rr -p 120" % SVC in saved.splitlines(), "-S writes -p 120:\n%s" % saved)
    pid, idents = probe_proc(10)
    check_eq(len(set(idents)), 1, "10 connects of one process, one server")
    rows = [line.split() for line in adm_ok("-L", "-n", "-c").splitlines() if "TEMPLATE" in line]
    check_eq([(r[0], r[1], r[2], r[3], r[4]) for r in rows], [("TCP", "TEMPLATE", "tgid:%d" % pid, SVC, idents[0])],
             "-L -c's template row")
    check(rows[0][5:7] == ["expire", rows[0][6]] and rows[0][-2:] == ["conns", "0"], "expiry and conns: %s" % rows[0])
    svs.flush()
    adm_ok("-R", input=saved)
    check_eq(svs.save(), saved, "-S after -R")
    saved_json = adm_ok("-S", "--json")
    check('"persistent": 120' in saved_json or '"persistent":120' in saved_json, "-S --json has persistent 120")
    svs.flush()
    adm_ok("-R", "--json", input=saved_json)
    check_eq(svs.save(), saved, "-S after -R --json")
    check_eq(nl.service_persist(), 120, "the module's PERSIST after -R --json")

    step("-E without -p ends persistence (as ipvsadm); --hash-key netns")
    adm_ok("-E", "-t", SVC, "-s", "rr")
    check_eq(nl.service_persist(), 0, "-E without -p")
    check_eq(nl.templates(), [], "and its templates went")
    adm_ok("-E", "-t", SVC, "-s", "rr", "-p", "--hash-key", "netns")
    check_eq(svs.listing().service("TCP", SVC)["flags"], "persistent 300 hash-key netns", "-p alone is 300")
    got = set()
    for _ in range(3):
        got.update(probe_proc(2)[1])
    check_eq(len(got), 1, "3 processes, one server (netns)")
    check(any("TEMPLATE" in line and " netns " in line for line in adm_ok("-L", "-n", "-c").splitlines()),
          "-L -c shows the netns template")

    step("bad -p values and -p with the port scheduler are refused; nothing changes")
    before = svs.save()
    for v in ("0", "2678401", "99999999999"):
        svs.adm_fail("-E", "-t", SVC, "-s", "rr", "-p", v, rc=(2,), err_re="persistence timeout")
        check_eq(svs.save(), before, "after -p %s" % v)
    # sockvsadm refuses it itself (a usage error); the module's refusal is checked above.
    svs.adm_fail("-E", "-t", SVC, "-s", "port", "-p", "10", rc=(2,), err_re="port scheduler")
    svs.adm_fail("-A", "-t", "%s:81" % VIP, "-s", "port", "-p", rc=(2,), err_re="port scheduler")
    check_eq(svs.save(), before, "after -p with -s port")
    svs.flush()


svs.case(main, private_netns=True)
