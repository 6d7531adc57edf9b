#!/usr/bin/env python3
"""Passive health, outlier ejection (issue 18): SOCK_VS_SVC_ATTR_EJECT and
its times, from the kernel's own TCP state of the balanced sockets.

A TCP service, rr, three real servers; the third has no listener, so every
connect to it is refused (an RST to the SYN: SYN_SENT -> CLOSE):

- with EJECT = 3 it is ejected after exactly 3 refused connects; later
  connects all succeed; its state is OUT, EJECTED counts 1, FAILED 3;
- after EJECT_TIME (2 s) one connect probes it: refused, so it is ejected
  again for twice the time (EJECT_LEFT > 2 s), EJECTED counts 2;
- once something listens there, the next probe readmits it (NONE) and rr
  uses it again;
- EJECT_MAX_PERCENT 50 with two of three servers refusing: only one is out
  at a time, the other keeps getting (and failing) its share;
- EJECT 0 readmits every server at once;
- bad input (UDP service, time 0, time above max, percent 0 or 101, EJECT
  above the maximum): the kernel's errno and message, the service unchanged;
- a log line per ejection;
- sockvsadm: -A/-E --eject, --eject-time, --eject-time-max,
  --eject-max-percent set them; -L shows "ejected" after the server that is
  out, --stats its Ejected and Failed counters (equal to the netlink ones),
  --json the state, -S writes the options and -R restores them; bad values
  are usage errors (exit 2), a base time above the current longest is the
  module's error (exit 1), and neither changes the table.
"""
# svs-timeout: 400

import errno
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_genl as g  # noqa: E402
from svs import check, check_eq, step  # noqa: E402

VIP = svs.VIP4
PORTS = [9501, 9502, 9503]
EJ = {k[len("SOCK_VS_EJECT_"):]: v for k, v in g.ENUMS["sock_vs_eject_state"].items()}
STATE = {v: k for k, v in EJ.items()}


class Nl:
    def __init__(self):
        self.g = g.Genl()
        svs.defer(self.g.close)

    def svc(self, cmd="SET_SERVICE", proto=socket.IPPROTO_TCP, port=80, **kw):
        attrs = g.svc_attrs(VIP, port, proto)
        for k, v in kw.items():
            name = k.upper()
            if name == "EJECT_MAX_PERCENT":
                attrs.append(g.nla(g.SVC[name], struct.pack("=B", v)))
            else:
                attrs.append(g.u32(g.SVC[name], v))
        return self.g.cmd(cmd, g.nest(g.ATTR["SERVICE"], *attrs))

    def service(self):
        r = self.g.cmd("GET_SERVICE", g.nest(g.ATTR["SERVICE"], *g.svc_attrs(VIP, 80)))
        if r.error:
            raise svs.Fail("GET_SERVICE: %r" % r)
        a = g.parse_attrs(g.parse_attrs(r.msgs[0])[g.ATTR["SERVICE"]])
        u32 = lambda n: struct.unpack("=I", a[g.SVC[n]])[0]  # noqa: E731
        st = g.parse_attrs(a[g.SVC["STATS"]])
        return {"eject": u32("EJECT"), "time": u32("EJECT_TIME"), "max": u32("EJECT_TIME_MAX"),
                "pct": a[g.SVC["EJECT_MAX_PERCENT"]][0],
                "ejected": struct.unpack("=Q", st[g.STATS["EJECTED"]])[0]}

    def dests(self):
        r = self.g.cmd("GET_DEST", g.nest(g.ATTR["SERVICE"], *g.svc_attrs(VIP, 80)),
                       flags=g.NLM_F_REQUEST | g.NLM_F_DUMP)
        if r.error:
            raise svs.Fail("GET_DEST dump: %r" % r)
        out = {}
        for m in r.msgs:
            a = g.parse_attrs(g.parse_attrs(m)[g.ATTR["DEST"]])
            port = struct.unpack("=H", a[g.DEST["PORT"]])[0]
            st = g.parse_attrs(a[g.DEST["STATS"]])
            out[port] = {
                "state": STATE[a[g.DEST["EJECTED"]][0]],
                "left": struct.unpack("=I", a[g.DEST["EJECT_LEFT"]])[0],
                "fails": struct.unpack("=I", a[g.DEST["FAILS"]])[0],
                "ejected": struct.unpack("=Q", st[g.STATS["EJECTED"]])[0],
                "failed": struct.unpack("=Q", st[g.STATS["FAILED"]])[0],
            }
        return out


