"""A generic-netlink fuzzer for SOCK_VS with a model of the configuration
(python stdlib only; used by tests/vm/cases/60-genl-fuzz.py).

Every message, however it was made (a valid request, a structured mutation
of one, or random bytes over one), goes through Model.predict(), which does
what the kernel does with it: the netlink/genetlink header checks, the strict
nla_policy validation of lib/nlattr.c for kmod/netlink.c's policies, then the
command's own checks in the order kmod/netlink.c and kmod/service.c make
them. It returns the errno the kernel must answer and, for accepted changes,
applies them to the model. The kernel's answers are compared with the
predictions message by message, and after every batch the kernel's dump is
compared with the model.

Attribute numbers, limits and scheduler names come from the uapi header.
"""

import errno
import os
import random
import socket
import struct

import svs
import svs_genl as g

E = errno
NLM_F_REQUEST, NLM_F_ACK = g.NLM_F_REQUEST, g.NLM_F_ACK
NLM_F_ROOT, NLM_F_MATCH, NLM_F_ATOMIC = 0x100, 0x200, 0x400
NLM_F_ECHO = 0x8
NLMSG_NOOP = 1
NETLINK_CAP_ACK = 10
NLA_F_NESTED, NLA_F_NET_BYTEORDER = 0x8000, 0x4000

CMD = g.CMD
ATTR, SVC, DEST, STATS = g.ATTR, g.SVC, g.DEST, g.STATS
ATTR_MAX = g.ENUMS["sock_vs_attr"]["__SOCK_VS_ATTR_MAX"] - 1
SVC_MAX = g.ENUMS["sock_vs_svc_attr"]["__SOCK_VS_SVC_ATTR_MAX"] - 1
DEST_MAX = g.ENUMS["sock_vs_dest_attr"]["__SOCK_VS_DEST_ATTR_MAX"] - 1
STATS_MAX = g.ENUMS["sock_vs_stats_attr"]["__SOCK_VS_STATS_ATTR_MAX"] - 1
HASH_MAX = g.ENUMS["sock_vs_hash_key"]["__SOCK_VS_HASH_MAX"] - 1
SHARD_POL_MAX = g.ENUMS["sock_vs_shard_policy"]["__SOCK_VS_SHARD_MAX"] - 1
SKIP_MAX_TYPE = g.ENUMS["sock_vs_skip_attr"]["__SOCK_VS_SKIP_ATTR_MAX"] - 1
SKIP = {k[len("SOCK_VS_SKIP_ATTR_"):]: v for k, v in g.ENUMS["sock_vs_skip_attr"].items()}
SKIP_RULE = int(svs.uapi_define("SOCK_VS_SKIP_RULE"))
SKIP_RULES_MAX = int(svs.uapi_define("SOCK_VS_SKIP_MAX"))
CGROUP_PATH_MAX = int(svs.uapi_define("SOCK_VS_SKIP_CGROUP_PATH_MAX"))
TERM_MAX = g.ENUMS["sock_vs_terminate"]["__SOCK_VS_TERMINATE_MAX"] - 1
TERM_DEFAULT = g.ENUMS["sock_vs_terminate"]["SOCK_VS_TERMINATE_UDP"]
PERSIST_MAX = int(svs.uapi_define("SOCK_VS_PERSIST_MAX"))
EJECT_MAX = int(svs.uapi_define("SOCK_VS_EJECT_MAX"))
EJECT_TIME_LIMIT = int(svs.uapi_define("SOCK_VS_EJECT_TIME_LIMIT"))
EJECT_DEFAULTS = {"eject": 0, "eject_time": int(svs.uapi_define("SOCK_VS_EJECT_TIME_DEFAULT")),
                  "eject_time_max": int(svs.uapi_define("SOCK_VS_EJECT_TIME_MAX_DEFAULT")),
                  "eject_pct": int(svs.uapi_define("SOCK_VS_EJECT_PERCENT_DEFAULT"))}
SCHED_NAME_MAX = int(svs.uapi_define("SOCK_VS_SCHED_NAME_MAX"))
SHARDS_MAX = int(svs.uapi_define("SOCK_VS_SHARDS_MAX"))
WEIGHT_MAX = int(svs.uapi_define("SOCK_VS_WEIGHT_MAX"))
SVC_F_UNCONNECTED = int(svs.uapi_define("SOCK_VS_SVC_F_UNCONNECTED"), 0)
SVC_F_ALL = int(svs.uapi_define("SOCK_VS_SVC_F_REAL_PEERNAME"), 0) | SVC_F_UNCONNECTED  # NLA_POLICY_MASK
INT_MAX = 0x7fffffff
TXN = {k[len("SOCK_VS_TXN_ATTR_"):]: v for k, v in g.ENUMS["sock_vs_txn_attr"].items()}
TXN_SVC = {k[len("SOCK_VS_TXN_SVC_ATTR_"):]: v for k, v in g.ENUMS["sock_vs_txn_svc_attr"].items()}
TXN_MAX = g.ENUMS["sock_vs_txn_attr"]["__SOCK_VS_TXN_ATTR_MAX"] - 1
TXN_SVC_MAX = g.ENUMS["sock_vs_txn_svc_attr"]["__SOCK_VS_TXN_SVC_ATTR_MAX"] - 1
TXN_F_REPLACE = int(svs.uapi_define("SOCK_VS_TXN_F_REPLACE"), 0)
TXN_F_ALL = TXN_F_REPLACE
GENL_SPLIT_OPS = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2]) >= (6, 2)
RESV_START_OP = CMD["GET_INFO"] + 1     # kmod/netlink.c: .resv_start_op
SCHEDS = sorted({svs.uapi_define("SOCK_VS_SCHED_" + n).strip('"')
                 for n in ("RR", "WRR", "LC", "WLC", "SH", "MH", "PORT", "FIXED", "FO", "P2C")})
DEFAULT_SCHED = "wrr"
AF4, AF6 = socket.AF_INET, socket.AF_INET6
TCP, UDP = socket.IPPROTO_TCP, socket.IPPROTO_UDP

# ---------------------------------------------------------------- policies
# (kind, arg): u8/u16/u32/u64 with (min, max) or None; bin_min n; nulstr
# maxlen; nested (policy, maxtype); reject. A type with no entry is
# NLA_UNSPEC, which strict validation refuses.
STATS_POL = {STATS["CONNS"]: ("u64", None), STATS["REFUSED"]: ("u64", None),
             STATS["UNTRACKED"]: ("u64", None), STATS["KILLED"]: ("u64", None),
             STATS["EJECTED"]: ("u64", None), STATS["FAILED"]: ("u64", None)}
SKIP_RULE_POL = {
    SKIP["UID_MIN"]: ("u32", None), SKIP["UID_MAX"]: ("u32", None),
    SKIP["CGROUP"]: ("nulstr", CGROUP_PATH_MAX - 1), SKIP["MARK"]: ("u32", None),
    SKIP["MARK_MASK"]: ("u32", None), SKIP["CGROUP_ID"]: ("reject", None),
}
SKIP_POL = {SKIP_RULE: ("nested", (SKIP_RULE_POL, SKIP_MAX_TYPE))}
SVC_POL = {
    SVC["AF"]: ("u16", None), SVC["PROTOCOL"]: ("u16", None), SVC["ADDR"]: ("bin_min", 4),
    SVC["PORT"]: ("u16", (1, 0xffff)), SVC["SCHED_NAME"]: ("nulstr", SCHED_NAME_MAX - 1),
    SVC["FLAGS"]: ("u32", ("mask", SVC_F_ALL)), SVC["STATS"]: ("nested", (STATS_POL, STATS_MAX)),
    SVC["NUM_DESTS"]: ("u32", None), SVC["HASH_KEY"]: ("u8", (0, HASH_MAX)),
    SVC["SHARD_POLICY"]: ("u8", (0, SHARD_POL_MAX)), SVC["TERMINATE"]: ("u8", (0, TERM_MAX)),
    SVC["SKIP"]: ("nested", (SKIP_POL, SKIP_RULE)), SVC["PERSIST"]: ("u32", (0, PERSIST_MAX)),
    SVC["EJECT"]: ("u32", (0, EJECT_MAX)), SVC["EJECT_TIME"]: ("u32", (1, EJECT_TIME_LIMIT)),
    SVC["EJECT_TIME_MAX"]: ("u32", (1, EJECT_TIME_LIMIT)), SVC["EJECT_MAX_PERCENT"]: ("u8", (1, 100)),
}
DEST_POL = {
    DEST["ADDR"]: ("bin_min", 4), DEST["PORT"]: ("u16", (1, 0xffff)),
    DEST["WEIGHT"]: ("u32", (0, WEIGHT_MAX)), DEST["AF"]: ("u16", None),
    DEST["STATS"]: ("nested", (STATS_POL, STATS_MAX)), DEST["ACTIVE_CONNS"]: ("u32", None),
    DEST["INACT_CONNS"]: ("u32", None), DEST["U_THRESH"]: ("u32", (0, INT_MAX)),
    DEST["L_THRESH"]: ("u32", (0, INT_MAX)), DEST["SHARDS"]: ("u16", (1, SHARDS_MAX)),
    DEST["SHARD_CONNS"]: ("reject", None), DEST["OVERLOADED"]: ("reject", None),
    DEST["EJECTED"]: ("reject", None), DEST["EJECT_LEFT"]: ("reject", None),
    DEST["FAILS"]: ("reject", None),
}
TXN_POL = {TXN["FLAGS"]: ("u32", ("mask", TXN_F_ALL)), TXN["GENERATION"]: ("u64", None),
           TXN["ADDED"]: ("reject", None), TXN["CHANGED"]: ("reject", None),
           TXN["DELETED"]: ("reject", None), TXN["UNCHANGED"]: ("reject", None)}
TXN_SVC_POL = {TXN_SVC["SERVICE"]: ("nested", (SVC_POL, SVC_MAX)),
               TXN_SVC["DEST"]: ("nested", (DEST_POL, DEST_MAX)), TXN_SVC["DELETE"]: ("flag", None)}
TOP_POL = {ATTR["SERVICE"]: ("nested", (SVC_POL, SVC_MAX)), ATTR["DEST"]: ("nested", (DEST_POL, DEST_MAX)),
           ATTR["INFO"]: ("reject", None), ATTR["CONN"]: ("reject", None),
           ATTR["KILLED"]: ("reject", None), ATTR["TEMPLATE"]: ("reject", None),
           ATTR["TXN"]: ("nested", (TXN_POL, TXN_MAX)), ATTR["TXN_SVC"]: ("nested", (TXN_SVC_POL, TXN_SVC_MAX))}
INT_LEN = {"u8": 1, "u16": 2, "u32": 4, "u64": 8}
INT_FMT = {"u8": "=B", "u16": "=H", "u32": "=I", "u64": "=Q"}


class Reject(Exception):
    """The kernel refuses the message: errno and why (the model's reason)."""

    def __init__(self, err, why, extack=True):
        super().__init__(why)
        self.err, self.why, self.extack = err, why, extack


POLICY = "policy"   # reason of every nla_policy rejection (EINVAL or ERANGE)


