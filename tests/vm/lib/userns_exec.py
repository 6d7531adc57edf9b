#!/usr/bin/env python3
"""Run a command as root of a new user namespace, from inside the test
guest (which runs the host root under chroot, where unshare(CLONE_NEWUSER)
fails with EPERM: the kernel refuses user namespaces to chrooted tasks).

    userns_exec.py [--net] [--raw-probe VIP:PORT] [--] CMD [ARG...]

In a new mount namespace (private, so nothing leaks to the test's), this
process leaves the chroot for the real root of that namespace (the
initramfs), creates the user namespace there (uid and gid 0 mapped to 0),
chroots back into the guest's root (/newroot of the initramfs), and, with
--net, creates a network namespace owned by the new user namespace (lo up).
Then it execs CMD.

--raw-probe VIP:PORT: before creating the user namespace, open a generic
netlink socket (so it belongs to the caller's network namespace and was
opened with the caller's privileges); as root of the user namespace, send
NEW_SERVICE for VIP:PORT (TCP) on it and print "RAW <errno name or 0>".
"""

import ctypes
import os
import sys

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
GUEST_ROOT = "/newroot"     # where tests/vm/initramfs/init mounts the overlay

libc = ctypes.CDLL(None, use_errno=True)


def check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def main():
    args = sys.argv[1:]
    net = raw = None
    while args and args[0].startswith("--"):
        a = args.pop(0)
        if a == "--net":
            net = True
        elif a == "--raw-probe":
            raw = args.pop(0)
        elif a == "--":
            break
        else:
            sys.exit("userns_exec.py: unknown option " + a)
    nl = None
    if raw:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import svs_genl as g
        nl = g.Genl()

    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    # Leave the chroot: chroot into a subdirectory while the working
    # directory stays outside it, then walk up to the real root.
    home = os.getcwd()
    d = "/tmp/.userns-exec-%d" % os.getpid()
    os.makedirs(d, exist_ok=True)
    os.chdir("/")
    os.chroot(d)
    for _ in range(64):
        os.chdir("..")
    os.chroot(".")
    if not os.path.isdir(GUEST_ROOT + "/usr"):
        sys.exit("userns_exec.py: no %s after leaving the chroot (not the test guest?)" % GUEST_ROOT)
    check(libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    write("/proc/self/setgroups", "deny")
    write("/proc/self/uid_map", "0 0 1")
    write("/proc/self/gid_map", "0 0 1")
    os.chroot(GUEST_ROOT)
    os.chdir(home)
    os.rmdir(d)
    if net:
        check(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        os.system("ip link set lo up")
    if raw:
        import errno
        import svs_genl as g
        host, port = raw.rsplit(":", 1)
        r = nl.cmd("NEW_SERVICE", g.nest(g.ATTR["SERVICE"], *g.svc_attrs(host, int(port), sched="rr")))
        print("RAW %s" % (errno.errorcode.get(-r.error, r.error) if r.error else 0), flush=True)
        nl.close()
    if args:
        os.execvp(args[0], args)


if __name__ == "__main__":
    main()
