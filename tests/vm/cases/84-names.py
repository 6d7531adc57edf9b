#!/usr/bin/env python3
"""Host and service names, as ipvsadm has them (issue 15 part 5).

Names in the guest's /etc/hosts (the overlay root is writable; the file is
put back at the end) and /etc/services:
- `-A -t web.example:http`, `-a -t web.example:http -r backend.example:redis`,
  `-u web.example:domain` with `-r backend.example` (the service's port),
  `-t [web6.example]:http` (brackets: IPv6): the module gets the numbers;
- `-L` and `-S` without -n print the names (reverse lookups), `-L -n` and
  `-S -n` the numbers; an address without a name (no DNS in the guest) is
  printed as a number, quickly; a name whose first address is another one
  is not used (multi.example); `-L -c`, `-L --json` and `-S --json` stay
  numeric;
- `-S` (names) -> `-C` -> `-R` gives back the same table;
- an unknown host or port name, a name of the wrong family, and an -R
  input with a bad name on its last line: exit 2, nothing changed;
- redis-cli through the VIP, by name and by number, reaches the real
  server named backend.example."""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, check_text_eq, step  # noqa: E402

HOSTS = [
    ("10.255.84.1", "web.example"),
    ("127.0.84.1", "backend.example"),
    ("fd00:255::84", "web6.example"),
    ("10.255.84.9", "multi.example"),    # two addresses: the first is used,
    ("10.255.84.10", "multi.example"),   # and .10 does not print as the name
]
SERVICES = [("http", 80, "tcp"), ("redis", 6379, "tcp"), ("domain", 53, "tcp"),
            ("domain", 53, "udp")]
NONAME6 = "fd00:255::85"    # in no /etc/hosts: a reverse lookup finds nothing
REDIS_PORT = 6379


def put_back(path, text):
    with open(path, "w") as f:
        f.write(text)


def add_lines(path, lines):
    """Append lines to an /etc file (the guest's overlay); put it back at the end."""
    with open(path) as f:
        old = f.read()
    svs.defer(put_back, path, old)
    with open(path, "a") as f:
        f.write(("" if old.endswith("\n") or not old else "\n") + "".join(l + "\n" for l in lines))


def ensure_services():
    """The port names the case uses, in /etc/services if the guest's lacks them."""
    missing = []
    for name, port, proto in SERVICES:
        try:
            ok = socket.getservbyname(name, proto) == port and socket.getservbyport(port, proto) == name
        except OSError:
            ok = False
        if not ok:
            missing.append("%s\t%d/%s" % (name, port, proto))
    if missing:
        svs.log("  adding to /etc/services: %r" % missing)
        add_lines("/etc/services", missing)


def timed_adm(*args):
    t = time.monotonic()
    out = adm_ok(*args)
    return out, time.monotonic() - t


