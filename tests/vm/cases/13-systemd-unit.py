#!/usr/bin/env python3
# svs-timeout: 900
"""sock_vs.service, as `make install` installs it, run the way systemd
would run it: `make install` into the guest's (throwaway) root, then the
unit's ExecStart / ExecReload / ExecStop command lines, read from the
installed unit and run one after the other in a clean environment, stopping
at the first failure as systemd does.

The one thing changed is where modprobe looks: a full `depmod` of the guest
kernel's modules over 9p takes minutes under TCG, so the module goes into a
small tree of its own (`make install-module DESTDIR=...`, `depmod -b`), and
the unit's commands run with MODPROBE_OPTIONS="-d <that tree>" (modprobe's
own environment variable); the command lines are untouched.

Checks: start loads the module with modprobe (from .../lib/modules/KVER/updates)
and restores /etc/sock_vs.rules; start again while loaded changes nothing;
stop saves the table to /etc/sock_vs.rules (mode 644, no temporary file left)
and clears it; start after stop gives the saved table back; reload follows an
edited rules file; a stop whose save fails (module gone) keeps the old rules
file byte for byte; start without a rules file leaves an
empty table; a start or reload with a rules file that is malformed or that
the module rejects fails, names the line and leaves the table as it was.
"""

import os
import re
import shlex
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import svs  # noqa: E402
from svs import Fail, adm_ok, check, check_eq, check_text_eq, log, run_ok, step  # noqa: E402

PREFIX = "/usr/local"
UNIT = PREFIX + "/lib/systemd/system/sock_vs.service"
SOCKVSADM = PREFIX + "/sbin/sockvsadm"
EXAMPLE = PREFIX + "/share/doc/sock_vs/sock_vs.rules.example"
RULES = "/etc/sock_vs.rules"
MODROOT = os.path.join(os.environ.get("SVS_CASE_TMP") or "/tmp/svs-13", "modroot")
INSTALLED_KO = MODROOT + "/lib/modules/%s/updates/sock_vs.ko" % svs.KVER
# The environment systemd gives a service (no Environment= in the unit).
UNIT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C",
            "MODPROBE_OPTIONS": "-d " + MODROOT}


def systemd_unescape(value):
    """A command line as systemd passes it on: '$$' is '$' and '%%' is '%'.
    Anything else after '$' or '%' would be substituted by systemd (an
    environment variable or a specifier), which the unit must not rely on."""
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c in "$%":
            if value[i + 1:i + 2] == c:
                out.append(c)
                i += 2
                continue
            raise Fail("unit command has an unescaped %r (systemd would substitute it): %s"
                       % (value[i:i + 2], value))
        out.append(c)
        i += 1
    return "".join(out)


def read_unit(path):
    """{key: [argv, ...]} for the Exec* lines of the [Service] section."""
    cmds = {}
    section = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            key, _, value = line.partition("=")
            if section == "[Service]" and key.startswith("Exec"):
                value = value.lstrip("-@:+!")   # prefixes: none expected, but harmless
                cmds.setdefault(key, []).append(shlex.split(systemd_unescape(value)))
    return cmds


def run_unit(cmds, key):
    """Run the unit's `key` commands in order, as systemd does: stop at the
    first one that fails.  Returns (exit status of the last command run,
    combined output)."""
    output = []
    for argv in cmds[key]:
        log("  %s: %s" % (key, shlex.join(argv)))
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           env=UNIT_ENV, cwd="/", timeout=300)
        output.append(r.stdout + r.stderr)
        if r.stdout or r.stderr:
            log("    " + (r.stdout + r.stderr).strip().replace("\n", "\n    "))
        if r.returncode != 0:
            return r.returncode, "".join(output)
    return 0, "".join(output)


def table():
    return run_ok([SOCKVSADM, "-S", "-n"])


