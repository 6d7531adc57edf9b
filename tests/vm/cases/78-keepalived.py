#!/usr/bin/env python3
"""keepalived and prometheus-node-exporter against sock_vs in IPVS
compatibility mode (issue 16): Debian's own binaries, unmodified, with
sock_vs loaded as `insmod sock_vs.ko ipvs_compat=1` (ip_vs never loaded).

keepalived (checker process only, no VRRP) with three virtual_server blocks
on the virtual address (which exists nowhere: sock_vs rewrites connects):

- VIP:80    no lb_algo (keepalived's default, wlc), lb_kind NAT, two nginx
            servers checked by HTTP_GET (one by status_code, one by digest);
- VIP:7100  lb_algo rr, lb_kind DR, two echo servers on port 7100 checked by
            TCP_CHECK, with inhibit_on_failure;
- VIP:7000  lb_algo rr, lb_kind NAT, one echo server checked by a MISC_CHECK
            script (exit 0/1 from a flag file), one by TCP_CHECK.

Checked, each time with `ipvsadm -S -n` AND `sockvsadm -S -n` (same table)
and with real connects through the virtual address:
- keepalived creates the services and servers, and leaves a service it did
  not create (made with sockvsadm) alone;
- a stopped nginx is removed (HTTP_GET), new HTTP requests to VIP:80 all
  reach the other one; started again, it is added back and used;
- a stopped echo server under inhibit_on_failure stays with weight 0, new
  connects avoid it; started again, its weight is back;
- the MISC_CHECK flag off removes its server, on adds it back;
- prometheus-node-exporter (only its ipvs collector) reports the services'
  servers with the weights, active and inactive connections ipvsadm shows,
  and node_ipvs_connections_total the sum of ipvsadm --stats's Conns;
- SIGHUP after editing the config (one virtual_server removed, a weight
  changed): the table is keepalived's new config;
- SIGTERM: keepalived removes the services it created (its default), the
  foreign service stays; started again with --dont-release-ipvs, its stop
  leaves its table in place; ip_vs was never loaded, keepalived's log has
  no IPVS error.
"""
# svs-timeout: 300

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import check, check_eq, step  # noqa: E402

VIP = svs.VIP4
HTTP_VS = (VIP, 80)
NGINX = {"a": ("127.0.0.2", 8080), "b": ("127.0.0.3", 8080)}
DR_VS = (VIP, 7100)
DR_RS = [("127.0.0.4", 7100), ("127.0.0.5", 7100)]
MISC_VS = (VIP, 7000)
MISC_RS = ("127.0.0.6", 7001)    # MISC_CHECK
MISC_TCP_RS = ("127.0.0.6", 7002)  # TCP_CHECK
FOREIGN_VS = (VIP, 7999)
EXPORTER_PORT = 9178
WAIT = 90   # seconds for keepalived's checkers to act (TCG is slow)

TMP = tempfile.mkdtemp(prefix="svs78-")
os.chmod(TMP, 0o755)
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def path(name):
    return os.path.join(TMP, name)


def ep(addr):
    return "%s:%d" % addr


# ------------------------------------------------------------------ servers

def page(name):
    return "nginx %s\n" % name


def http_get(host, port, timeout=10):
    with OPENER.open("http://%s:%d/" % (host, port), timeout=timeout) as r:
        return r.status, r.read().decode()