def validate(data, pol, maxtype):
    """Strict nla validation (NL_VALIDATE_STRICT) of a run of attributes;
    returns {type: payload} (the last of duplicates wins, as nla_parse)."""
    tb, off, n = {}, 0, len(data)
    while n - off >= 4:
        ln, t = struct.unpack_from("=HH", data, off)
        if ln < 4 or ln > n - off:
            break
        typ = t & 0x3fff
        payload = data[off + 4:off + ln]
        off += (ln + 3) & ~3
        if typ == 0 or typ > maxtype:
            raise Reject(E.EINVAL, POLICY)
        spec = pol.get(typ)
        if spec is None:
            raise Reject(E.EINVAL, POLICY)
        kind, arg = spec
        if kind in INT_LEN and len(payload) != INT_LEN[kind]:
            raise Reject(E.EINVAL, POLICY)
        nested_flag = bool(t & NLA_F_NESTED)
        if nested_flag != (kind == "nested"):
            raise Reject(E.EINVAL, POLICY)
        if kind == "reject":
            raise Reject(E.EINVAL, POLICY)
        if kind == "flag" and payload:
            raise Reject(E.ERANGE, POLICY)
        if kind in INT_LEN:
            if arg is not None:
                v = struct.unpack(INT_FMT[kind], payload)[0]
                if arg[0] == "mask":  # NLA_POLICY_MASK: "reserved bit set"
                    if v & ~arg[1]:
                        raise Reject(E.EINVAL, POLICY)
                elif not arg[0] <= v <= arg[1]:
                    raise Reject(E.ERANGE, POLICY)
        elif kind == "bin_min":
            if len(payload) < arg:
                raise Reject(E.ERANGE, POLICY)
        elif kind == "nulstr":
            m = min(len(payload), arg + 1)
            if m == 0 or b"\0" not in payload[:m]:
                raise Reject(E.EINVAL, POLICY)
            ln2 = len(payload) - (1 if payload[-1:] == b"\0" else 0)
            if ln2 > arg:
                raise Reject(E.ERANGE, POLICY)
        elif kind == "nested":
            if payload:
                if len(payload) < 4:
                    raise Reject(E.ERANGE, POLICY)
                validate(payload, *arg)
        tb[typ] = payload
    if n - off > 0:
        raise Reject(E.EINVAL, POLICY)
    return tb


def u16v(b):
    return struct.unpack("=H", b)[0]


def u32v(b):
    return struct.unpack("=I", b)[0]


def addr_ok(af, a):
    if af == AF4:
        # ipv4_is_zeronet() matches only 0.0.0.0 on 6.1 and 6.12 (measured)
        return not (a == b"\0\0\0\0" or (a[0] & 0xf0) == 0xe0 or a == b"\xff\xff\xff\xff")
    return not (a == b"\0" * 16 or a[0] == 0xff)