def leftovers():
    return sorted(f for f in os.listdir("/etc") if f.startswith("sock_vs.rules."))


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def make(*targets):
    run_ok(["make", "-s", "-C", svs.REPO] + list(targets), timeout=600)


def ensure_module():
    """Leave the module loaded for the cases after this one."""
    if not svs.module_loaded():
        run_ok(["insmod", os.environ.get("SVS_KO") or svs.KO_PATH])


def rm_rules():
    for f in [RULES] + ["/etc/" + f for f in leftovers()]:
        if os.path.exists(f):
            os.unlink(f)


def main():
    step("make install into the guest's root (an overlay that vanishes)")
    if os.path.exists(RULES):
        raise Fail(RULES + " exists before the case: a stale file would be restored")
    # Cleanups run last first: module back, table cleared, rules file gone,
    # then everything uninstalled.
    svs.defer(make, "uninstall", "DKMS=no")
    svs.defer(rm_rules)
    svs.fresh_config()
    svs.defer(ensure_module)
    make("install", "DKMS=no")
    make("install-module", "DESTDIR=" + MODROOT, "KVERS=" + svs.KVER)
    run_ok(["depmod", "-b", MODROOT, svs.KVER])
    check(os.path.isfile(UNIT) and os.access(SOCKVSADM, os.X_OK) and os.path.isfile(INSTALLED_KO),
          "unit, sockvsadm and the module are installed")
    cmds = read_unit(UNIT)
    for key in ("ExecStart", "ExecStop", "ExecReload"):
        check(cmds.get(key), "the unit has %s lines (%d)" % (key, len(cmds.get(key, []))))

    step("reference: the example rules file restored by hand")
    example = read(EXAMPLE)
    adm_ok("-R", input=example)
    ref = table()
    svs.flush()
    kinds = [line.split()[0] for line in ref.splitlines()]
    check_eq((kinds.count("-A"), kinds.count("-a")), (3, 7),
             "the example has 3 services and 7 real servers")

    step("start with the module unloaded: modprobe loads it, the rules are restored")
    svs.rmmod()
    check(not svs.module_loaded(), "sock_vs unloaded")
    write(RULES, example)
    rc, out = run_unit(cmds, "ExecStart")
    check_eq(rc, 0, "ExecStart exit status")
    check(svs.module_loaded(), "sock_vs loaded by the unit")
    modfile = run_ok(["modinfo", "-b", MODROOT, "-n", "sock_vs"]).strip()
    check_eq(modfile, INSTALLED_KO, "modprobe's module is the one make install-module installed")
    check_eq(read("/sys/module/sock_vs/srcversion").strip(),
             run_ok(["modinfo", "-F", "srcversion", INSTALLED_KO]).strip(),
             "the loaded module is the installed one (srcversion)")
    check_text_eq(table(), ref, "table after start = the rules file")

    step("start again while loaded (modprobe step is a no-op; flush + restore)")
    rc, out = run_unit(cmds, "ExecStart")
    check_eq(rc, 0, "second ExecStart exit status")
    check_text_eq(table(), ref, "table after a second start = the rules file")

    step("stop saves the changed table and clears it")
    adm_ok("-A", "-t", "10.255.13.1:80", "-s", "rr")
    adm_ok("-a", "-t", "10.255.13.1:80", "-r", "127.0.0.13:8080", "-w", "3")
    changed = table()
    check("-A -t 10.255.13.1:80 -s rr" in changed, "the new service is in the table")
    rc, out = run_unit(cmds, "ExecStop")
    check_eq(rc, 0, "ExecStop exit status")
    saved = read(RULES)
    check_text_eq("".join(l + "\n" for l in saved.splitlines() if not l.startswith("#")),
                  changed, "rules file = the table at stop (comments aside)")
    check(saved.startswith("#"), "rules file starts with a comment line")
    check_eq(stat.S_IMODE(os.stat(RULES).st_mode), 0o644, "rules file mode")
    check_eq(leftovers(), [], "no temporary rules file left in /etc")
    check_eq(table(), "", "table empty after stop")

    step("start after stop gives the saved table back")
    rc, out = run_unit(cmds, "ExecStart")
    check_eq(rc, 0, "ExecStart exit status")
    check_text_eq(table(), changed, "table after restart = the table before stop")

    step("reload follows an edited rules file")
    write(RULES, "# edited by hand\n" + ref)
    rc, out = run_unit(cmds, "ExecReload")
    check_eq(rc, 0, "ExecReload exit status")
    check_text_eq(table(), ref, "table after reload = the edited file")

    step("a stop whose save fails keeps the old rules file")
    before = read(RULES)
    svs.rmmod()
    rc, out = run_unit(cmds, "ExecStop")
    check(rc != 0, "ExecStop fails without the module (exit %d)" % rc)
    check_text_eq(read(RULES), before, "rules file unchanged byte for byte")
    check_eq(leftovers(), [], "no temporary rules file left in /etc")
    check(re.search(r"not loaded|sock_vs", out) is not None, "the failure says why", out)

    step("start without a rules file: module loaded, table empty")
    os.unlink(RULES)
    rc, out = run_unit(cmds, "ExecStart")
    check_eq(rc, 0, "ExecStart exit status without " + RULES)
    check(svs.module_loaded(), "sock_vs loaded again by the unit")
    check_eq(table(), "", "table empty")

    step("start with a malformed rules file fails, names the line, keeps the table")
    adm_ok("-R", input=ref)
    write(RULES, ref + "-A -t 10.255.13.2:80 --no-such-option\n")
    rc, out = run_unit(cmds, "ExecStart")
    bad_line = len(ref.splitlines()) + 1
    check(rc != 0, "ExecStart fails (exit %d)" % rc)
    check("line %d:" % bad_line in out, "the error names line %d of the file" % bad_line, out)
    check_text_eq(table(), ref, "table as it was before the start")

    step("reload with a file the module rejects fails and keeps the table")
    adm_ok("-A", "-t", "10.255.13.1:80", "-s", "rr")
    before = table()
    write(RULES, "-A -t 10.255.13.3:80 -s rr\n-A -t 10.255.13.4:80 -s nosuchsched\n")
    rc, out = run_unit(cmds, "ExecReload")
    check(rc != 0, "ExecReload fails (exit %d)" % rc)
    check("line 2:" in out, "the error names line 2", out)
    check_text_eq(table(), before, "table as it was before the reload")

    step("reload is one transaction: a service the file keeps keeps its counters")
    # With "sockvsadm -C; sockvsadm -R" the service was deleted and made
    # again: its Conns went back to 0 and connects meanwhile found no table.
    svs.echo_server("tcp", "127.0.0.1", 9131, ident="s13")
    keep = "-A -t 10.255.13.5:80 -s rr\n-a -t 10.255.13.5:80 -r 127.0.0.1:9131\n"
    write(RULES, keep)
    rc, out = run_unit(cmds, "ExecReload")
    check_eq(rc, 0, "ExecReload exit status")
    check_eq(svs.tcp_ident("10.255.13.5", 80), "s13", "a connect through the virtual service")
    line = svs.stats_service_line("TCP", "10.255.13.5:80", 1, 0, 0)
    check(line in svs.stats().text, "Conns 1 before the reload", svs.stats().text)
    write(RULES, keep + "-A -t 10.255.13.6:80 -s rr\n")
    rc, out = run_unit(cmds, "ExecReload")
    check_eq(rc, 0, "ExecReload exit status")
    check(line in svs.stats().text, "Conns still 1 after the reload", svs.stats().text)
    check("10.255.13.6:80" in table(), "the new service is there", table())
    check(any("-R --replace" in " ".join(argv) for argv in cmds["ExecReload"]),
          "the unit reloads with -R --replace")

svs.case(main)
