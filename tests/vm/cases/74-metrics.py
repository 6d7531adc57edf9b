#!/usr/bin/env python3
# svs-timeout: 900
"""sockvs-healthd's /metrics (issue 15, section 4), scraped by Debian's real
Prometheus server: two redis-server behind 10.255.0.1:6379 (rr), checked
with redis PING, sockvs-healthd serving /metrics on 127.0.0.1 (metrics-listen).
The text itself is checked first (names, types, labels, the module's
counters for a known number of connections).  Then `prometheus` scrapes it
every second and PromQL queries over its HTTP API must return what the
module counted: sum(sockvs_service_connections_total) equals the connects
made, per real server the counter equals the module's own --stats Conns,
both servers are up (sockvs_healthd_real_server_up); one redis-server is
killed and the same queries see it quiesced (weight 0, up 0) and healthy
again after it comes back."""

import json
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP, VPORT = svs.VIP4, 6379
SVC = "%s:%d" % (VIP, VPORT)
PORTS = [7101, 7102]
VICTIM = 7102
METRICS = ("127.0.0.1", 9477)
PROM = ("127.0.0.1", 9090)
CONNECTS = 11
HEALTHD = svs.HEALTHD   # SVS_HEALTHD, or build/userspace/sockvs-healthd
PROMETHEUS = "/usr/bin/prometheus"
PROM_WAIT = 240         # Prometheus is a large Go program: slow to start under TCG


def rip(p):
    return "127.0.0.1:%d" % p


