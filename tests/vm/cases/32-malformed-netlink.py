#!/usr/bin/env python3
"""Raw generic netlink against the SOCK_VS family. Well-formed requests work
(so the client is right); then every malformed request - missing nests,
wrong attribute sizes, out-of-range values, unknown attributes, truncated
attributes, bad family / protocol, unknown commands - is answered with the
documented negative errno and, for attribute errors, an extended-ACK
message, and changes nothing. A seeded random mutation run follows; the
module must keep working afterwards."""

import errno
import os
import random
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_genl as g  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

TCP, UDP = socket.IPPROTO_TCP, socket.IPPROTO_UDP
BASE_VIP, BASE_SVC = svs.VIP4, svs.VIP4 + ":80"
NEW_VIP = "10.255.0.5"     # key used by NEW_SERVICE variants (free in the baseline)
REAL = ("127.0.0.1", 9321)
S, D = g.SVC, g.DEST
CMD_END = g.ENUMS["sock_vs_cmd"]["__SOCK_VS_CMD_MAX"]
ATTR_END = g.ENUMS["sock_vs_attr"]["__SOCK_VS_ATTR_MAX"]
SVC_END = g.ENUMS["sock_vs_svc_attr"]["__SOCK_VS_SVC_ATTR_MAX"]
DEST_END = g.ENUMS["sock_vs_dest_attr"]["__SOCK_VS_DEST_ATTR_MAX"]
INVAL = {errno.EINVAL}
# Out-of-range or wrongly sized attributes: EINVAL is what sock_vs.h documents;
# ERANGE is what the kernel's own nla_policy checks return for range and
# length violations, so it is accepted too.
BAD = {errno.EINVAL, errno.ERANGE}
# An address whose length does not fit its family: malformed (EINVAL), or
# a family mismatch (EAFNOSUPPORT), as the module reports it.
ADDRLEN = {errno.EINVAL, errno.EAFNOSUPPORT}


def service(*attrs):
    return g.nest(g.ATTR["SERVICE"], *attrs)


def dest(*attrs):
    return g.nest(g.ATTR["DEST"], *attrs)


def new_svc(*extra, port=80, addr=NEW_VIP):
    """Attributes of a NEW_SERVICE for NEW_VIP with the given extras in the nest."""
    return service(*g.svc_attrs(addr, port, sched="rr"), *extra)


BASE_KEY = service(*g.svc_attrs(BASE_VIP, 80))

