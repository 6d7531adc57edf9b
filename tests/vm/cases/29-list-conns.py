#!/usr/bin/env python3
# svs-timeout: 900
"""sockvsadm -L -c lists the open balanced connections, like ipvsadm -L -c:
protocol, state, source (local), virtual, destination (real server), shard,
pid/comm of the process that connected. Checked against the kernel's own
view (ss -tnp / -unp: addresses, state, owning process) for a real program
(redis-cli against redis-server) and for Python clients over TCP and UDP,
IPv4 and IPv6; a shard column for a sharded real server; entries disappear
when their sockets close; -t/-u filter; per network namespace; open to
CAP_NET_ADMIN only (it shows other users' processes): refused with a
permission error for nobody, while -L of services and servers stays open."""

import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP4, VIP6 = "10.255.0.1", "fd00:255::1"
REDIS_PORT = 7291
ECHO = 9291
SHARDED = 9292
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
OTHER_NS = "svs-conns-other"

SS_STATE = {"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "FIN-WAIT-1": "FIN_WAIT1",
            "FIN-WAIT-2": "FIN_WAIT2", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK",
            "CLOSING": "CLOSING", "UNCONN": "CLOSE"}


def ss_sockets(proto):
    """ss -H -n -p -a for tcp or udp: {local: (state, peer, {(pid, comm)})}."""
    r = svs.run_ok(["ss", "-H", "-n", "-p", "-a", "-t" if proto == "tcp" else "-u"])
    out = {}
    for line in r.splitlines():
        w = line.split()
        if len(w) < 5:
            continue
        users = set((int(pid), comm) for comm, pid in re.findall(r'\("([^"]+)",pid=(\d+),', line))
        out[w[3]] = (SS_STATE.get(w[0], w[0]), w[4], users)
    return out


def check_against_ss(conns, what):
    """Every listed connection is a socket the kernel has: same local and
    remote ends, same state, owned by the listed process."""
    tables = {"TCP": ss_sockets("tcp"), "UDP": ss_sockets("udp")}
    for c in conns:
        got = tables[c["proto"]].get(c["source"])
        check(got is not None, "%s: ss knows the socket %s %s" % (what, c["proto"], c["source"]),
              tables[c["proto"]])
        state, peer, users = got
        check_eq(peer, c["dest"], "%s: ss's peer of %s is the listed destination" % (what, c["source"]))
        if c["proto"] == "TCP":
            check_eq(state, c["state"], "%s: ss's state of %s" % (what, c["source"]))
        check((c["pid"], c["comm"]) in users,
              "%s: %s is owned by %d/%s (ss: %s)" % (what, c["source"], c["pid"], c["comm"], sorted(users)))


