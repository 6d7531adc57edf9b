#!/usr/bin/env python3
# svs-timeout: 900
"""Generic-netlink fuzzing against a model of the configuration.

SVS_FUZZ_MESSAGES (default 100000) messages in batches of SVS_FUZZ_BATCH
(default 200) go to the SOCK_VS family on one netlink socket: valid requests
of every command, structured mutations of them (missing, duplicated,
wrongly typed, wrongly sized, out-of-range, oversized attributes; unknown
attributes and commands; nested garbage; attribute and message flags; bad
addresses, families, protocols and scheduler names) and random byte
mutations. tests/vm/lib/svs_fuzz.py predicts the answer to each one (errno,
and the change for accepted ones) the way the kernel decides it; every
answer must match, every refusal of an attribute or a request must carry
an extended-ACK message, and after every batch the kernel's dump (services
and their real servers) must equal the model. Transactions are in the mix
(TXN_BEGIN with and without a generation, TXN_STAGE of valid and refused
entries, TXN_COMMIT, TXN_ABORT, and their mutations): the model tracks the
socket's open transaction and the table's generation. max_services and max_dests
are lowered (through /sys/module/sock_vs/parameters) so the ENOSPC limits
are hit too. SVS_SEED picks the random sequence (default 6060)."""

import collections
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
import svs_fuzz as fz  # noqa: E402
from svs import adm_ok, check, check_eq, step  # noqa: E402

PARAMS = "/sys/module/sock_vs/parameters/"
MAX_SERVICES, MAX_DESTS = 10, 4
NO_EXTACK_OK = {"no such command", "genl header truncated", "not a request"}


def set_param(name, value):
    with open(PARAMS + name) as f:
        old = f.read().strip()
    with open(PARAMS + name, "w") as f:
        f.write(str(value))
    svs.defer(svs._write, PARAMS + name, old)


def fmt_errno(e):
    return svs.errno_name(e) if e else "0"


def msg_text(kind, sent, kerr, ext, perr, why, flags, typ, body):
    return ("%s (batch from message %d): kernel %s (extack %r), model %s (%s); flags %#x type %d body %s"
            % (kind, sent, fmt_errno(kerr), ext, fmt_errno(perr), why, flags, typ, body[:160].hex()))


