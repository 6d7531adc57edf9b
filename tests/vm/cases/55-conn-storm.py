#!/usr/bin/env python3
# svs-timeout: 600
"""Connection-count bookkeeping under storms: after each phase the module's
per-real-server counts must agree with the kernel's own view of the client
sockets (`ss -tanoH` / `ss -uanH`, client side = peer is the real server):

  ActiveConn                 == ESTABLISHED client sockets to that server
  ActiveConn + InActConn     == client sockets to it not in TIME-WAIT / CLOSE
                                (a TIME-WAIT entry is a mini-socket: the
                                balanced socket itself is gone; likewise an
                                orphan's FIN-WAIT-2 mini-socket)
  -L -n --shards             == the same ActiveConn/InActConn; its PerShard
                                total == ActiveConn + InActConn + the sockets
                                in CLOSE the test still holds (refused or
                                reset: still open, so still tracked); for a
                                sharded server each shard == ss's open
                                sockets with local port % shards == shard
                                (+ held CLOSE ones on that shard)
  GET_DEST dump (raw)        == what sockvsadm prints

Phases (services in a private network namespace, real servers on lo, plus a
dummy device whose addresses swallow every SYN):
  1 300 short TCP connections (connect, send, read echo, close) from 4 threads
  2 100 connects (blocking and non-blocking) to real-server ports without a
    listener: refused by RST; 0 ActiveConn/InActConn while held, PerShard
    counts them until they are closed
  3 40 connections reset by the server (SO_LINGER 0) while the client holds them
  4 50 held ESTABLISHED connections (kept to the end); 10 of them then
    half-closed by the client and closed by the server (CLOSE + TIME-WAIT)
  5 a child process opens 20 connections and exits without closing them;
    another opens 10 (greeting unread) and is SIGKILLed
  6 40 connected UDP sockets; 15 closed, 5 disconnected (AF_UNSPEC), all closed
  7 40 non-blocking connects stuck in SYN-SENT, closed while connecting
Finally, with every client socket closed, every count (ActiveConn,
InActConn, every shard, the raw dump) is 0: no leak, no double decrement
(which would show as a count >= 2^31)."""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import storm  # noqa: E402
import svs  # noqa: E402
from storm import Dest, agree  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

VIP = svs.VIP4
S_TCP = VIP + ":5500"     # echo servers: phases 1, 4, 5
S_REF = VIP + ":5501"     # nothing listens: phase 2
S_RST = VIP + ":5502"     # reset servers: phase 3
S_UDP = VIP + ":5353"     # UDP echo servers: phase 6
S_SYN = VIP + ":5503"     # SYNs dropped: phase 7

ECHO = [Dest("tcp", S_TCP, "127.0.0.1:9551"), Dest("tcp", S_TCP, "127.0.0.1:9552", 4)]
REFUSE = [Dest("tcp", S_REF, "127.0.0.1:9557"), Dest("tcp", S_REF, "127.0.0.1:9558", 2)]
RESET = [Dest("tcp", S_RST, "127.0.0.1:9553"), Dest("tcp", S_RST, "127.0.0.1:9556", 3)]
UDP = [Dest("udp", S_UDP, "127.0.0.1:9554"), Dest("udp", S_UDP, "127.0.0.1:9555", 2)]
DROP_NET = "10.77.0.1/24"
SYN = [Dest("tcp", S_SYN, "10.77.0.9:80"), Dest("tcp", S_SYN, "10.77.0.10:80", 2)]
ALL = ECHO + REFUSE + RESET + UDP + SYN


def hp(svc):
    return svs.split_addr(svc)


def zero(dests):
    return {d.rip: dict(active=0, inact=0, tracked=0) for d in dests}


def port_of(s):
    return s.getsockname()[1]


