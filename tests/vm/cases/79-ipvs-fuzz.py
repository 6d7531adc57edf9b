#!/usr/bin/env python3
# svs-timeout: 600
"""Generic-netlink fuzzing of the IPVS family (issue 16): sock_vs reloaded
with ipvs_compat=1, the IPVS family and the SOCK_VS family fuzzed together
against ONE model of the table (tests/vm/lib/svs_fuzz.py: IpvsModel over
Model), since both families change the same per-namespace table.

- Targeted requests first, each with the errno ip_vs (ip_vs_ctl.c of 6.1)
  gives or sock_vs's documented refusal: every IPVS command (services,
  servers, daemon, config, info, zero, flush), nests without NLA_F_NESTED
  (legal: liberal parsing), wrong attribute lengths, missing attributes
  (EINVAL), unknown schedulers (ENOENT), fwmark / persistence engine /
  one-packet (EINVAL), weights (ERANGE when negative as an int, ERANGE above
  sock_vs's 65535), thresholds, IPv4 addresses of 4 and of 16 bytes, the
  sync daemon; the model must predict the expected errno and the kernel
  must answer it.
- Then SVS_IPVS_FUZZ_MESSAGES (default 30000) random messages in batches of
  SVS_FUZZ_BATCH (default 200), a quarter of them to SOCK_VS, interleaved in
  the same batches on one socket: valid requests, Gen's structured
  mutations, random bytes. Every answer must equal the model's; after every
  batch both families' dumps (services and servers) and GET_CONFIG must
  equal the model, and a few fuzzed IPVS dumps (GET_SERVICE, GET_DEST,
  GET_DAEMON with random attributes) must list what the model says.
- Then SVS_IPVS_FUZZ_UNPRIV (default 3000) IPVS messages and dumps from an
  unprivileged process (uid 65534, no capabilities): EPERM for every IPVS
  command (GENL_ADMIN_PERM), EOPNOTSUPP for unknown ones; the table is
  unchanged.
- The model expects ip_vs where ipvs_compat.c differs from it; each known
  difference is a named quirk (svs_fuzz.QUIRKS) and SVS_IPVS_QUIRKS=a,b
  makes the model expect ipvs_compat.c's answer instead (to see the rest).
- The plain module is loaded again at the end. SVS_SEED (default 7979).
"""

import collections
import json
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_fuzz as fz  # noqa: E402
import svs_genl as g  # noqa: E402
from svs import check, check_eq, step  # noqa: E402

PARAMS = "/sys/module/sock_vs/parameters/"
MAX_SERVICES, MAX_DESTS = 10, 4
E = fz.E
IC, IA, ISVC, IDEST, IDMN = fz.IC, fz.IA, fz.ISVC, fz.IDEST, fz.IDMN
DUMP = fz.NLM_F_REQUEST | g.NLM_F_DUMP

# Model reasons the run must have met (the list), besides "ok".
MUST_SEE = ["unknown scheduler", "fwmark service (refused)", "persistence engine (refused)",
            "one-packet scheduling (refused)", "negative weight", "weight above 65535",
            "lower threshold above upper", "upper threshold above INT_MAX", "incomplete service",
            "incomplete full service", "incomplete full dest", "missing service", "service nest: liberal policy",
            "dest nest: liberal policy", "top-level liberal policy", "no such service", "no such dest",
            "service exists", "dest exists", "sync daemon (refused)", "timeout above INT_MAX / HZ",
            "IPv6 prefix length", "max_services", "max_dests", "no doit", "no such command"]


def load_compat():
    svs.reload_module(["ipvs_compat=1"])


def restore_plain():
    svs.reload_module()


def set_param(name, value):
    with open(PARAMS + name, "w") as f:
        f.write(str(value))


def fmt(e):
    return svs.errno_name(e) if e else "0"


