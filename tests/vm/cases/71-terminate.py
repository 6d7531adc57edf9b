#!/usr/bin/env python3
"""Terminating the sockets of a real server that left its service (issue 14).

UDP, with two real dnsmasq servers behind a UDP virtual address and a
long-lived DNS client that keeps one connected socket (as nginx's resolver
does): deleting its server terminates the socket by the default policy
`udp` (the next query fails, ECONNABORTED), the client reconnects and the
other server answers; a socket that reconnected elsewhere, one connected to
the real server directly and, with `--terminate none`, the balanced ones are
left alone; -D and -C terminate too; `-K` after a quiesce terminates the
quiesced server's sockets. TCP with `--terminate all`: a `redis-cli` session
sees its connection aborted, the real server a reset, a new session works;
the default `udp` leaves TCP connections alone; TIME_WAIT is not touched.
The Killed counters and bad input (unknown policy, -K with none, missing
server) are checked."""

import errno
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import adm, adm_fail, adm_ok, check, check_eq, step  # noqa: E402
import svs_dns  # noqa: E402
import svs_genl as g  # noqa: E402
from svs_dns import NAME  # noqa: E402

VIP = svs.VIP4
DNS = "%s:53" % VIP
DNS_PORTS = {5301: "10.9.0.1", 5302: "10.9.0.2"}   # real server port -> its answer


def rip(port):
    return "127.0.0.1:%d" % port


def DnsClient(host=VIP, port=53):
    return svs_dns.DnsClient(host, port)


def server_of(answer):
    return {a: rip(p) for p, a in DNS_PORTS.items()}.get(answer, answer)


def json_stats():
    return json.loads(adm_ok("-L", "-n", "--stats", "--json", quiet=True))


def killed(proto, svc, dest=None):
    host, port = svs.split_addr(svc)
    for s in json_stats()["services"]:
        if s["protocol"].upper() == proto and s["address"] == host and s["port"] == port:
            if dest is None:
                return s["stats"]["killed"]
            for d in s["dests"]:
                if svs.fmt_addr(d["address"], d["port"]) == dest:
                    return d["stats"]["killed"]
            raise svs.Fail("no real server %s in %s" % (dest, svc))
    raise svs.Fail("no service %s %s" % (proto, svc))


def adm_killing(*args):
    """A change that terminates sockets: succeeds; returns what it printed."""
    r = adm(*args)
    d = "sockvsadm " + " ".join(map(str, args))
    if r.returncode != 0:
        raise svs.Fail("`%s` failed with exit %d: %s" % (d, r.returncode, r.stderr))
    svs.log("  $ %s -> %r %r" % (d, r.stdout.strip(), r.stderr.strip()))
    return (r.stdout + r.stderr).strip()


def dig():
    out = svs.run_ok(["dig", "@" + VIP, "-p", "53", NAME, "+short", "+tries=1", "+time=5"]).split()
    check(len(out) == 1, "dig got one answer: %r" % out)
    return out[0]


