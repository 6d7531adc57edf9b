"""Python models of sock_vs's deterministic choices, for the guest cases that
predict where a connection must land (tests/vm/cases/5*.py).

- mix64(), dest_id(): kmod/svs_sched.h svs_sched_mix64(), kmod/sched.c
  svs_sched_dest_id() (a real server's stable identity);
- Maglev(): the mh/sh lookup table of kmod/sched_mh.c (stride-scheduled
  turns, earliest virtual time first, ties by identity) and its pick;
- hash_tgid(), hash_local4(), hash_cgroup(): the service's hash key as
  kmod/hook.c svs_hash_key() computes it.

The model is checked against the C code on the host (keep it in step with
kmod/sched_mh.c, kmod/sched.c and kmod/hook.c):

    gcc -O2 -DSVS_HOST -Ikmod -o /tmp/svs_mh_oracle \
        tests/vm/lib/svs_model_selftest.c kmod/sched*.c
    python3 tests/vm/lib/svs_model.py --selftest /tmp/svs_mh_oracle

In the guest it only predicts.
"""

import heapq
import math
import socket
import struct

M64 = (1 << 64) - 1

MH_PRIMES = (65521, 131063, 262139, 524269, 1048571)
MH_PROBES = 256


def mix64(x):
    x = (x + 0x9e3779b97f4a7c15) & M64
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M64
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


def dest_id(host, port):
    """svs_sched_dest_id(): 16 address bytes (IPv4 in the first 4), port."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    raw = socket.inet_pton(fam, host)
    raw = raw + b"\0" * (16 - len(raw))
    h = mix64(port)
    for i in range(0, 16, 4):
        h = mix64(h ^ struct.unpack(">I", raw[i:i + 4])[0])
    return h


def mh_table_size(n):
    want = n * 100
    for p in MH_PRIMES:
        if p >= want:
            return p
    return MH_PRIMES[-1]


class Maglev:
    """The mh table for real servers [(host, port, weight), ...] in
    configuration order (indexes are configuration positions)."""

    def __init__(self, servers):
        self.servers = list(servers)
        n = len(self.servers)
        live = [(i, dest_id(h, p), w) for i, (h, p, w) in enumerate(self.servers) if w > 0]
        self.size = mh_table_size(n) if live else 0
        m = self.size
        self.table = [-1] * m
        if not live:
            return
        lcm = 1
        for _, _, w in live:
            lcm = lcm * w // math.gcd(lcm, w)
        pos, skip, step = {}, {}, {}
        heap = []
        for idx, ident, w in live:
            h = mix64(ident)
            pos[idx] = h % m
            skip[idx] = mix64(h) % (m - 1) + 1
            step[idx] = lcm // w        # claimed / weight, scaled to an integer
            heap.append((0, ident, idx))
        heapq.heapify(heap)
        table = self.table
        for _ in range(m):
            vt, ident, idx = heap[0]
            c, s = pos[idx], skip[idx]
            while table[c] >= 0:
                c += s
                if c >= m:
                    c -= m
            table[c] = idx
            c += s
            pos[idx] = c - m if c >= m else c
            heapq.heapreplace(heap, (vt + step[idx], ident, idx))

    def pick(self, h, usable=None):
        """Index of the real server for hash key h (usable: set of indexes
        that may take it; default every server of weight > 0)."""
        if not self.size:
            return -1
        ok = (lambda i: i in usable) if usable is not None else (lambda i: True)
        c = h % self.size
        last = -1
        for _ in range(MH_PROBES):
            i = self.table[c]
            if i != last:
                if ok(i):
                    return i
                last = i
            c = c + 1 if c + 1 < self.size else 0
        n = len(self.servers)
        for k in range(1, n + 1):
            i = (last + k) % n
            if self.servers[i][2] > 0 and ok(i):
                return i
        return -1


def hash_tgid(tgid):
    return mix64(tgid)


def hash_local4(lport, laddr="0.0.0.0"):
    """Key of an IPv4 socket bound to (laddr, lport) at connect time: the
    address as the kernel's __be32 read as a native (little-endian) u32."""
    a = struct.unpack("<I", socket.inet_aton(laddr))[0]
    return mix64(mix64(lport) ^ a)


def hash_cgroup(cgid):
    return mix64(cgid)


def _selftest(binary):
    """Compare with the C scheduler through svs_model_selftest.c (built from
    kmod/sched*.c with -DSVS_HOST), which reads lines
    'n host port weight ... hash' and prints the picked index."""
    import random
    import subprocess
    rnd = random.Random(1)
    cases = []
    for t in range(12):
        n = rnd.randint(1, 5)
        servers = [("10.0.%d.%d" % (rnd.randint(0, 255), rnd.randint(1, 254)),
                    rnd.randint(1, 65535), rnd.choice([0, 1, 1, 2, 3, 7]) if t % 3 else 1)
                   for _ in range(n)]
        hashes = [mix64(rnd.getrandbits(64)) for _ in range(50)]
        cases.append((servers, hashes))
    lines, want = [], []
    for servers, hashes in cases:
        mg = Maglev(servers)
        for h in hashes:
            lines.append("%d %s %d" % (len(servers), " ".join("%s %d %d" % s for s in servers), h))
            want.append(mg.pick(h))
    out = subprocess.run([binary], input="\n".join(lines) + "\n", capture_output=True,
                         text=True, check=True).stdout.split()
    got = [int(x) for x in out]
    bad = [(l, w, g) for l, w, g in zip(lines, want, got) if w != g]
    print("%d picks compared, %d differ" % (len(want), len(bad)))
    for b in bad[:10]:
        print("  ", b)
    return not bad and len(got) == len(want)


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "--selftest":
        sys.exit(0 if _selftest(sys.argv[2]) else 1)
    print(__doc__)
