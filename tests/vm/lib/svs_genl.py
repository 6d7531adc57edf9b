"""A raw generic-netlink client for the SOCK_VS family, for tests that need
to send messages sockvsadm would never send (python stdlib only).

Attribute and command numbers are read from kmod/include/uapi/linux/sock_vs.h,
so the tests follow the header rather than a copy of it.
"""

import os
import re
import socket
import struct

import svs

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_VERSION = 3
CTRL_ATTR_MAXATTR = 5

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3fff

SOL_NETLINK = 270
NETLINK_EXT_ACK = 11
NLMSGERR_ATTR_MSG = 1
NLMSGERR_ATTR_OFFS = 2


def parse_enums(path=svs.UAPI_HEADER):
    """{enum name: {member: value}} for every enum in the header."""
    with open(path) as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    out = {}
    for name, body in re.findall(r"enum\s+(\w+)\s*\{(.*?)\};", text, re.S):
        val, members = -1, {}
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" in item:
                k, v = (x.strip() for x in item.split("=", 1))
                val = int(v, 0)
            else:
                k, val = item, val + 1
            members[k] = val
        out[name] = members
    return out


ENUMS = parse_enums()
CMD = {k[len("SOCK_VS_CMD_"):]: v for k, v in ENUMS["sock_vs_cmd"].items()}
ATTR = {k[len("SOCK_VS_ATTR_"):]: v for k, v in ENUMS["sock_vs_attr"].items()}
SVC = {k[len("SOCK_VS_SVC_ATTR_"):]: v for k, v in ENUMS["sock_vs_svc_attr"].items()}
DEST = {k[len("SOCK_VS_DEST_ATTR_"):]: v for k, v in ENUMS["sock_vs_dest_attr"].items()}
STATS = {k[len("SOCK_VS_STATS_ATTR_"):]: v for k, v in ENUMS["sock_vs_stats_attr"].items()}
INFO = {k[len("SOCK_VS_INFO_ATTR_"):]: v for k, v in ENUMS["sock_vs_info_attr"].items()}

# The kernel's IPVS family (ipvs_compat=1 answers it): numbers from the uapi
# header the tools are built against; its enums are anonymous.
IPVS_HEADER = "/usr/include/linux/ip_vs.h"
IPVS_GENL_NAME = "IPVS"


def parse_all_enum_members(path):
    """{member: value} of every enum in a header, named or not."""
    with open(path) as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    out = {}
    for body in re.findall(r"enum\s*\w*\s*\{(.*?)\}", text, re.S):
        val = -1
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" in item:
                k, v = (x.strip() for x in item.split("=", 1))
                val = int(v, 0)
            else:
                k, val = item, val + 1
            out[k] = val
    return out


def ipvs_define(name):
    """An integer #define of the IPVS uapi header."""
    with open(IPVS_HEADER) as f:
        for line in f:
            m = re.match(r"#define\s+%s\s+(0x[0-9a-fA-F]+|\d+)\b" % re.escape(name), line)
            if m:
                return int(m.group(1), 0)
    raise KeyError(name)


def _ipvs_group(members, prefix):
    return {k[len(prefix):]: v for k, v in members.items() if k.startswith(prefix) and not k.startswith("__")}


_IPVS = parse_all_enum_members(IPVS_HEADER) if os.path.exists(IPVS_HEADER) else {}
IPVS_CMD = {k: v for k, v in _ipvs_group(_IPVS, "IPVS_CMD_").items() if not k.startswith("ATTR_")}
IPVS_ATTR = _ipvs_group(_IPVS, "IPVS_CMD_ATTR_")
IPVS_SVC = _ipvs_group(_IPVS, "IPVS_SVC_ATTR_")
IPVS_DEST = _ipvs_group(_IPVS, "IPVS_DEST_ATTR_")
IPVS_DAEMON = _ipvs_group(_IPVS, "IPVS_DAEMON_ATTR_")
IPVS_STATS = _ipvs_group(_IPVS, "IPVS_STATS_ATTR_")
IPVS_INFO = _ipvs_group(_IPVS, "IPVS_INFO_ATTR_")
IPVS_MAX = {g: _IPVS.get("__IPVS_%s_ATTR_MAX" % g, 0) - 1 for g in ("CMD", "SVC", "DEST", "DAEMON")}