class Run:
    """The two sockets, the models and the statistics of one run."""

    def __init__(self, seed, hz, quirks, sv_share):
        self.nl = fz.Batcher(g.IPVS_GENL_NAME)        # sends both families' messages
        self.sv_nl = fz.Batcher()
        check_eq(self.nl.family_version, 1, "IPVS family version")
        self.sv = fz.Model(MAX_SERVICES, MAX_DESTS)
        self.ip = fz.IpvsModel(self.sv, hz, quirks)
        self.sv_gen = fz.Gen(random.Random(seed + 1), self.sv_nl.family_id)
        self.ip_gen = fz.IpvsGen(random.Random(seed + 2), self.nl.family_id, hz)
        self.r = random.Random(seed)
        self.sv_share = sv_share
        self.kinds, self.answers, self.reasons = (collections.Counter() for _ in range(3))
        self.mismatches, self.dump_mismatches = [], []
        self.n_mismatch = self.n_dump_mismatch = 0
        self.sent = self.accepted = self.dumps = self.fuzzed_dumps = 0
        self.most_services = self.most_dests = 0

    def predict(self, flags, typ, body):
        if typ == self.sv_nl.family_id:
            return self.sv.predict(flags, typ, body)
        return self.ip.predict(flags, typ, body)

    def family(self, typ):
        return "SOCK_VS" if typ == self.sv_nl.family_id else "IPVS"

    def note(self, text):
        self.n_mismatch += 1
        if len(self.mismatches) < 40:
            svs.log("  MISMATCH " + text)
            self.mismatches.append(text)

    def send(self, msgs, kinds, expect=None):
        """Send [(flags, type, body)] as one batch; compare every answer
        with the model's (and with expect, the hand-written errnos)."""
        preds = [self.predict(*m) for m in msgs]
        res = self.nl.batch(msgs)
        resync = False
        for i, ((flags, typ, body), (perr, why), (kerr, ext, nrep), kind) in enumerate(zip(msgs, preds, res, kinds)):
            fam = self.family(typ)
            self.kinds["%s %s" % (fam, kind.split(":")[0])] += 1
            self.answers["%s %s" % (fam, fmt(kerr))] += 1
            self.reasons[why] += 1
            self.accepted += kerr == 0
            if fam == "SOCK_VS":
                same = kerr == perr or (why == fz.POLICY and kerr in (E.EINVAL, E.ERANGE))
            else:
                same = kerr == perr
                if same and kerr == 0 and typ >= 0x10 and flags & fz.NLM_F_REQUEST and body[0] in fz.IPVS_REPLIES:
                    same = nrep == 1
            text = ("%s %s: kernel %s (extack %r, %d replies), model %s (%s); flags %#x body %s"
                    % (fam, kind, fmt(kerr), ext, nrep, fmt(perr), why, flags, body[:160].hex()))
            if not same:
                resync = True
                self.note(text)
            if expect is not None and expect[i] != perr:
                self.note("the model's answer is not the expected %s: %s" % (fmt(expect[i]), text))
        self.sent += len(msgs)
        return resync

    def compare_dumps(self):
        got_sv, got_ip = self.sv_nl.config(), fz.ipvs_config(self.nl)
        got_t = fz.ipvs_timeouts(self.nl)
        self.dumps += 1
        self.most_services = max(self.most_services, len(got_sv))
        self.most_dests = max([self.most_dests] + [len(d) for _, d in got_sv])
        bad = []
        if got_sv != self.sv.expected_dump():
            bad.append("SOCK_VS dump:\n    kernel %r\n    model  %r" % (got_sv, self.sv.expected_dump()))
        if got_ip != self.ip.expected_dump():
            bad.append("IPVS dump:\n    kernel %r\n    model  %r" % (got_ip, self.ip.expected_dump()))
        if got_t != self.ip.timeouts:
            bad.append("GET_CONFIG: kernel %r, model %r" % (got_t, self.ip.timeouts))
        if bad:
            self.n_dump_mismatch += 1
            if len(self.dump_mismatches) < 8:
                text = "after message %d: %s" % (self.sent, "\n  ".join(bad))
                svs.log("  DUMP MISMATCH " + text)
                self.dump_mismatches.append(text)
            self.ip.load(got_sv, got_ip)
            self.ip.timeouts = got_t

    def fuzzed_dump(self):
        """A dump with random attributes: as many entries as the model says."""
        _, _, body, kind = fz.make_message(self.ip_gen, self.nl.family_id)
        if len(body) < 4:
            return
        cmd = self.r.choice((IC["GET_DEST"], IC["GET_DEST"], IC["GET_SERVICE"], IC["GET_DAEMON"]))
        body = bytes([cmd]) + body[1:]
        perr, n = self.ip.predict_dump(cmd, body)
        r = self.nl.raw_request(self.nl.family_id, body, DUMP)
        self.fuzzed_dumps += 1
        if (-r.error, len(r.msgs)) != (perr, n):
            self.note("fuzzed dump %d (%s): kernel %s with %d entries, model %s with %d; body %s"
                      % (cmd, kind, fmt(-r.error), len(r.msgs), fmt(perr), n, body[:160].hex()))

    def random_batch(self, n):
        msgs, kinds = [], []
        for _ in range(n):
            if self.r.random() < self.sv_share:
                flags, typ, body, kind = fz.make_message(self.sv_gen, self.sv_nl.family_id)
            else:
                flags, typ, body, kind = fz.make_message(self.ip_gen, self.nl.family_id)
            msgs.append((flags, typ, body))
            kinds.append(kind)
        return self.send(msgs, kinds)