def connects(n):
    """n connects through the VIP: list of server idents or 'refused'."""
    out = []
    for _ in range(n):
        try:
            out.append(svs.tcp_ident(VIP, 80))
        except ConnectionRefusedError:
            out.append("refused")
    return out


def main():
    svs.fresh_config()
    nl = Nl()
    servers = [svs.echo_server("tcp", "127.0.0.1", p) for p in PORTS[:2]]
    svs.adm_ok("-A", "-t", "%s:80" % VIP, "-s", "rr")
    for p in PORTS:
        svs.adm_ok("-a", "-t", "%s:80" % VIP, "-r", "127.0.0.1:%d" % p, "-w", "1")

    step("defaults, and bad input leaves the service unchanged")
    want = {"eject": 0, "time": 30, "max": 300, "pct": 50, "ejected": 0}
    check_eq(nl.service(), want, "a new service's ejection settings")
    bad = [({"eject_time": 0}, errno.ERANGE), ({"eject_max_percent": 0}, errno.ERANGE),
           ({"eject_max_percent": 101}, errno.ERANGE), ({"eject": 1001}, errno.ERANGE),
           ({"eject_time": 400}, errno.EINVAL), ({"eject_time_max": 86401}, errno.ERANGE)]
    for kw, e in bad:
        r = nl.svc(**kw)
        svs.log("  %s -> %r" % (kw, r))
        check_eq(r.error, -e, "SET_SERVICE %s" % kw)
    check_eq(nl.service(), want, "the service after the refusals")
    svs.adm_ok("-A", "-u", "%s:53" % VIP, "-s", "rr")
    r = nl.svc(proto=socket.IPPROTO_UDP, port=53, eject=3)
    check(r.error == -errno.EINVAL and "TCP" in (r.extack_msg or ""), "ejection on UDP: %r" % r)

    step("EJECT 3: the refusing server is out after exactly 3 failures")
    marker = "sock_vs-tests: 80 eject"
    svs.kmsg_mark(marker)
    check_eq(nl.svc(eject=3, eject_time=2, eject_time_max=8).error, 0, "SET_SERVICE EJECT 3")
    got = connects(30)
    check_eq(got.count("refused"), 3, "refused connects (%s)" % svs.tally(got))
    check(got[-10:].count("refused") == 0, "the last connects all succeed: %s" % got)
    d = nl.dests()
    svs.log("  %s" % d)
    check_eq((d[9503]["state"], d[9503]["ejected"], d[9503]["failed"]), ("OUT", 1, 3), "9503")
    check(all(d[p]["state"] == "NONE" for p in PORTS[:2]), "the others usable")
    check_eq(nl.service()["ejected"], 1, "service EJECTED")
    lines = [l for l in svs.kmsg_since(marker) if "ejected for" in l]
    svs.log("\n".join("  " + l for l in lines))
    check(any("127.0.0.1:9503 ejected for 2 s" in l for l in lines), "the ejection is logged")

    step("after 2 s one connect probes it: refused, out again for 4 s")
    svs.wait_for(lambda: nl.dests()[9503]["left"] == 0, 10, "the ejection time to pass")
    got = connects(12)
    check_eq(got.count("refused"), 1, "one probe (%s)" % svs.tally(got))
    d = nl.dests()[9503]
    svs.log("  %s" % d)
    check(d["state"] == "OUT" and d["ejected"] == 2 and d["left"] > 2000,
          "ejected again, for twice as long: %s" % d)

    step("something listens on 9503: the next probe readmits it, rr uses it")
    servers.append(svs.echo_server("tcp", "127.0.0.1", 9503))
    svs.wait_for(lambda: nl.dests()[9503]["left"] == 0, 15, "the ejection time to pass")
    got = connects(12)
    check_eq(got.count("refused"), 0, "no refusals (%s)" % svs.tally(got))
    d = nl.dests()[9503]
    check_eq((d["state"], d["fails"]), ("NONE", 0), "9503 readmitted")
    got = connects(9)
    check(got.count("127.0.0.1:9503") >= 2, "rr uses 9503 again: %s" % svs.tally(got))

    step("EJECT_MAX_PERCENT 50: with two of three refusing, one is out at a time")
    for s in servers[1:]:
        s.stop()
    time.sleep(0.5)
    got = connects(30)
    d = nl.dests()
    svs.log("  %s %s" % (svs.tally(got), d))
    out = [p for p in PORTS if d[p]["state"] != "NONE"]
    check_eq(len(out), 1, "servers out (50% of 3)")
    still = [p for p in PORTS[1:] if p not in out][0]
    check(d[still]["failed"] > 3, "the other refusing server keeps failing: %s" % d[still])

    step("sockvsadm shows it: -L state, --stats Ejected/Failed, --json, -S")
    d = nl.dests()
    out_port = [p for p in PORTS if d[p]["state"] != "NONE"][0]
    lst = svs.listing()
    for dest in lst.service("TCP", "%s:80" % VIP)["dests"]:
        port = int(dest["addr"].rsplit(":", 1)[1])
        want_state = {"OUT": "ejected", "PROBE": "probing"}.get(d[port]["state"], "")
        check_eq(dest["state"], want_state, "-L state of %s" % dest["addr"])
    check_eq(lst.service("TCP", "%s:80" % VIP)["flags"],
             "eject 3 eject-time 2 eject-time-max 8", "-L shows the options")
    st = svs.stats().service("TCP", "%s:80" % VIP)
    d = nl.dests()  # after the listing: the counters only grow while nothing connects
    for p in PORTS:
        rip = "127.0.0.1:%d" % p
        check_eq((st["dest_ejected"][rip], st["dest_failed"][rip]),
                 (d[p]["ejected"], d[p]["failed"]), "--stats Ejected/Failed of %s" % rip)
    check_eq(st["ejected"], nl.service()["ejected"], "--stats Ejected of the service")
    check_eq(st["failed"], sum(v["failed"] for v in d.values()),
             "--stats Failed of the service: the sum of its servers'")
    j = json.loads(svs.adm_ok("-L", "-n", "--json", "--stats"))
    js = [x for x in j["services"] if x["port"] == 80][0]
    check_eq(js["eject"], {"after": 3, "time": 2, "time_max": 8, "max_percent": 50}, "--json eject")
    jd = {x["port"]: x for x in js["dests"]}
    check_eq(jd[out_port]["ejected"], "ejected", "--json state of the server out")
    check_eq(jd[out_port]["stats"]["ejected"], d[out_port]["ejected"], "--json Ejected")
    saved = svs.adm_ok("-S", "-n")
    check("-A -t %s:80 -s rr --eject 3 --eject-time 2 --eject-time-max 8\n" % VIP in saved,
          "-S writes the options:\n" + saved)

    step("sockvsadm bad input: clear errors, the table unchanged")
    vs = "%s:80" % VIP
    for args, err in [(["--eject-max-percent", "0"], "expected 1-100"),
                      (["--eject", "-1"], "expected 0-1000"),
                      (["--eject", "1001"], "expected 0-1000"),
                      (["--eject-time", "0"], "expected 1-86400"),
                      (["--eject-time", "9", "--eject-time-max", "8"], "above the longest")]:
        svs.adm_fail("-E", "-t", vs, *args, rc=(2,), err_re=err)
    svs.adm_fail("-E", "-u", "%s:53" % VIP, "--eject", "3", rc=(2,), err_re="for TCP services")
    svs.adm_fail("-E", "-t", vs, "--eject-time", "9", rc=(1,),
                 err_re="ejection time above the longest ejection time")
    check_eq(svs.adm_ok("-S", "-n"), saved, "-S after the refusals")
    svs.adm_ok("-E", "-t", vs, "--eject-max-percent", "34", "--eject-time-max", "60")
    check_eq(nl.service()["pct"], 34, "--eject-max-percent 34")
    saved = svs.adm_ok("-S", "-n")
    svs.adm_ok("-C")
    svs.adm_ok("-R", input=saved)
    check_eq(svs.adm_ok("-S", "-n"), saved, "-S after -C and -R of it")
    check_eq((nl.service()["eject"], nl.service()["max"]), (3, 60), "restored settings")

    step("EJECT 0 readmits every server")
    check_eq(nl.svc(eject=0).error, 0, "SET_SERVICE EJECT 0")
    d = nl.dests()
    check(all(v["state"] == "NONE" for v in d.values()), "all usable: %s" % d)
    svs.flush()


if __name__ == "__main__":
    svs.case(main)
