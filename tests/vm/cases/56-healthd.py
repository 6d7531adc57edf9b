#!/usr/bin/env python3
# svs-timeout: 900
"""sockvs-healthd (issue 6): three redis-server behind 10.255.0.1:6379 (rr)
under steady load that opens a new connection per request (a Python client
and back-to-back `redis-benchmark -k 0` runs).  One backend is killed:
the daemon sets its weight to 0 after `fall` failed redis PING checks, its
--stats Conns counter stops growing while the others keep growing, and no
connect made after the quiesce fails.  The daemon is restarted meanwhile
(SIGTERM, then a new one): the state file carries the remembered weight.
The backend comes back: after `rise` good checks the new daemon restores
its weight (3) and it gets connections again.  Also: a bad config is
reported as FILE:LINE with exit 2, and `--once --dry-run` exits 3 with a
dead backend and changes nothing.

Timing: interval 1 s, timeout 5 s (generous: a healthy redis in a TCG guest
on a busy host was seen to take over 3 s to answer), fall 2, rise 2.  The daemon cannot
quiesce before fall x interval after the kill, and should do it within
(fall + 1) x interval + timeout; the checks below allow TOLERANCE seconds
on top (TCG guests on a shared host stall for seconds), and the measured
delays are printed.  What does not depend on timing is checked exactly:
the daemon's log shows fall failed checks, then the DOWN transition."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP, VPORT = svs.VIP4, 6379
SVC = "%s:%d" % (VIP, VPORT)
PORTS = [7001, 7002, 7003]
VICTIM = 7003
VICTIM_WEIGHT = 3          # rr ignores it; the daemon must give back exactly this
INTERVAL, TIMEOUT, RISE, FALL = 1, 5, 2, 2
BENCH_TIMEOUT = 120        # one redis-benchmark run: 50 PINGs, ~55 connections
TOLERANCE = 60             # seconds on top of the ideal bound (TCG, shared host)
HEALTHD = svs.HEALTHD   # SVS_HEALTHD, or build/userspace/sockvs-healthd


def rip(p):
    return "127.0.0.1:%d" % p


def weight(p):
    return svs.listing().dest("TCP", SVC, rip(p))["weight"]


def conns(p):
    return svs.stats().service("TCP", SVC)["dests"][rip(p)]


class Load:
    """Background load through the VIP, one new connection per request.
    attempts: (t_start, t_end, error or None) per connection (monotonic).
    runs: (t_start, t_end, ok, detail) per redis-benchmark run."""

    def __init__(self):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.attempts = []
        self.runs = []
        self.threads = [threading.Thread(target=self._client, daemon=True),
                        threading.Thread(target=self._bench, daemon=True)]
        for t in self.threads:
            t.start()
        svs.defer(self.close)

    def _client(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            err = None
            try:
                c = svs.RedisConn(VIP, VPORT, timeout=10)
                try:
                    if c.cmd("PING") != "PONG":
                        err = "bad PING reply"
                    c.cmd("QUIT")
                    while c.f.read(4096):   # the server closes first: no TIME_WAIT here
                        pass
                finally:
                    c.close()
            except (OSError, svs.Fail) as e:
                err = "%s: %s" % (type(e).__name__, e)
            with self.lock:
                self.attempts.append((t0, time.monotonic(), err))
            time.sleep(0.2 if err else 0.01)   # leave the guest's CPUs to the others

    def _bench(self):
        cmd = ["redis-benchmark", "-h", VIP, "-p", str(VPORT), "-k", "0", "-c", "4",
               "-n", "50", "-t", "ping_inline", "-q"]
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=BENCH_TIMEOUT)
                out = (r.stdout + r.stderr).replace("\r", "\n")
                ok = (r.returncode == 0 and "requests per second" in out
                      and not re.search(r"error|could not connect|refused", out, re.I))
                detail = "exit %d: %s" % (r.returncode, out.strip()[-300:])
            except subprocess.TimeoutExpired:
                ok, detail = False, "timed out after %ds" % BENCH_TIMEOUT
            with self.lock:
                self.runs.append((t0, time.monotonic(), ok, detail))

    def snapshot(self):
        with self.lock:
            return list(self.attempts), list(self.runs)

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)


class Daemon:
    def __init__(self, conf, tag):
        self.tag = tag
        self.p = svs.spawn([HEALTHD, "-c", conf, "--foreground"])
        self.log_path = self.p.errfile.name

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_log(self, pattern, timeout):
        return svs.wait_for(lambda: re.search(pattern, self.log(), re.M), timeout,
                            lambda: "daemon %s log line /%s/; log so far:\n%s"
                            % (self.tag, pattern, self.log()[-3000:]))

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(30)
        except subprocess.TimeoutExpired:
            raise svs.Fail("sockvs-healthd did not exit within 30s of SIGTERM; log:\n" + self.log())
        return rc


def show_log(d):
    svs.log("  --- daemon %s log ---" % d.tag)
    for line in d.log().splitlines():
        svs.log("  | " + line)


def main():
    if not os.access(HEALTHD, os.X_OK):
        raise svs.Fail("%s missing: run make userspace" % HEALTHD)
    svs.fresh_config()
    tmp = os.environ.get("SVS_CASE_TMP") or tempfile.mkdtemp()
    state = os.path.join(tmp, "healthd", "state")

    step("a bad configuration is reported with file:line, exit 2")
    bad = os.path.join(tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("interval 1\nservice -t %s\n  check redis\n  fall zero\n" % SVC)
    r = svs.run([HEALTHD, "-c", bad, "--foreground"], timeout=60)
    check_eq(r.returncode, 2, "exit status for a bad config")
    check_eq(r.stderr.strip(), "sockvs-healthd: %s:4: bad fall 'zero': want a number from 1 to 1000"
             % bad, "error message")

    conf = os.path.join(tmp, "healthd.conf")
    with open(conf, "w") as f:
        f.write("state-file %s\ninterval %d\ntimeout %d\nrise %d\nfall %d\n\n"
                "service -t %s\n  check redis\n" % (state, INTERVAL, TIMEOUT, RISE, FALL, SVC))
    r = svs.run([HEALTHD, "-c", conf, "--check-config"], timeout=60)
    check_eq((r.returncode, r.stdout.strip()), (0, "%s: OK, 1 service" % conf), "--check-config")

    step("three redis-server behind %s (rr), victim %d has weight %d"
         % (SVC, VICTIM, VICTIM_WEIGHT))
    servers = {p: svs.RedisServer(p) for p in PORTS}
    adm_ok("-A", "-t", SVC, "-s", "rr")
    for p in PORTS:
        adm_ok("-a", "-t", SVC, "-r", rip(p), "-w", VICTIM_WEIGHT if p == VICTIM else 1)

    r = svs.run([HEALTHD, "-c", conf, "--once"], timeout=60)
    check_eq(r.returncode, 0, "--once with every backend up: exit 0 (stderr: %s)" % r.stderr)
    check_eq(len(re.findall(r"check passed \(\+PONG\)", r.stderr)), 3, "--once: 3 checks passed")

    step("start sockvs-healthd and the load")
    d1 = Daemon(conf, "1")
    d1.wait_log(r"-> 127\.0\.0\.1:%d: checking \(redis PING, weight %d\)" % (VICTIM, VICTIM_WEIGHT), 60)
    load = Load()
    svs.wait_for(lambda: min(conns(p) for p in PORTS) >= 20, 120,
                 lambda: "every backend got 20 balanced connections; now %r"
                 % {p: conns(p) for p in PORTS})
    svs.wait_for(lambda: len(load.snapshot()[1]) >= 1, BENCH_TIMEOUT + 60,
                 "a redis-benchmark run to finish")
    attempts, runs = load.snapshot()
    check(not [a for a in attempts if a[2]], "no failed connect while all backends are up",
          [a for a in attempts if a[2]][:5])
    check(all(r[2] for r in runs), "every redis-benchmark run so far succeeded",
          [r for r in runs if not r[2]][:3])
    svs.log("  so far: %d client connections, %d redis-benchmark runs, Conns %r"
            % (len(attempts), len(runs), {p: conns(p) for p in PORTS}))

    step("kill redis-server %d" % VICTIM)
    t_kill = time.monotonic()
    svs.kill(servers[VICTIM].proc, signal.SIGKILL)
    svs.wait_for(lambda: weight(VICTIM) == 0, FALL * INTERVAL + INTERVAL + TIMEOUT + TOLERANCE,
                 lambda: "weight of %d to become 0; daemon log:\n%s" % (VICTIM, d1.log()[-3000:]))
    t_q = time.monotonic()
    delay = t_q - t_kill
    svs.log("  measured: weight 0 seen %.2fs after the kill (fall x interval = %ds)"
            % (delay, FALL * INTERVAL))
    check(delay >= (FALL - 1) * INTERVAL, "not quiesced before %d checks could fail (%.2fs)"
          % (FALL, delay))
    show_log(d1)
    log = d1.log()
    down = re.search(r"^.*-> 127\.0\.0\.1:%d: DOWN after %d failed checks \((.*)\); weight %d -> 0 "
                     r"\(quiesced.*$" % (VICTIM, FALL, VICTIM_WEIGHT), log, re.M)
    check(down is not None, "daemon logged the DOWN transition with the old weight", log[-3000:])
    svs.log("  " + down.group(0))
    fails = re.findall(r"-> 127\.0\.0\.1:%d: check failed \((\d)/%d\)" % (VICTIM, FALL), log)
    check_eq(fails, [str(i) for i in range(1, FALL)], "failed checks logged before DOWN")
    check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z sockvs-healthd\[\d+\]: ", down.group(0)),
          "log lines carry a UTC timestamp and the pid")
    for p in PORTS:
        if p != VICTIM:
            check_eq(weight(p), 1, "weight of %d untouched" % p)
    with open(state) as f:
        check_eq(f.read().splitlines()[1:], ["quiesced -t %s -r %s -w %d" % (SVC, rip(VICTIM), VICTIM_WEIGHT)],
                 "state file remembers the weight")

    step("after the quiesce: no new connection to %d, none of the load fails" % VICTIM)
    c0 = conns(VICTIM)
    others0 = {p: conns(p) for p in PORTS if p != VICTIM}
    svs.wait_for(lambda: all(conns(p) >= others0[p] + 30 for p in others0), 120,
                 lambda: "30 more connections on each live backend; now %r"
                 % {p: conns(p) for p in PORTS})
    svs.wait_for(lambda: len([r for r in load.snapshot()[1] if r[0] >= t_q]) >= 2,
                 3 * BENCH_TIMEOUT + 60, "two redis-benchmark runs started after the quiesce to end")
    check_eq(conns(VICTIM), c0, "--stats Conns of the dead backend stopped growing")
    attempts, runs = load.snapshot()
    for r in runs:
        if not r[2]:
            svs.log("  a redis-benchmark run %s the quiesce failed: %s"
                    % ("before" if r[0] < t_q else "after", r[3]))
    before = [a for a in attempts if a[0] >= t_kill and a[1] <= t_q and a[2]]
    after = [a for a in attempts if a[0] >= t_q]
    svs.log("  client connects: %d failed between the kill and the quiesce (e.g. %r), %d made after"
            % (len(before), before[0][2] if before else None, len(after)))
    check(len(before) > 0, "the load did see the dead backend before the quiesce (the test can fail)")
    check_eq([a for a in after if a[2]], [], "no client connect after the quiesce failed")
    bruns = [r for r in runs if r[0] >= t_q]
    check(len(bruns) > 0, "redis-benchmark ran after the quiesce (%d runs)" % len(bruns))
    check_eq([r[3] for r in bruns if not r[2]], [], "every redis-benchmark -k 0 run started after "
             "the quiesce succeeded")

    step("restart the daemon while %d is quiesced (SIGTERM: it leaves the weight at 0)" % VICTIM)
    check_eq(d1.stop(), 0, "SIGTERM: exit 0")
    check(re.search(r"stopping on Terminated; quiesced real servers stay at weight 0", d1.log()),
          "daemon logged its exit", d1.log()[-1000:])
    check_eq(weight(VICTIM), 0, "weight still 0 after the daemon stopped")
    r = svs.run([HEALTHD, "-c", conf, "--once", "--dry-run"], timeout=60)
    check_eq(r.returncode, 3, "--once --dry-run with a dead backend: exit 3 (stderr: %s)" % r.stderr)
    check_eq(weight(VICTIM), 0, "--dry-run changed nothing")
    d2 = Daemon(conf, "2")
    d2.wait_log(r"-> 127\.0\.0\.1:%d: quiesced by an earlier run; weight %d comes back after %d "
                % (VICTIM, VICTIM_WEIGHT, RISE), 60)
    check(True, "new daemon picked the remembered weight up from the state file")

    step("restart redis-server %d" % VICTIM)
    t_up = time.monotonic()
    servers[VICTIM] = svs.RedisServer(VICTIM)
    t_up_ready = time.monotonic()
    svs.wait_for(lambda: weight(VICTIM) == VICTIM_WEIGHT,
                 RISE * INTERVAL + INTERVAL + TIMEOUT + TOLERANCE + (t_up_ready - t_up),
                 lambda: "weight of %d back to %d; daemon log:\n%s"
                 % (VICTIM, VICTIM_WEIGHT, d2.log()[-3000:]))
    svs.log("  measured: weight %d back %.2fs after redis-server answered PING (rise x interval = %ds)"
            % (VICTIM_WEIGHT, time.monotonic() - t_up_ready, RISE * INTERVAL))
    up = re.search(r"^.*-> 127\.0\.0\.1:%d: UP after %d successful checks \(\+PONG\); weight 0 -> %d "
                   r"\(restored\)$" % (VICTIM, RISE, VICTIM_WEIGHT), d2.log(), re.M)
    check(up is not None, "daemon logged the UP transition", d2.log()[-3000:])
    svs.log("  " + up.group(0))
    with open(state) as f:
        check_eq(f.read().splitlines()[1:], [], "state file empty again")
    c1 = conns(VICTIM)
    svs.wait_for(lambda: conns(VICTIM) >= c1 + 20, 120,
                 lambda: "20 new connections on %d; now %d" % (VICTIM, conns(VICTIM)))
    check(True, "the restored backend gets connections again")
    attempts, runs = load.snapshot()
    check_eq([a for a in attempts if a[0] >= t_q and a[2]], [], "no failed client connect since the quiesce")
    check_eq([r[3] for r in runs if r[0] >= t_q and not r[2]], [], "no failed redis-benchmark run since the quiesce")
    svs.log("  totals: %d client connections (%d failed, all before the quiesce), %d redis-benchmark runs"
            % (len(attempts), len([a for a in attempts if a[2]]), len(runs)))
    load.close()
    check_eq(d2.stop(), 0, "SIGTERM: exit 0")
    show_log(d2)


svs.case(main)
