"""The module's kernel memory, as the tests measure it (python stdlib only).

- Slab objects of sock_vs's own kmem caches (svs_service, svs_dest,
  svs_conn, svs_peer, svs_tmpl): `active_objs` of /proc/slabinfo, after asking each cache to
  shrink (/sys/kernel/slab/NAME/shrink) so objects freed into per-CPU slabs
  are counted as free. A cache merged into another one (slab merging) would
  count the other cache's objects too, so the guest boots with slab_nomerge
  (tests/vm/run-guest.sh); a merged cache is reported as an error.
- Percpu: the Percpu line of /proc/meminfo (kB), for the whole kernel.
"""

import os
import time

import svs

CACHES = ("svs_service", "svs_dest", "svs_conn", "svs_peer", "svs_tmpl")


def _shrink(name):
    try:
        with open("/sys/kernel/slab/%s/shrink" % name, "w") as f:
            f.write("1")
    except OSError:
        pass


def slab_objects():
    """{cache: active objects} for the module's caches."""
    for name in CACHES:
        path = "/sys/kernel/slab/" + name
        if os.path.islink(path):
            raise svs.Fail("slab cache %s is merged into %s: boot with slab_nomerge"
                           % (name, os.readlink(path)))
        _shrink(name)
    out = {}
    with open("/proc/slabinfo") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] in CACHES:
                out[parts[0]] = int(parts[1])
    missing = [c for c in CACHES if c not in out]
    if missing:
        raise svs.Fail("no /proc/slabinfo line for %s" % ", ".join(missing))
    return out


def percpu_kb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Percpu:"):
                return int(line.split()[1])
    raise svs.Fail("no Percpu line in /proc/meminfo")


def snapshot():
    return {"slab": slab_objects(), "percpu_kb": percpu_kb()}


def wait_back(start, what, timeout=120, percpu=True):
    """Wait (polling; RCU callbacks and netns cleanup are asynchronous) until
    the module's slab objects are back to start's and, if percpu, Percpu is
    no higher than at start. Returns the last snapshot; fails on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        now = snapshot()
        slab_ok = all(now["slab"][c] <= start["slab"][c] for c in CACHES)
        pc_ok = not percpu or now["percpu_kb"] <= start["percpu_kb"]
        if slab_ok and pc_ok:
            svs.log("  ok: %s: slab objects %s (start %s), Percpu %d kB (start %d kB)"
                    % (what, now["slab"], start["slab"], now["percpu_kb"], start["percpu_kb"]))
            return now
        if time.monotonic() > deadline:
            raise svs.Fail("%s: module memory not back to its starting level after %ds: slab %s (start %s), "
                           "Percpu %d kB (start %d kB)" % (what, timeout, now["slab"], start["slab"],
                                                          now["percpu_kb"], start["percpu_kb"]))
        time.sleep(0.5)