def fuzz(total, batch_size, seed, tag):
    """Run the fuzzer on a fresh netlink socket in this process's network
    namespace; returns its statistics (a dict of plain values)."""
    nl = fz.Batcher()
    model = fz.Model(MAX_SERVICES, MAX_DESTS)
    start_cfg = nl.config()
    model.gen = nl.generation()
    gen = fz.Gen(random.Random(seed), nl.family_id)
    gen.txn_gen = lambda: model.gen     # transactions too (kmod/txn.c)
    kinds = collections.Counter()
    answers = collections.Counter()
    reasons = collections.Counter()
    extacks = collections.Counter()
    mismatches, dump_mismatches, no_extack = [], [], []
    sent = accepted = dumps = n_dump = 0
    t_model = t_kernel = t_dump = 0.0
    most_services = most_dests = 0
    t0 = time.monotonic()
    last_log = t0
    while sent < total:
        n = min(batch_size, total - sent)
        ta = time.monotonic()
        msgs, preds = [], []
        for _ in range(n):
            flags, typ, body, kind = fz.make_message(gen, nl.family_id)
            err, why = model.predict(flags, typ, body)
            msgs.append((flags, typ, body))
            preds.append((err, why, kind))
        tb = time.monotonic()
        res = nl.batch(msgs)
        tc = time.monotonic()
        t_model += tb - ta
        t_kernel += tc - tb
        resync = False
        for (flags, typ, body), (perr, why, kind), (kerr, ext, _) in zip(msgs, preds, res):
            kinds[kind.split(":")[0]] += 1
            answers[fmt_errno(kerr)] += 1
            reasons[why] += 1
            if kerr == 0:
                accepted += 1
            same = kerr == perr or (why == fz.POLICY and kerr in (fz.E.EINVAL, fz.E.ERANGE))
            if not same:
                resync = True
                if len(mismatches) < 20:
                    svs.log("  %sMISMATCH " % tag + msg_text(kind, sent, kerr, ext, perr, why, flags, typ, body))
                mismatches.append(msg_text(kind, sent, kerr, ext, perr, why, flags, typ, body))
            if kerr and why not in NO_EXTACK_OK:
                if ext:
                    extacks[ext] += 1
                else:
                    no_extack.append("%s: %s (%s) without extack; body %s"
                                     % (kind, fmt_errno(kerr), why, body[:80].hex()))
        sent += n
        td = time.monotonic()
        got = nl.config()
        t_dump += time.monotonic() - td
        dumps += 1
        want = model.expected_dump()
        most_services = max(most_services, len(got))
        most_dests = max([most_dests] + [len(d) for _, d in got])
        if got != want:
            n_dump += 1
            if len(dump_mismatches) < 5:
                dump_mismatches.append("after message %d:\n    kernel %r\n    model  %r" % (sent, got, want))
            resync = True
        if resync:
            model.load(got)
            nl.resync_txn(model)
        now = time.monotonic()
        if now - last_log > 30:
            svs.log("  %s%d messages, %.0f/s, %d accepted, %d answer mismatches, %d dump mismatches"
                    % (tag, sent, sent / (now - t0), accepted, len(mismatches), len(dump_mismatches)))
            last_log = now
    nl.close()
    svs.log("  %sseconds spent: generating and predicting %.1f, sending and receiving %.1f, dumping %.1f"
            % (tag, t_model, t_kernel, t_dump))
    return dict(start_empty=(start_cfg == []), sent=sent, accepted=accepted, dumps=dumps,
                seconds=time.monotonic() - t0, kinds=kinds, answers=answers, reasons=reasons,
                extacks=extacks, mismatches=mismatches[:40], n_mismatches=len(mismatches),
                dump_mismatches=dump_mismatches, n_dump_mismatches=n_dump,
                no_extack=no_extack[:40], n_no_extack=len(no_extack), commits=model.commits,
                most_services=most_services, most_dests=most_dests)