class Model:
    """The configuration the kernel must hold, and the kernel's rules."""

    def __init__(self, max_services, max_dests):
        self.max_services = max_services
        self.max_dests = max_dests
        self.services = {}      # key -> dict; insertion order = dump order
        # The table's generation (GET_INFO's; set from the kernel's at the
        # start) and the socket's open transaction (kmod/txn.c), or None:
        # {"flags", "gen" (None: not checked), "staged": [entry]}.
        self.gen = 0
        self.txn = None
        self.commits = 0        # transactions committed (predicted)

    # -- the command checks, in kmod/netlink.c's order

    def _service_key(self, top):
        if ATTR["SERVICE"] not in top:
            raise Reject(E.EINVAL, "missing service")
        return self._service_key_nest(top[ATTR["SERVICE"]])

    def _service_key_nest(self, payload):
        tb = g.parse_attrs(payload)
        if not all(SVC[k] in tb for k in ("AF", "PROTOCOL", "ADDR", "PORT")):
            raise Reject(E.EINVAL, "incomplete service")
        af = u16v(tb[SVC["AF"]])
        if af not in (AF4, AF6):
            raise Reject(E.EAFNOSUPPORT, "service af")
        proto = u16v(tb[SVC["PROTOCOL"]])
        if proto not in (TCP, UDP):
            raise Reject(E.EPROTONOSUPPORT, "service protocol")
        a = tb[SVC["ADDR"]]
        if len(a) != (4 if af == AF4 else 16):
            raise Reject(E.EAFNOSUPPORT, "service addr length")
        if not addr_ok(af, a):
            raise Reject(E.EINVAL, "service addr not unicast")
        return (af, proto, bytes(a), u16v(tb[SVC["PORT"]])), tb

    def _lookup(self, top):
        key, tb = self._service_key(top)
        if key not in self.services:
            raise Reject(E.ESRCH, "no such service")
        return key, tb

    @staticmethod
    def _svc_conf(tb, conf):
        if SVC["SCHED_NAME"] in tb:
            name = tb[SVC["SCHED_NAME"]].split(b"\0", 1)[0].decode("latin-1")
            if name not in SCHEDS:
                raise Reject(E.ENOENT, "unknown scheduler")
            conf["sched"] = name
        if SVC["FLAGS"] in tb:
            conf["flags"] = u32v(tb[SVC["FLAGS"]])
        if SVC["HASH_KEY"] in tb:
            conf["hash_key"] = tb[SVC["HASH_KEY"]][0]
        if SVC["SHARD_POLICY"] in tb:
            conf["shard_policy"] = tb[SVC["SHARD_POLICY"]][0]
        if SVC["TERMINATE"] in tb:
            conf["terminate"] = tb[SVC["TERMINATE"]][0]
        if SVC["PERSIST"] in tb:
            conf["persist"] = u32v(tb[SVC["PERSIST"]])
        for k in EJECT_DEFAULTS:
            if SVC[k.upper().replace("PCT", "MAX_PERCENT")] in tb:
                v = tb[SVC[k.upper().replace("PCT", "MAX_PERCENT")]]
                conf[k] = v[0] if k == "eject_pct" else u32v(v)
        if conf["eject_time"] > conf["eject_time_max"]:
            raise Reject(E.EINVAL, "ejection time above its maximum")
        if conf["persist"] and conf["sched"] == "port":
            raise Reject(E.EINVAL, "persistence with the port scheduler")
        return conf

    @staticmethod
    def _unconnected(key, conf):
        if conf["flags"] & SVC_F_UNCONNECTED and key[1] != UDP:
            raise Reject(E.EINVAL, "unconnected on a TCP service")
        if conf["eject"] and key[1] != TCP:
            raise Reject(E.EINVAL, "ejection on a UDP service")

    @staticmethod
    def _skip(tb):
        """kmod/skip.c's checks of a SKIP nest (the policy passed); returns
        (given, rules): rules as the kernel compares them, None for none."""
        if SVC["SKIP"] not in tb:
            return False, None
        rules = []
        n = 0
        for typ, payload in g.attr_list(tb[SVC["SKIP"]]):
            if typ != SKIP_RULE:
                continue
            if n == SKIP_RULES_MAX:
                raise Reject(E.E2BIG, "too many exemptions")
            n += 1
            r = g.parse_attrs(payload)
            kinds = sum(SKIP[k] in r for k in ("UID_MIN", "CGROUP", "MARK"))
            if (kinds != 1 or (SKIP["UID_MAX"] in r and SKIP["UID_MIN"] not in r)
                    or (SKIP["MARK_MASK"] in r and SKIP["MARK"] not in r)):
                raise Reject(E.EINVAL, "exemption kind")
            if SKIP["UID_MIN"] in r:
                lo = u32v(r[SKIP["UID_MIN"]])
                hi = u32v(r[SKIP["UID_MAX"]]) if SKIP["UID_MAX"] in r else lo
                if hi < lo or 0xffffffff in (lo, hi):
                    raise Reject(E.EINVAL, "uid range")
                rules.append(("uid", lo, hi))
            elif SKIP["MARK"] in r:
                mask = u32v(r[SKIP["MARK_MASK"]]) if SKIP["MARK_MASK"] in r else 0xffffffff
                if u32v(r[SKIP["MARK"]]) & ~mask:
                    raise Reject(E.EINVAL, "mark outside mask")
                rules.append(("mark", u32v(r[SKIP["MARK"]]), mask))
            else:
                path = bytes(r[SKIP["CGROUP"]]).split(b"\0", 1)[0].decode("latin-1")
                if not path.startswith("/"):
                    raise Reject(E.EINVAL, "cgroup path")
                parts = [x for x in path.split("/") if x]
                full = os.path.join("/sys/fs/cgroup", *parts)
                if any(x in (".", "..") for x in parts) or not os.path.exists(full):
                    raise Reject(E.ENOENT, "no such cgroup")
                if not os.path.isdir(full):
                    raise Reject(E.ENOTDIR, "cgroup is a file")
                rules.append(("cgroup", path))
        return True, tuple(rules) or None

    def _dest(self, top, key):
        if ATTR["DEST"] not in top:
            raise Reject(E.EINVAL, "missing dest")
        return self._dest_nest(top[ATTR["DEST"]], key)

    def _dest_nest(self, payload, key):
        tb = g.parse_attrs(payload)
        if DEST["ADDR"] not in tb or DEST["PORT"] not in tb:
            raise Reject(E.EINVAL, "incomplete dest")
        af = key[0]
        a = tb[DEST["ADDR"]]
        if (DEST["AF"] in tb and u16v(tb[DEST["AF"]]) != af) or len(a) != (4 if af == AF4 else 16):
            raise Reject(E.EAFNOSUPPORT, "dest family")
        if not addr_ok(af, a):
            raise Reject(E.EINVAL, "dest addr not unicast")
        if af != AF4 and (a[:12] == b"\0" * 10 + b"\xff\xff" or (a[0] == 0xfe and a[1] & 0xc0 == 0x80)):
            raise Reject(E.EINVAL, "dest addr v4-mapped or link-local")
        return (bytes(a), u16v(tb[DEST["PORT"]])), tb

    def _dest_cmd(self, top, op):
        key, _ = self._lookup(top)
        svc = self.services[key]
        dkey, tb = self._dest(top, key)
        if op == "SET" and DEST["WEIGHT"] not in tb:
            raise Reject(E.EINVAL, "missing weight")
        d = svc["dests"].get(dkey)
        if op != "NEW" and d is None:
            raise Reject(E.ENOENT, "no such dest")
        if op == "DEL":
            del svc["dests"][dkey]
            self.gen += 1
            return
        conf = {"weight": 1, "u": 0, "l": 0, "shards": 1}
        if d is not None:
            conf.update(u=d["u"], l=d["l"], shards=d["shards"])
        self._dest_conf(tb, conf)
        if op == "NEW":
            if d is not None:
                raise Reject(E.EEXIST, "dest exists")
            if len(svc["dests"]) >= self.max_dests:
                raise Reject(E.ENOSPC, "max_dests")
            svc["dests"][dkey] = conf
        else:
            if conf["shards"] != d["shards"]:
                raise Reject(E.EINVAL, "shards change")
            d.update(conf)
        self.gen += 1

    @staticmethod
    def _dest_conf(tb, conf):
        if DEST["WEIGHT"] in tb:
            conf["weight"] = u32v(tb[DEST["WEIGHT"]])
        if DEST["U_THRESH"] in tb:
            conf["u"] = u32v(tb[DEST["U_THRESH"]])
        if DEST["L_THRESH"] in tb:
            conf["l"] = u32v(tb[DEST["L_THRESH"]])
        if DEST["SHARDS"] in tb:
            conf["shards"] = u16v(tb[DEST["SHARDS"]])
        if conf["l"] > conf["u"]:
            raise Reject(E.EINVAL, "lower threshold above upper")
        return conf

    def predict(self, flags, msg_type, body, apply=True):
        """errno (0 or positive) and reason the kernel answers a message of
        type msg_type whose bytes after the nlmsghdr are body; applies an
        accepted change to the model when apply is true."""
        if not flags & NLM_F_REQUEST or msg_type < 0x10:
            return 0, "not a request"
        if len(body) < 4:
            return E.EINVAL, "genl header truncated"
        cmd = body[0]
        dump = (flags & (NLM_F_ROOT | NLM_F_MATCH)) == (NLM_F_ROOT | NLM_F_MATCH)
        if cmd >= RESV_START_OP:        # genl_header_check()
            if body[2] or body[3]:
                return E.EINVAL, "genl reserved field"
            if (flags & ~(NLM_F_ROOT | NLM_F_MATCH) if dump else flags) & ~(NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO):
                return E.EINVAL, "genl flags"
        doit = {CMD["NEW_SERVICE"], CMD["SET_SERVICE"], CMD["DEL_SERVICE"], CMD["GET_SERVICE"],
                CMD["NEW_DEST"], CMD["SET_DEST"], CMD["DEL_DEST"], CMD["FLUSH"], CMD["ZERO"],
                CMD["GET_INFO"], CMD["KILL"], CMD["TXN_BEGIN"], CMD["TXN_STAGE"],
                CMD["TXN_COMMIT"], CMD["TXN_ABORT"]}
        if dump or cmd not in doit:
            return E.EOPNOTSUPP, "no such command"
        try:
            top = validate(body[4:], TOP_POL, ATTR_MAX)
            if cmd == CMD["TXN_STAGE"]:
                # Every entry, in order (validate() keeps the last of each type).
                top = dict(top, entries=[p for t, p in g.attr_list(body[4:]) if t == ATTR["TXN_SVC"]])
            self._doit(cmd, top, apply)
        except Reject as r:
            return r.err, r.why
        return 0, "ok"

    def _doit(self, cmd, top, apply):
        if not apply:
            # Same checks on a throwaway copy.
            saved = self.services, self.gen, self.txn
            self.services = {k: dict(v, dests={dk: dict(dv) for dk, dv in v["dests"].items()})
                             for k, v in saved[0].items()}
            if self.txn is not None:
                self.txn = dict(self.txn, staged=list(self.txn["staged"]))
            try:
                self._doit(cmd, top, True)
            finally:
                self.services, self.gen, self.txn = saved
            return
        if cmd in (CMD["TXN_BEGIN"], CMD["TXN_STAGE"], CMD["TXN_COMMIT"], CMD["TXN_ABORT"]):
            self._txn(cmd, top)
            return
        if cmd == CMD["NEW_SERVICE"]:
            key, tb = self._service_key(top)
            conf = self._svc_conf(tb, {"sched": DEFAULT_SCHED, "flags": 0, "hash_key": 0, "shard_policy": 0,
                                       "terminate": TERM_DEFAULT, "persist": 0, **EJECT_DEFAULTS})
            self._unconnected(key, conf)
            conf["skip"] = self._skip(tb)[1]
            if key in self.services:
                raise Reject(E.EEXIST, "service exists")
            if len(self.services) >= self.max_services:
                raise Reject(E.ENOSPC, "max_services")
            conf["dests"] = {}
            self.services[key] = conf
            self.gen += 1
        elif cmd == CMD["SET_SERVICE"]:
            key, tb = self._lookup(top)
            svc = self.services[key]
            conf = self._svc_conf(tb, {k: svc[k] for k in ("sched", "flags", "hash_key", "shard_policy",
                                                           "terminate", "persist", *EJECT_DEFAULTS)})
            self._unconnected(key, conf)
            given, rules = self._skip(tb)
            if given:
                conf["skip"] = rules
            svc.update(conf)
            self.gen += 1
        elif cmd == CMD["DEL_SERVICE"]:
            key, _ = self._lookup(top)
            del self.services[key]
            self.gen += 1
        elif cmd == CMD["GET_SERVICE"]:
            self._lookup(top)
        elif cmd == CMD["NEW_DEST"]:
            self._dest_cmd(top, "NEW")
        elif cmd == CMD["SET_DEST"]:
            self._dest_cmd(top, "SET")
        elif cmd == CMD["DEL_DEST"]:
            self._dest_cmd(top, "DEL")
        elif cmd == CMD["FLUSH"]:
            self.gen += len(self.services)
            self.services.clear()
        elif cmd == CMD["ZERO"]:
            if ATTR["SERVICE"] in top:
                self._lookup(top)
        elif cmd == CMD["KILL"]:
            key, tb = self._lookup(top)
            if SVC["TERMINATE"] in tb and tb[SVC["TERMINATE"]][0] == 0:
                raise Reject(E.EINVAL, "kill with policy none")
            if ATTR["DEST"] in top:
                dkey, _ = self._dest(top, key)
                if dkey not in self.services[key]["dests"]:
                    raise Reject(E.ENOENT, "no such dest")

    # -- transactions (kmod/txn.c), in its order

    CONF_KEYS = ("sched", "flags", "hash_key", "shard_policy", "terminate", "persist", *EJECT_DEFAULTS)

    def _txn(self, cmd, top):
        if cmd == CMD["TXN_BEGIN"]:
            flags, gen = 0, None
            if ATTR["TXN"] in top:
                tb = g.parse_attrs(top[ATTR["TXN"]])
                if TXN["FLAGS"] in tb:
                    flags = u32v(tb[TXN["FLAGS"]])
                if TXN["GENERATION"] in tb:
                    gen = struct.unpack("=Q", tb[TXN["GENERATION"]])[0]
            if self.txn is not None:
                raise Reject(E.EBUSY, "a transaction is open")
            self.txn = {"flags": flags, "gen": gen, "staged": []}
            return
        if self.txn is None:
            raise Reject(E.ENOENT, "no transaction")
        if cmd == CMD["TXN_ABORT"]:
            self.txn = None
        elif cmd == CMD["TXN_STAGE"]:
            staged = []
            for payload in top["entries"]:
                staged.append(self._txn_entry(payload, staged))
            if not staged:
                raise Reject(E.EINVAL, "nothing to stage")
            self.txn["staged"] += staged
        else:
            txn, self.txn = self.txn, None      # a commit ends it, whatever happens
            self._commit(txn)

    def _txn_entry(self, payload, earlier):
        txn = self.txn
        tb = g.parse_attrs(payload)
        if TXN_SVC["SERVICE"] not in tb:
            raise Reject(E.EINVAL, "txn entry without service")
        key, stb = self._service_key_nest(tb[TXN_SVC["SERVICE"]])
        if any(e["key"] == key for e in txn["staged"] + earlier):
            raise Reject(E.EINVAL, "service staged twice")
        if len(txn["staged"]) + len(earlier) >= self.max_services:
            raise Reject(E.ENOSPC, "max_services (txn)")
        dests = [p for t, p in g.attr_list(payload) if t == TXN_SVC["DEST"]]
        delete = TXN_SVC["DELETE"] in tb
        if delete and txn["flags"] & TXN_F_REPLACE:
            raise Reject(E.EINVAL, "delete in a replacing txn")
        if delete and dests:
            raise Reject(E.EINVAL, "delete with dests")
        if len(dests) > self.max_dests:
            raise Reject(E.ENOSPC, "max_dests (txn)")
        if delete:
            return {"key": key, "del": True}
        conf = self._svc_conf(stb, {"sched": DEFAULT_SCHED, "flags": 0, "hash_key": 0, "shard_policy": 0,
                                    "terminate": TERM_DEFAULT, "persist": 0, **EJECT_DEFAULTS})
        self._unconnected(key, conf)
        conf["skip"] = self._skip(stb)[1]
        conf["dests"] = {}
        for dp in dests:
            dkey, dtb = self._dest_nest(dp, key)
            dconf = self._dest_conf(dtb, {"weight": 1, "u": 0, "l": 0, "shards": 1})
            if dkey in conf["dests"]:
                raise Reject(E.EINVAL, "dest listed twice")
            conf["dests"][dkey] = dconf
        return {"key": key, "del": False, "conf": conf}

    def _commit(self, txn):
        if txn["gen"] is not None and txn["gen"] != self.gen:
            raise Reject(E.EAGAIN, "stale generation")
        staged = {e["key"]: e for e in txn["staged"]}
        replace = txn["flags"] & TXN_F_REPLACE
        victims = [k for k in self.services if (k in staged and staged[k]["del"]) or
                   (replace and k not in staged)]
        adds = [e for e in txn["staged"] if not e["del"] and e["key"] not in self.services]
        if adds and len(self.services) - len(victims) + len(adds) > self.max_services:
            raise Reject(E.ENOSPC, "max_services")
        changed = bool(adds or victims)
        out = {}
        for k, svc in self.services.items():
            if k in victims:
                continue
            e = staged.get(k)
            if e is None:
                out[k] = svc
                continue
            new = e["conf"]
            if (any(svc.get(c) != new[c] for c in self.CONF_KEYS) or svc.get("skip") != new["skip"] or
                    list(svc["dests"].items()) != list(new["dests"].items())):
                changed = True
            out[k] = dict(new, dests=dict(new["dests"]))
        for e in adds:
            out[e["key"]] = dict(e["conf"], dests=dict(e["conf"]["dests"]))
        self.services = out
        if changed:
            self.gen += 1
        self.commits += 1

    def load(self, config):
        """Take the kernel's configuration (after a mismatch, to go on)."""
        self.services = {}
        for (af, proto, a, port, sched, flags, hk, sp, term, persist, _), dests in config:
            self.services[(af, proto, a, port)] = {
                "sched": sched, "flags": flags, "hash_key": hk, "shard_policy": sp, "terminate": term,
                "persist": persist, **EJECT_DEFAULTS,
                "dests": {(da, dp): {"weight": w, "u": u, "l": lo, "shards": sh}
                          for da, dp, w, u, lo, sh in dests}}

    def expected_dump(self):
        out = []
        for (af, proto, a, port), s in self.services.items():
            dests = [(da, dp, d["weight"], d["u"], d["l"], d["shards"]) for (da, dp), d in s["dests"].items()]
            out.append(((af, proto, a, port, s["sched"], s["flags"], s["hash_key"], s["shard_policy"],
                         s["terminate"], s["persist"], len(dests)), dests))
        return out


# ------------------------------------------------------------- the kernel