def udp_part():
    step("two dnsmasq servers behind UDP %s (rr, default policy udp)" % DNS)
    for port, answer in DNS_PORTS.items():
        svs_dns.dnsmasq(port, answer)
    adm_ok("-A", "-u", DNS, "-s", "rr")
    for port in DNS_PORTS:
        adm_ok("-a", "-u", DNS, "-r", rip(port))
    check("--terminate" not in adm_ok("-S", "-n"), "-S leaves the default policy out")

    client = DnsClient()
    first = server_of(client.query())
    other = (set(map(rip, DNS_PORTS)) - {first}).pop()
    check_eq(server_of(client.query()), first, "the long-lived client's socket stays on %s" % first)
    moved = DnsClient()                          # rr: other
    moved.reconnect()                            # first
    moved.reconnect()                            # other: it left first
    check_eq(server_of(moved.query()), other, "a socket that reconnected is on %s" % other)
    direct = DnsClient("127.0.0.1", int(first.rsplit(":", 1)[1]))
    check_eq(server_of(direct.query()), first, "a socket connected to %s directly" % first)

    step("delete %s: its balanced socket is terminated" % first)
    out = adm_killing("-d", "-u", DNS, "-r", first)
    check("1" in out and "terminat" in out.lower(), "-d says it terminated 1 socket: %r" % out)
    check_eq(client.query(), errno.ECONNABORTED, "the client's next query fails with ECONNABORTED")
    check_eq(server_of(moved.query()), other, "the socket that reconnected elsewhere still works")
    check_eq(server_of(direct.query()), first, "the socket connected directly still works")
    client.reconnect()
    check_eq(server_of(client.query()), other, "the client reconnects and %s answers" % other)
    check_eq(server_of(dig()), other, "dig through %s is answered by %s" % (DNS, other))
    check_eq(killed("UDP", DNS), 1, "the service's Killed counter")

    step("--terminate none keeps them connected")
    adm_ok("-E", "-u", DNS, "-s", "rr", "--terminate", "none")
    check("--terminate none" in adm_ok("-S", "-n"), "-S carries --terminate none")
    adm_ok("-a", "-u", DNS, "-r", first)
    kept = [DnsClient() for _ in range(2)]
    on_first = [c for c in kept if server_of(c.query()) == first]
    check_eq(len(on_first), 1, "rr puts one of two new sockets on %s" % first)
    out = adm_killing("-d", "-u", DNS, "-r", first)
    check("terminat" not in out.lower(), "-d terminated nothing: %r" % out)
    check_eq(server_of(on_first[0].query()), first, "the socket on the deleted server is still connected to it")
    check_eq(killed("UDP", DNS), 1, "Killed unchanged")

    step("quiesce (weight 0) then -K: the quiesced server's sockets are terminated")
    adm_ok("-E", "-u", DNS, "-s", "rr", "--terminate", "udp")
    adm_ok("-a", "-u", DNS, "-r", first)
    pair = [DnsClient() for _ in range(2)]
    on = {server_of(c.query()): c for c in pair}
    check_eq(set(on), {first, other}, "one new socket on each server")
    adm_ok("-e", "-u", DNS, "-r", first, "-w", "0")
    check_eq(server_of(on[first].query()), first, "quiescing keeps the socket on %s" % first)
    out = adm_killing("-K", "-u", DNS, "-r", first)
    check("1" in out and "terminat" in out.lower(), "-K says it terminated 1 socket: %r" % out)
    check_eq(on[first].query(), errno.ECONNABORTED, "-K: the quiesced server's socket is aborted")
    check_eq(server_of(on[other].query()), other, "-K -r %s leaves %s's sockets alone" % (first, other))
    check_eq(killed("UDP", DNS, first), 1, "the quiesced server's Killed counter")
    check_eq(killed("UDP", DNS), 2, "the service's Killed counter")

    step("bad input leaves the table unchanged")
    before = adm_ok("-S", "-n")
    adm_fail("-E", "-u", DNS, "-s", "rr", "--terminate", "sometimes", rc=(1, 2), err_re="terminate")
    adm_fail("-A", "-u", "%s:54" % VIP, "--terminate", "bogus", rc=(1, 2), err_re="terminate")
    adm_fail("-K", "-u", DNS, "--terminate", "none", rc=(1, 2), err_re="none")
    adm_fail("-K", "-u", DNS, "-r", "127.0.0.1:5999", rc=(1, 2), err_re="no such real server")
    adm_fail("-K", "-u", "%s:54" % VIP, rc=(1, 2), err_re="no such service")
    check_eq(adm_ok("-S", "-n"), before, "-S after the rejected commands")

    step("the protocol: DEL_DEST answers with SOCK_VS_ATTR_KILLED (and, on 6.2+, the ACK's text)")
    c = DnsClient()
    check(server_of(c.query()) == other, "a socket on %s" % other)
    adm_ok("-a", "-u", DNS, "-r", "127.0.0.1:5303")
    nl = g.Genl()
    svs.defer(nl.close)
    key = g.svc_attrs(VIP, 53, socket.IPPROTO_UDP)
    r = nl.cmd("DEL_DEST", g.nest(g.ATTR["SERVICE"], *key) + g.nest(g.ATTR["DEST"], *g.dest_attrs("127.0.0.1", 5303)))
    check_eq((r.error, len(r.msgs)), (0, 1), "DEL_DEST of a server without sockets: ACK 0 after one reply")
    check_eq(struct.unpack("=I", g.parse_attrs(r.msgs[0])[g.ATTR["KILLED"]])[0], 0, "its KILLED is 0")
    host, port = svs.split_addr(other)
    open_on_other = svs.listing().dest("UDP", DNS, other)["active"]
    r = nl.cmd("DEL_DEST", g.nest(g.ATTR["SERVICE"], *key) + g.nest(g.ATTR["DEST"], *g.dest_attrs(host, port)))
    check_eq(r.error, 0, "DEL_DEST of %s" % other)
    check_eq(struct.unpack("=I", g.parse_attrs(r.msgs[0])[g.ATTR["KILLED"]])[0], open_on_other,
             "its KILLED is the server's ActiveConn (connected UDP sockets) before")
    release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    if release >= (6, 2):
        check_eq(r.extack_msg, "sockets terminated: %d" % open_on_other, "the ACK's text")
    else:
        check_eq(r.extack_msg, None, "no ACK text before 6.2 (no formatted extended ACKs)")
    check_eq(c.query(), errno.ECONNABORTED, "the socket is aborted")
    adm_ok("-a", "-u", DNS, "-r", other)

    step("-D and -C terminate by the policy too")
    c = DnsClient()
    check(server_of(c.query()) == other, "a socket on %s" % other)
    out = adm_killing("-D", "-u", DNS)
    check("terminat" in out.lower(), "-D says it terminated: %r" % out)
    check_eq(c.query(), errno.ECONNABORTED, "-D: the socket is aborted")
    adm_ok("-A", "-u", DNS)
    adm_ok("-a", "-u", DNS, "-r", other)
    c.reconnect()
    check_eq(server_of(c.query()), other, "reconnected after the service came back")
    out = adm_killing("-C")
    check("terminat" in out.lower(), "-C says it terminated: %r" % out)
    check_eq(c.query(), errno.ECONNABORTED, "-C: the socket is aborted")