def fuzz_in_child(total, batch_size, seed):
    """fuzz() in a forked child inside a new network namespace; returns a
    function that waits for it and returns its statistics."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        rc = 0
        try:
            svs.unshare_net()
            out = fuzz(total, batch_size, seed, "[netns] ")
        except BaseException as e:  # noqa: B902 - reported by the parent
            out, rc = {"error": "%s: %s" % (type(e).__name__, e)}, 1
        with os.fdopen(wfd, "w") as f:
            json.dump(out, f)
        os._exit(rc)
    os.close(wfd)

    def wait():
        with os.fdopen(rfd) as f:
            data = f.read()
        os.waitpid(pid, 0)
        out = json.loads(data) if data else {"error": "the child died without a report"}
        if "error" in out:
            raise svs.Fail("fuzzer in the second namespace: " + out["error"])
        for k in ("kinds", "answers", "reasons", "extacks"):
            out[k] = collections.Counter(out[k])
        return out
    return wait


def main():
    total = int(os.environ.get("SVS_FUZZ_MESSAGES", "100000"))
    batch_size = int(os.environ.get("SVS_FUZZ_BATCH", "200"))
    seed = int(os.environ.get("SVS_SEED", "6060"))
    svs.fresh_config()
    set_param("max_services", MAX_SERVICES)
    set_param("max_dests", MAX_DESTS)
    svs.defer(svs.flush)

    step("%d messages in batches of %d, half in the initial network namespace and half in a new one, "
         "in parallel (seeds %d, %d; max_services=%d, max_dests=%d)"
         % (total, batch_size, seed, seed + 1, MAX_SERVICES, MAX_DESTS))
    t0 = time.monotonic()
    child = fuzz_in_child(total - total // 2, batch_size, seed + 1)
    parts = [fuzz(total // 2, batch_size, seed, "")]
    parts.append(child())
    elapsed = time.monotonic() - t0
    st = {}
    for k in ("sent", "accepted", "dumps", "n_mismatches", "n_dump_mismatches", "n_no_extack", "commits"):
        st[k] = sum(p[k] for p in parts)
    for k in ("kinds", "answers", "reasons", "extacks"):
        st[k] = sum((p[k] for p in parts), collections.Counter())
    mismatches = [m for p in parts for m in p["mismatches"]]
    dump_mismatches = [m for p in parts for m in p["dump_mismatches"]]
    no_extack = [m for p in parts for m in p["no_extack"]]
    kinds, answers, reasons, extacks = st["kinds"], st["answers"], st["reasons"], st["extacks"]
    sent, accepted = st["sent"], st["accepted"]
    check(all(p["start_empty"] for p in parts), "both namespaces started with an empty configuration")

    svs.log("sent %d messages in %.1fs (%.0f/s), %d accepted, %d refused; %d dumps compared"
            % (sent, elapsed, sent / elapsed, accepted, sent - accepted, st["dumps"]))
    svs.log("largest configuration seen: %d services, %d real servers in one service"
            % (max(p["most_services"] for p in parts), max(p["most_dests"] for p in parts)))
    svs.log("kinds: " + ", ".join("%s %d" % kv for kv in sorted(kinds.items())))
    svs.log("answers: " + ", ".join("%s %d" % kv for kv in answers.most_common()))
    svs.log("model reasons: " + ", ".join("%s %d" % kv for kv in reasons.most_common()))
    svs.log("extended-ACK messages seen (%d distinct):" % len(extacks))
    for m, c in extacks.most_common():
        svs.log("  %6d  %s" % (c, m))
    svs.log("FUZZ-SUMMARY messages=%d accepted=%d refused=%d dumps=%d mismatches=%d dump_mismatches=%d "
            "missing_extack=%d seconds=%.0f"
            % (sent, accepted, sent - accepted, st["dumps"], st["n_mismatches"], st["n_dump_mismatches"],
               st["n_no_extack"], elapsed))
    check(sent >= total, "%d messages sent" % sent)
    check(answers["0"] > 0 and len(answers) > 5, "a mix of accepted and refused messages")
    check(reasons["max_services"] > 0 and reasons["max_dests"] > 0, "the ENOSPC limits were reached")
    check(st["commits"] > 0 and reasons["stale generation"] > 0 and reasons["service staged twice"] > 0,
          "transactions committed (%d), refused at a stale generation (%d), refused entries (%d)"
          % (st["commits"], reasons["stale generation"], reasons["service staged twice"]))
    if mismatches:
        raise svs.Fail("%d answers differ from the model:\n  %s"
                       % (st["n_mismatches"], "\n  ".join(mismatches)))
    check(True, "every answer matched the model")
    if dump_mismatches:
        raise svs.Fail("the dump differed from the model:\n  " + "\n  ".join(dump_mismatches))
    check(True, "every dump (%d) equalled the model" % st["dumps"])
    if no_extack:
        raise svs.Fail("%d refusals without an extended-ACK message:\n  %s"
                       % (st["n_no_extack"], "\n  ".join(no_extack[:20])))
    check(True, "every refused attribute or request carried an extended-ACK message")

    step("the module still works")
    svs.flush()
    svs.echo_server("tcp", "127.0.0.1", 9601)
    adm_ok("-A", "-t", svs.VIP4 + ":80", "-s", "rr")
    adm_ok("-a", "-t", svs.VIP4 + ":80", "-r", "127.0.0.1:9601")
    check_eq(svs.tcp_ident(svs.VIP4, 80), "127.0.0.1:9601", "connect through a fresh service")
    nl = fz.Batcher()
    check_eq(nl.cmd("GET_INFO").error, 0, "GET_INFO answered")
    nl.close()


svs.case(main)
