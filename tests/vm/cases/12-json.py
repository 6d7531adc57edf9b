#!/usr/bin/env python3
"""sockvsadm --json against the module: -L --json (plain, -n, --stats) parses
with Python's json and says what -L -n / -L --stats say; -S --json -> -C ->
-R --json gives back the same table (-S --json, -S -n and -L -n identical);
malformed or rejected -R --json input applies nothing."""

import json
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, check_text_eq, step  # noqa: E402

VIP = "10.255.0.1"
CONFIG = [
    ["-A", "-t", "10.255.0.1:6379", "-s", "mh", "--hash-key", "local", "--shard-policy", "lc"],
    ["-a", "-t", "10.255.0.1:6379", "-r", "127.0.0.2:7001", "-w", "2", "-x", "100", "-y", "50",
     "--shards", "4"],
    ["-a", "-t", "10.255.0.1:6379", "-r", "127.0.0.3:7002", "-w", "0"],
    ["-a", "-t", "10.255.0.1:6379", "-r", "127.0.0.4:7003", "-w", "65535"],
    ["-A", "-u", "10.255.0.2:53", "-s", "rr"],
    ["-a", "-u", "10.255.0.2:53", "-r", "127.0.0.2:5353", "-w", "5"],
    ["-A", "-t", "[fd00:255::1]:80", "-s", "wlc", "--hash-key", "cgroup"],
    ["-a", "-t", "[fd00:255::1]:80", "-r", "[::1]:8081", "-w", "3", "--shards", "2"],
    ["-A", "-u", "[fd00:255::2]:53", "-s", "sh", "--shard-policy", "hash"],
    ["-A", "-t", "10.255.0.3:443"],
]

DEFAULT_FLAGS = {"hash_key": "tgid", "shard_policy": "rr"}


def endpoint(host, port):
    return svs.fmt_addr(host, port)


def text_flags(svc):
    """What -L prints after the scheduler for the JSON service's options."""
    out = []
    if svc["hash_key"] != DEFAULT_FLAGS["hash_key"]:
        out += ["hash-key", svc["hash_key"]]
    if svc["shard_policy"] != DEFAULT_FLAGS["shard_policy"]:
        out += ["shard-policy", svc["shard_policy"]]
    return " ".join(out)


def json_out(*args):
    text = adm_ok(*args, quiet=True)
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise svs.Fail("`sockvsadm %s` is not JSON (%s):\n%s" % (" ".join(args), e, text))
    check_eq(doc.get("version"), 1, "`sockvsadm %s` has schema version 1" % " ".join(args))
    return doc


def compare_with_listing(doc, listing):
    """-L --json says what -L -n says, service by service, in order."""
    got = []
    for s in doc["services"]:
        got.append(dict(proto=s["protocol"].upper(), addr=endpoint(s["address"], s["port"]),
                        sched=s["scheduler"], flags=text_flags(s),
                        dests=[dict(addr=endpoint(d["address"], d["port"]), fwd="Sock",
                                    weight=d["weight"], active=d["active_conns"],
                                    inact=d["inact_conns"],
                                    state="" if d["ejected"] == "none" else d["ejected"])
                               for d in s["dests"]]))
    check_eq(got, listing.services, "-L --json describes what -L -n lists")
    check_eq(doc["module"]["version"], listing.version, "-L --json module version as in -L")
    check_eq(doc["module"]["services"], listing.nservices, "-L --json services count as in -L")
    check_eq(doc["module"]["hook"], listing.hook, "-L --json hook as in -L")