# (name, command, attributes, allowed errnos, extack message required)
MALFORMED = [
    ("NEW_SERVICE without SERVICE nest", "NEW_SERVICE", b"", BAD, True),
    ("NEW_SERVICE with an empty SERVICE nest", "NEW_SERVICE", service(), BAD, True),
    ("NEW_SERVICE missing PORT", "NEW_SERVICE",
     service(g.u16(S["AF"], socket.AF_INET), g.u16(S["PROTOCOL"], TCP),
             g.nla(S["ADDR"], socket.inet_aton(NEW_VIP))), BAD, True),
    ("NEW_SERVICE missing ADDR", "NEW_SERVICE",
     service(g.u16(S["AF"], socket.AF_INET), g.u16(S["PROTOCOL"], TCP), g.u16(S["PORT"], 80)), BAD, True),
    ("service ADDR of 5 bytes", "NEW_SERVICE",
     service(g.u16(S["AF"], socket.AF_INET), g.u16(S["PROTOCOL"], TCP),
             g.nla(S["ADDR"], socket.inet_aton(NEW_VIP) + b"\1"), g.u16(S["PORT"], 80)), ADDRLEN, True),
    ("AF_INET6 service with a 4-byte ADDR", "NEW_SERVICE",
     service(g.u16(S["AF"], socket.AF_INET6), g.u16(S["PROTOCOL"], TCP),
             g.nla(S["ADDR"], socket.inet_aton(NEW_VIP)), g.u16(S["PORT"], 80)), ADDRLEN, True),
    ("service PORT as u32", "NEW_SERVICE",
     service(g.u16(S["AF"], socket.AF_INET), g.u16(S["PROTOCOL"], TCP),
             g.nla(S["ADDR"], socket.inet_aton(NEW_VIP)), g.u32(S["PORT"], 80)), BAD, True),
    ("service PORT 0", "NEW_SERVICE", service(*g.svc_attrs(NEW_VIP, 0, sched="rr")), BAD, True),
    ("service AF as u8", "NEW_SERVICE",
     service(g.nla(S["AF"], b"\2"), g.u16(S["PROTOCOL"], TCP),
             g.nla(S["ADDR"], socket.inet_aton(NEW_VIP)), g.u16(S["PORT"], 80)), BAD, True),
    ("af=99", "NEW_SERVICE",
     service(g.u16(S["AF"], 99), g.u16(S["PROTOCOL"], TCP),
             g.nla(S["ADDR"], socket.inet_aton(NEW_VIP)), g.u16(S["PORT"], 80)),
     {errno.EINVAL, errno.EAFNOSUPPORT}, True),
    ("protocol=47 (GRE)", "NEW_SERVICE", service(*g.svc_attrs(NEW_VIP, 80, proto=47, sched="rr")),
     {errno.EINVAL, errno.EPROTONOSUPPORT}, True),
    ("sched name of 20 characters", "NEW_SERVICE",
     service(*g.svc_attrs(NEW_VIP, 80), g.string(S["SCHED_NAME"], "r" * 20)), BAD, True),
    ("sched name of SOCK_VS_SCHED_NAME_MAX characters", "NEW_SERVICE",
     service(*g.svc_attrs(NEW_VIP, 80),
             g.string(S["SCHED_NAME"], "w" * int(svs.uapi_define("SOCK_VS_SCHED_NAME_MAX")))), BAD, True),
    ("service FLAGS=2 (an unknown flag bit)", "NEW_SERVICE", new_svc(g.u32(S["FLAGS"], 2)),
     BAD | {errno.EOPNOTSUPP}, True),
    ("unknown top-level attribute (__SOCK_VS_ATTR_MAX)", "NEW_SERVICE",
     new_svc() + g.u32(ATTR_END, 1), BAD, True),
    ("unknown top-level attribute 100", "NEW_SERVICE", new_svc() + g.u32(100, 1), BAD, True),
    ("unknown attribute inside SERVICE", "NEW_SERVICE", new_svc(g.u32(SVC_END, 1)), BAD, True),
    ("truncated attribute header after SERVICE", "NEW_SERVICE", new_svc() + b"\x08\x00", BAD, True),
    ("attribute longer than the message", "NEW_SERVICE",
     new_svc() + struct.pack("=HH", 64, g.ATTR["DEST"]) + b"\0" * 8, BAD, True),
    ("attribute with nla_len 2 inside SERVICE", "NEW_SERVICE",
     g.nla(g.ATTR["SERVICE"] | g.NLA_F_NESTED, b"".join(g.svc_attrs(NEW_VIP, 80)) + struct.pack("=HH", 2, 1)),
     BAD, True),
    ("SERVICE that is not a nest", "NEW_SERVICE", g.nla(g.ATTR["SERVICE"], b"\1\2\3\4"), BAD, True),
    ("NEW_DEST without DEST nest", "NEW_DEST", BASE_KEY, BAD, True),
    ("NEW_DEST without SERVICE nest", "NEW_DEST", dest(*g.dest_attrs("127.0.0.2", 9321, 1)), BAD, True),
    ("dest ADDR of 5 bytes", "NEW_DEST",
     BASE_KEY + dest(g.nla(D["ADDR"], b"\x7f\0\0\2\0"), g.u16(D["PORT"], 9321), g.u32(D["WEIGHT"], 1)),
     ADDRLEN, True),
    ("dest PORT 0", "NEW_DEST", BASE_KEY + dest(*g.dest_attrs("127.0.0.2", 0, 1)), BAD, True),
    ("dest PORT as u32", "NEW_DEST",
     BASE_KEY + dest(g.nla(D["ADDR"], socket.inet_aton("127.0.0.2")), g.u32(D["PORT"], 9321)), BAD, True),
    ("dest weight 70000", "NEW_DEST", BASE_KEY + dest(*g.dest_attrs("127.0.0.2", 9321, 70000)), BAD, True),
    ("dest weight as u16", "NEW_DEST",
     BASE_KEY + dest(*g.dest_attrs("127.0.0.2", 9321), g.u16(D["WEIGHT"], 1)), BAD, True),
    ("SET_DEST weight 70000", "SET_DEST", BASE_KEY + dest(*g.dest_attrs(*REAL, 70000)), BAD, True),
    ("SET_DEST without weight", "SET_DEST", BASE_KEY + dest(*g.dest_attrs(*REAL)), BAD, True),
    ("IPv6 dest for an IPv4 service", "NEW_DEST", BASE_KEY + dest(*g.dest_attrs("::1", 9321, 1)),
     {errno.EINVAL, errno.EAFNOSUPPORT}, True),
    ("dest AF=AF_INET6 for an IPv4 service", "NEW_DEST",
     BASE_KEY + dest(*g.dest_attrs("127.0.0.2", 9321, 1), g.u16(D["AF"], socket.AF_INET6)),
     {errno.EINVAL, errno.EAFNOSUPPORT}, True),
    ("unknown attribute inside DEST", "NEW_DEST",
     BASE_KEY + dest(*g.dest_attrs("127.0.0.2", 9321, 1), g.u32(DEST_END, 1)), BAD, True),
    ("unknown command __SOCK_VS_CMD_MAX", CMD_END, new_svc(), {errno.EOPNOTSUPP}, False),
    ("unknown command 200", 200, new_svc(), {errno.EOPNOTSUPP}, False),
    ("command 0 (UNSPEC)", 0, new_svc(), {errno.EOPNOTSUPP}, False),
]