class Batcher(g.Genl):
    """Genl with batches: many requests in one send(), one ack each (of
    the SOCK_VS family unless told; a batch may mix families)."""

    def __init__(self, family=None):
        if family is None:
            super().__init__()
        else:
            super().__init__(family)
        self.sock.setsockopt(g.SOL_NETLINK, NETLINK_CAP_ACK, 1)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)   # SO_RCVBUFFORCE
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)

    def batch(self, msgs):
        """msgs: [(flags, type, body)], each asking for an ack. Returns
        [(errno (>= 0), extack message or None, replies)] in order."""
        out = bytearray()
        seqs = []
        for flags, typ, body in msgs:
            self.seq += 1
            seqs.append(self.seq)
            raw = struct.pack("=IHHII", 16 + len(body), typ, flags, self.seq, 0) + body
            out += raw + b"\0" * (g.align4(len(raw)) - len(raw))
        self.sock.send(bytes(out))
        want = {s: i for i, s in enumerate(seqs)}
        res = [None] * len(seqs)
        replies = [0] * len(seqs)
        left = len(seqs)
        while left:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise svs.Fail("no netlink answer within %ss for %d of %d batched requests"
                               % (svs.SOCK_TIMEOUT, left, len(seqs)))
            off = 0
            while off + 16 <= len(data):
                ln, typ, fl, rseq, _ = struct.unpack_from("=IHHII", data, off)
                if ln < 16:
                    raise svs.Fail("bad netlink reply length %d" % ln)
                m = data[off:off + ln]
                off += g.align4(ln)
                i = want.get(rseq)
                if i is None:
                    continue
                if typ == g.NLMSG_ERROR:
                    r = self._error(m, fl, [])
                    if res[i] is None:
                        left -= 1
                    res[i] = (-r.error, r.extack_msg, replies[i])
                else:
                    replies[i] += 1
        return res

    def dump(self, cmd, attrs=b""):
        r = self.cmd(cmd, attrs, flags=NLM_F_REQUEST | g.NLM_F_DUMP)
        if r.error:
            raise svs.Fail("dump %s failed: %s (%s)" % (cmd, svs.errno_name(-r.error), r.extack_msg))
        return r.msgs

    def generation(self):
        """GET_INFO's generation of the table."""
        r = self.cmd("GET_INFO")
        if r.error:
            raise svs.Fail("GET_INFO: %s" % svs.errno_name(-r.error))
        info = g.parse_attrs(g.parse_attrs(r.msgs[0])[ATTR["INFO"]])
        return struct.unpack("=Q", info[g.INFO["GENERATION"]])[0]

    def resync_txn(self, model):
        """After a mismatch: no transaction open on either side, the same
        generation."""
        self.cmd("TXN_ABORT")
        model.txn = None
        model.gen = self.generation()

    def config(self):
        """The kernel's configuration, in the shape of Model.expected_dump()."""
        out = []
        for m in self.dump("GET_SERVICE"):
            s = g.parse_attrs(g.parse_attrs(m)[ATTR["SERVICE"]])
            af, proto, port = u16v(s[SVC["AF"]]), u16v(s[SVC["PROTOCOL"]]), u16v(s[SVC["PORT"]])
            a = bytes(s[SVC["ADDR"]])
            key_attrs = b"".join([g.u16(SVC["AF"], af), g.u16(SVC["PROTOCOL"], proto),
                                  g.nla(SVC["ADDR"], a), g.u16(SVC["PORT"], port)])
            dests = []
            for dm in self.dump("GET_DEST", g.nest(ATTR["SERVICE"], key_attrs)):
                d = g.parse_attrs(g.parse_attrs(dm)[ATTR["DEST"]])
                dests.append((bytes(d[DEST["ADDR"]]), u16v(d[DEST["PORT"]]), u32v(d[DEST["WEIGHT"]]),
                              u32v(d[DEST["U_THRESH"]]), u32v(d[DEST["L_THRESH"]]), u16v(d[DEST["SHARDS"]])))
            out.append(((af, proto, a, port, s[SVC["SCHED_NAME"]].rstrip(b"\0").decode(),
                         u32v(s[SVC["FLAGS"]]), s[SVC["HASH_KEY"]][0], s[SVC["SHARD_POLICY"]][0],
                         s[SVC["TERMINATE"]][0], u32v(s[SVC["PERSIST"]]), u32v(s[SVC["NUM_DESTS"]])), dests))
        return out


# ---------------------------------------------------------- the generator
# A message under construction: [cmd, [attr...]] where attr is
# [type, flags, payload] and payload is bytes or a list of attrs (a nest).

VIPS = {AF4: [socket.inet_pton(AF4, a) for a in ("10.255.1.1", "10.255.1.2", "10.255.1.3")],
        AF6: [socket.inet_pton(AF6, a) for a in ("fd00:255::11", "fd00:255::12")]}
RIPS = {AF4: [socket.inet_pton(AF4, a) for a in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "10.1.2.3")],
        AF6: [socket.inet_pton(AF6, a) for a in ("::1", "fd00:1::2", "fd00:1::3")]}
BAD_ADDRS = {AF4: [socket.inet_pton(AF4, a) for a in ("0.0.0.0", "224.0.0.1", "255.255.255.255", "0.1.2.3")],
             AF6: [socket.inet_pton(AF6, a) for a in ("::", "ff02::1")]}
VPORTS = (80, 443)
RPORTS = (9000, 9001)
SCHED_CHOICES = SCHEDS + ["", "nosuch", "RR", "rr ", "x" * (SCHED_NAME_MAX - 1), "y" * SCHED_NAME_MAX,
                          "z" * 40]
BOUNDARY = {"u8": (0, 1, 2, 3, 4, 0x7f, 0xff), "u16": (0, 1, 2, 10, 17, 1024, 1025, 65535),
            "u32": (0, 1, 2, 100, 65535, 65536, INT_MAX, INT_MAX + 1, 0xffffffff),
            "u64": (0, 1, 1 << 63)}