def ipvs_msg(fid, cmd, *attrs, flags=fz.NLM_F_REQUEST | fz.NLM_F_ACK):
    return (flags, fid, struct.pack("=BBH", cmd, 1, 0) + b"".join(attrs))


def targeted(run, hz):
    """(kind, message, errno ip_vs / sock_vs's refusal gives), in order."""
    fid, sfid = run.nl.family_id, run.sv_nl.family_id
    V, V6 = svs.VIP4, svs.VIP6
    svc = lambda *a, **k: g.nla(IA["SERVICE"], b"".join(g.ipvs_svc_attrs(*a, **k)))   # noqa: E731
    svcn = lambda *a, **k: g.nest(IA["SERVICE"], *g.ipvs_svc_attrs(*a, **k))         # noqa: E731
    dst = lambda *a, **k: g.nla(IA["DEST"], b"".join(g.ipvs_dest_attrs(*a, **k)))     # noqa: E731
    key = svc(V, 80)
    t = []

    def add(kind, msg, err):
        t.append((kind, msg, err))

    P = fz.F_PERSISTENT
    add("new service, nest without NLA_F_NESTED", ipvs_msg(fid, IC["NEW_SERVICE"], svc(V, 80, sched="rr")), 0)
    add("new service again", ipvs_msg(fid, IC["NEW_SERVICE"], svc(V, 80, sched="rr")), E.EEXIST)
    add("new service, NLA_F_NESTED, IPv4 address of 4 bytes",
        ipvs_msg(fid, IC["NEW_SERVICE"], svcn(V, 81, sched="wlc", addr_len=4)), 0)
    add("get it with a 16-byte address", ipvs_msg(fid, IC["GET_SERVICE"], svc(V, 81)), 0)
    add("get a missing one", ipvs_msg(fid, IC["GET_SERVICE"], svc(V, 99)), E.ESRCH)
    add("unknown scheduler", ipvs_msg(fid, IC["NEW_SERVICE"], svc(V, 82, sched="nosuch")), E.ENOENT)
    add("scheduler sock_vs lacks (dh)", ipvs_msg(fid, IC["NEW_SERVICE"], svc(V, 82, sched="dh")), E.ENOENT)
    add("fwmark service", ipvs_msg(fid, IC["NEW_SERVICE"], g.nla(IA["SERVICE"], b"".join([
        g.u16(ISVC["AF"], socket.AF_INET), g.u32(ISVC["FWMARK"], 7), g.string(ISVC["SCHED_NAME"], "rr"),
        g.nla(ISVC["FLAGS"], struct.pack("=II", 0, 0xffffffff)), g.u32(ISVC["TIMEOUT"], 0),
        g.u32(ISVC["NETMASK"], 0xffffffff)]))), E.EINVAL)
    add("persistence engine", ipvs_msg(fid, IC["NEW_SERVICE"], g.nla(IA["SERVICE"], b"".join(
        g.ipvs_svc_attrs(V, 82, sched="rr", flags=P, timeout=60) + [g.string(ISVC["PE_NAME"], "sip")]))), E.EINVAL)
    add("one-packet scheduling", ipvs_msg(fid, IC["NEW_SERVICE"], svc(V, 82, proto=socket.IPPROTO_UDP, sched="rr",
                                                                     flags=fz.F_ONEPACKET)), E.EINVAL)
    add("persistent, 600 s", ipvs_msg(fid, IC["NEW_SERVICE"], svc(V, 443, sched="wlc", flags=P, mask=P,
                                                                 timeout=600)), 0)
    add("persistent, timeout 0", ipvs_msg(fid, IC["NEW_SERVICE"], svc(V, 82, sched="rr", flags=P, timeout=0)),
        E.EINVAL)
    add("missing netmask", ipvs_msg(fid, IC["NEW_SERVICE"], g.nla(IA["SERVICE"], b"".join(
        g.ipvs_svc_attrs(V, 82, sched="rr")[:-1]))), E.EINVAL)
    add("missing service", ipvs_msg(fid, IC["NEW_SERVICE"]), E.EINVAL)
    add("service without address family", ipvs_msg(fid, IC["DEL_SERVICE"], g.nla(IA["SERVICE"], b"".join(
        g.ipvs_svc_attrs(V, 80)[1:]))), E.EINVAL)
    add("address family 7", ipvs_msg(fid, IC["GET_SERVICE"], g.nla(IA["SERVICE"], b"".join(
        [g.u16(ISVC["AF"], 7)] + g.ipvs_svc_attrs(V, 80)[1:]))), E.EAFNOSUPPORT)
    add("SCTP service", ipvs_msg(fid, IC["NEW_SERVICE"], svc(V, 82, proto=132, sched="rr")), E.EINVAL)
    add("address of 17 bytes", ipvs_msg(fid, IC["GET_SERVICE"], g.nla(IA["SERVICE"], b"".join(
        g.ipvs_svc_attrs(V, 80)[:2] + [g.nla(ISVC["ADDR"], b"\x0a" * 17)] + g.ipvs_svc_attrs(V, 80)[3:]))),
        E.EINVAL)
    add("port of 1 byte", ipvs_msg(fid, IC["GET_SERVICE"], g.nla(IA["SERVICE"], b"".join(
        g.ipvs_svc_attrs(V, 80)[:3] + [g.nla(ISVC["PORT"], b"\0")]))), E.EINVAL)
    add("port of 4 bytes (liberal: the first 2)", ipvs_msg(fid, IC["GET_SERVICE"], g.nla(IA["SERVICE"], b"".join(
        g.ipvs_svc_attrs(V, 80)[:3] + [g.nla(ISVC["PORT"], struct.pack(">H", 80) + b"zz")]))), 0)
    add("service nest of 2 bytes", ipvs_msg(fid, IC["GET_SERVICE"], g.nla(IA["SERVICE"], b"ab")), E.ERANGE)
    add("unknown attributes (liberal)", ipvs_msg(fid, IC["GET_SERVICE"], key, g.nla(33, b"x"),
                                                g.nla(0, b"")), 0)
    add("IPv6 service, prefix 0", ipvs_msg(fid, IC["NEW_SERVICE"], svc(V6, 80, sched="rr", netmask=0)), E.EINVAL)
    add("IPv6 service, prefix 64", ipvs_msg(fid, IC["NEW_SERVICE"], svc(V6, 80, sched="lc", netmask=64)), 0)
    add("edit: scheduler sh, SCHED1|SCHED2", ipvs_msg(fid, IC["SET_SERVICE"], svc(
        V, 80, sched="sh", flags=0x18, mask=0x18)), 0)
    add("edit a missing one", ipvs_msg(fid, IC["SET_SERVICE"], svc(V, 99, sched="rr")), E.ESRCH)
    # real servers
    add("server, weight 3, masq", ipvs_msg(fid, IC["NEW_DEST"], key, dst("127.0.0.1", 9000, weight=3)), 0)
    add("server again", ipvs_msg(fid, IC["NEW_DEST"], key, dst("127.0.0.1", 9000, weight=3)), E.EEXIST)
    add("server, 4-byte address, route", ipvs_msg(fid, IC["NEW_DEST"], key, dst("127.0.0.2", 9000, weight=1, fwd=3,
                                                                               addr_len=4)), 0)
    add("weight -1", ipvs_msg(fid, IC["NEW_DEST"], key, dst("127.0.0.3", 9000, weight=0xffffffff)), E.ERANGE)
    add("weight 65536", ipvs_msg(fid, IC["NEW_DEST"], key, dst("127.0.0.3", 9000, weight=65536)), E.ERANGE)
    add("weight 65535", ipvs_msg(fid, IC["NEW_DEST"], key, dst("127.0.0.3", 9000, weight=65535, u_thresh=10,
                                                              l_thresh=5)), 0)
    add("lower threshold above upper", ipvs_msg(fid, IC["SET_DEST"], key, dst("127.0.0.3", 9000, weight=1,
                                                                              u_thresh=5, l_thresh=6)), E.ERANGE)
    add("upper threshold above INT_MAX", ipvs_msg(fid, IC["SET_DEST"], key, dst(
        "127.0.0.3", 9000, weight=1, u_thresh=fz.INT_MAX + 1)), E.EINVAL)
    add("GUE tunnel without port", ipvs_msg(fid, IC["SET_DEST"], g.nla(IA["DEST"], b"".join(
        g.ipvs_dest_attrs("127.0.0.3", 9000, weight=1, fwd=2) + [g.nla(IDEST["TUN_TYPE"], b"\1")])), key), E.EINVAL)
    add("server without thresholds", ipvs_msg(fid, IC["NEW_DEST"], key, g.nla(IA["DEST"], b"".join(
        g.ipvs_dest_attrs("127.0.0.4", 9000, weight=1)[:4]))), E.EINVAL)
    add("server of a missing service", ipvs_msg(fid, IC["NEW_DEST"], svc(V, 99), dst("127.0.0.1", 9000, weight=1)),
        E.ESRCH)
    add("server without DEST", ipvs_msg(fid, IC["NEW_DEST"], key), E.EINVAL)
    add("multicast server", ipvs_msg(fid, IC["NEW_DEST"], key, dst("224.0.0.1", 9000, weight=1)), E.EINVAL)
    add("server port 0", ipvs_msg(fid, IC["NEW_DEST"], key, dst("127.0.0.5", 0, weight=1)), E.EINVAL)
    add("IPv6 server of an IPv4 service", ipvs_msg(fid, IC["NEW_DEST"], key, g.nla(IA["DEST"], b"".join(
        g.ipvs_dest_attrs("::1", 9000, weight=1) + [g.u16(IDEST["ADDR_FAMILY"], socket.AF_INET6)]))), E.EINVAL)
    add("4th server (max_dests 4)", ipvs_msg(fid, IC["NEW_DEST"], key, dst("127.0.0.6", 9000, weight=1)), 0)
    add("5th server", ipvs_msg(fid, IC["NEW_DEST"], key, dst("127.0.0.7", 9000, weight=1)), E.ENOSPC)
    add("edit, weight 7", ipvs_msg(fid, IC["SET_DEST"], key, dst("127.0.0.2", 9000, weight=7, fwd=3)), 0)
    add("edit a missing server", ipvs_msg(fid, IC["SET_DEST"], key, dst("127.0.0.9", 9000, weight=7)), E.ENOENT)
    add("delete a missing server", ipvs_msg(fid, IC["DEL_DEST"], key, dst("127.0.0.9", 9000)), E.ENOENT)
    add("delete a server (16-byte address)", ipvs_msg(fid, IC["DEL_DEST"], key, dst("127.0.0.2", 9000)), 0)
    # the SOCK_VS family on the same table
    sv_key = g.nest(g.ATTR["SERVICE"], *g.svc_attrs(V, 81))
    add("SOCK_VS: server of the IPVS service", (fz.NLM_F_REQUEST | fz.NLM_F_ACK, sfid, struct.pack(
        "=BBH", g.CMD["NEW_DEST"], 1, 0) + sv_key + g.nest(g.ATTR["DEST"], *g.dest_attrs("127.0.0.1", 9001, 4))), 0)
    add("IPVS edits the SOCK_VS server", ipvs_msg(fid, IC["SET_DEST"], svc(V, 81), dst("127.0.0.1", 9001, weight=9,
                                                                                  fwd=2)), 0)
    add("SOCK_VS: new service", (fz.NLM_F_REQUEST | fz.NLM_F_ACK, sfid, struct.pack(
        "=BBH", g.CMD["NEW_SERVICE"], 1, 0) + g.nest(g.ATTR["SERVICE"], *g.svc_attrs(V, 90, sched="mh"))), 0)
    add("IPVS: it exists", ipvs_msg(fid, IC["NEW_SERVICE"], svc(V, 90, sched="rr")), E.EEXIST)
    add("IPVS zeroes it", ipvs_msg(fid, IC["ZERO"], svc(V, 90)), 0)
    # config, info, daemon, zero, unknown commands
    add("set config", ipvs_msg(fid, IC["SET_CONFIG"], g.u32(IA["TIMEOUT_TCP"], 100),
                               g.u32(IA["TIMEOUT_TCP_FIN"], 20), g.u32(IA["TIMEOUT_UDP"], 30)), 0)
    add("set config, 0 keeps", ipvs_msg(fid, IC["SET_CONFIG"], g.u32(IA["TIMEOUT_TCP"], 0)), 0)
    add("timeout above INT_MAX / HZ", ipvs_msg(fid, IC["SET_CONFIG"], g.u32(IA["TIMEOUT_UDP"], 5),
                                               g.u32(IA["TIMEOUT_TCP"], fz.INT_MAX // hz + 1)), E.EINVAL)
    add("timeout of 2 bytes", ipvs_msg(fid, IC["SET_CONFIG"], g.nla(IA["TIMEOUT_TCP"], b"\1\0")), E.ERANGE)
    add("get config", ipvs_msg(fid, IC["GET_CONFIG"]), 0)
    add("get info", ipvs_msg(fid, IC["GET_INFO"]), 0)
    daemon = g.nla(IA["DAEMON"], b"".join([g.u32(IDMN["STATE"], fz.STATE_MASTER), g.string(IDMN["MCAST_IFN"], "lo"),
                                           g.u32(IDMN["SYNC_ID"], 1)]))
    add("start a sync daemon", ipvs_msg(fid, IC["NEW_DAEMON"], daemon), E.EINVAL)
    add("stop a sync daemon (none runs)", ipvs_msg(fid, IC["DEL_DAEMON"], daemon),
        E.EINVAL if "daemon-del" in run.ip.quirks else E.ESRCH)
    add("stop without a daemon nest", ipvs_msg(fid, IC["DEL_DAEMON"]), E.EINVAL)
    add("GET_DEST is a dump only", ipvs_msg(fid, IC["GET_DEST"], key), E.EOPNOTSUPP)
    add("GET_DAEMON is a dump only", ipvs_msg(fid, IC["GET_DAEMON"]), E.EOPNOTSUPP)
    add("SET_INFO is no command", ipvs_msg(fid, IC["SET_INFO"]), E.EOPNOTSUPP)
    add("command 18", ipvs_msg(fid, 18), E.EOPNOTSUPP)
    add("command 18, reserved byte set", (fz.NLM_F_REQUEST | fz.NLM_F_ACK, fid, struct.pack("=BBH", 18, 1, 1)),
        E.EINVAL)
    add("genl header of 2 bytes", (fz.NLM_F_REQUEST | fz.NLM_F_ACK, fid, b"\1\1"), E.EINVAL)
    add("zero everything", ipvs_msg(fid, IC["ZERO"]), 0)
    add("zero a missing service", ipvs_msg(fid, IC["ZERO"], svc(V, 99)), E.ESRCH)
    add("delete a service", ipvs_msg(fid, IC["DEL_SERVICE"], svc(V6, 80)), 0)
    return t


def unprivileged(total, seed, hz):
    """IPVS messages and dumps from uid 65534 without capabilities, in a
    forked child; returns its statistics."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        rc = 0
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            nl = fz.Batcher(g.IPVS_GENL_NAME)
            model = fz.IpvsModel(fz.Model(MAX_SERVICES, MAX_DESTS), hz)
            gen = fz.IpvsGen(random.Random(seed), nl.family_id, hz)
            answers, bad, sent = collections.Counter(), [], 0
            while sent < total:
                msgs = [fz.make_message(gen, nl.family_id)[:3] for _ in range(min(200, total - sent))]
                preds = [model.predict(*m, privileged=False) for m in msgs]
                for m, p, (kerr, ext, _) in zip(msgs, preds, nl.batch(msgs)):
                    answers[fmt(kerr)] += 1
                    if kerr != p[0] and len(bad) < 20:
                        bad.append("kernel %s, model %s (%s); body %s" % (fmt(kerr), fmt(p[0]), p[1], m[2][:80].hex()))
                sent += len(msgs)
            for cmd in (IC["GET_SERVICE"], IC["GET_DEST"], IC["GET_DAEMON"]):
                r = nl.raw_request(nl.family_id, struct.pack("=BBH", cmd, 1, 0), DUMP)
                answers["dump " + fmt(-r.error)] += 1
                if r.error != -E.EPERM:
                    bad.append("dump %d as nobody: %r" % (cmd, r))
            out = {"sent": sent, "answers": answers, "bad": bad}
        except BaseException as e:  # noqa: B902 - reported by the parent
            out, rc = {"error": "%s: %s" % (type(e).__name__, e)}, 1
        with os.fdopen(wfd, "w") as f:
            json.dump(out, f)
        os._exit(rc)
    os.close(wfd)
    with os.fdopen(rfd) as f:
        data = f.read()
    os.waitpid(pid, 0)
    out = json.loads(data) if data else {"error": "the child died without a report"}
    if "error" in out:
        raise svs.Fail("unprivileged sender: " + out["error"])
    return out


def main():
    total = int(os.environ.get("SVS_IPVS_FUZZ_MESSAGES", "30000"))
    unpriv = int(os.environ.get("SVS_IPVS_FUZZ_UNPRIV", "3000"))
    batch = int(os.environ.get("SVS_FUZZ_BATCH", "200"))
    seed = int(os.environ.get("SVS_SEED", "7979"))
    quirks = [q for q in os.environ.get("SVS_IPVS_QUIRKS", "").split(",") if q]
    hz = fz.kernel_hz()
    svs.defer(restore_plain)

    step("sock_vs reloaded with ipvs_compat=1 (max_services=%d, max_dests=%d, HZ %d, quirks tolerated: %s)"
         % (MAX_SERVICES, MAX_DESTS, hz, ",".join(quirks) or "none"))
    load_compat()
    set_param("max_services", MAX_SERVICES)
    set_param("max_dests", MAX_DESTS)
    run = Run(seed, hz, quirks, sv_share=0.25)
    check_eq((run.sv_nl.config(), fz.ipvs_config(run.nl)), ([], []), "both families' tables start empty")
    check_eq(fz.ipvs_timeouts(run.nl), run.ip.timeouts, "GET_CONFIG's defaults")
    t0 = time.monotonic()

    step("targeted requests")
    tl = targeted(run, hz)
    run.send([m for _, m, _ in tl], [k for k, _, _ in tl], expect=[e for _, _, e in tl])
    for kind, m, e in tl:
        svs.log("  %-44s %s" % (kind, fmt(e)))
    run.compare_dumps()
    svs.log("  table: %r" % (run.ip.expected_dump(),))
    svs.log(svs.run_ok(["ipvsadm", "-L", "-n"]))
    n_targeted = run.sent

    step("%d random messages in batches of %d, a quarter to SOCK_VS, interleaved (seed %d)" % (total, batch, seed))
    last = time.monotonic()
    while run.sent - n_targeted < total:
        n = min(batch, total - (run.sent - n_targeted))
        run.random_batch(n)
        for _ in range(3):
            run.fuzzed_dump()
        run.compare_dumps()
        if time.monotonic() - last > 30:
            last = time.monotonic()
            svs.log("  %d messages, %d accepted, %d mismatches, %d dump mismatches, %d services now"
                    % (run.sent, run.accepted, run.n_mismatch, run.n_dump_mismatch, len(run.sv.services)))

    step("%d IPVS messages from an unprivileged process" % unpriv)
    up = unprivileged(unpriv, seed + 3, hz)
    svs.log("  answers: " + ", ".join("%s %d" % kv for kv in sorted(up["answers"].items())))
    run.compare_dumps()
    elapsed = time.monotonic() - t0

    svs.log("sent %d messages (%d targeted) in %.1fs, %d accepted; %d dumps of both families compared, "
            "%d fuzzed dumps" % (run.sent, n_targeted, elapsed, run.accepted, run.dumps, run.fuzzed_dumps))
    svs.log("largest configuration: %d services, %d real servers in one" % (run.most_services, run.most_dests))
    svs.log("kinds: " + ", ".join("%s %d" % kv for kv in sorted(run.kinds.items())))
    svs.log("answers: " + ", ".join("%s %d" % kv for kv in run.answers.most_common()))
    svs.log("model reasons: " + ", ".join("%s %d" % kv for kv in run.reasons.most_common()))
    svs.log("IPVS-FUZZ-SUMMARY messages=%d unprivileged=%d accepted=%d dumps=%d fuzzed_dumps=%d mismatches=%d "
            "dump_mismatches=%d unprivileged_mismatches=%d seconds=%.0f quirks=%s"
            % (run.sent, up["sent"], run.accepted, run.dumps, run.fuzzed_dumps, run.n_mismatch,
               run.n_dump_mismatch, len(up["bad"]), elapsed, ",".join(quirks) or "none"))
    missing = [w for w in MUST_SEE if not run.reasons[w]]
    check(not missing, "every required refusal was met (missing: %s)" % missing)
    check(up["answers"].get("EPERM", 0) > unpriv // 2, "unprivileged IPVS requests got EPERM")
    if up["bad"]:
        raise svs.Fail("unprivileged answers differ from the model:\n  " + "\n  ".join(up["bad"]))
    check(True, "every unprivileged answer matched the model (EPERM, EOPNOTSUPP)")
    if run.mismatches:
        raise svs.Fail("%d answers differ from the model:\n  %s" % (run.n_mismatch, "\n  ".join(run.mismatches)))
    check(True, "every answer matched the model")
    if run.dump_mismatches:
        raise svs.Fail("%d dumps differed from the model:\n  %s"
                       % (run.n_dump_mismatch, "\n  ".join(run.dump_mismatches)))
    check(True, "every dump of both families (%d) equalled the model" % run.dumps)

    step("the module still works")
    svs.flush()
    check_eq(svs.run(["ipvsadm", "-C"]).returncode, 0, "ipvsadm -C")
    svs.echo_server("tcp", "127.0.0.1", 9791)
    svs.run_ok(["ipvsadm", "-A", "-t", svs.VIP4 + ":80", "-s", "rr"])
    svs.run_ok(["ipvsadm", "-a", "-t", svs.VIP4 + ":80", "-r", "127.0.0.1:9791", "-m"])
    check_eq(svs.tcp_ident(svs.VIP4, 80), "127.0.0.1:9791", "connect through a service ipvsadm made")
    svs.run_ok(["ipvsadm", "-C"])


if __name__ == "__main__":
    svs.case(main)