# Well-formed requests the kernel must refuse with the errno sock_vs.h documents.
SEMANTIC = [
    ("NEW_SERVICE that already exists", "NEW_SERVICE",
     service(*g.svc_attrs(BASE_VIP, 80, sched="rr")), {errno.EEXIST}),
    ("NEW_DEST that already exists", "NEW_DEST", BASE_KEY + dest(*g.dest_attrs(*REAL, 1)), {errno.EEXIST}),
    ("DEL_SERVICE of a missing service", "DEL_SERVICE", service(*g.svc_attrs(NEW_VIP, 80)), {errno.ESRCH}),
    ("UDP twin of an existing TCP service", "DEL_SERVICE",
     service(*g.svc_attrs(BASE_VIP, 80, proto=UDP)), {errno.ESRCH}),
    ("GET_SERVICE of a missing service", "GET_SERVICE", service(*g.svc_attrs(NEW_VIP, 80)), {errno.ESRCH}),
    ("NEW_DEST to a missing service", "NEW_DEST",
     service(*g.svc_attrs(NEW_VIP, 80)) + dest(*g.dest_attrs(*REAL, 1)), {errno.ESRCH}),
    ("DEL_DEST of a missing real server", "DEL_DEST",
     BASE_KEY + dest(*g.dest_attrs("127.0.0.9", 9321)), {errno.ENOENT}),
    ("NEW_SERVICE with an unknown scheduler", "NEW_SERVICE",
     service(*g.svc_attrs(NEW_VIP, 80, sched="nosuch")), {errno.ENOENT}),
    ("SET_SERVICE to an unknown scheduler", "SET_SERVICE",
     service(*g.svc_attrs(BASE_VIP, 80, sched="nosuch")), {errno.ENOENT}),
]