def main():
    svs.fresh_config()

    step("build a configuration with every option")
    for args in CONFIG:
        adm_ok(*args)

    step("-L --json and -L -n --json parse and match -L -n")
    listing = svs.listing()
    for args in (["-L", "--json"], ["-L", "-n", "--json"], ["--json"]):
        compare_with_listing(json_out(*args), listing)
    doc = json_out("-L", "-n", "--json")
    svc = doc["services"][0]
    check_eq((svc["hash_key"], svc["shard_policy"]), ("local", "lc"),
             "first service's hash key and shard policy")
    d = svc["dests"][0]
    check_eq((d["weight"], d["upper"], d["lower"], d["shards"], len(d["shard_conns"])),
             (2, 100, 50, 4, 4), "first real server's weight, thresholds, shards")
    check("stats" not in svc, "no stats without --stats")

    step("-L --json --stats matches -L --stats --exact after some connects")
    # Connects to the TCP service: scheduled (counted) whether or not
    # anything listens behind the real servers.
    for _ in range(6):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(svs.SOCK_TIMEOUT)
            try:
                s.connect((VIP, 6379))
            except OSError:
                pass
    text_stats = svs.stats()
    sdoc = json_out("-L", "-n", "--stats", "--json")
    got = {}
    for s in sdoc["services"]:
        got[(s["protocol"].upper(), endpoint(s["address"], s["port"]))] = dict(
            conns=s["stats"]["conns"], refused=s["stats"]["refused"],
            untracked=s["stats"]["untracked"], killed=s["stats"]["killed"],
            ejected=s["stats"]["ejected"], failed=s["stats"]["failed"],
            dests={endpoint(d["address"], d["port"]): d["stats"]["conns"] for d in s["dests"]},
            dest_killed={endpoint(d["address"], d["port"]): d["stats"]["killed"] for d in s["dests"]},
            dest_ejected={endpoint(d["address"], d["port"]): d["stats"]["ejected"]
                          for d in s["dests"]},
            dest_failed={endpoint(d["address"], d["port"]): d["stats"]["failed"]
                         for d in s["dests"]})
    check_eq(got, text_stats.services, "-L --json --stats counters equal -L --stats --exact")
    check(got[("TCP", "10.255.0.1:6379")]["conns"] +
          got[("TCP", "10.255.0.1:6379")]["refused"] >= 6,
          "the 6 connects were counted (conns + refused >= 6)")

    step("-S --json of one service")
    one = json_out("-S", "--json", "-t", "10.255.0.1:6379")
    check_eq([(s["protocol"], s["address"], s["port"]) for s in one["services"]],
             [("tcp", "10.255.0.1", 6379)], "-S --json -t lists only that service")
    check_eq(len(one["services"][0]["dests"]), 3, "with its 3 real servers")

    step("-S --json -> -C -> -R --json round trip")
    saved_json = adm_ok("-S", "--json")
    json.loads(saved_json)
    saved_text = svs.save()
    listed = svs.listing().text
    adm_ok("-C")
    check_eq(json_out("-S", "--json")["services"], [], "-S --json empty after -C")
    adm_ok("-R", "--json", input=saved_json)
    check_text_eq(adm_ok("-S", "--json", quiet=True), saved_json, "-S --json after -R --json")
    check_text_eq(svs.save(), saved_text, "-S -n after -R --json")
    check_text_eq(svs.listing().text, listed, "-L -n after -R --json")

    step("-L --json output restores too")
    listed_json = adm_ok("-L", "--json", "--stats")
    adm_ok("-C")
    adm_ok("-R", "--json", input=listed_json)
    check_text_eq(adm_ok("-S", "--json", quiet=True), saved_json, "-S --json after -R of -L --json")

    good = ('{"protocol": "tcp", "address": "10.255.0.9", "port": 80, "scheduler": "rr", '
            '"dests": [{"address": "127.0.0.2", "port": 8080}]}')
    bad_inputs = {
        "syntax": ('{"version": 1, "services": [%s,]}' % good, 2, r"line 1, column"),
        "unknown key": ('{"version": 1, "services": [%s, {"protocol": "tcp", "address": '
                        '"10.255.0.10", "port": 80, "bogus": 1}]}' % good, 2,
                        r"services\[1\]: unknown key 'bogus'"),
        "bad port": ('{"version": 1, "services": [%s, {"protocol": "tcp", "address": '
                     '"10.255.0.10", "port": 70000}]}' % good, 2, r"services\[1\]\.port"),
        "family mix": ('{"version": 1, "services": [{"protocol": "tcp", "address": "10.255.0.10",'
                       ' "port": 80, "dests": [{"address": "::1", "port": 80}]}]}', 2,
                       r"IPv6 but the service is IPv4"),
        "wrong version": ('{"version": 2, "services": []}', 2, r"schema version 2"),
        "unknown scheduler (module)": ('{"version": 1, "services": [%s, {"protocol": "tcp", '
                                       '"address": "10.255.0.10", "port": 80, "scheduler": '
                                       '"nosuchsched"}]}' % good, 1,
                                       r"services\[1\] \(TCP 10\.255\.0\.10:80\).*rolled back"),
        "exists (module)": ('{"version": 1, "services": [%s, %s]}' % (good, good.replace(
            '"10.255.0.9"', '"10.255.0.1"').replace('"port": 80,', '"port": 6379,')), 1,
                            r"services\[1\].*exists.*rolled back"),
    }
    for state in ("config present", "empty config"):
        step("malformed or rejected -R --json applies nothing (%s)" % state)
        if state == "empty config":
            adm_ok("-C")
            saved_text = ""
        for what, (text, rc, err_re) in bad_inputs.items():
            if state == "empty config" and what == "exists (module)":
                continue
            svs.log("  -- %s" % what)
            svs.adm_fail("-R", "--json", input=text, rc=(rc,), err_re=err_re)
            check_text_eq(svs.save(), saved_text, "-S -n unchanged after bad -R --json (%s)" % what)

    step("the valid part alone restores (so the failures above were the bad parts)")
    adm_ok("-R", "--json", input='{"version": 1, "services": [%s]}' % good)
    check_eq(svs.parse_save(svs.save()), {("svc", "TCP", "10.255.0.9:80", "rr"),
                                          ("dest", "TCP", "10.255.0.9:80", "127.0.0.2:8080", 1)},
             "config after restoring the valid service")


svs.case(main)