def tcp_part():
    svc = "%s:6379" % VIP
    step("TCP %s --terminate all over two redis servers" % svc)
    servers = {p: svs.RedisServer(p) for p in (7101, 7102)}
    adm_ok("-A", "-t", svc, "-s", "rr", "--terminate", "all")
    for p in servers:
        adm_ok("-a", "-t", svc, "-r", rip(p))
    check("--terminate all" in adm_ok("-S", "-n"), "-S carries --terminate all")

    cli = svs.spawn(["redis-cli", "-h", VIP, "-p", "6379", "-r", "-1", "-i", "0.2",
                     "CONFIG", "GET", "port"], ready_prefix="port")
    port = int(cli.stdout.readline().strip())
    check(port in servers, "a redis-cli session on %d" % port)
    svs.wait_for(lambda: servers[port].ctl.info("clients")["connected_clients"] == "2", 10,
                 "redis-server %d sees the session" % port)

    # A connection the client closes first stays in TIME_WAIT on this host.
    tw = svs.RedisConn(VIP, 6379)
    tw_port = int(tw.info("server")["tcp_port"])
    tw_local = tw.sock.getsockname()[1]
    tw.close()

    def in_time_wait():
        out = svs.run_ok(["ss", "-Htan", "state", "time-wait", "sport", "=", ":%d" % tw_local])
        return bool(out.strip())
    svs.wait_for(in_time_wait, 10, "the closed connection in TIME_WAIT")
    check_eq(tw_port, 7101 + 7102 - port, "it went to the other server")

    out = adm_killing("-d", "-t", svc, "-r", rip(port))
    check("1" in out and "terminat" in out.lower(), "-d says it terminated 1 socket: %r" % out)
    rc = cli.wait(15)
    err = cli.stdout.read() + open(cli.errfile.name).read()
    check(rc != 0 and "abort" in err.lower(), "redis-cli's session ends, aborted (exit %d: %r)" % (rc, err.strip()))
    svs.wait_for(lambda: servers[port].ctl.info("clients")["connected_clients"] == "1", 10,
                 "redis-server %d lost the session" % port)
    new = svs.run_ok(["redis-cli", "-h", VIP, "-p", "6379", "CONFIG", "GET", "port"]).split()
    check_eq(int(new[1]), 7101 + 7102 - port, "a new redis-cli session works, on the other server")
    check(in_time_wait(), "the TIME_WAIT connection is not touched")

    step("the peer sees a reset")
    lst = socket.socket()
    svs.defer(lst.close)
    lst.bind(("127.0.0.1", 7103))
    lst.listen(4)
    adm_ok("-a", "-t", svc, "-r", rip(7103))
    adm_ok("-e", "-t", svc, "-r", rip(7101 + 7102 - port), "-w", "0")
    client = socket.create_connection((VIP, 6379), timeout=svs.SOCK_TIMEOUT)
    svs.defer(client.close)
    peer, _ = lst.accept()
    svs.defer(peer.close)
    peer.settimeout(svs.SOCK_TIMEOUT)
    adm_killing("-K", "-t", svc, "-r", rip(7103))
    try:
        got = peer.recv(10)
        check(False, "the real server's side got %r instead of a reset" % got)
    except ConnectionResetError:
        check(True, "the real server's side of the connection is reset")
    try:
        client.recv(10)
        check(False, "the client's recv after -K succeeded")
    except OSError as e:
        check_eq(e.errno, errno.ECONNABORTED, "the client's recv fails")

    step("policy udp (the default) leaves TCP connections alone")
    adm_ok("-d", "-t", svc, "-r", rip(7103))
    adm_ok("-e", "-t", svc, "-r", rip(7101 + 7102 - port), "-w", "1")
    adm_ok("-E", "-t", svc, "-s", "rr", "--terminate", "udp")
    held = svs.RedisConn(VIP, 6379)
    hport = int(held.info("server")["tcp_port"])
    out = adm_killing("-d", "-t", svc, "-r", rip(hport))
    check("terminat" not in out.lower(), "-d terminated nothing: %r" % out)
    check_eq(held.cmd("PING"), "PONG", "the connection to the deleted server still answers")
    held.close()
    svs.flush()


def main():
    svs.fresh_config()
    svs.add_local_addr(VIP)
    udp_part()
    svs.fresh_config()
    tcp_part()


svs.case(main, private_netns=True)