def main():
    svs.fresh_config()
    step("redis-server, echo servers (v4, v6, one sharded), services on %s and %s" % (VIP4, VIP6))
    svs.RedisServer(REDIS_PORT)
    svs.echo_server("tcp", "127.0.0.1", ECHO)
    svs.echo_server("udp", "127.0.0.1", ECHO)
    svs.echo_server("tcp", "::1", ECHO)
    svs.echo_server("tcp", "127.0.0.1", SHARDED)
    svs.echo_server("tcp", "127.0.0.1", SHARDED + 1, oneshot=True)
    adm_ok("-A", "-t", VIP4 + ":6379", "-s", "rr")
    adm_ok("-a", "-t", VIP4 + ":6379", "-r", "127.0.0.1:%d" % REDIS_PORT)
    adm_ok("-A", "-t", VIP4 + ":80", "-s", "rr")
    adm_ok("-a", "-t", VIP4 + ":80", "-r", "127.0.0.1:%d" % ECHO)
    adm_ok("-A", "-u", VIP4 + ":53", "-s", "rr")
    adm_ok("-a", "-u", VIP4 + ":53", "-r", "127.0.0.1:%d" % ECHO)
    adm_ok("-A", "-t", "[%s]:80" % VIP6, "-s", "rr")
    adm_ok("-a", "-t", "[%s]:80" % VIP6, "-r", "[::1]:%d" % ECHO)
    adm_ok("-A", "-t", VIP4 + ":9042", "-s", "rr")
    adm_ok("-a", "-t", VIP4 + ":9042", "-r", "127.0.0.1:%d" % SHARDED, "--shards", "2")
    adm_ok("-A", "-t", VIP4 + ":81", "-s", "rr")
    adm_ok("-a", "-t", VIP4 + ":81", "-r", "127.0.0.1:%d" % (SHARDED + 1))
    adm_ok("-A", "-t", VIP4 + ":82", "-s", "rr")
    adm_ok("-a", "-t", VIP4 + ":82", "-r", "127.0.0.1:9")    # nothing listens

    step("nothing open: the header only")
    check_text_eq = svs.check_text_eq
    check_text_eq(adm_ok("-L", "-c", "-n"),
                  "Sock VS connection entries\n"
                  "pro state       source             virtual            destination        pid/comm\n",
                  "-L -c -n with no balanced connection")

    step("a real program: redis-cli holding one connection to the VIP")
    cli = subprocess.Popen(["redis-cli", "-h", VIP4, "-p", "6379", "-r", "-1", "-i", "1", "PING"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           start_new_session=True)
    svs.defer(svs.kill, cli)
    check_eq(cli.stdout.readline().strip(), "PONG", "redis-cli got PONG through the VIP")
    rc = svs.wait_for(lambda: [c for c in svs.conn_listing() if c["comm"] == "redis-cli"], 30,
                      "redis-cli's connection in -L -c")
    check_eq(len(rc), 1, "one redis-cli connection listed")
    c = rc[0]
    check_eq((c["proto"], c["state"], c["virtual"], c["dest"], c["pid"], c["shard"]),
             ("TCP", "ESTABLISHED", VIP4 + ":6379", "127.0.0.1:%d" % REDIS_PORT, cli.pid, None),
             "redis-cli: TCP ESTABLISHED, virtual, destination, its pid, no shard column")
    check_against_ss(rc, "redis-cli")

    step("Python clients: TCP v4 and v6, connected UDP, a sharded server, CLOSE_WAIT, a refused connect")
    me = os.getpid()
    held = []
    s4 = svs.tcp_connect(VIP4, 80)
    svs.read_line(s4)
    s6 = svs.tcp_connect(VIP6, 80)
    svs.read_line(s6)
    u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u4.connect((VIP4, 53))
    sh = [svs.tcp_connect(VIP4, 9042) for _ in range(2)]
    cw = svs.tcp_connect(VIP4, 81)
    svs.read_line(cw)                           # then the server closes: CLOSE_WAIT here
    refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        refused.connect((VIP4, 82))
        raise svs.Fail("connect to a real server without a listener succeeded")
    except ConnectionRefusedError:
        pass
    held = [s4, s6, u4, cw, refused] + sh
    for s in held:
        svs.defer(s.close)

    def mine():
        return [c for c in svs.conn_listing() if c["pid"] == me]

    def local(s):
        return svs.fmt_addr(*s.getsockname()[:2])

    svs.wait_for(lambda: any(c["state"] == "CLOSE_WAIT" for c in mine()), 30, "CLOSE_WAIT listed")
    got = {c["source"]: c for c in mine()}
    svs.log(adm_ok("-L", "-c", "-n", quiet=True))
    want = {
        local(s4): ("TCP", "ESTABLISHED", VIP4 + ":80", "127.0.0.1:%d" % ECHO),
        local(s6): ("TCP", "ESTABLISHED", "[%s]:80" % VIP6, "[::1]:%d" % ECHO),
        local(u4): ("UDP", "UDP", VIP4 + ":53", "127.0.0.1:%d" % ECHO),
        local(cw): ("TCP", "CLOSE_WAIT", VIP4 + ":81", "127.0.0.1:%d" % (SHARDED + 1)),
    }
    for s in sh:
        want[local(s)] = ("TCP", "ESTABLISHED", VIP4 + ":9042", "127.0.0.1:%d" % SHARDED)
    check_eq({k: (v["proto"], v["state"], v["virtual"], v["dest"]) for k, v in got.items() if k in want},
             want, "each Python socket listed by its local address with state, virtual, destination")
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    check(all(v["comm"] == comm for v in got.values()), "comm is %s (this process) for all of them" % comm)
    check_eq({local(s): got[local(s)]["shard"] for s in sh},
             {local(s): s.getsockname()[1] % 2 for s in sh},
             "the sharded server's connections show shard = local port % 2")
    check_eq([c["shard"] for c in got.values() if c["virtual"] != VIP4 + ":9042"],
             [None] * (len(got) - len(sh)), "'-' in the shard column for the others")
    closed = [c for c in got.values() if c["virtual"] == VIP4 + ":82"]
    check_eq([c["state"] for c in closed], ["CLOSE"],
             "the refused connect the application still holds: listed as CLOSE")
    check_against_ss([c for c in got.values() if c["state"] not in ("CLOSE", "UDP")], "python")
    check_against_ss([c for c in got.values() if c["proto"] == "UDP"], "python UDP")

    step("-t / -u select one service")
    only = svs.conn_listing(VIP4 + ":53", proto="udp")
    check_eq([(c["proto"], c["source"]) for c in only], [("UDP", local(u4))], "-L -c -u %s:53" % VIP4)
    only = svs.conn_listing("[%s]:80" % VIP6)
    check_eq([c["source"] for c in only], [local(s6)], "-L -c -t [%s]:80" % VIP6)

    step("as nobody (no capability): the listing is refused, the rest is open")
    r = svs.adm("-L", "-c", "-n", prefix=NOBODY)
    check(r.returncode == 1 and re.search(r"permi|not permitted", r.stderr, re.I) and not r.stdout,
          "-L -c -n as nobody: exit 1 with a permission error, nothing listed (rc %d, %r)"
          % (r.returncode, r.stderr.strip()))
    check_eq(svs.adm_ok("-L", "-n", prefix=NOBODY), adm_ok("-L", "-n", quiet=True),
             "-L -n as nobody = as root")

    step("per network namespace: a connection in another namespace is listed there only")
    svs.netns_add(OTHER_NS)
    svs.spawn_echo_server("tcp", "127.0.0.1", ECHO, netns=OTHER_NS)
    adm_ok("-A", "-t", VIP4 + ":80", "-s", "rr", netns=OTHER_NS)
    adm_ok("-a", "-t", VIP4 + ":80", "-r", "127.0.0.1:%d" % ECHO, netns=OTHER_NS)
    holder = svs.hold_connection(VIP4, 80, netns=OTHER_NS)
    there = svs.conn_listing(netns=OTHER_NS)
    check_eq([(c["virtual"], c["dest"], c["pid"]) for c in there],
             [(VIP4 + ":80", "127.0.0.1:%d" % ECHO, holder.pid)],
             "the other namespace lists exactly its one connection (the holder's pid)")
    here = svs.conn_listing()
    check(holder.pid not in [c["pid"] for c in here], "this namespace does not list it")
    svs.kill(holder)
    svs.wait_for(lambda: svs.conn_listing(netns=OTHER_NS) == [], 30,
                 "the other namespace's connection to go away")
    check(True, "gone from the other namespace once its process exited")

    step("closing sockets removes their entries")
    cli_pid = cli.pid
    svs.kill(cli)
    svs.wait_for(lambda: not [c for c in svs.conn_listing() if c["pid"] == cli_pid], 30,
                 "redis-cli's entry to go away")
    check(True, "redis-cli's entry is gone after it exited")
    for s in held:
        svs.rst_close(s) if s.type == socket.SOCK_STREAM else s.close()
    svs.wait_for(lambda: mine() == [], 30, lambda: "entries of closed sockets still listed: %r" % mine())
    check(True, "every entry is gone after the sockets closed")
    check_text_eq(adm_ok("-L", "-c", "-n"),
                  "Sock VS connection entries\n"
                  "pro state       source             virtual            destination        pid/comm\n",
                  "-L -c -n is empty again")


svs.case(main, private_netns=True)