def align4(n):
    return (n + 3) & ~3


def nla(atype, payload):
    """One attribute, padded; nla_len counts header and payload (not padding)."""
    raw = struct.pack("=HH", 4 + len(payload), atype) + payload
    return raw + b"\0" * (align4(len(raw)) - len(raw))


def u16(atype, v):
    return nla(atype, struct.pack("=H", v))


def u32(atype, v):
    return nla(atype, struct.pack("=I", v))


def string(atype, s):
    return nla(atype, s.encode() + b"\0")


def nest(atype, *attrs):
    return nla(atype | NLA_F_NESTED, b"".join(attrs))


def attr_list(data):
    """[(type, payload)] of a run of attributes, in order (flags masked off)."""
    out, off = [], 0
    while off + 4 <= len(data):
        ln, t = struct.unpack_from("=HH", data, off)
        if ln < 4:
            break
        out.append((t & NLA_TYPE_MASK, data[off + 4:off + ln]))
        off += align4(ln)
    return out


def parse_attrs(data):
    """{type: payload} of a run of attributes (flags masked off; the last of
    duplicates, as nla_parse)."""
    return dict(attr_list(data))


class Reply:
    def __init__(self, error, msgs, extack_msg, extack_offs):
        self.error = error          # 0 or negative errno
        self.msgs = msgs            # payloads (after the genl header) of non-error replies
        self.extack_msg = extack_msg
        self.extack_offs = extack_offs

    def __repr__(self):
        return "Reply(error=%s, msgs=%d, extack=%r)" % (
            svs.errno_name(-self.error) if self.error else 0, len(self.msgs), self.extack_msg)


class Genl:
    def __init__(self, family=svs.uapi_define("SOCK_VS_GENL_NAME")):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.sock.settimeout(svs.SOCK_TIMEOUT)
        self.sock.bind((0, 0))
        self.seq = int.from_bytes(os.urandom(2), "little") * 1000
        r = self.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, string(CTRL_ATTR_FAMILY_NAME, family), version=1)
        if r.error or not r.msgs:
            raise svs.Fail("generic netlink family %r not found: %r" % (family, r))
        attrs = parse_attrs(r.msgs[0])
        self.family_id = struct.unpack("=H", attrs[CTRL_ATTR_FAMILY_ID])[0]
        self.family_version = struct.unpack("=I", attrs[CTRL_ATTR_VERSION])[0]
        self.maxattr = struct.unpack("=I", attrs[CTRL_ATTR_MAXATTR])[0] if CTRL_ATTR_MAXATTR in attrs else None

    def close(self):
        self.sock.close()

    def raw_request(self, msg_type, body, flags=NLM_F_REQUEST | NLM_F_ACK):
        """Send nlmsghdr + body (body is everything after the nlmsghdr);
        collect replies up to the ack (NLMSG_ERROR) or, for a dump, NLMSG_DONE.
        Requests must ask for an ack or be dumps, or this waits in vain."""
        self.seq += 1
        seq = self.seq
        self.sock.send(struct.pack("=IHHII", 16 + len(body), msg_type, flags, seq, 0) + body)
        msgs = []
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                raise svs.Fail("no netlink answer within %ss (seq %d)" % (svs.SOCK_TIMEOUT, seq))
            off = 0
            while off + 16 <= len(data):
                ln, typ, fl, rseq, _ = struct.unpack_from("=IHHII", data, off)
                if ln < 16:
                    raise svs.Fail("bad netlink reply length %d" % ln)
                m = data[off:off + ln]
                off += align4(ln)
                if rseq != seq:
                    continue
                if typ == NLMSG_ERROR:
                    return self._error(m, fl, msgs)
                if typ == NLMSG_DONE:
                    err = struct.unpack_from("=i", m, 16)[0] if len(m) >= 20 else 0
                    ext = parse_attrs(m[20:]) if fl & NLM_F_ACK_TLVS else {}
                    return Reply(err, msgs, _msg(ext), None)
                msgs.append(m[20:])

    def _error(self, m, fl, msgs):
        err = struct.unpack_from("=i", m, 16)[0]
        tlv_off = 20 + 16
        if not fl & NLM_F_CAPPED:
            orig_len = struct.unpack_from("=I", m, 20)[0]
            tlv_off = 20 + align4(orig_len)
        ext = parse_attrs(m[tlv_off:]) if fl & NLM_F_ACK_TLVS else {}
        offs = struct.unpack("=I", ext[NLMSGERR_ATTR_OFFS])[0] if NLMSGERR_ATTR_OFFS in ext else None
        return Reply(err, msgs, _msg(ext), offs)

    def request(self, family_id, cmd, attrs=b"", version=None, flags=NLM_F_REQUEST | NLM_F_ACK):
        v = self.family_version if version is None else version
        return self.raw_request(family_id, struct.pack("=BBH", cmd, v, 0) + attrs, flags)

    def cmd(self, cmd, attrs=b"", flags=NLM_F_REQUEST | NLM_F_ACK):
        """A SOCK_VS command (cmd: number or name)."""
        if isinstance(cmd, str):
            cmd = CMD[cmd]
        return self.request(self.family_id, cmd, attrs, flags=flags)