class Gen:
    def __init__(self, rng, family_id):
        self.r = rng
        self.fid = family_id
        # Transactions too when set: a function giving the model's current
        # generation (what a BEGIN may name).
        self.txn_gen = None

    def a(self, typ, fmt_or_bytes, v=None, flags=0):
        if v is None:
            return [typ, flags, fmt_or_bytes]
        return [typ, flags, struct.pack(fmt_or_bytes, v)]

    def svc_key(self, af=None, proto=None):
        r = self.r
        af = af or r.choice((AF4, AF4, AF6))
        return [self.a(SVC["AF"], "=H", af), self.a(SVC["PROTOCOL"], "=H", proto or r.choice((TCP, UDP))),
                self.a(SVC["ADDR"], r.choice(VIPS[af])), self.a(SVC["PORT"], "=H", r.choice(VPORTS))], af

    def svc_opts(self, attrs):
        r = self.r
        if r.random() < 0.8:
            attrs.append(self.a(SVC["SCHED_NAME"], r.choice(SCHEDS).encode() + b"\0"))
        if r.random() < 0.2:
            attrs.append(self.a(SVC["HASH_KEY"], "=B", r.randint(0, HASH_MAX)))
        if r.random() < 0.2:
            attrs.append(self.a(SVC["SHARD_POLICY"], "=B", r.randint(0, SHARD_POL_MAX)))
        if r.random() < 0.1:
            attrs.append(self.a(SVC["FLAGS"], "=I", r.choice((0, 0, 1, SVC_F_UNCONNECTED, SVC_F_ALL))))
        if r.random() < 0.2:
            attrs.append(self.a(SVC["TERMINATE"], "=B", r.randint(0, TERM_MAX)))
        if r.random() < 0.15:
            attrs.append(self.a(SVC["PERSIST"], "=I", r.choice((0, 0, 1, 300, PERSIST_MAX, PERSIST_MAX + 1,
                                                                 0xffffffff))))
        if r.random() < 0.1:
            attrs.append([SVC["SKIP"], NLA_F_NESTED, [self.skip_rule() for _ in range(r.choice((0, 1, 2, 8, 9)))]])

    def skip_rule(self):
        """An exemption, sometimes a refused one."""
        r = self.r
        k = r.random()
        if k < 0.4:
            lo = r.choice((0, 1000, 65534, 0xffffffff))
            rule = [self.a(SKIP["UID_MIN"], "=I", lo)]
            if r.random() < 0.5:
                rule.append(self.a(SKIP["UID_MAX"], "=I", r.choice((lo, (lo + 10) & 0xffffffff, 0))))
        elif k < 0.7:
            rule = [self.a(SKIP["MARK"], "=I", r.choice((0, 1, 0x100)))]
            if r.random() < 0.5:
                rule.append(self.a(SKIP["MARK_MASK"], "=I", r.choice((0xff, 0xffff00, 0))))
        elif k < 0.95:
            path = r.choice((b"/", b"/nonexistent", b"relative", b"/cgroup.procs", b"/../x"))
            rule = [self.a(SKIP["CGROUP"], path + b"\0")]
        else:
            rule = [self.a(SKIP["MARK"], "=I", 1), self.a(SKIP["UID_MIN"], "=I", 1)]
        return [SKIP_RULE, NLA_F_NESTED, rule]

    def dest_attrs(self, af, with_weight):
        r = self.r
        attrs = [self.a(DEST["ADDR"], r.choice(RIPS[af])), self.a(DEST["PORT"], "=H", r.choice(RPORTS))]
        if with_weight or r.random() < 0.7:
            attrs.append(self.a(DEST["WEIGHT"], "=I", r.choice((0, 1, 2, 5, 100, WEIGHT_MAX))))
        if r.random() < 0.2:
            u = r.choice((0, 10, 100))
            attrs.append(self.a(DEST["U_THRESH"], "=I", u))
            if r.random() < 0.7:
                attrs.append(self.a(DEST["L_THRESH"], "=I", r.choice((0, u // 2, u))))
        if r.random() < 0.15:
            attrs.append(self.a(DEST["SHARDS"], "=H", r.choice((1, 2, 4, SHARDS_MAX))))
        if r.random() < 0.1:
            attrs.append(self.a(DEST["AF"], "=H", af))
        return attrs

    def txn_msg(self):
        """A transaction command (kmod/txn.c), well-formed."""
        r = self.r
        y = r.random()
        if y < 0.25:
            attrs = []
            if r.random() < 0.9:
                t = [self.a(TXN["FLAGS"], "=I", r.choice((0, 0, 0, TXN_F_REPLACE, 2)))]
                if r.random() < 0.3:
                    cur = self.txn_gen()
                    t.append(self.a(TXN["GENERATION"], "=Q",
                                    r.choice((cur, cur, max(cur - 1, 0), cur + 1, 1 << 63))))
                attrs.append([ATTR["TXN"], NLA_F_NESTED, t])
            return [CMD["TXN_BEGIN"], attrs]
        if y < 0.80:
            entries = []
            for _ in range(r.choice((0, 1, 1, 1, 2, 3))):
                key, af = self.svc_key()
                if r.random() < 0.7:
                    self.svc_opts(key)
                ent = [[TXN_SVC["SERVICE"], NLA_F_NESTED, key]]
                for _ in range(r.choice((0, 1, 2, 2, 3, 5))):
                    ent.append([TXN_SVC["DEST"], NLA_F_NESTED, self.dest_attrs(af, False)])
                if r.random() < 0.08:
                    ent.append([TXN_SVC["DELETE"], 0, b""])
                entries.append([ATTR["TXN_SVC"], NLA_F_NESTED, ent])
            return [CMD["TXN_STAGE"], entries]
        if y < 0.95:
            return [CMD["TXN_COMMIT"], []]
        return [CMD["TXN_ABORT"], []]

    def valid(self):
        """A well-formed request (which may still be refused: EEXIST...)."""
        r = self.r
        if self.txn_gen is not None and r.random() < 0.08:
            return self.txn_msg()
        x = r.random()
        key, af = self.svc_key()
        svc = [ATTR["SERVICE"], NLA_F_NESTED, key]
        if x < 0.25:
            self.svc_opts(key)
            return [CMD["NEW_SERVICE"], [svc]]
        if x < 0.30:
            self.svc_opts(key)
            return [CMD["SET_SERVICE"], [svc]]
        if x < 0.36:
            return [CMD["DEL_SERVICE"], [svc]]
        if x < 0.64:
            return [CMD["NEW_DEST"], [svc, [ATTR["DEST"], NLA_F_NESTED, self.dest_attrs(af, False)]]]
        if x < 0.80:
            return [CMD["SET_DEST"], [svc, [ATTR["DEST"], NLA_F_NESTED, self.dest_attrs(af, True)]]]
        if x < 0.90:
            return [CMD["DEL_DEST"], [svc, [ATTR["DEST"], NLA_F_NESTED, self.dest_attrs(af, False)[:2]]]]
        if x < 0.93:
            return [CMD["GET_SERVICE"], [svc]]
        if x < 0.96:
            return [CMD["ZERO"], [svc] if r.random() < 0.5 else []]
        if x < 0.975:
            if r.random() < 0.3:
                key.append(self.a(SVC["TERMINATE"], "=B", r.randint(0, TERM_MAX)))
            if r.random() < 0.5:
                return [CMD["KILL"], [svc, [ATTR["DEST"], NLA_F_NESTED, self.dest_attrs(af, False)[:2]]]]
            return [CMD["KILL"], [svc]]
        if x < 0.995:
            return [CMD["GET_INFO"], []]
        return [CMD["FLUSH"], []]

    def all_attrs(self, attrs, depth=0):
        """(list, index) of every attribute, nested ones included."""
        out = []
        for i, at in enumerate(attrs):
            out.append((attrs, i))
            if isinstance(at[2], list) and depth < 3:
                out.extend(self.all_attrs(at[2], depth + 1))
        return out

    def mutate(self, msg):
        """One structured mutation of a message; returns a tag for the stats."""
        r = self.r
        cmd, attrs = msg
        spots = self.all_attrs(attrs)
        x = r.randrange(17)
        if not spots and x < 12:
            x = 12
        if x < 12:
            lst, i = r.choice(spots)
            at = lst[i]
        if x == 0:
            del lst[i]
            return "missing"
        if x == 1:
            lst.insert(r.randrange(len(lst) + 1), [at[0], at[1], at[2]])
            return "duplicate"
        if x == 2:
            at[0] = r.choice((0, r.randrange(1, 16), r.randrange(16, 0x3fff)))
            return "wrong type"
        if x == 3:
            at[2] = self._bytes(at[2])
            at[2] = at[2][:r.randrange(len(at[2]) + 1)] if at[2] and r.random() < 0.5 else \
                at[2] + r.randbytes(r.choice((1, 2, 3, 4, 8)))
            return "wrong length"
        if x == 4:
            if not isinstance(at[2], list) and len(at[2]) in (1, 2, 4, 8):
                kind = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}[len(at[2])]
                at[2] = struct.pack(INT_FMT[kind], r.choice(BOUNDARY[kind]))
                return "out of range"
            at[2] = r.randbytes(r.randrange(1, 24))
            return "garbage value"
        if x == 5:
            at[1] ^= r.choice((NLA_F_NESTED, NLA_F_NET_BYTEORDER))
            return "attribute flag"
        if x == 6:
            at[2] = r.randbytes(r.randrange(0, 40))
            return "nested garbage"
        if x == 7:
            at[2] = self._bytes(at[2]) + r.randbytes(r.randrange(200, 3000))
            return "oversized"
        if x == 8:
            if at[0] == self.SCHED_ATTR or r.random() < 0.5:
                s = r.choice(SCHED_CHOICES).encode()
                at[2] = s + (b"\0" if r.random() < 0.8 else b"")
                return "sched name"
            at[2] = b""
            return "empty"
        if x == 9:
            af = r.choice((AF4, AF6))
            at[2] = r.choice(BAD_ADDRS[af] + VIPS[af] + RIPS[af])
            return "address"
        if x == 10:
            at[2] = struct.pack("=H", r.choice((0, 1, 2, 10, 6, 17, 47, 0xffff)))
            return "af/proto"
        if x == 11:
            if isinstance(at[2], list):
                at[2].append([r.randrange(1, 40), r.choice((0, NLA_F_NESTED)), self._rand_bytes(8)])
            else:
                lst.append([r.randrange(1, 40), 0, self._rand_bytes(8)])
            return "unknown attr"
        if x == 12:
            attrs.append([r.randrange(1, 40), r.choice((0, NLA_F_NESTED)), self._rand_bytes(16)])
            return "unknown top attr"
        if x == 13:
            msg[0] = r.randrange(0, 20)
            return "command"
        if x == 14:
            msg[0] = r.choice(self.OTHER_CMDS)
            return "other command"
        if x == 15:
            return self.mutate_extra(msg)
        if x == 16:
            return self.mutate_output_attr(attrs)
        raise AssertionError(x)

    # the family-specific mutations (the SOCK_VS family's here)
    SCHED_ATTR = SVC["SCHED_NAME"]
    OTHER_CMDS = (CMD["NEW_SERVICE"], CMD["NEW_DEST"], CMD["SET_DEST"], CMD["DEL_DEST"],
                  CMD["SET_SERVICE"], CMD["DEL_SERVICE"], CMD["ZERO"], CMD["FLUSH"])

    def mutate_extra(self, msg):
        msg[1].append([ATTR["INFO"], NLA_F_NESTED, []])
        return "INFO in request"

    def mutate_output_attr(self, attrs):
        r = self.r
        at = [r.choice((SVC["STATS"], SVC["NUM_DESTS"])), 0, struct.pack("=I", 7)]
        if at[0] == SVC["STATS"]:
            at = [SVC["STATS"], NLA_F_NESTED, [[STATS["CONNS"], 0, struct.pack("=Q", 5)]]]
        for top in attrs:
            if top[0] == ATTR["SERVICE"] and isinstance(top[2], list):
                top[2].append(at)
        return "output attr in request"

    def _rand_bytes(self, n):
        return self.r.randbytes(self.r.randrange(n + 1))

    def _bytes(self, payload):
        return encode(payload) if isinstance(payload, list) else payload

    def flags(self, cmd):
        """Request flags: mostly REQUEST|ACK, sometimes odd ones (never a dump)."""
        r = self.r
        f = NLM_F_REQUEST | NLM_F_ACK
        x = r.random()
        if x < 0.02:
            return NLM_F_ACK                     # not a request: acked, ignored
        if x < 0.08:
            f |= r.choice((NLM_F_ROOT, NLM_F_MATCH, NLM_F_ATOMIC, NLM_F_ECHO, 0x1000, 0x800))
        return f

    def raw_mutate(self, body):
        r = self.r
        body = bytearray(body)
        for _ in range(r.randint(1, 4)):
            what = r.random()
            if what < 0.45 and len(body) > 4:
                body[r.randrange(4, len(body))] = r.randrange(256)
            elif what < 0.55 and body:
                body[r.randrange(len(body))] ^= 1 << r.randrange(8)
            elif what < 0.7 and body:
                del body[r.randrange(len(body)):]
            elif what < 0.85:
                pos = r.randrange(len(body) + 1)
                body[pos:pos] = self._rand_bytes(8)
            else:
                body += g.nla(r.randrange(16), self._rand_bytes(20))
        return bytes(body)


def encode(attrs):
    out = bytearray()
    for typ, flags, payload in attrs:
        p = encode(payload) if isinstance(payload, list) else payload
        raw = struct.pack("=HH", (4 + len(p)) & 0xffff, (typ | flags) & 0xffff) + p
        out += raw + b"\0" * (g.align4(len(raw)) - len(raw))
    return bytes(out)


def genl_body(cmd, attrs, version=1):
    return struct.pack("=BBH", cmd, version, 0) + encode(attrs)


def make_message(gen, family_id):
    """(flags, type, body, kind): a message of one of the kinds."""
    r = gen.r
    x = r.random()
    msg = gen.valid()
    if x < 0.40:
        kind = "valid"
    elif x < 0.85:
        tags = [gen.mutate(msg) for _ in range(1 if r.random() < 0.7 else r.randint(2, 3))]
        kind = "mutated: " + tags[0]
    elif x < 0.98:
        body = gen.raw_mutate(genl_body(*msg))
        return gen.flags(msg[0]), family_id, body, "random bytes"
    elif x < 0.99:
        body = genl_body(*msg)
        return NLM_F_REQUEST | NLM_F_ACK, family_id, body[:r.randrange(4)], "truncated genl header"
    else:
        return NLM_F_REQUEST | NLM_F_ACK, NLMSG_NOOP, genl_body(*msg), "NLMSG_NOOP"
    body = genl_body(*msg)
    if len(body) > 60000:
        body = body[:60000]
    return gen.flags(msg[0]), family_id, body, kind


# ===================================================================== IPVS
# The kernel's IPVS family as kmod/ipvs_compat.c answers it (ipvs_compat=1),
# predicted over the SAME table as the SOCK_VS family's Model: an IPVS
# service is a sock_vs service. Used by tests/vm/cases/79-ipvs-fuzz.py.
#
# What is modelled is ip_vs's behaviour (net/netfilter/ipvs/ip_vs_ctl.c of
# 6.1: liberal parsing, its checks in its order, its errnos), plus what
# sock_vs refuses by design (fwmark services, protocols other than TCP and
# UDP, persistence engines, one-packet scheduling, the sync daemon,
# schedulers it lacks, port 0, mixed-family servers, weights above 65535,
# persistence timeouts above SOCK_VS_PERSIST_MAX) with the errnos the issue
# asks for. Where ipvs_compat.c differs from ip_vs, the difference is a
# "quirk": the model expects ip_vs unless the quirk is named in quirks
# (SVS_IPVS_QUIRKS), which makes it expect what ipvs_compat.c does.

IC, IA, ISVC, IDEST, IDMN = g.IPVS_CMD, g.IPVS_ATTR, g.IPVS_SVC, g.IPVS_DEST, g.IPVS_DAEMON
IPVS_RESV_START_OP = IC["FLUSH"] + 1
F_PERSISTENT = g.ipvs_define("IP_VS_SVC_F_PERSISTENT")
F_HASHED = g.ipvs_define("IP_VS_SVC_F_HASHED")
F_ONEPACKET = g.ipvs_define("IP_VS_SVC_F_ONEPACKET")
F_SCHED = g.ipvs_define("IP_VS_SVC_F_SCHED1") | g.ipvs_define("IP_VS_SVC_F_SCHED2") | \
    g.ipvs_define("IP_VS_SVC_F_SCHED3")
FWD_MASK = g.ipvs_define("IP_VS_CONN_F_FWD_MASK")
TUN_GUE = g.IPVS_ATTR and g.parse_all_enum_members(g.IPVS_HEADER)["IP_VS_CONN_F_TUNNEL_TYPE_GUE"]
STATE_MASTER, STATE_BACKUP = g.ipvs_define("IP_VS_STATE_MASTER"), g.ipvs_define("IP_VS_STATE_BACKUP")
IPVS_SCHED_MAX = g.ipvs_define("IP_VS_SCHEDNAME_MAXLEN") - 1
IPVS_PE_MAX = g.ipvs_define("IP_VS_PENAME_MAXLEN")
IPVS_IFN_MAX = g.ipvs_define("IP_VS_IFNAME_MAXLEN") - 1
IPVS_DOITS = {IC[c] for c in ("NEW_SERVICE", "SET_SERVICE", "DEL_SERVICE", "GET_SERVICE", "NEW_DEST",
                              "SET_DEST", "DEL_DEST", "NEW_DAEMON", "DEL_DAEMON", "SET_CONFIG",
                              "GET_CONFIG", "GET_INFO", "ZERO", "FLUSH")}
IPVS_DUMPS = {IC["GET_SERVICE"], IC["GET_DEST"], IC["GET_DAEMON"]}
IPVS_OPS = IPVS_DOITS | IPVS_DUMPS
IPVS_REPLIES = {IC["GET_SERVICE"], IC["GET_CONFIG"], IC["GET_INFO"]}   # a doit answered with a message

# ip_vs_ctl.c's policies (the same in ipvs_compat.c). Liberal parsing: an
# integer may be longer than its type, not shorter; "bin" has a maximum
# length; a type without an entry (STATS64) is NLA_UNSPEC, accepted.
IPVS_TOP_POL = {IA["SERVICE"]: ("nested", None), IA["DEST"]: ("nested", None), IA["DAEMON"]: ("nested", None),
                IA["TIMEOUT_TCP"]: ("u32", None), IA["TIMEOUT_TCP_FIN"]: ("u32", None),
                IA["TIMEOUT_UDP"]: ("u32", None)}
IPVS_SVC_POL = {ISVC["AF"]: ("u16", None), ISVC["PROTOCOL"]: ("u16", None), ISVC["ADDR"]: ("bin", 16),
                ISVC["PORT"]: ("u16", None), ISVC["FWMARK"]: ("u32", None),
                ISVC["SCHED_NAME"]: ("nulstr", IPVS_SCHED_MAX), ISVC["PE_NAME"]: ("nulstr", IPVS_PE_MAX),
                ISVC["FLAGS"]: ("bin", 8), ISVC["TIMEOUT"]: ("u32", None), ISVC["NETMASK"]: ("u32", None),
                ISVC["STATS"]: ("nested", None)}
IPVS_DEST_POL = {IDEST["ADDR"]: ("bin", 16), IDEST["PORT"]: ("u16", None), IDEST["FWD_METHOD"]: ("u32", None),
                 IDEST["WEIGHT"]: ("u32", None), IDEST["U_THRESH"]: ("u32", None),
                 IDEST["L_THRESH"]: ("u32", None), IDEST["ACTIVE_CONNS"]: ("u32", None),
                 IDEST["INACT_CONNS"]: ("u32", None), IDEST["PERSIST_CONNS"]: ("u32", None),
                 IDEST["STATS"]: ("nested", None), IDEST["ADDR_FAMILY"]: ("u16", None),
                 IDEST["TUN_TYPE"]: ("u8", None), IDEST["TUN_PORT"]: ("u16", None),
                 IDEST["TUN_FLAGS"]: ("u16", None)}
IPVS_DAEMON_POL = {IDMN["STATE"]: ("u32", None), IDMN["MCAST_IFN"]: ("nulstr", IPVS_IFN_MAX),
                   IDMN["SYNC_ID"]: ("u32", None), IDMN["SYNC_MAXLEN"]: ("u16", None),
                   IDMN["MCAST_GROUP"]: ("u32", None), IDMN["MCAST_GROUP6"]: ("minlen", 16),
                   IDMN["MCAST_PORT"]: ("u16", None), IDMN["MCAST_TTL"]: ("u8", None)}

# ipvs_compat.c's differences from ip_vs, each named (see IpvsModel).
QUIRKS = {
    "daemon-del": "DEL_DAEMON of a master or backup daemon (none runs): ip_vs ESRCH, compat EINVAL",
    "netmask-0": "an IPv4 service given netmask 0: ip_vs echoes 0, compat 255.255.255.255",
    "flag-bits": "service flag bits other than PERSISTENT and SCHED1-3: ip_vs stores and echoes them, compat drops them",
    "tunnel": "TUN_TYPE/TUN_PORT/TUN_FLAGS of a real server: ip_vs stores and echoes them, compat echoes 0",
}

# The liberal validator's reason (the top level answers its errno, ERANGE;
# a nest's parse failure becomes EINVAL in the command).
LIBERAL = "liberal policy"


def validate_liberal(data, pol, maxtype):
    """lib/nlattr.c's liberal validation (NL_VALIDATE_LIBERAL, what
    GENL_DONT_VALIDATE_STRICT and nla_parse_nested_deprecated give): no
    NLA_F_NESTED needed, unknown types, over-long integers and trailing
    bytes accepted. Returns {type: payload} (the last duplicate wins)."""
    tb, off, n = {}, 0, len(data)
    while n - off >= 4:
        ln, t = struct.unpack_from("=HH", data, off)
        if ln < 4 or ln > n - off:
            break
        typ = t & 0x3fff
        payload = data[off + 4:off + ln]
        off += (ln + 3) & ~3
        if typ == 0 or typ > maxtype:
            continue
        spec = pol.get(typ)
        if spec is not None:
            kind, arg = spec
            if kind in INT_LEN:
                if len(payload) < INT_LEN[kind]:
                    raise Reject(E.ERANGE, LIBERAL, False)
            elif kind == "bin":
                if len(payload) > arg:
                    raise Reject(E.ERANGE, LIBERAL, False)
            elif kind == "minlen":
                if len(payload) < arg:
                    raise Reject(E.ERANGE, LIBERAL, False)
            elif kind == "nested":
                if payload and len(payload) < 4:
                    raise Reject(E.ERANGE, LIBERAL, False)
            elif kind == "nulstr":
                m = min(len(payload), arg + 1)
                if m == 0 or b"\0" not in payload[:m]:
                    raise Reject(E.EINVAL, LIBERAL, False)
                ln2 = len(payload) - (1 if payload[-1:] == b"\0" else 0)
                if ln2 > arg:
                    raise Reject(E.ERANGE, LIBERAL, False)
        tb[typ] = payload
    return tb


def _le(b, fmt):
    return struct.unpack_from(fmt, b)[0]


def _cstr(b):
    return bytes(b).split(b"\0", 1)[0].decode("latin-1")


def _pad16(b):
    return (bytes(b) + b"\0" * 16)[:16]


def kernel_hz():
    """CONFIG_HZ of the running kernel (ip_vs's timeout limit is INT_MAX / HZ)."""
    try:
        with open("/boot/config-" + os.uname().release) as f:
            for line in f:
                if line.startswith("CONFIG_HZ="):
                    return int(line.split("=")[1])
    except OSError:
        pass
    return 250


class IpvsModel:
    """The IPVS family's answers, over sv (a Model: the one table)."""

    def __init__(self, sv, hz, quirks=()):
        self.sv = sv
        self.hz = hz
        self.quirks = set(quirks)
        unknown = self.quirks - set(QUIRKS)
        if unknown:
            raise ValueError("unknown quirks %s (known: %s)" % (sorted(unknown), sorted(QUIRKS)))
        self.timeouts = [15 * 60, 2 * 60, 5 * 60]      # tcp, tcp_fin, udp
        self.kept = F_SCHED if "flag-bits" in self.quirks else \
            0xffffffff & ~(F_PERSISTENT | F_HASHED | F_ONEPACKET)

    # -- the header checks of genetlink (6.1), then the command

    def predict(self, flags, msg_type, body, privileged=True):
        if not flags & NLM_F_REQUEST or msg_type < 0x10:
            return 0, "not a request"
        if len(body) < 4:
            return E.EINVAL, "genl header truncated"
        cmd = body[0]
        dump = (flags & (NLM_F_ROOT | NLM_F_MATCH)) == (NLM_F_ROOT | NLM_F_MATCH)
        if cmd >= IPVS_RESV_START_OP:
            if body[2] or body[3]:
                return E.EINVAL, "genl reserved field"
            if (flags & ~(NLM_F_ROOT | NLM_F_MATCH) if dump else flags) & ~(NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO):
                return E.EINVAL, "genl flags"
        if cmd not in IPVS_OPS:
            return E.EOPNOTSUPP, "no such command"
        # Since 6.2 (split genl ops) the handler for the request's kind is
        # looked up before the permission check; 6.1 checks permission first.
        if not privileged and GENL_SPLIT_OPS:
            if dump and cmd not in IPVS_DUMPS:
                return E.EOPNOTSUPP, "no dumpit (looked up before the permission check)"
            if not dump and cmd not in IPVS_DOITS:
                return E.EOPNOTSUPP, "no doit (looked up before the permission check)"
        if not privileged:
            return E.EPERM, "unprivileged (GENL_ADMIN_PERM)"
        if dump:
            if cmd not in IPVS_DUMPS:
                return E.EOPNOTSUPP, "no dumpit"
            return 0, "dump"
        if cmd not in IPVS_DOITS:
            return E.EOPNOTSUPP, "no doit"
        try:
            top = validate_liberal(body[4:], IPVS_TOP_POL, g.IPVS_MAX["CMD"])
        except Reject as r:
            return r.err, "top-level " + r.why
        try:
            self._doit(cmd, top)
        except Reject as r:
            return r.err, r.why
        return 0, "ok"

    def _svc(self, top, full):
        """ip_vs_genl_parse_service() (and compat's refusals in it):
        (model key, full settings or None)."""
        nest = top.get(IA["SERVICE"])
        if nest is None:
            raise Reject(E.EINVAL, "missing service")
        try:
            tb = validate_liberal(nest, IPVS_SVC_POL, g.IPVS_MAX["SVC"])
        except Reject:
            raise Reject(E.EINVAL, "service nest: " + LIBERAL)
        if ISVC["AF"] not in tb or not (ISVC["FWMARK"] in tb or all(
                ISVC[k] in tb for k in ("PORT", "PROTOCOL", "ADDR"))):
            raise Reject(E.EINVAL, "incomplete service")
        af = _le(tb[ISVC["AF"]], "=H")
        if af not in (AF4, AF6):
            raise Reject(E.EAFNOSUPPORT, "service af")
        if ISVC["FWMARK"] in tb:
            raise Reject(E.EINVAL, "fwmark service (refused)")
        proto = _le(tb[ISVC["PROTOCOL"]], "=H")
        if proto not in (TCP, UDP):
            raise Reject(E.EINVAL, "protocol not TCP or UDP (refused)")
        a = _pad16(tb[ISVC["ADDR"]])
        key = (af, proto, a[:4] if af == AF4 else a, _le(tb[ISVC["PORT"]], ">H"))
        if not full:
            return key, None
        if not all(ISVC[k] in tb for k in ("SCHED_NAME", "FLAGS", "TIMEOUT", "NETMASK")):
            raise Reject(E.EINVAL, "incomplete full service")
        fl, mask = struct.unpack("=II", (bytes(tb[ISVC["FLAGS"]]) + b"\0" * 8)[:8])
        return key, {"sched": _cstr(tb[ISVC["SCHED_NAME"]]),
                     "pe": _cstr(tb[ISVC["PE_NAME"]]) if ISVC["PE_NAME"] in tb else "",
                     "flags": fl, "mask": mask, "timeout": _le(tb[ISVC["TIMEOUT"]], "=I"),
                     "netmask": _le(tb[ISVC["NETMASK"]], "=I")}

    def echo_flags(self, s):
        return F_HASHED | s.get("ipvs_flags", 0) | (F_PERSISTENT if s["persist"] else 0)

    def _svc_conf(self, key, u, cur):
        """ip_vs_add_service()/ip_vs_edit_service()'s checks and sock_vs's
        refusals, in ipvs_compat.c's order: the settings to apply."""
        flags = (self.echo_flags(cur) & ~u["mask"]) | (u["flags"] & u["mask"])
        if u["sched"] not in SCHEDS:
            raise Reject(E.ENOENT, "unknown scheduler")
        if u["pe"]:
            raise Reject(E.EINVAL, "persistence engine (refused)")
        if flags & F_ONEPACKET:
            raise Reject(E.EINVAL, "one-packet scheduling (refused)")
        if key[0] == AF6 and not 1 <= u["netmask"] <= 128:
            raise Reject(E.EINVAL, "IPv6 prefix length")
        if key[3] == 0:
            raise Reject(E.EINVAL, "port 0 (refused)")
        persist = 0
        if flags & F_PERSISTENT:
            if not 1 <= u["timeout"] <= PERSIST_MAX:
                raise Reject(E.EINVAL, "persistence timeout (refused)")
            if u["sched"] == "port":
                raise Reject(E.EINVAL, "persistence with the port scheduler")
            persist = u["timeout"]
        return {"sched": u["sched"], "persist": persist, "ipvs_flags": flags & self.kept,
                "ipvs_timeout": u["timeout"], "ipvs_netmask": u["netmask"]}

    def _lookup(self, top, full):
        key, u = self._svc(top, full)
        if key not in self.sv.services:
            raise Reject(E.ESRCH, "no such service")
        return key, u

    def _doit(self, cmd, top):
        """The command's checks and change; each change of the table moves
        the SOCK_VS model's generation on, as service.c does."""
        services = self.sv.services
        before = self.sv.gen
        self.sv.gen += 1
        try:
            self._doit_(cmd, top, services)
        except Reject:
            self.sv.gen = before
            raise
        if cmd == IC["FLUSH"]:
            self.sv.gen = before + self._flushed
        elif cmd not in (IC["NEW_SERVICE"], IC["SET_SERVICE"], IC["DEL_SERVICE"], IC["NEW_DEST"],
                         IC["SET_DEST"], IC["DEL_DEST"]):
            self.sv.gen = before

    def _doit_(self, cmd, top, services):
        if cmd == IC["FLUSH"]:
            self._flushed = len(services)
            services.clear()
        elif cmd == IC["SET_CONFIG"]:
            ids = (IA["TIMEOUT_TCP"], IA["TIMEOUT_TCP_FIN"], IA["TIMEOUT_UDP"])
            vals = [_le(top[i], "=I") if i in top else None for i in ids]
            if any(v is not None and v > INT_MAX // self.hz for v in vals):
                raise Reject(E.EINVAL, "timeout above INT_MAX / HZ")
            for i, v in enumerate(vals):
                if v:
                    self.timeouts[i] = v
        elif cmd in (IC["GET_CONFIG"], IC["GET_INFO"]):
            pass
        elif cmd == IC["NEW_DAEMON"]:
            raise Reject(E.EINVAL, "sync daemon (refused)")
        elif cmd == IC["DEL_DAEMON"]:
            self._del_daemon(top)
        elif cmd == IC["ZERO"] and IA["SERVICE"] not in top:
            pass
        elif cmd == IC["NEW_SERVICE"]:
            key, u = self._svc(top, True)
            if key in services:
                raise Reject(E.EEXIST, "service exists")
            conf = self._svc_conf(key, u, {"persist": 0})
            if not addr_ok(key[0], key[2]):
                raise Reject(E.EINVAL, "service addr not unicast")
            if len(services) >= self.sv.max_services:
                raise Reject(E.ENOSPC, "max_services")
            svc = {"flags": 0, "hash_key": 0, "shard_policy": 0, "terminate": TERM_DEFAULT, "dests": {}}
            svc.update(globals().get("EJECT_DEFAULTS", {}))    # SOCK_VS's settings the model keeps, if any
            svc.update(conf)
            services[key] = svc
        elif cmd == IC["SET_SERVICE"]:
            key, u = self._lookup(top, True)
            services[key].update(self._svc_conf(key, u, services[key]))
        elif cmd == IC["DEL_SERVICE"]:
            key, _ = self._lookup(top, False)
            del services[key]
        elif cmd in (IC["GET_SERVICE"], IC["ZERO"]):
            self._lookup(top, False)
        elif cmd in (IC["NEW_DEST"], IC["SET_DEST"], IC["DEL_DEST"]):
            key, _ = self._lookup(top, False)
            self._dest_cmd(cmd, key, top)
        else:
            raise AssertionError(cmd)

    def _del_daemon(self, top):
        if "daemon-del" in self.quirks:
            raise Reject(E.EINVAL, "sync daemon (refused)")
        if IA["DAEMON"] not in top:
            raise Reject(E.EINVAL, "missing daemon")
        try:
            tb = validate_liberal(top[IA["DAEMON"]], IPVS_DAEMON_POL, g.IPVS_MAX["DAEMON"])
        except Reject:
            raise Reject(E.EINVAL, "daemon nest: " + LIBERAL)
        if IDMN["STATE"] not in tb:
            raise Reject(E.EINVAL, "daemon without state")
        if _le(tb[IDMN["STATE"]], "=I") in (STATE_MASTER, STATE_BACKUP):
            raise Reject(E.ESRCH, "no daemon runs")
        raise Reject(E.EINVAL, "daemon state")

    def _dest_cmd(self, cmd, key, top):
        svc = self.sv.services[key]
        full = cmd != IC["DEL_DEST"]
        nest = top.get(IA["DEST"])
        if nest is None:
            raise Reject(E.EINVAL, "missing dest")
        try:
            tb = validate_liberal(nest, IPVS_DEST_POL, g.IPVS_MAX["DEST"])
        except Reject:
            raise Reject(E.EINVAL, "dest nest: " + LIBERAL)
        if IDEST["ADDR"] not in tb or IDEST["PORT"] not in tb:
            raise Reject(E.EINVAL, "incomplete dest")
        a = _pad16(tb[IDEST["ADDR"]])
        port = _le(tb[IDEST["PORT"]], ">H")
        af = _le(tb[IDEST["ADDR_FAMILY"]], "=H") if IDEST["ADDR_FAMILY"] in tb else 0
        if full:
            if not all(IDEST[k] in tb for k in ("FWD_METHOD", "WEIGHT", "U_THRESH", "L_THRESH")):
                raise Reject(E.EINVAL, "incomplete full dest")
            conf = {"fwd": _le(tb[IDEST["FWD_METHOD"]], "=I") & FWD_MASK,
                    "weight": _le(tb[IDEST["WEIGHT"]], "=I"), "u": _le(tb[IDEST["U_THRESH"]], "=I"),
                    "l": _le(tb[IDEST["L_THRESH"]], "=I"),
                    "tun": (tb[IDEST["TUN_TYPE"]][0] if IDEST["TUN_TYPE"] in tb else 0,
                            _le(tb[IDEST["TUN_PORT"]], ">H") if IDEST["TUN_PORT"] in tb else 0,
                            _le(tb[IDEST["TUN_FLAGS"]], "=H") if IDEST["TUN_FLAGS"] in tb else 0)}
        if af == 0:
            af = key[0]
        if af not in (AF4, AF6):
            raise Reject(E.EAFNOSUPPORT, "dest af")
        if af != key[0] and full:
            raise Reject(E.EINVAL, "mixed-family dest (refused)")
        dkey = (a[:4] if af == AF4 else a, port)
        d = svc["dests"].get(dkey) if af == key[0] else None
        if not full:
            if d is None:
                raise Reject(E.ENOENT, "no such dest")
            del svc["dests"][dkey]
            return
        if conf["weight"] >= 1 << 31:
            raise Reject(E.ERANGE, "negative weight")
        if conf["l"] > conf["u"]:
            raise Reject(E.ERANGE, "lower threshold above upper")
        if conf["u"] > INT_MAX:
            raise Reject(E.EINVAL, "upper threshold above INT_MAX")
        if conf["tun"][0] == TUN_GUE and not conf["tun"][1]:
            raise Reject(E.EINVAL, "GUE tunnel without port")
        if conf["weight"] > WEIGHT_MAX:
            raise Reject(E.ERANGE, "weight above 65535")
        if "tunnel" in self.quirks:
            conf["tun"] = (0, 0, 0)
        if cmd == IC["NEW_DEST"]:
            if d is not None:
                raise Reject(E.EEXIST, "dest exists")
            if port == 0:
                raise Reject(E.EINVAL, "dest port 0 (refused)")
            if not addr_ok(af, dkey[0]) or (af == AF6 and (
                    dkey[0][:12] == b"\0" * 10 + b"\xff\xff" or (dkey[0][0] == 0xfe and dkey[0][1] & 0xc0 == 0x80))):
                raise Reject(E.EINVAL, "dest addr refused")
            if len(svc["dests"]) >= self.sv.max_dests:
                raise Reject(E.ENOSPC, "max_dests")
            conf["shards"] = 1
            svc["dests"][dkey] = conf
        else:
            if d is None:
                raise Reject(E.ENOENT, "no such dest")
            d.update(conf)

    def predict_dump(self, cmd, body):
        """(errno, number of entries) of a dump of cmd (privileged)."""
        if cmd == IC["GET_SERVICE"]:
            return 0, len(self.sv.services)
        if cmd == IC["GET_DAEMON"]:
            return 0, 0
        try:
            top = validate_liberal(body[4:], IPVS_TOP_POL, g.IPVS_MAX["CMD"])
            key, _ = self._svc(top, False)
        except Reject:
            return 0, 0
        s = self.sv.services.get(key)
        return 0, len(s["dests"]) if s else 0

    # -- the dumps, as IpvsConfig reads them

    def expected_dump(self):
        out = []
        for (af, proto, a, port), s in self.sv.services.items():
            nm = s.get("ipvs_netmask")
            if nm is None or (nm == 0 and "netmask-0" in self.quirks):
                nm = 0xffffffff if af == AF4 else 128
            dests = [(_pad16(da), dp, d.get("fwd", 0), d["weight"], d["u"], d["l"]) + d.get("tun", (0, 0, 0)) + (af,)
                     for (da, dp), d in s["dests"].items()]
            out.append(((af, proto, _pad16(a), port, s["sched"], self.echo_flags(s), 0xffffffff,
                         s["persist"] or s.get("ipvs_timeout", 0), nm), dests))
        return out

    def load(self, sv_config, ipvs_config):
        """Take the kernel's table (both families' dumps) after a mismatch."""
        self.sv.load(sv_config)
        for (af, proto, a, port, _, flags, _, timeout, nm), dests in ipvs_config:
            s = self.sv.services.get((af, proto, a[:4] if af == AF4 else a, port))
            if s is None:
                continue
            s.update(ipvs_flags=flags & ~(F_HASHED | F_PERSISTENT), ipvs_timeout=timeout, ipvs_netmask=nm)
            for da, dp, fwd, _, _, _, tt, tp, tf, _ in dests:
                d = s["dests"].get((da[:4] if af == AF4 else da, dp))
                if d is not None:
                    d.update(fwd=fwd, tun=(tt, tp, tf))


def ipvs_config(nl):
    """The kernel's table through the IPVS family (nl: a Genl on "IPVS"),
    in the shape of IpvsModel.expected_dump()."""
    out = []
    for m in nl.dump(IC["GET_SERVICE"]):
        s = g.parse_attrs(g.parse_attrs(m)[IA["SERVICE"]])
        af, proto = u16v(s[ISVC["AF"]]), u16v(s[ISVC["PROTOCOL"]])
        a, port = bytes(s[ISVC["ADDR"]]), struct.unpack(">H", s[ISVC["PORT"]])[0]
        key = b"".join([g.u16(ISVC["AF"], af), g.u16(ISVC["PROTOCOL"], proto), g.nla(ISVC["ADDR"], a),
                        g.nla(ISVC["PORT"], struct.pack(">H", port))])
        dests = []
        for dm in nl.dump(IC["GET_DEST"], g.nla(IA["SERVICE"], key)):
            d = g.parse_attrs(g.parse_attrs(dm)[IA["DEST"]])
            dests.append((bytes(d[IDEST["ADDR"]]), struct.unpack(">H", d[IDEST["PORT"]])[0],
                          u32v(d[IDEST["FWD_METHOD"]]), u32v(d[IDEST["WEIGHT"]]), u32v(d[IDEST["U_THRESH"]]),
                          u32v(d[IDEST["L_THRESH"]]), d[IDEST["TUN_TYPE"]][0],
                          struct.unpack(">H", d[IDEST["TUN_PORT"]])[0], u16v(d[IDEST["TUN_FLAGS"]]),
                          u16v(d[IDEST["ADDR_FAMILY"]])))
        fl, mask = struct.unpack("=II", s[ISVC["FLAGS"]])
        out.append(((af, proto, a, port, _cstr(s[ISVC["SCHED_NAME"]]), fl, mask, u32v(s[ISVC["TIMEOUT"]]),
                     u32v(s[ISVC["NETMASK"]])), dests))
    return out


def ipvs_timeouts(nl):
    """GET_CONFIG's three timeouts."""
    r = nl.cmd(IC["GET_CONFIG"])
    if r.error or not r.msgs:
        raise svs.Fail("IPVS GET_CONFIG: %r" % r)
    a = g.parse_attrs(r.msgs[0])
    return [u32v(a[IA[k]]) for k in ("TIMEOUT_TCP", "TIMEOUT_TCP_FIN", "TIMEOUT_UDP")]


# ------------------------------------------------------- the IPVS generator

IPVS_SCHED_CHOICES = SCHEDS + ["dh", "sed", "nq", "lblc", "lblcr", "ovf", "twos", "none", "",
                               "x" * IPVS_SCHED_MAX, "y" * (IPVS_SCHED_MAX + 1)]


class IpvsGen(Gen):
    """Requests of the IPVS family as libipvs builds them (nests with or
    without NLA_F_NESTED, addresses of 16 bytes or 4, ports in network
    order), with the same mutations as Gen's."""

    SCHED_ATTR = ISVC["SCHED_NAME"]
    OTHER_CMDS = tuple(IC[c] for c in ("NEW_SERVICE", "SET_SERVICE", "DEL_SERVICE", "NEW_DEST", "SET_DEST",
                                       "DEL_DEST", "GET_SERVICE", "GET_DEST", "ZERO", "NEW_DAEMON",
                                       "DEL_DAEMON", "GET_DAEMON", "SET_CONFIG", "SET_INFO", "UNSPEC"))

    def __init__(self, rng, family_id, hz):
        super().__init__(rng, family_id)
        self.hz = hz

    def nestflag(self):
        return NLA_F_NESTED if self.r.random() < 0.3 else 0

    def addr(self, af, pool):
        r = self.r
        a = r.choice(pool[af])
        x = r.random()
        if af == AF4:
            if x < 0.6:
                return a + b"\0" * 12                  # libipvs: sizeof(union nf_inet_addr)
            if x < 0.68:
                return a + r.randbytes(12)             # the kernel reads 4 of them
            if x < 0.72:
                return a[:r.randrange(4)]              # zero-padded by nla_memcpy
            return a
        if x < 0.03:
            return a[:r.choice((0, 4, 8, 15))]
        return a

    def svc_key(self, af=None):
        r = self.r
        af = af or r.choice((AF4, AF4, AF6))
        proto = r.choice((TCP, TCP, UDP)) if r.random() < 0.97 else r.choice((132, 0, 47))
        attrs = [self.a(ISVC["AF"], "=H", af), self.a(ISVC["PROTOCOL"], "=H", proto),
                 self.a(ISVC["ADDR"], self.addr(af, VIPS)), self.a(ISVC["PORT"], ">H", r.choice(VPORTS))]
        if r.random() < 0.02:
            attrs.append(self.a(ISVC["FWMARK"], "=I", r.choice((0, 7))))
        if r.random() < 0.3:
            r.shuffle(attrs)
        return attrs, af

    def svc_full(self, attrs, af):
        r = self.r
        sched = r.choice(SCHEDS) if r.random() < 0.85 else r.choice(IPVS_SCHED_CHOICES)
        x = r.random()
        if x < 0.55:
            fl = (0, 0xffffffff) if r.random() < 0.5 else (0, 0)
        elif x < 0.75:
            fl = (F_PERSISTENT, F_PERSISTENT)
        elif x < 0.87:
            f = r.choice((F_SCHED, g.ipvs_define("IP_VS_SVC_F_SCHED1"), g.ipvs_define("IP_VS_SVC_F_SCHED2")))
            fl = (f, r.choice((f, F_SCHED, 0xffffffff)))
        elif x < 0.92:
            fl = (F_ONEPACKET, F_ONEPACKET)
        elif x < 0.96:
            fl = (F_HASHED, F_HASHED | r.choice((0, F_PERSISTENT)))
        else:
            fl = (r.getrandbits(32), r.getrandbits(32))
        flags = struct.pack("=II", *fl)
        if r.random() < 0.03:
            flags = flags[:r.choice((0, 4))]
        if fl[0] & F_PERSISTENT:
            timeout = r.choice((300, 300, 1, 0, PERSIST_MAX, PERSIST_MAX + 1))
        else:
            timeout = r.choice((0, 0, 300, 0xffffffff))
        if af == AF4:
            nm = r.choice((0xffffffff, 0xffffffff, 0xffffffff, 0x00ffffff, 0x0000ffff, 0))
        else:
            nm = r.choice((128, 128, 128, 64, 1, 0, 129))
        full = [self.a(ISVC["SCHED_NAME"], sched.encode() + b"\0"), self.a(ISVC["FLAGS"], flags),
                self.a(ISVC["TIMEOUT"], "=I", timeout), self.a(ISVC["NETMASK"], "=I", nm)]
        if r.random() < 0.05:
            full.append(self.a(ISVC["PE_NAME"], r.choice((b"", b"sip", b"x" * IPVS_PE_MAX)) + b"\0"))
        if r.random() < 0.04:
            del full[r.randrange(len(full))]
        attrs.extend(full)

    def dest(self, af, full):
        r = self.r
        daf = af
        attrs = [self.a(IDEST["ADDR"], self.addr(daf, RIPS)),
                 self.a(IDEST["PORT"], ">H", r.choice(RPORTS) if r.random() < 0.97 else 0)]
        if r.random() < 0.15:
            attrs.append(self.a(IDEST["ADDR_FAMILY"], "=H", r.choice((af, af, 0, AF4 + AF6 - af, 7))))
        if full:
            w = r.choice((0, 1, 1, 2, 5, 100, WEIGHT_MAX)) if r.random() < 0.9 else \
                r.choice((WEIGHT_MAX + 1, INT_MAX, 1 << 31, 0xffffffff))
            u = r.choice((0, 0, 0, 10, 100, INT_MAX, INT_MAX + 1, 0xffffffff))
            lo = r.choice((0, 0, u // 2, u, u + 1)) & 0xffffffff
            attrs += [self.a(IDEST["FWD_METHOD"], "=I", r.choice((0, 1, 2, 3, 4, 7, 0x1003))),
                      self.a(IDEST["WEIGHT"], "=I", w), self.a(IDEST["U_THRESH"], "=I", u),
                      self.a(IDEST["L_THRESH"], "=I", lo)]
            if r.random() < 0.08:
                attrs.append(self.a(IDEST["TUN_TYPE"], "=B", r.choice((0, 1, 2))))
                if r.random() < 0.6:
                    attrs.append(self.a(IDEST["TUN_PORT"], ">H", r.choice((0, 6080))))
                if r.random() < 0.4:
                    attrs.append(self.a(IDEST["TUN_FLAGS"], "=H", r.choice((0, 1, 3))))
            if r.random() < 0.04:
                del attrs[r.randrange(2, len(attrs))]
        if r.random() < 0.3:
            r.shuffle(attrs)
        return [IA["DEST"], self.nestflag(), attrs]

    def daemon(self):
        r = self.r
        attrs = []
        if r.random() < 0.9:
            attrs.append(self.a(IDMN["STATE"], "=I", r.choice((STATE_MASTER, STATE_BACKUP, 0, 3))))
        if r.random() < 0.7:
            attrs.append(self.a(IDMN["MCAST_IFN"], r.choice((b"lo", b"eth0", b"x" * 16)) + b"\0"))
        if r.random() < 0.7:
            attrs.append(self.a(IDMN["SYNC_ID"], "=I", r.choice((0, 1, 255))))
        if r.random() < 0.2:
            attrs.append(self.a(IDMN["MCAST_GROUP6"], r.randbytes(r.choice((16, 4)))))
        if r.random() < 0.2:
            attrs.append(self.a(IDMN["MCAST_TTL"], "=B", 1))
        return [IA["DAEMON"], self.nestflag(), attrs]

    def valid(self):
        r = self.r
        x = r.random()
        key, af = self.svc_key()
        svc = [IA["SERVICE"], self.nestflag(), key]
        if x < 0.18:
            self.svc_full(key, af)
            return [IC["NEW_SERVICE"], [svc]]
        if x < 0.27:
            self.svc_full(key, af)
            return [IC["SET_SERVICE"], [svc]]
        if x < 0.31:
            return [IC["DEL_SERVICE"], [svc]]
        if x < 0.35:
            return [IC["GET_SERVICE"], [svc]]
        if x < 0.60:
            return [IC["NEW_DEST"], [svc, self.dest(af, True)]]
        if x < 0.72:
            return [IC["SET_DEST"], [svc, self.dest(af, True)]]
        if x < 0.80:
            return [IC["DEL_DEST"], [svc, self.dest(af, False)]]
        if x < 0.83:
            return [IC["ZERO"], [svc] if r.random() < 0.6 else []]
        if x < 0.87:
            attrs = []
            for k in ("TIMEOUT_TCP", "TIMEOUT_TCP_FIN", "TIMEOUT_UDP"):
                if r.random() < 0.7:
                    attrs.append(self.a(IA[k], "=I", r.choice((0, 0, 1, 60, 900, INT_MAX // self.hz,
                                                               INT_MAX // self.hz + 1, 0xffffffff))))
            return [IC["SET_CONFIG"], attrs]
        if x < 0.89:
            return [IC["GET_CONFIG"], []]
        if x < 0.91:
            return [IC["GET_INFO"], []]
        if x < 0.93:
            return [IC["NEW_DAEMON"], [self.daemon()]]
        if x < 0.96:
            return [IC["DEL_DAEMON"], [self.daemon()] if r.random() < 0.9 else []]
        if x < 0.975:
            return [r.choice((IC["GET_DEST"], IC["GET_DAEMON"], IC["SET_INFO"])), [svc]]
        if x < 0.999:
            self.svc_full(key, af)
            return [IC["NEW_SERVICE"], [svc]]
        return [IC["FLUSH"], []]

    def mutate_extra(self, msg):
        """A nest without NLA_F_NESTED, or an attribute in the wrong nest."""
        r = self.r
        if msg[1] and r.random() < 0.5:
            at = r.choice(msg[1])
            at[1] &= ~NLA_F_NESTED
            return "nest without NLA_F_NESTED"
        msg[1].append([r.choice((IA["TIMEOUT_TCP"], IA["DAEMON"], IA["DEST"])), 0, struct.pack("=I", 5)])
        return "misplaced top attr"

    def mutate_output_attr(self, attrs):
        r = self.r
        for top in attrs:
            if isinstance(top[2], list) and top[0] == IA["SERVICE"]:
                top[2].append(r.choice(([ISVC["STATS"], 0, [[1, 0, struct.pack("=I", 5)]]],
                                        [ISVC["STATS64"], 0, [[1, 0, struct.pack("=Q", 5)]]])))
            elif isinstance(top[2], list) and top[0] == IA["DEST"]:
                top[2].append(r.choice(([IDEST["ACTIVE_CONNS"], 0, struct.pack("=I", 3)],
                                        [IDEST["PERSIST_CONNS"], 0, struct.pack("=H", 3)],
                                        [IDEST["STATS"], NLA_F_NESTED, b"\1\2"])))
        return "output attr in request"

    def raw_mutate(self, body):
        """Gen's, but a bit flip seldom makes a FLUSH (ZERO and NEW_SERVICE
        are one bit from it): the table would stay nearly empty."""
        out = super().raw_mutate(body)
        if out[:1] == bytes([IC["FLUSH"]]) and body[:1] != out[:1] and self.r.random() < 0.95:
            out = body[:1] + out[1:]
        return out