def start_nginx(name):
    host, port = NGINX[name]
    d = path("nginx-" + name)
    os.makedirs(os.path.join(d, "www"), exist_ok=True)
    with open(os.path.join(d, "www", "index.html"), "w") as f:
        f.write(page(name))
    conf = os.path.join(d, "nginx.conf")
    temp = "\n".join("  %s_temp_path %s/%s;" % (k, d, k)
                     for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
user root root;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 64; }
http {
  access_log off;
%(temp)s
  server { listen %(host)s:%(port)d; root %(d)s/www; }
}
""" % dict(d=d, temp=temp, host=host, port=port))
    p = svs.spawn(["nginx", "-c", conf, "-e", os.path.join(d, "error.log"), "-g", "daemon off;"])

    def up():
        if p.poll() is not None:
            p.errfile.seek(0)
            raise svs.Fail("nginx %s exited (%s): %s" % (name, p.returncode, p.errfile.read()))
        try:
            return http_get(host, port, timeout=5) == (200, page(name))
        except OSError:
            return False
    svs.wait_for(up, 60, "nginx %s on %s:%d" % (name, host, port), 0.2)
    return p


def start_echo(addr):
    return svs.echo_server("tcp", addr[0], addr[1], ident=ep(addr))


# --------------------------------------------------------------- keepalived

def keepalived_conf(reloaded=False):
    """keepalived.conf; reloaded: VIP:7000 removed, nginx b's weight 3."""
    # connect_timeout 1 is too short under TCG for the first checks (one
    # HTTP_GET timed out at startup); a stopped server is refused at once
    check_opts = "connect_timeout 3\n            retry 1\n            delay_before_retry 1"
    digest_b = hashlib.md5(page("b").encode()).hexdigest()
    vs = []
    vs.append("""virtual_server %s %d {
    delay_loop 1
    lb_kind NAT
    protocol TCP
    real_server %s %d {
        weight 1
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            %s
        }
    }
    real_server %s %d {
        weight %d
        HTTP_GET {
            url {
                path /index.html
                digest %s
            }
            %s
        }
    }
}
""" % (HTTP_VS + NGINX["a"] + (check_opts,) + NGINX["b"] + (3 if reloaded else 1, digest_b, check_opts)))
    rs = "".join("""    real_server %s %d {
        weight 1
        inhibit_on_failure
        TCP_CHECK {
            %s
        }
    }
""" % (a + (check_opts,)) for a in DR_RS)
    vs.append("""virtual_server %s %d {
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
%s}
""" % (DR_VS + (rs,)))
    if not reloaded:
        vs.append("""virtual_server %s %d {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server %s %d {
        weight 1
        MISC_CHECK {
            misc_path "%s"
            misc_timeout 5
        }
    }
    real_server %s %d {
        weight 1
        TCP_CHECK {
            %s
        }
    }
}
""" % (MISC_VS + MISC_RS + (path("misc-check.sh"),) + MISC_TCP_RS + (check_opts,)))
    return "global_defs {\n    router_id svs78\n    script_user root\n}\n\n" + "\n".join(vs)


def write_conf(reloaded=False):
    with open(path("keepalived.conf"), "w") as f:
        f.write(keepalived_conf(reloaded))


def keepalived_log():
    try:
        with open(path("keepalived.log")) as f:
            return f.read()
    except OSError:
        return "(no keepalived log)"


def log_size():
    try:
        return os.path.getsize(path("keepalived.log"))
    except OSError:
        return 0


def wait_checks_ok(since, ka):
    """Wait until keepalived logged a successful check of every real server
    of the config (after offset `since` of its log): a first check that
    fails at startup removes a server for a moment."""
    pats = ["Remote Web server \\[%s\\]:tcp:%d succeed" % a for a in NGINX.values()]
    pats += ["TCP connection to \\[%s\\]:tcp:%d success" % a for a in DR_RS]
    if "7000" in open(path("keepalived.conf")).read():
        pats += ["TCP connection to \\[%s\\]:tcp:%d success" % MISC_TCP_RS,
                 "Misc check for \\[\\[%s\\]:tcp:%d .* succeeded" % MISC_RS]

    def missing():
        if ka.poll() is not None:
            raise svs.Fail("keepalived exited with %s" % ka.returncode)
        log = keepalived_log()[since:]
        return [p for p in pats if not re.search(p, log)]
    svs.wait_for(lambda: not missing(), WAIT,
                 lambda: "keepalived's first good check of each server; missing: %s" % missing(),
                 0.25)


def start_keepalived(*extra):
    logf = open(path("keepalived.log"), "a")
    cmd = ["keepalived"] + list(extra) + [
        "--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--check",
        "-f", path("keepalived.conf"), "-p", path("keepalived.pid"),
        "-c", path("checkers.pid"), "-r", path("vrrp.pid"), "-b", path("bfd.pid")]
    svs.log("  $ " + " ".join(cmd))
    p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    logf.close()
    svs.defer(svs.kill, p)
    return p


# -------------------------------------------------------------------- table

def ipvsadm_table():
    return svs.parse_save(svs.run_ok(["ipvsadm", "-S", "-n"]))


def sockvsadm_table():
    return svs.parse_save(svs.save())