def main():
    svs.fresh_config()
    svs.echo_server("tcp", *REAL)
    adm_ok("-A", "-t", BASE_SVC, "-s", "rr")
    adm_ok("-a", "-t", BASE_SVC, "-r", svs.fmt_addr(*REAL), "-w", "1")
    baseline = svs.save()
    nl = g.Genl()
    svs.defer(nl.close)
    svs.log("family %s: id %d, version %d, maxattr %s"
            % (svs.uapi_define("SOCK_VS_GENL_NAME"), nl.family_id, nl.family_version, nl.maxattr))
    check_eq(nl.family_version, int(svs.uapi_define("SOCK_VS_GENL_VERSION")), "family version")

    step("well-formed requests work (the raw client is right)")
    r = nl.cmd("GET_INFO")
    check_eq(r.error, 0, "GET_INFO acked")
    check(r.msgs, "GET_INFO answered with a message")
    info = g.parse_attrs(g.parse_attrs(r.msgs[0])[g.ATTR["INFO"]])
    check_eq(info[g.INFO["VERSION"]].rstrip(b"\0").decode(), svs.uapi_define("SOCK_VS_VERSION"),
             "INFO VERSION")
    check_eq(struct.unpack("=I", info[g.INFO["NUM_SERVICES"]])[0], 1, "INFO NUM_SERVICES")
    r = nl.cmd("GET_SERVICE", flags=g.NLM_F_REQUEST | g.NLM_F_DUMP)
    check_eq((r.error, len(r.msgs)), (0, 1), "GET_SERVICE dump: one service")
    check_eq(nl.cmd("NEW_SERVICE", new_svc()).error, 0, "NEW_SERVICE %s:80" % NEW_VIP)
    check_eq(nl.cmd("NEW_DEST", service(*g.svc_attrs(NEW_VIP, 80)) + dest(*g.dest_attrs(*REAL, 2))).error,
             0, "NEW_DEST %s" % svs.fmt_addr(*REAL))
    check_eq(svs.parse_save(svs.save()) - svs.parse_save(baseline),
             {("svc", "TCP", NEW_VIP + ":80", "rr"), ("dest", "TCP", NEW_VIP + ":80", svs.fmt_addr(*REAL), 2)},
             "-S -n shows what the raw requests added")
    check_eq(svs.tcp_ident(NEW_VIP, 80), svs.fmt_addr(*REAL), "connect through the raw-configured service")
    check_eq(nl.cmd("DEL_SERVICE", service(*g.svc_attrs(NEW_VIP, 80))).error, 0, "DEL_SERVICE")
    check_eq(svs.save(), baseline, "back to the baseline")

    problems = []

    def expect(name, cmd, attrs, allowed, need_extack):
        r = nl.cmd(cmd, attrs)
        now = svs.save()
        line = "%-50s -> %s%s" % (name, svs.errno_name(-r.error) if r.error else "0 (accepted)",
                                  ", extack %r" % r.extack_msg if r.extack_msg else "")
        if r.error >= 0 or -r.error not in allowed:
            problems.append("%s: expected %s, got %s" % (name, "/".join(svs.errno_name(e) for e in sorted(allowed)),
                                                       svs.errno_name(-r.error) if r.error else "success"))
            line = "BAD " + line
        elif need_extack and not r.extack_msg:
            problems.append("%s: %s without an extended-ACK message" % (name, svs.errno_name(-r.error)))
            line = "BAD " + line
        if now != baseline:
            problems.append("%s: configuration changed:\n%s" % (name, now))
            line = "BAD " + line
            svs.flush()
            adm_ok("-R", input=baseline, quiet=True)
        svs.log("  " + line)

    step("malformed requests")
    for name, cmd, attrs, allowed, need_extack in MALFORMED:
        expect(name, cmd, attrs, allowed, need_extack)
    r = nl.raw_request(nl.family_id, b"\x01\x01")
    svs.log("  %-50s -> %s" % ("genl header truncated to 2 bytes", svs.errno_name(-r.error) if r.error else 0))
    if r.error != -errno.EINVAL:
        problems.append("genl header truncated: expected EINVAL, got %s" % r.error)
    r = nl.cmd("GET_DEST", flags=g.NLM_F_REQUEST | g.NLM_F_DUMP)
    svs.log("  %-50s -> %s, %d messages" % ("GET_DEST dump without SERVICE",
                                            svs.errno_name(-r.error) if r.error else 0, len(r.msgs)))
    if r.error >= 0:
        problems.append("GET_DEST dump without SERVICE: expected an error, got %d and %d messages"
                        % (r.error, len(r.msgs)))

    step("well-formed requests that must fail with the documented errno")
    for name, cmd, attrs, allowed in SEMANTIC:
        expect(name, cmd, attrs, allowed, True)

    if problems:
        raise svs.Fail("%d malformed/refused requests misbehaved:\n  %s" % (len(problems), "\n  ".join(problems)))
    check(True, "every request got the expected negative errno and changed nothing")

    step("seeded random mutations of valid requests (crash / hang check)")
    seed = int(os.environ.get("SVS_SEED", "3232"))
    rng = random.Random(seed)
    templates = [
        ("NEW_SERVICE", new_svc()),
        ("NEW_SERVICE", service(*g.svc_attrs("fd00:255::5", 80, sched="wrr"))),
        ("SET_SERVICE", service(*g.svc_attrs(BASE_VIP, 80, sched="wrr"))),
        ("NEW_DEST", BASE_KEY + dest(*g.dest_attrs("127.0.0.3", 9321, 3))),
        ("SET_DEST", BASE_KEY + dest(*g.dest_attrs(*REAL, 4))),
        ("DEL_DEST", BASE_KEY + dest(*g.dest_attrs("127.0.0.3", 9321))),
        ("ZERO", BASE_KEY),
        ("GET_SERVICE", BASE_KEY),
    ]
    answered = 0
    for i in range(300):
        cmd, body = rng.choice(templates)
        body = bytearray(body)
        for _ in range(rng.randint(1, 4)):
            what = rng.random()
            if what < 0.5 and body:
                body[rng.randrange(len(body))] = rng.randrange(256)
            elif what < 0.7 and body:
                del body[rng.randrange(len(body)):]
            elif what < 0.9:
                pos = rng.randrange(len(body) + 1)
                body[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.choice((1, 2, 4, 8))))
            else:
                body += g.nla(rng.randrange(16), bytes(rng.randrange(256) for _ in range(rng.randrange(20))))
        nl.cmd(cmd, bytes(body))
        answered += 1
    check_eq(answered, 300, "all 300 mutated requests answered (seed %d)" % seed)

    step("the module still works")
    svs.flush()
    adm_ok("-R", input=baseline)
    check_eq(svs.save(), baseline, "baseline restored")
    check_eq(svs.tcp_ident(BASE_VIP, 80), svs.fmt_addr(*REAL), "connect through %s" % BASE_SVC)
    r = nl.cmd("GET_INFO")
    check_eq(r.error, 0, "GET_INFO still answered on the same netlink socket")


svs.case(main)