def main():
    svs.fresh_config()

    step("names in /etc/hosts and /etc/services")
    add_lines("/etc/hosts", ["%s %s" % (a, n) for a, n in HOSTS])
    ensure_services()
    for addr, name in HOSTS[:3]:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        got = socket.getaddrinfo(name, None, fam, socket.SOCK_STREAM)[0][4][0]
        check_eq(got, addr, "getaddrinfo(%s)" % name)
    t = time.monotonic()
    try:
        socket.getnameinfo((NONAME6, 0), socket.NI_NAMEREQD)
        raise svs.Fail("%s has a name in the guest" % NONAME6)
    except socket.gaierror as e:
        svs.log("  getnameinfo(%s, NI_NAMEREQD): %s after %.3f s" % (NONAME6, e, time.monotonic() - t))
    check(time.monotonic() - t < 5, "a reverse lookup without a name fails fast (no DNS in the guest)")

    step("a redis-server on backend.example:redis (127.0.84.1:%d)" % REDIS_PORT)
    redis = svs.RedisServer(REDIS_PORT, host="127.0.84.1")

    step("services and real servers given by name")
    adm_ok("-A", "-t", "web.example:http", "-s", "rr")
    adm_ok("-a", "-t", "web.example:http", "-r", "backend.example:redis")
    adm_ok("-A", "-u", "web.example:domain")
    adm_ok("-a", "-u", "web.example:domain", "-r", "backend.example")   # port: the service's
    adm_ok("-A", "-t", "[web6.example]:http")
    adm_ok("-a", "-t", "[web6.example]:http", "-r", "[%s]" % NONAME6)
    adm_ok("-A", "-t", "multi.example:81")
    adm_ok("-a", "-t", "multi.example:81", "-r", "10.255.84.10:81")

    numeric_save = ("-A -t 10.255.84.1:80 -s rr\n"
                    "-a -t 10.255.84.1:80 -r 127.0.84.1:6379 -w 1\n"
                    "-A -u 10.255.84.1:53 -s wrr\n"
                    "-a -u 10.255.84.1:53 -r 127.0.84.1:53 -w 1\n"
                    "-A -t [fd00:255::84]:80 -s wrr\n"
                    "-a -t [fd00:255::84]:80 -r [fd00:255::85]:80 -w 1\n"
                    "-A -t 10.255.84.9:81 -s wrr\n"
                    "-a -t 10.255.84.9:81 -r 10.255.84.10:81 -w 1\n")
    check_text_eq(svs.save(), numeric_save, "-S -n: the module has the numbers")
    named_save = ("-A -t web.example:http -s rr\n"
                  "-a -t web.example:http -r backend.example:redis -w 1\n"
                  "-A -u web.example:domain -s wrr\n"
                  "-a -u web.example:domain -r backend.example:domain -w 1\n"
                  "-A -t [web6.example]:http -s wrr\n"
                  "-a -t [web6.example]:http -r [fd00:255::85]:http -w 1\n"
                  "-A -t multi.example:81 -s wrr\n"
                  "-a -t multi.example:81 -r 10.255.84.10:81 -w 1\n")
    saved, took = timed_adm("-S")
    svs.log(saved)
    check_text_eq(saved, named_save, "-S without -n: names, numbers where there is none")
    check(took < 10, "-S with reverse lookups took %.2f s (no hang)" % took)

    step("-L shows the names, -L -n the numbers")
    listed, took = timed_adm("-L")
    svs.log(listed)
    check(took < 10, "-L with reverse lookups took %.2f s (no hang)" % took)
    lines = listed.splitlines()
    want = [
        "TCP  web.example:http rr",
        "  -> backend.example:redis        Sock    1      0          0",
        "UDP  web.example:domain wrr",
        "  -> backend.example:domain       Sock    1      0          0",
        "TCP  [web6.example]:http wrr",
        "  -> [fd00:255::85]:http          Sock    1      0          0",
        "TCP  multi.example:81 wrr",
        "  -> 10.255.84.10:81              Sock    1      0          0",
    ]
    check_eq([l.rstrip() for l in lines[3:]], want, "-L lines after the header")
    listed_n = adm_ok("-L", "-n")
    check("TCP  10.255.84.1:80 rr" in listed_n.splitlines(), "-L -n: the service as numbers", listed_n)
    check("example" not in listed_n, "-L -n has no names", listed_n)
    one = adm_ok("-L", "-t", "web.example:http")
    check_eq([l.rstrip() for l in one.splitlines()[3:]], want[:2], "-L -t web.example:http")
    stats = adm_ok("-L", "--stats")
    check(any(l.startswith("TCP  web.example:http ") for l in stats.splitlines()), "-L --stats names too", stats)

    step("redis-cli through the VIP, by name and by number")
    base = redis.total_connections()
    for host in ("web.example", "10.255.84.1"):
        r = svs.run(["redis-cli", "-h", host, "-p", "80", "ping"], timeout=60)
        check_eq((r.returncode, r.stdout.strip()), (0, "PONG"), "redis-cli -h %s -p 80 ping" % host)
    check_eq(redis.total_connections() - base, 2, "both reached backend.example's redis-server")
    st = svs.stats()
    check_eq(st.service("TCP", "10.255.84.1:80")["dests"], {"127.0.84.1:6379": 2},
             "-L -n --stats: Conns of 127.0.84.1:6379")

    step("-L -c, -L --json and -S --json stay numeric")
    held = svs.RedisConn("10.255.84.1", 80)
    try:
        check_eq(held.cmd("PING"), "PONG", "a held connection through the VIP")
        conns = adm_ok("-L", "-c")
        svs.log(conns)
        check("10.255.84.1:80 " in conns and "127.0.84.1:6379 " in conns, "-L -c: numbers", conns)
        check("example" not in conns, "-L -c: no names", conns)
    finally:
        held.close()
    for args in (("-L", "--json"), ("-S", "--json")):
        doc = adm_ok(*args, quiet=True)
        addrs = [s["address"] for s in json.loads(doc)["services"]]
        check_eq(addrs, ["10.255.84.1", "10.255.84.1", "fd00:255::84", "10.255.84.9"],
                 "sockvsadm %s: numeric addresses" % " ".join(args))
        check("example" not in doc, "sockvsadm %s: no names" % " ".join(args))

    step("-S (names) -> -C -> -R gives back the same table")
    adm_ok("-C")
    check_eq(svs.save(), "", "-S -n empty after -C")
    adm_ok("-R", input=named_save)
    check_text_eq(svs.save(), numeric_save, "-S -n after -R of the named -S")
    check_text_eq(adm_ok("-S", quiet=True), named_save, "-S after -R")

    step("unknown names, wrong families: exit 2, nothing changed")
    bad = [
        (("-a", "-t", "web.example:http", "-r", "nosuch.example"), "cannot resolve host 'nosuch.example'"),
        (("-A", "-t", "nosuch.example:80"), "cannot resolve host 'nosuch.example'"),
        (("-A", "-t", "web.example:nosuchport"), "unknown port 'nosuchport'"),
        (("-A", "-u", "web.example:redis"), "unknown port 'redis'"),   # redis is TCP only
        (("-A", "-t", "[web.example]:80"), "has no IPv6 address"),
        (("-A", "-t", "web6.example:80"), "has no IPv4 address"),
        (("-a", "-t", "web.example:http", "-r", "web6.example"), "has no IPv4 address"),
    ]
    for args, err in bad:
        svs.adm_fail(*args, rc=(2,), err_re=err.replace("[", r"\["))
        check_text_eq(svs.save(), numeric_save, "  -S -n unchanged")
    svs.adm_fail("-R", rc=(2,), err_re=r"line 3: .*cannot resolve host 'nosuch\.example'",
                 input="-A -t web.example:8080 -s rr\n"
                       "-a -t web.example:8080 -r backend.example -w 1\n"
                       "-a -t web.example:8080 -r nosuch.example -w 1\n")
    check_text_eq(svs.save(), numeric_save, "-S -n unchanged by an -R with a bad name on line 3")


svs.case(main)