def want_table(http=("a", "b"), http_w=None, dr_w=(1, 1), misc=True, misc_rs=True,
               foreign=True):
    http_w = http_w or {}
    t = {("svc", "TCP", ep(HTTP_VS), "wlc"), ("svc", "TCP", ep(DR_VS), "rr")}
    for n in http:
        t.add(("dest", "TCP", ep(HTTP_VS), ep(NGINX[n]), http_w.get(n, 1)))
    # ipvsadm gives a direct-routing server the service's port: same here
    for a, w in zip(DR_RS, dr_w):
        t.add(("dest", "TCP", ep(DR_VS), ep(a), w))
    if misc:
        t.add(("svc", "TCP", ep(MISC_VS), "rr"))
        t.add(("dest", "TCP", ep(MISC_VS), ep(MISC_TCP_RS), 1))
        if misc_rs:
            t.add(("dest", "TCP", ep(MISC_VS), ep(MISC_RS), 1))
    if foreign:
        t.add(("svc", "TCP", ep(FOREIGN_VS), "rr"))
    return t


def wait_table(want, what):
    def same():
        got = ipvsadm_table()
        return got == want and sockvsadm_table() == want

    def why():
        return "%s\n  want:      %s\n  ipvsadm:   %s\n  sockvsadm: %s" % (
            what, sorted(want), sorted(ipvsadm_table()), sorted(sockvsadm_table()))
    t0 = time.monotonic()
    svs.wait_for(same, WAIT, why, 0.25)
    svs.log("  ok: %s: ipvsadm -S -n and sockvsadm -S -n agree (%.1fs)"
            % (what, time.monotonic() - t0))


# ----------------------------------------------------------------- connects

def http_spread(n):
    seen = {}
    for _ in range(n):
        status, body = http_get(*HTTP_VS)
        if status != 200:
            raise svs.Fail("HTTP status %d through %s" % (status, ep(HTTP_VS)))
        seen[body.strip()] = seen.get(body.strip(), 0) + 1
    return seen


def tcp_spread(vs, n):
    seen = {}
    for _ in range(n):
        ident = svs.tcp_ident(*vs)
        seen[ident] = seen.get(ident, 0) + 1
    return seen


# ----------------------------------------------------------------- exporter

def scrape():
    with OPENER.open("http://127.0.0.1:%d/metrics" % EXPORTER_PORT, timeout=30) as r:
        return r.read().decode()


METRIC_RE = re.compile(r'^(node_ipvs_\w+)(?:\{([^}]*)\})?\s+(\S+)$')


