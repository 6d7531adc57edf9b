#!/usr/bin/env python3
"""Writes the checked-in seed corpora of tests/fuzz/corpus/<target>/.

Run from anywhere: python3 tests/fuzz/make_seeds.py.  The seeds are valid
inputs (the shapes the parsers meet in real use) from which libFuzzer
mutates; the attribute numbers follow kmod/include/uapi/linux/sock_vs.h."""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def nla(t, payload, nested=False):
    hdr = struct.pack("=HH", 4 + len(payload), t | (0x8000 if nested else 0))
    pad = b"\0" * ((4 - len(payload) % 4) % 4)
    return hdr + payload + pad


def u8(t, v):
    return nla(t, struct.pack("=B", v))


def u16(t, v):
    return nla(t, struct.pack("=H", v))


def u32(t, v):
    return nla(t, struct.pack("=I", v))


def u64(t, v):
    return nla(t, struct.pack("=Q", v))


def genl(cmd, attrs):
    return struct.pack("=BBH", cmd, 1, 0) + attrs


def msg(which, flags, body):
    """fuzz_messages input: parser selector, nlmsg_flags, message body."""
    return struct.pack("=BH", which, flags) + body


AF_INET, AF_INET6 = 2, 10
V4 = bytes([10, 0, 0, 1])
V6 = bytes([0xfd] + [0] * 14 + [1])


def stats(t):
    return nla(t, u64(1, 1234) + u64(2, 5), nested=True)


def service(af, addr):
    return nla(1, u16(1, af) + u16(2, 6) + nla(3, addr) + u16(4, 6379) +
               nla(5, b"wrr\0") + u32(6, 0) + stats(7) + u32(8, 2) + u8(9, 1) + u8(10, 2),
               nested=True)


def dest(af, addr, shards=4):
    return nla(2, nla(1, addr) + u16(2, 7001) + u32(3, 5) + u16(4, af) + stats(5) +
               u32(6, 3) + u32(7, 1) + u32(8, 100) + u32(9, 50) + u16(10, shards) +
               nla(11, struct.pack("=%dI" % shards, *range(shards))) + u8(12, 0),
               nested=True)


def info():
    return nla(3, nla(1, b"0.1.0\0") + u32(2, 3) + nla(3, b"kprobe\0") +
               nla(4, b"6.1.0-56-amd64\0") + u32(5, 4096) + u32(6, 1024), nested=True)


def template(af, vaddr, daddr, kind, client):
    # SOCK_VS_ATTR_TEMPLATE (6): AF, PROTOCOL, VADDR, VPORT, DADDR, DPORT,
    # CLIENT_KIND, CLIENT, CONNS, EXPIRES.
    return nla(6, u16(1, af) + u16(2, 6) + nla(3, vaddr) + u16(4, 80) + nla(5, daddr) +
               u16(6, 8080) + u8(7, kind) + u64(8, client) + u32(9, 2) + u32(10, 287),
               nested=True)


def nlmsgerr(error, echoed_len, tlvs=b""):
    echoed = struct.pack("=IHHII", echoed_len, 0x1d, 5, 42, 1234)
    return struct.pack("=i", error) + echoed + tlvs