def configure():
    for svc, dests in ((S_TCP, ECHO), (S_REF, REFUSE), (S_RST, RESET), (S_UDP, UDP), (S_SYN, SYN)):
        flag = "-u" if dests[0].proto == "udp" else "-t"
        adm_ok("-A", flag, svc, "-s", "rr")
        for d in dests:
            adm_ok("-a", flag, svc, "-r", d.rip, *(("--shards", str(d.shards)) if d.shards > 1 else ()))


def stats_dests(svc, proto="TCP"):
    return dict(svs.stats().service(proto, svc)["dests"])


def main():
    svs.fresh_config()
    step("setup: servers on lo, a dummy device that swallows SYNs to %s" % DROP_NET)
    svs.run_ok(["ip", "link", "add", "svsdrop0", "type", "dummy"])
    svs.defer(svs.run, ["ip", "link", "del", "svsdrop0"])
    svs.run_ok(["ip", "addr", "add", DROP_NET, "dev", "svsdrop0"])
    svs.run_ok(["ip", "link", "set", "svsdrop0", "up"])
    for d in ECHO:
        svs.echo_server("tcp", *svs.split_addr(d.rip), backlog=512)
    rst_servers = {d.rip: storm.ResetServer(*svs.split_addr(d.rip)) for d in RESET}
    for d in UDP:
        svs.echo_server("udp", *svs.split_addr(d.rip))
    configure()
    agree("nothing open yet", ALL, expect=zero(ALL))
    held_close = {}          # rip -> local ports (or a count) of held sockets in CLOSE

    # ------------------------------------------------------------ 1
    step("phase 1: 300 short TCP connections (connect, send, close) from 4 threads via %s" % S_TCP)
    before = stats_dests(S_TCP)
    sampler = storm.Sampler(ECHO, 300)
    sampler.start()
    idents, errors = storm.threaded(300, 4, lambda: storm.short_conn(*hp(S_TCP)))
    samples, peak, wrapped = sampler.finish()
    check_eq(errors, [], "phase 1: no connection failed")
    check_eq(svs.tally(idents), {d.rip: 150 for d in ECHO}, "phase 1: rr spread of the 300 connections")
    after = stats_dests(S_TCP)
    check_eq({r: after[r] - before.get(r, 0) for r in after}, {d.rip: 150 for d in ECHO},
             "phase 1: --stats Conns grew by the connections scheduled")
    check(not wrapped and samples > 0,
          "phase 1: %d -L -n readings during the storm, counts stayed within 0..300 (peak %d)"
          % (samples, peak), wrapped)
    agree("after phase 1 (client TIME-WAITs left, nothing open)", ALL, held_close, zero(ECHO))

    # ------------------------------------------------------------ 2
    step("phase 2: 100 connects via %s to real-server ports without a listener (RST)" % S_REF)
    refused = [storm.refused_conn(*hp(S_REF), nonblocking=False)]
    first = [r for r, n in stats_dests(S_REF).items() if n == 1]
    check_eq(len(first), 1, "phase 2: the first refused connect was scheduled to one server (%s)" % first)
    refused += [storm.refused_conn(*hp(S_REF), nonblocking=bool(i % 2)) for i in range(1, 100)]
    ports = [port_of(s) for s in refused]
    svs.log("  (local ports of the refused sockets per getsockname: %d nonzero of %d)"
            % (sum(1 for p in ports if p), len(ports)))
    # rr, one connect at a time: attempts alternate from the first one's server.
    rips = [d.rip for d in REFUSE]
    k0 = rips.index(first[0])
    for k, d in enumerate(REFUSE):
        mine = ports[(k - k0) % 2::2]
        held_close[d.rip] = mine if all(mine) else len(mine)
    check_eq(stats_dests(S_REF), {d.rip: 50 for d in REFUSE}, "phase 2: --stats Conns 50 each")
    agree("phase 2: 100 refused sockets held open", ALL, held_close,
          {d.rip: dict(active=0, inact=0, tracked=50) for d in REFUSE})
    for s in refused:
        s.close()
    for d in REFUSE:
        held_close.pop(d.rip)
    agree("phase 2: refused sockets closed", ALL, held_close, zero(REFUSE))

    # ------------------------------------------------------------ 3
    step("phase 3: 40 connections via %s, then reset by the server (SO_LINGER 0) while held" % S_RST)
    conns = []
    for _ in range(40):
        s = svs.tcp_connect(*hp(S_RST))
        conns.append((s, svs.read_line(s)[3:], port_of(s)))
    svs.wait_for(lambda: sum(x.count() for x in rst_servers.values()) == 40, 30,
                 "the reset servers accepted all 40")
    check_eq(svs.tally(c[1] for c in conns), {d.rip: 20 for d in RESET}, "phase 3: rr spread")
    agree("phase 3: 40 established", ALL, held_close,
          {d.rip: dict(active=20, inact=0, tracked=20) for d in RESET})
    check_eq(sum(x.reset_all() for x in rst_servers.values()), 40, "phase 3: the servers reset 40")
    resets = 0
    for s, _, _ in conns:
        s.settimeout(svs.SOCK_TIMEOUT)
        try:
            data = s.recv(100)
            svs.log("  (recv after the reset returned %r)" % data)
        except ConnectionResetError:
            resets += 1
    check_eq(resets, 40, "phase 3: every client socket saw ECONNRESET")
    for d in RESET:
        held_close[d.rip] = [p for _, ident, p in conns if ident == d.rip]
    agree("phase 3: 40 reset sockets held open (CLOSE)", ALL, held_close,
          {d.rip: dict(active=0, inact=0, tracked=20) for d in RESET})
    for s, _, _ in conns:
        s.close()
    for d in RESET:
        held_close.pop(d.rip)
    agree("phase 3: reset sockets closed", ALL, held_close, zero(RESET))

    # ------------------------------------------------------------ 4
    step("phase 4: 50 held ESTABLISHED connections via %s" % S_TCP)
    held = []
    for _ in range(50):
        s = svs.tcp_connect(*hp(S_TCP))
        held.append((s, svs.read_line(s)[3:], port_of(s)))
    check_eq(svs.tally(h[1] for h in held), {d.rip: 25 for d in ECHO}, "phase 4: rr spread")
    agree("phase 4: 50 held", ALL, held_close, {d.rip: dict(active=25, inact=0, tracked=25) for d in ECHO})

    step("phase 4b: 10 of them half-closed by the client, then closed by the server (fd still held)")
    half, held = held[:10], held[10:]
    for s, _, _ in half:
        s.shutdown(socket.SHUT_WR)
    eofs = 0
    for s, _, _ in half:
        s.settimeout(svs.SOCK_TIMEOUT)
        eofs += s.recv(100) == b""
    check_eq(eofs, 10, "phase 4b: each server closed its side after our FIN (EOF on all 10)")
    for d in ECHO:
        held_close[d.rip] = [p for _, ident, p in half if ident == d.rip]
    n_half = {d.rip: len(held_close[d.rip]) for d in ECHO}
    svs.log("  (half-closed per server: %r)" % n_half)
    agree("phase 4b: 40 established + 10 in CLOSE (TIME-WAIT in ss) still held", ALL, held_close,
          {d.rip: dict(active=25 - n_half[d.rip], inact=0, tracked=25) for d in ECHO})

    # ------------------------------------------------------------ 5
    step("phase 5: a child process opens 20 connections via %s and exits without closing them" % S_TCP)
    base = {d.rip: sum(1 for h in held if h[1] == d.rip) for d in ECHO}
    child = storm.Child(*hp(S_TCP), 20)
    agree("phase 5: child alive with 20 connections", ALL, held_close,
          {d.rip: dict(active=base[d.rip] + 10, inact=0) for d in ECHO})
    check_eq(child.exit(), 0, "phase 5: child exited (os._exit, no close)")
    agree("phase 5: after the child's exit", ALL, held_close,
          {d.rip: dict(active=base[d.rip], inact=0, tracked=25) for d in ECHO})

    step("phase 5b: a child opens 10 connections (greetings unread) and is SIGKILLed")
    child = storm.Child(*hp(S_TCP), 10, read=False)
    agree("phase 5b: child alive with 10 connections", ALL, held_close,
          {d.rip: dict(active=base[d.rip] + 5, inact=0) for d in ECHO})
    child.kill()
    agree("phase 5b: after SIGKILL", ALL, held_close,
          {d.rip: dict(active=base[d.rip], inact=0, tracked=25) for d in ECHO})

    # ------------------------------------------------------------ 6
    step("phase 6: 40 connected UDP sockets via %s" % S_UDP)
    udps = []
    for i in range(40):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(svs.SOCK_TIMEOUT)
        s.connect(hp(S_UDP))
        s.send(b"u%d" % i)
        reply = s.recv(1000).split()
        if reply[:1] != [b"ID"] or reply[2:] != [b"u%d" % i]:
            raise svs.Fail("unexpected UDP reply %r" % reply)
        udps.append((s, reply[1].decode(), port_of(s)))
    check_eq(svs.tally(u[1] for u in udps), {d.rip: 20 for d in UDP}, "phase 6: rr spread")
    agree("phase 6: 40 connected UDP sockets", ALL, held_close,
          {d.rip: dict(active=20, inact=0, tracked=20) for d in UDP})
    for s, _, _ in udps[:15]:
        s.close()
    gone = {d.rip: sum(1 for u in udps[:15] if u[1] == d.rip) for d in UDP}
    disc = udps[15:20]
    for s, _, _ in disc:
        storm.udp_disconnect(s)
    for d in UDP:
        held_close[d.rip] = [p for _, ident, p in disc if ident == d.rip]
    ndisc = {d.rip: len(held_close[d.rip]) for d in UDP}
    agree("phase 6: 15 closed, 5 disconnected (AF_UNSPEC) but held", ALL, held_close,
          {d.rip: dict(active=20 - gone[d.rip] - ndisc[d.rip], inact=0, tracked=20 - gone[d.rip])
           for d in UDP})
    for s, _, _ in udps[15:]:
        s.close()
    for d in UDP:
        held_close.pop(d.rip)
    agree("phase 6: all UDP sockets closed", ALL, held_close, zero(UDP))

    # ------------------------------------------------------------ 7
    step("phase 7: 40 non-blocking connects via %s to servers whose SYNs vanish" % S_SYN)
    syns = [storm.syn_sent_conn(*hp(S_SYN)) for _ in range(40)]
    check_eq(stats_dests(S_SYN), {d.rip: 20 for d in SYN}, "phase 7: --stats Conns 20 each")
    agree("phase 7: 40 sockets in SYN-SENT", ALL, held_close,
          {d.rip: dict(active=0, inact=20, tracked=20) for d in SYN})
    for s in syns:
        s.close()
    agree("phase 7: closed while connecting", ALL, held_close, zero(SYN))

    # ------------------------------------------------------------ end
    step("end: close the 40 held connections and the 10 half-closed ones")
    for s, _, _ in held + half:
        s.close()
    for d in ECHO:
        held_close.pop(d.rip)
    check_eq(held_close, {}, "the test holds no socket any more")
    agree("end: every client socket closed", ALL, held_close, zero(ALL))
    raw = {}
    for svc in (S_TCP, S_REF, S_RST, S_SYN):
        raw.update({("TCP", r): v for r, v in svs.module_dests(*hp(svc), "tcp").items()})
    raw.update({("UDP", r): v for r, v in svs.module_dests(*hp(S_UDP), "udp").items()})
    check_eq({k: (v["active"], v["inact"], v["shard_conns"]) for k, v in raw.items()},
             {(d.P, d.rip): (0, 0, [0] * d.shards) for d in ALL},
             "end: GET_DEST dump: every real server 0 active, 0 inactive, every shard 0")
    check_eq({k: v["overloaded"] for k, v in raw.items()}, {(d.P, d.rip): 0 for d in ALL},
             "end: no real server marked overloaded")


svs.case(main, private_netns=True)