def ipvs_metrics(text):
    """{(name, frozenset(labels)): value} for node_ipvs_* samples."""
    out = {}
    for line in text.splitlines():
        m = METRIC_RE.match(line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def ipvsadm_list():
    """`ipvsadm -L -n`: {(vs, rs): (weight, active, inactive)}."""
    out, vs = {}, None
    for line in svs.run_ok(["ipvsadm", "-L", "-n"]).splitlines():
        m = re.match(r"^(TCP|UDP)\s+(\S+)\s", line)
        if m:
            vs = m.group(2)
            continue
        m = re.match(r"^\s+->\s+(\d\S+)\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)", line)
        if m:
            out[(vs, m.group(1))] = tuple(int(x) for x in m.group(2, 3, 4))
    return out


def ipvsadm_service_conns():
    """`ipvsadm -L -n --stats --exact`: {vs: Conns}."""
    out = {}
    for line in svs.run_ok(["ipvsadm", "-L", "-n", "--stats", "--exact"]).splitlines():
        m = re.match(r"^(TCP|UDP)\s+(\S+)\s+(\d+)\s", line)
        if m:
            out[m.group(2)] = int(m.group(3))
    return out


def exporter_backends(metrics):
    """{(vs, rs): (weight, active, inactive)} from node_ipvs_backend_*."""
    out = {}
    for (name, labels), v in metrics.items():
        if not name.startswith("node_ipvs_backend_"):
            continue
        lb = dict(labels)
        key = ("%s:%s" % (lb["local_address"], lb["local_port"]),
               "%s:%s" % (lb["remote_address"], lb["remote_port"]))
        cur = list(out.get(key, (None, None, None)))
        i = {"node_ipvs_backend_weight": 0, "node_ipvs_backend_connections_active": 1,
             "node_ipvs_backend_connections_inactive": 2}.get(name)
        if i is not None:
            cur[i] = int(v)
        out[key] = tuple(cur)
    return out


# --------------------------------------------------------------------- main

def stop_keepalived(ka):
    """SIGTERM keepalived: it must exit 0 within 60 s."""
    ka.send_signal(signal.SIGTERM)
    try:
        rc = ka.wait(60)
    except subprocess.TimeoutExpired:
        raise svs.Fail("keepalived did not exit within 60s of SIGTERM")
    check_eq(rc, 0, "keepalived's exit status")


def load_compat():
    svs.reload_module(["ipvs_compat=1"])


def restore_plain():
    svs.reload_module()


def main():
    for tool in ("keepalived", "nginx", "ipvsadm", "prometheus-node-exporter"):
        if not shutil.which(tool):
            raise svs.Skip("%s is not installed (tests/install-deps.sh)" % tool)
    svs.defer(shutil.rmtree, TMP, ignore_errors=True)
    svs.defer(restore_plain)
    load_compat()
    check(os.path.exists("/proc/net/ip_vs"), "/proc/net/ip_vs exists in compat mode")
    try:
        run()
    except BaseException:
        svs.log("---- keepalived's log (%s) ----\n%s---- end of keepalived's log ----"
                % (path("keepalived.log"), keepalived_log()))
        raise


def run():
    step("real servers: two nginx, four echo servers")
    nginx = {n: start_nginx(n) for n in NGINX}
    dr = {a: start_echo(a) for a in DR_RS}
    for a in (MISC_RS, MISC_TCP_RS):
        start_echo(a)
    flag = path("misc-up")
    open(flag, "w").close()
    with open(path("misc-check.sh"), "w") as f:
        f.write("#!/bin/sh\n[ -e %s ]\n" % flag)
    os.chmod(path("misc-check.sh"), 0o755)
    svs.adm_ok("-A", "-t", ep(FOREIGN_VS), "-s", "rr")

    step("keepalived creates the services and servers")
    write_conf()
    svs.log(keepalived_conf())
    ka = start_keepalived()
    t0 = time.monotonic()
    wait_checks_ok(0, ka)
    wait_table(want_table(), "keepalived's initial table")
    svs.log("  keepalived took %.1fs" % (time.monotonic() - t0))
    svs.log(svs.run_ok(["ipvsadm", "-L", "-n"]))
    check(not os.path.isdir("/sys/module/ip_vs"), "ip_vs not loaded by keepalived")
    seen = http_spread(8)
    svs.log("  HTTP through %s: %s" % (ep(HTTP_VS), seen))
    check_eq(sorted(seen), [page("a").strip(), page("b").strip()], "both nginx answer")
    seen = tcp_spread(DR_VS, 8)
    svs.log("  echo through %s: %s" % (ep(DR_VS), seen))
    check_eq(seen, {ep(a): 4 for a in DR_RS}, "rr over the DR servers")

    step("HTTP_GET: nginx a stopped -> keepalived removes it, requests avoid it")
    svs.kill(nginx["a"])
    wait_table(want_table(http=("b",)), "nginx a removed")
    seen = http_spread(6)
    check_eq(seen, {page("b").strip(): 6}, "HTTP through the VIP with nginx a down")
    nginx["a"] = start_nginx("a")
    wait_table(want_table(), "nginx a back")
    seen = http_spread(8)
    svs.log("  HTTP through %s: %s" % (ep(HTTP_VS), seen))
    check_eq(sorted(seen), [page("a").strip(), page("b").strip()], "both nginx answer again")

    step("TCP_CHECK + inhibit_on_failure: echo server stopped -> weight 0, connects avoid it")
    down = DR_RS[0]
    dr[down].stop()
    wait_table(want_table(dr_w=(0, 1)), "%s inhibited (weight 0)" % ep(down))
    seen = tcp_spread(DR_VS, 6)
    check_eq(seen, {ep(DR_RS[1]): 6}, "connects through %s with %s at weight 0"
             % (ep(DR_VS), ep(down)))
    dr[down] = start_echo(down)
    wait_table(want_table(), "%s back at weight 1" % ep(down))
    seen = tcp_spread(DR_VS, 8)
    check_eq(seen, {ep(a): 4 for a in DR_RS}, "rr over both DR servers again")

    step("MISC_CHECK: the flag off removes its server, on brings it back")
    os.unlink(flag)
    wait_table(want_table(misc_rs=False), "MISC_CHECK server removed")
    check_eq(tcp_spread(MISC_VS, 4), {ep(MISC_TCP_RS): 4}, "connects to %s" % ep(MISC_VS))
    open(flag, "w").close()
    wait_table(want_table(), "MISC_CHECK server back")
    check_eq(tcp_spread(MISC_VS, 4), {ep(MISC_RS): 2, ep(MISC_TCP_RS): 2},
             "rr over %s again" % ep(MISC_VS))

    step("prometheus-node-exporter's ipvs collector reports sock_vs's table")
    svs.spawn(["prometheus-node-exporter", "--collector.disable-defaults", "--collector.ipvs",
               "--web.listen-address=127.0.0.1:%d" % EXPORTER_PORT])

    def scraped():
        try:
            return scrape()
        except OSError:
            return None
    svs.wait_for(scraped, 60, "node-exporter on port %d" % EXPORTER_PORT, 0.3)
    held = [svs.tcp_connect(*DR_VS) for _ in range(3)]
    for s in held:
        svs.read_line(s)
    svs.defer(lambda: [s.close() for s in held])
    tcp_spread(MISC_VS, 5)
    snap = {}

    def agree():
        # (an inactive count may change between the two reads: retry)
        snap["text"] = text = scrape()
        snap["metrics"] = ipvs_metrics(text)
        snap["lst"], snap["conns"] = ipvsadm_list(), ipvsadm_service_conns()
        return exporter_backends(snap["metrics"]) == snap["lst"]
    try:
        svs.wait_for(agree, 30, "exporter and ipvsadm agree", 1)
    except svs.Fail:
        pass
    text, metrics, lst, conns = snap["text"], snap["metrics"], snap["lst"], snap["conns"]
    svs.log("\n".join("  " + l for l in text.splitlines() if l.startswith("node_ipvs")))
    svs.log("  ipvsadm -L -n: %s\n  ipvsadm --stats Conns: %s" % (lst, conns))
    check_eq(exporter_backends(metrics), lst,
             "node_ipvs_backend_{weight,connections_active,connections_inactive} vs ipvsadm -L -n")
    active = {k: v[1] for k, v in lst.items() if k[0] == ep(DR_VS)}
    check_eq(sum(active.values()), 3, "ipvsadm's ActiveConn for the 3 held connections")
    total = metrics.get(("node_ipvs_connections_total", frozenset()))
    check_eq(total, float(sum(conns.values())),
             "node_ipvs_connections_total vs the sum of ipvsadm --stats Conns")
    check(total >= 40, "node_ipvs_connections_total counts the connects made (%s)" % total)
    for s in held:
        s.close()

    step("SIGHUP after editing the config: %s removed, nginx b weight 3" % ep(MISC_VS))
    write_conf(reloaded=True)
    ka.send_signal(signal.SIGHUP)
    wait_table(want_table(misc=False, http_w={"b": 3}), "keepalived's reloaded table")
    check(ka.poll() is None, "keepalived still runs after the reload")
    # wlc weighs open connections: 4 held open split 1:3 (sequential ones,
    # closed each time, tie and take turns)
    held = [svs.tcp_connect(*HTTP_VS) for _ in range(4)]
    lst = ipvsadm_list()
    svs.log("  ipvsadm -L -n with 4 connections held: %s" % lst)
    check_eq([lst[(ep(HTTP_VS), ep(NGINX[n]))][:2] for n in ("a", "b")], [(1, 1), (3, 3)],
             "(weight, ActiveConn) of nginx a and b: wlc 1:3 after the reload")
    for s in held:
        s.close()

    step("SIGTERM: keepalived removes what it created, the foreign service stays")
    stop_keepalived(ka)
    want = {("svc", "TCP", ep(FOREIGN_VS), "rr")}
    check_eq(ipvsadm_table(), want, "ipvsadm -S -n after keepalived stopped")
    check_eq(sockvsadm_table(), want, "sockvsadm -S -n after keepalived stopped")

    step("with --dont-release-ipvs, keepalived's stop leaves its table in place")
    since = log_size()
    ka = start_keepalived("--dont-release-ipvs")
    wait_checks_ok(since, ka)
    want = want_table(misc=False, http_w={"b": 3})
    wait_table(want, "keepalived's table, started again")
    stop_keepalived(ka)
    check_eq(ipvsadm_table(), want, "ipvsadm -S -n after keepalived -I stopped")
    check_eq(sockvsadm_table(), want, "sockvsadm -S -n after keepalived -I stopped")
    check(not os.path.isdir("/sys/module/ip_vs"), "ip_vs never loaded")
    log = keepalived_log()
    bad = [l for l in log.splitlines() if re.search(r"IPVS|ipvs|netlink", l) and
           re.search(r"(?i)error|fail|errno|cannot|unable", l)]
    check_eq(bad, [], "keepalived logged no IPVS errors")
    svs.flush()


if __name__ == "__main__":
    svs.case(main)