def _msg(ext):
    if NLMSGERR_ATTR_MSG in ext:
        return ext[NLMSGERR_ATTR_MSG].rstrip(b"\0").decode(errors="replace")
    return None


def svc_attrs(addr, port, proto=socket.IPPROTO_TCP, sched=None, af=None):
    """The attributes inside a SERVICE nest for a service key."""
    fam = af if af is not None else svs.family_of(addr)
    out = [u16(SVC["AF"], fam), u16(SVC["PROTOCOL"], proto),
           nla(SVC["ADDR"], socket.inet_pton(svs.family_of(addr), addr)), u16(SVC["PORT"], port)]
    if sched is not None:
        out.append(string(SVC["SCHED_NAME"], sched))
    return out


def ipvs_svc_attrs(addr, port, proto=socket.IPPROTO_TCP, sched=None, flags=0, mask=0xffffffff,
                   timeout=0, netmask=None, addr_len=16):
    """The attributes inside an IPVS SERVICE nest, as libipvs sends them
    (the address as 16 bytes, the port in network order); sched given: a
    full entry (NEW_SERVICE, SET_SERVICE)."""
    fam = svs.family_of(addr)
    raw = socket.inet_pton(fam, addr)
    out = [u16(IPVS_SVC["AF"], fam), u16(IPVS_SVC["PROTOCOL"], proto),
           nla(IPVS_SVC["ADDR"], (raw + b"\0" * 16)[:max(addr_len, len(raw))]),
           nla(IPVS_SVC["PORT"], struct.pack(">H", port))]
    if sched is not None:
        if netmask is None:
            netmask = 0xffffffff if fam == socket.AF_INET else 128
        out += [string(IPVS_SVC["SCHED_NAME"], sched),
                nla(IPVS_SVC["FLAGS"], struct.pack("=II", flags, mask)),
                u32(IPVS_SVC["TIMEOUT"], timeout), u32(IPVS_SVC["NETMASK"], netmask)]
    return out


def ipvs_dest_attrs(addr, port, weight=None, fwd=0, u_thresh=0, l_thresh=0, addr_len=16):
    """The attributes inside an IPVS DEST nest; weight given: a full entry."""
    raw = socket.inet_pton(svs.family_of(addr), addr)
    out = [nla(IPVS_DEST["ADDR"], (raw + b"\0" * 16)[:max(addr_len, len(raw))]),
           nla(IPVS_DEST["PORT"], struct.pack(">H", port))]
    if weight is not None:
        out += [u32(IPVS_DEST["FWD_METHOD"], fwd), u32(IPVS_DEST["WEIGHT"], weight),
                u32(IPVS_DEST["U_THRESH"], u_thresh), u32(IPVS_DEST["L_THRESH"], l_thresh)]
    return out


def dest_attrs(addr, port, weight=None):
    out = [nla(DEST["ADDR"], socket.inet_pton(svs.family_of(addr), addr)), u16(DEST["PORT"], port)]
    if weight is not None:
        out.append(u32(DEST["WEIGHT"], weight))
    return out