def http_get(host, port, path, timeout=30):
    with urllib.request.urlopen("http://%s:%d%s" % (host, port, path), timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def scrape():
    return http_get(*METRICS, "/metrics")[2]


def sample(text, name, **labels):
    """The value of metric `name` whose labels include `labels`, or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == str(v) for k, v in labels.items()):
            return float(m.group(3))
    return None


def promql(query):
    """The value of an instant PromQL query returning one sample, or None."""
    q = urllib.parse.urlencode({"query": query})
    try:
        _, _, body = http_get(*PROM, "/api/v1/query?" + q)
    except OSError:
        return None
    r = json.loads(body)
    if r.get("status") != "success" or len(r["data"]["result"]) != 1:
        return None
    return float(r["data"]["result"][0]["value"][1])


def wait_promql(query, want, what):
    svs.wait_for(lambda: promql(query) == want, PROM_WAIT,
                 lambda: "PromQL %s == %s (%s); now %r" % (query, want, what, promql(query)),
                 interval=1)
    svs.log("  PromQL %s -> %s" % (query, want))
    check(True, "PromQL %s = %s (%s)" % (query, want, what))


def main():
    if not os.access(HEALTHD, os.X_OK):
        raise svs.Fail("%s missing: run make userspace" % HEALTHD)
    if not os.access(PROMETHEUS, os.X_OK):
        raise svs.Skip("%s missing: apt-get install prometheus (tests/install-deps.sh)" % PROMETHEUS)
    svs.fresh_config()
    tmp = os.environ.get("SVS_CASE_TMP") or tempfile.mkdtemp()

    step("two redis-server behind %s (rr), sockvs-healthd with metrics-listen %s:%d"
         % ((SVC,) + METRICS))
    servers = {p: svs.RedisServer(p) for p in PORTS}
    adm_ok("-A", "-t", SVC, "-s", "rr")
    for p in PORTS:
        adm_ok("-a", "-t", SVC, "-r", rip(p), "-w", 2)
    conf = os.path.join(tmp, "healthd.conf")
    with open(conf, "w") as f:
        f.write("state-file %s/state\nmetrics-listen %s:%d\ninterval 1\ntimeout 5\nrise 2\n"
                "fall 2\nservice -t %s\n  check redis\n" % ((tmp,) + METRICS + (SVC,)))
    d = svs.spawn([HEALTHD, "-c", conf, "--foreground"])

    def dlog():
        with open(d.errfile.name) as f:
            return f.read()
    svs.wait_for(lambda: "serving /metrics on 127.0.0.1:9477" in dlog(), 60,
                 lambda: "the daemon's metrics listener; log:\n" + dlog())
    svs.wait_for(lambda: all(sample(scrape(), "sockvs_healthd_checks_total", remote_port=p,
                                    result="pass") for p in PORTS), 60,
                 lambda: "a passed check of each server in /metrics:\n%s" % scrape())

    step("%d connects through %s, then /metrics as text" % (CONNECTS, SVC))
    for _ in range(CONNECTS):
        c = svs.RedisConn(VIP, VPORT, timeout=20)
        check_eq(c.cmd("PING"), "PONG", "PING through the VIP")
        c.close()
    status, ctype, text = http_get(*METRICS, "/metrics")
    check_eq(status, 200, "GET /metrics status")
    check_eq(ctype, "text/plain; version=0.0.4; charset=utf-8", "Content-Type")
    for family, kind in [("sockvs_service_connections_total", "counter"),
                         ("sockvs_service_refused_total", "counter"),
                         ("sockvs_service_untracked_total", "counter"),
                         ("sockvs_service_killed_total", "counter"),
                         ("sockvs_real_server_connections_total", "counter"),
                         ("sockvs_real_server_killed_total", "counter"),
                         ("sockvs_real_server_active_connections", "gauge"),
                         ("sockvs_real_server_inactive_connections", "gauge"),
                         ("sockvs_real_server_weight", "gauge"),
                         ("sockvs_real_server_overloaded", "gauge"),
                         ("sockvs_service_ejections_total", "counter"),
                         ("sockvs_service_failed_connects_total", "counter"),
                         ("sockvs_real_server_ejections_total", "counter"),
                         ("sockvs_real_server_failed_connects_total", "counter"),
                         ("sockvs_real_server_ejected", "gauge"),
                         ("sockvs_real_server_ejection_remaining_seconds", "gauge"),
                         ("sockvs_real_server_consecutive_failures", "gauge"),
                         ("sockvs_healthd_real_server_up", "gauge"),
                         ("sockvs_healthd_check_duration_seconds", "gauge"),
                         ("sockvs_healthd_checks_total", "counter")]:
        check("# TYPE %s %s\n" % (family, kind) in text, "%s is a %s" % (family, kind), text[-3000:])
    svc = {"proto": "tcp", "local_address": VIP, "local_port": VPORT}
    check_eq(sample(text, "sockvs_service_connections_total", **svc), CONNECTS,
             "service connections_total = the connects made")
    st = svs.stats().service("TCP", SVC)
    for p in PORTS:
        check_eq(sample(text, "sockvs_real_server_connections_total", remote_port=p, **svc),
                 st["dests"][rip(p)], "real server %d connections_total = --stats Conns" % p)
        check_eq(sample(text, "sockvs_real_server_weight", remote_port=p, **svc), 2, "weight %d" % p)
        check_eq(sample(text, "sockvs_healthd_real_server_up", remote_port=p, **svc), 1, "up %d" % p)
        lat = sample(text, "sockvs_healthd_check_duration_seconds", remote_port=p, **svc)
        check(lat is not None and 0 < lat < 5, "check duration of %d in seconds (%r)" % (p, lat))
    try:
        http_get(*METRICS, "/nothing")
        check(False, "GET /nothing is a 404")
    except urllib.error.HTTPError as e:
        check_eq(e.code, 404, "GET /nothing")

    step("Debian's prometheus scrapes it every second")
    pdir = os.path.join(tmp, "prometheus")
    os.makedirs(pdir, exist_ok=True)
    pconf = os.path.join(pdir, "prometheus.yml")
    with open(pconf, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "scrape_configs:\n  - job_name: sockvs\n    static_configs:\n"
                "      - targets: ['%s:%d']\n" % METRICS)
    r = svs.run(["/usr/bin/promtool", "check", "config", pconf], timeout=120)
    check_eq(r.returncode, 0, "promtool check config (%s)" % (r.stdout + r.stderr).strip()[-300:])
    prom = svs.spawn([PROMETHEUS, "--config.file=" + pconf, "--storage.tsdb.path=" + pdir + "/data",
                      "--web.listen-address=%s:%d" % PROM, "--log.level=warn"])

    def plog():
        with open(prom.errfile.name) as f:
            return f.read()[-2000:]
    t0 = time.monotonic()
    svs.wait_for(lambda: promql('up{job="sockvs"}') == 1, PROM_WAIT,
                 lambda: "prometheus scraped sockvs-healthd (up == 1); its log:\n" + plog(),
                 interval=1)
    svs.log("  measured: prometheus up and scraping %.1fs after its start" % (time.monotonic() - t0))
    wait_promql('sum(sockvs_service_connections_total{local_address="%s",local_port="%d"})'
                % (VIP, VPORT), CONNECTS, "the connects made through the VIP")
    for p in PORTS:
        wait_promql('sockvs_real_server_connections_total{remote_port="%d"}' % p,
                    st["dests"][rip(p)], "the module's --stats Conns of %d" % p)
    wait_promql('sum(sockvs_healthd_real_server_up{local_port="%d"})' % VPORT, 2,
                "both real servers healthy")

    step("kill redis-server %d: the queries see it quiesced, then back" % VICTIM)
    svs.kill(servers[VICTIM].proc)
    wait_promql('sockvs_real_server_weight{remote_port="%d"}' % VICTIM, 0, "quiesced")
    wait_promql('sockvs_healthd_real_server_up{remote_port="%d"}' % VICTIM, 0, "down")
    wait_promql('sockvs_healthd_check_success{remote_port="%d"}' % VICTIM, 0, "last check failed")
    servers[VICTIM] = svs.RedisServer(VICTIM)
    wait_promql('sockvs_real_server_weight{remote_port="%d"}' % VICTIM, 2, "weight restored")
    wait_promql('sockvs_healthd_real_server_up{remote_port="%d"}' % VICTIM, 1, "up again")
    check(re.search(r"-> 127\.0\.0\.1:%d: UP after 2 successful checks" % VICTIM, dlog()),
          "the daemon logged the UP transition", dlog()[-2000:])
    svs.kill(prom)
    svs.kill(d)


svs.case(main)
