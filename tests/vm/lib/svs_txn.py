"""Transactions (SOCK_VS_CMD_TXN_*) over the raw generic-netlink client of
svs_genl, for the guest tests: build staged entries, begin / stage /
commit / abort on one socket, read the commit's answer, the module's
generation and open-transaction count (GET_INFO).

Numbers come from the uapi header, as in svs_genl.
"""

import socket
import struct

import svs
import svs_genl as g

TXN = {k[len("SOCK_VS_TXN_ATTR_"):]: v for k, v in g.ENUMS["sock_vs_txn_attr"].items()}
TXN_SVC = {k[len("SOCK_VS_TXN_SVC_ATTR_"):]: v for k, v in g.ENUMS["sock_vs_txn_svc_attr"].items()}
F_REPLACE = int(svs.uapi_define("SOCK_VS_TXN_F_REPLACE"), 0)
MAX_OPEN = int(svs.uapi_define("SOCK_VS_TXN_MAX_OPEN"))
TCP, UDP = socket.IPPROTO_TCP, socket.IPPROTO_UDP


def u8(atype, v):
    return g.nla(atype, struct.pack("=B", v))


def u64(atype, v):
    return g.nla(atype, struct.pack("=Q", v))


def service(addr, port, proto=TCP, sched=None, flags=None, dests=(), delete=False,
            persist=None, terminate=None, eject=None, extra=(), dest_extra=()):
    """One SOCK_VS_ATTR_TXN_SVC entry.  dests: (addr, port[, weight]) tuples;
    extra: more SERVICE attributes; dest_extra: {index: [attrs]}."""
    svc = g.svc_attrs(addr, port, proto, sched)
    if flags is not None:
        svc.append(g.u32(g.SVC["FLAGS"], flags))
    if persist is not None:
        svc.append(g.u32(g.SVC["PERSIST"], persist))
    if terminate is not None:
        svc.append(u8(g.SVC["TERMINATE"], terminate))
    if eject is not None:
        svc.append(g.u32(g.SVC["EJECT"], eject))
    svc += list(extra)
    parts = [g.nest(TXN_SVC["SERVICE"], *svc)]
    dest_extra = dict(dest_extra)
    for i, d in enumerate(dests):
        w = d[2] if len(d) > 2 else None
        parts.append(g.nest(TXN_SVC["DEST"], *(g.dest_attrs(d[0], d[1], w) + list(dest_extra.get(i, ())))))
    if delete:
        parts.append(g.nla(TXN_SVC["DELETE"], b""))
    return g.nest(g.ATTR["TXN_SVC"], *parts)


class Result:
    def __init__(self, reply):
        self.reply = reply
        self.error = reply.error
        self.counts = {}
        self.killed = None
        self.generation = None
        for m in reply.msgs:
            top = g.parse_attrs(m)
            if g.ATTR["KILLED"] in top:
                self.killed = struct.unpack("=I", top[g.ATTR["KILLED"]])[0]
            if g.ATTR["TXN"] in top:
                a = g.parse_attrs(top[g.ATTR["TXN"]])
                for k in ("ADDED", "CHANGED", "DELETED", "UNCHANGED"):
                    if TXN[k] in a:
                        self.counts[k.lower()] = struct.unpack("=I", a[TXN[k]])[0]
                if TXN["GENERATION"] in a:
                    self.generation = struct.unpack("=Q", a[TXN["GENERATION"]])[0]

    def __repr__(self):
        return "Result(%r, counts=%r, killed=%r, gen=%r)" % (self.reply, self.counts, self.killed,
                                                           self.generation)


class Txn(g.Genl):
    """A netlink socket that runs transactions."""

    def begin(self, replace=False, generation=None, flags=None):
        attrs = []
        if flags is None:
            flags = F_REPLACE if replace else 0
        attrs.append(g.u32(TXN["FLAGS"], flags))
        if generation is not None:
            attrs.append(u64(TXN["GENERATION"], generation))
        return self.cmd("TXN_BEGIN", g.nest(g.ATTR["TXN"], *attrs))

    def stage(self, entries):
        return self.cmd("TXN_STAGE", b"".join(entries))

    def commit(self):
        return Result(self.cmd("TXN_COMMIT"))

    def abort(self):
        return self.cmd("TXN_ABORT")

    def info(self):
        r = self.cmd("GET_INFO")
        if r.error:
            raise svs.Fail("GET_INFO: %r" % r)
        a = g.parse_attrs(g.parse_attrs(r.msgs[0])[g.ATTR["INFO"]])
        out = {}
        if g.INFO.get("GENERATION") in a:
            out["generation"] = struct.unpack("=Q", a[g.INFO["GENERATION"]])[0]
        if g.INFO.get("TXNS") in a:
            out["txns"] = struct.unpack("=I", a[g.INFO["TXNS"]])[0]
        out["services"] = struct.unpack("=I", a[g.INFO["NUM_SERVICES"]])[0]
        return out

    def run(self, entries, replace=False, generation=None, batch=64):
        """begin, stage in batches, commit; Fail on any error; the Result."""
        r = self.begin(replace, generation)
        if r.error:
            raise svs.Fail("TXN_BEGIN: %r" % r)
        for i in range(0, len(entries), batch):
            r = self.stage(entries[i:i + batch])
            if r.error:
                self.abort()
                raise svs.Fail("TXN_STAGE: %r" % r)
        res = self.commit()
        if res.error:
            raise svs.Fail("TXN_COMMIT: %r" % res)
        return res


def info():
    t = Txn()
    try:
        return t.info()
    finally:
        t.close()