def main():
    # --- messages --------------------------------------------------------
    NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
    write("messages", "service-v4", msg(0, 2, genl(4, service(AF_INET, V4))))
    write("messages", "service-v6", msg(0, 2, genl(4, service(AF_INET6, V6))))
    write("messages", "dest-v4", msg(1, 2, genl(8, dest(AF_INET, V4))))
    write("messages", "dest-v6-1shard", msg(1, 2, genl(8, dest(AF_INET6, V6, 1))))
    write("messages", "info", msg(2, 0, genl(11, info())))
    ext = nla(1, b"unknown scheduler\0") + u32(5, 3)
    write("messages", "error-capped", msg(3, NLM_F_CAPPED | NLM_F_ACK_TLVS,
                                          nlmsgerr(-22, 36, ext)))
    write("messages", "error-echoed",
          msg(3, NLM_F_ACK_TLVS, nlmsgerr(-2, 20, b"\0\0\0\0" + ext)))
    write("messages", "ack", msg(3, 0, nlmsgerr(0, 20)))
    write("messages", "done-error", msg(4, NLM_F_ACK_TLVS, struct.pack("=i", -1) + ext))
    write("messages", "done", msg(4, 2, struct.pack("=i", 0)))
    # GET_TEMPLATE (14) dump parts: a tgid template over IPv4, netns over IPv6.
    write("messages", "template-v4", msg(5, 2, genl(14, template(AF_INET, V4, V4, 0, 1234))))
    write("messages", "template-v6", msg(5, 2, genl(14, template(AF_INET6, V6, V6, 3, 0))))

    # --- address ---------------------------------------------------------
    for i, a in enumerate(["10.0.0.1", "10.0.0.1:6379", "[fd00::1]:80", "[fd00::1]", "fd00::1",
                           "::ffff:1.2.3.4", "[::]:65535", "255.255.255.255:1"]):
        write("address", "addr-%d" % i, a)

    # --- cli (arguments separated by NUL) ------------------------------------
    cli = [
        ["-A", "-t", "10.0.0.1:6379", "-s", "mh", "--hash-key", "local", "--shard-policy", "lc"],
        ["-a", "-t", "10.0.0.1:6379", "-r", "192.168.1.5:6380", "-w", "2", "-x", "100",
         "-y", "50", "--shards", "4"],
        ["-e", "-u", "[fd00::1]:53", "-r", "[fd00::2]", "-w", "0"],
        ["-d", "-t", "10.0.0.1:80", "-r", "10.0.0.2"],
        ["-Ln", "--stats", "--exact"],
        ["-L", "--shards"],
        ["-L", "--thresholds", "-t", "10.0.0.1:80"],
        ["-S", "-n"],
        ["-E", "--tcp-service=10.0.0.1:80", "--scheduler=rr"],
        ["-Z", "-u", "10.0.0.1:53"],
        ["-C"], ["-R"], ["-V"], ["-h"],
        ["-L", "--json"], ["-S", "--json"], ["-R", "--json"],
    ]
    for i, args in enumerate(cli):
        write("cli", "cli-%d" % i, "\0".join(args))

    # --- restore ---------------------------------------------------------
    write("restore", "save", "-A -t 10.0.0.1:6379 -s mh --hash-key local --shard-policy lc\n"
          "-a -t 10.0.0.1:6379 -r 192.168.1.5:6380 -w 2 -x 100 -y 50 --shards 4\n"
          "-A -u [fd00::1]:53 -s rr\n-a -u [fd00::1]:53 -r [fd00::2]:5353 -w 1\n")
    write("restore", "mixed", "# comment\n\n-C\n-E -t 10.0.0.1:80 -s wlc\n"
          "-e -t 10.0.0.1:80 -r 10.0.0.2 -w 0\n-d -t 10.0.0.1:80 -r 10.0.0.2\n"
          "-D -t 10.0.0.1:80\n-Z\n")
    write("restore", "crlf", "-A -t 10.0.0.1:80\r\n\t-a  -t 10.0.0.1:80 -r 10.0.0.2:81\r\n")

    # --- json (-R --json input) ----------------------------------------------
    write("json", "save", """{
  "version": 1,
  "services": [
    {
      "protocol": "tcp", "address": "10.0.0.1", "port": 6379, "scheduler": "mh",
      "flags": [], "hash_key": "local", "shard_policy": "lc",
      "dests": [
        {"address": "192.168.1.5", "port": 6380, "weight": 2, "upper": 100, "lower": 50,
         "shards": 4},
        {"address": "192.168.1.6", "port": 6379, "weight": 0, "upper": 0, "lower": 0,
         "shards": 1}
      ]
    },
    {
      "protocol": "udp", "address": "fd00::1", "port": 53, "scheduler": "wrr",
      "flags": [], "hash_key": "tgid", "shard_policy": "rr",
      "dests": [{"address": "fd00::2", "port": 5353, "weight": 65535}]
    }
  ]
}
""")
    write("json", "list", """{"version": 1,
 "module": {"version": "0.1.0", "hook": "kprobe", "kernel": "6.1.0", "services": 1,
            "max_services": 4096, "max_dests": 1024},
 "services": [{"protocol": "tcp", "address": "10.0.0.1", "port": 80, "scheduler": "rr",
   "flags": [], "hash_key": "tgid", "shard_policy": "rr",
   "stats": {"conns": 12, "refused": 0},
   "dests": [{"address": "10.0.0.2", "port": 8080, "weight": 1, "upper": 0, "lower": 0,
     "shards": 2, "active_conns": 1, "inact_conns": 0, "overloaded": false,
     "shard_conns": [1, 0], "stats": {"conns": 12}}]}]}
""")
    write("json", "minimal", '{"version":1,"services":[{"protocol":"udp","address":"::1",'
          '"port":1,"dests":[{"address":"::2","port":65535}]}]}')
    write("json", "empty", '{"version": 1, "services": []}')


if __name__ == "__main__":
    main()
