#!/bin/bash
# Host checks of what `make install` delivers (issue 6, "Installing on a real
# host"): the installed file list and uninstall, install-module, the DKMS
# source tree built by dkms(8) for every kernel with headers, the systemd unit
# (systemd-analyze verify) and the man page (man --warnings, and every option
# of sockvsadm's parser documented).  Prints one "PASS: ..." / "FAIL: ..." /
# "SKIP: ..." line per check (tests/run-all.sh counts them); exits 1 if any
# failed.
#
#   tests/install-test.sh [KVER...]     kernels for dkms (default: every one
#                                       with /lib/modules/KVER/build)
#
# Needs `make` (userspace and kmod) to have run.  Everything happens in a
# scratch directory that is removed at the end, whatever happens: dkms runs
# on a private tree (--dkmstree/--sourcetree/--installtree, --no-depmod, its
# own signing key), so /var/lib/dkms, /usr/src and /lib/modules are never
# touched (checked).  Re-runnable.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
nfail=0

pass() { echo "PASS: install: $*"; }
fail() { echo "FAIL: install: $*"; nfail=$((nfail + 1)); }
skip() { echo "SKIP: install: $*"; }
note() { sed 's/^/    /'; }

if [ $# -gt 0 ]; then
	kvers=("$@")
else
	mapfile -t kvers < <(tests/kernels/list.sh --test)
fi

version=$(sed -n 's/^#define[[:space:]]*SOCK_VS_VERSION[[:space:]]*"\([^"]*\)".*/\1/p' \
	kmod/include/uapi/linux/sock_vs.h)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/svs-install-test.XXXXXX") || exit 1
cleanup() { rm -rf "$scratch"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

# The system's DKMS state and module trees, to check they were left alone.
system_state() {
	{
		find /var/lib/dkms /usr/src -maxdepth 2 2>/dev/null
		find /lib/modules -maxdepth 3 -path '*/updates*' 2>/dev/null
		find /lib/modules -maxdepth 2 -name modules.dep -printf '%p %T@\n' 2>/dev/null
	} | sort
}
system_state > "$scratch/state.before"

# Files make install puts under DESTDIR with PREFIX=$1 (sorted).
expected_files() {
	local p=$1 src=/usr/src/sock_vs-$version f
	{
		echo "$p/sbin/sockvsadm"
		echo "$p/share/man/man8/sockvsadm.8"
		echo "$p/lib/systemd/system/sock_vs.service"
		echo "$p/share/doc/sock_vs/sock_vs.rules.example"
		for f in kmod/*.c kmod/*.h; do
			case $f in *.mod.c) continue ;; esac
			echo "$src/${f#kmod/}"
		done
		echo "$src/Kbuild"
		echo "$src/Makefile"
		echo "$src/dkms.conf"
		echo "$src/include/uapi/linux/sock_vs.h"
	} | LC_ALL=C sort
}
files_under() { (cd "$1" && find . -type f -o -type l) | sed 's|^\.||' | LC_ALL=C sort; }

# --- dkms.conf agrees with the uapi header
conf_version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' kmod/dkms.conf)
if [ -n "$version" ] && [ "$conf_version" = "$version" ]; then
	pass "kmod/dkms.conf PACKAGE_VERSION = SOCK_VS_VERSION ($version)"
else
	fail "kmod/dkms.conf PACKAGE_VERSION ($conf_version) != SOCK_VS_VERSION ($version)"
fi

# --- make install / uninstall into a DESTDIR, for two prefixes
for prefix in /usr/local /usr; do
	d=$scratch/destdir$(echo "$prefix" | tr / _)
	if ! make -s install DESTDIR="$d" PREFIX="$prefix" > "$scratch/out" 2>&1; then
		fail "make install DESTDIR=... PREFIX=$prefix failed"; note < "$scratch/out"
		continue
	fi
	if diff <(expected_files "$prefix") <(files_under "$d") > "$scratch/diff"; then
		pass "make install DESTDIR=... PREFIX=$prefix installs exactly the $(expected_files "$prefix" | wc -l) expected files"
	else
		fail "make install DESTDIR=... PREFIX=$prefix: file list differs (< expected, > installed)"
		note < "$scratch/diff"
	fi
	unit=$d$prefix/lib/systemd/system/sock_vs.service
	if [ -f "$unit" ] && ! grep -q '@[A-Z_]*@' "$unit" &&
		grep -q "^ExecStop=$prefix/sbin/sockvsadm -C\$" "$unit" &&
		cmp -s "$d$prefix/sbin/sockvsadm" build/userspace/sockvsadm &&
		"$d$prefix/sbin/sockvsadm" -h > /dev/null &&
		cmp -s "$d$prefix/share/man/man8/sockvsadm.8" doc/sockvsadm.8 &&
		[ "$(stat -c %a "$d$prefix/sbin/sockvsadm")" = 755 ] &&
		[ "$(stat -c %a "$unit")" = 644 ]; then
		pass "PREFIX=$prefix: unit names $prefix/sbin/sockvsadm, no @...@ left; binary and man page are the built ones (modes 755, 644)"
	else
		fail "PREFIX=$prefix: installed unit, binary or man page wrong"
		[ -f "$unit" ] && note < "$unit"
	fi
	if make -s install DESTDIR="$d" PREFIX="$prefix" > "$scratch/out" 2>&1 &&
		diff <(expected_files "$prefix") <(files_under "$d") > /dev/null; then
		pass "PREFIX=$prefix: make install again over the installed tree gives the same files"
	else
		fail "PREFIX=$prefix: second make install failed or changed the file list"; note < "$scratch/out"
	fi
	if make -s uninstall DESTDIR="$d" PREFIX="$prefix" > "$scratch/out" 2>&1 &&
		[ -z "$(files_under "$d")" ]; then
		pass "make uninstall DESTDIR=... PREFIX=$prefix leaves no file"
	else
		fail "make uninstall DESTDIR=... PREFIX=$prefix left files:"
		{ cat "$scratch/out"; files_under "$d"; } | note
	fi
done

# --- make install-module (the route without DKMS)
d=$scratch/destdir-module
built=()
for k in "${kvers[@]}"; do [ -f "build/kmod/$k/sock_vs.ko" ] && built+=("$k"); done
if [ ${#built[@]} -eq 0 ]; then
	fail "install-module: no build/kmod/KVER/sock_vs.ko (run make)"
elif make -s install-module DESTDIR="$d" KVERS="${built[*]}" > "$scratch/out" 2>&1 &&
	diff <(for k in "${built[@]}"; do echo "/lib/modules/$k/updates/sock_vs.ko"; done | LC_ALL=C sort) \
		<(files_under "$d") > "$scratch/diff" &&
	make -s uninstall DESTDIR="$d" > "$scratch/out2" 2>&1 && [ -z "$(files_under "$d")" ]; then
	pass "make install-module DESTDIR=... puts sock_vs.ko in /lib/modules/KVER/updates for ${built[*]}; uninstall removes it"
else
	fail "make install-module / uninstall"; cat "$scratch/out" "$scratch/diff" "$scratch/out2" 2>/dev/null | note
fi

# --- the systemd unit
d=$scratch/destdir-unit
make -s install DESTDIR="$d" > /dev/null 2>&1
unit=$d/usr/local/lib/systemd/system/sock_vs.service
if ! command -v systemd-analyze > /dev/null; then
	skip "systemd-analyze verify (systemd-analyze not installed)"
elif [ ! -f "$unit" ]; then
	fail "systemd-analyze verify: make install did not install the unit"
# MANPATH: verify checks that Documentation=man:sockvsadm(8) exists.
elif MANPATH=$d/usr/local/share/man systemd-analyze verify "$unit" > "$scratch/out" 2>&1 &&
	! [ -s "$scratch/out" ]; then
	pass "systemd-analyze verify sock_vs.service: no complaint"
else
	fail "systemd-analyze verify sock_vs.service:"; note < "$scratch/out"
fi
# Type, RemainAfterExit, and the four commands, as the issue asks.
if [ -f "$unit" ] && grep -qx 'Type=oneshot' "$unit" && grep -qx 'RemainAfterExit=yes' "$unit" &&
	grep -q '^ExecStart=.*modprobe sock_vs' "$unit" &&
	grep -q '^ExecStart=.*sockvsadm -R --replace < /etc/sock_vs.rules' "$unit" &&
	grep -q '^ExecStop=.*sockvsadm -S -n.*mv -f "\$\$tmp" /etc/sock_vs.rules' "$unit"; then
	pass "sock_vs.service: oneshot, RemainAfterExit, modprobe + -R --replace at start, -S -n through a renamed temp file at stop"
else
	fail "sock_vs.service lacks oneshot/RemainAfterExit/modprobe/-R/-S lines"
fi

# --- the man page
if ! command -v man > /dev/null; then
	fail "man --warnings: man not installed (man-db)"
elif man --warnings -l doc/sockvsadm.8 > "$scratch/man.txt" 2> "$scratch/man.err" &&
	! [ -s "$scratch/man.err" ] && [ -s "$scratch/man.txt" ]; then
	pass "man --warnings -l doc/sockvsadm.8: no warning"
else
	fail "man --warnings -l doc/sockvsadm.8:"; note < "$scratch/man.err"
fi
# Every option the parser accepts (its table in cli.cc) is in the rendered page.
MANWIDTH=200 man -l doc/sockvsadm.8 2> /dev/null | col -b > "$scratch/man.txt"
mapfile -t opts < <(python3 - userspace/sockvsadm/cli.cc <<'EOF'
import re, sys
src = open(sys.argv[1]).read()
for short, long in re.findall(r"OptSpec\{\s*'(\\0|.)',\s*\"([^\"]*)\"", src):
    if short != "\\0":
        print("-" + short)
    if long:
        print("--" + long)
EOF
)
missing=()
for o in "${opts[@]}"; do
	# As a word: "-c" must not match inside "--connection" or "-cx".
	grep -qE -- "(^|[^-[:alnum:]])$o([^-[:alnum:]]|$)" "$scratch/man.txt" || missing+=("$o")
done
if [ ${#opts[@]} -lt 20 ]; then
	fail "man page options: only ${#opts[@]} options read from cli.cc (parser table changed?)"
elif [ ${#missing[@]} -eq 0 ]; then
	pass "man page documents all ${#opts[@]} options of cli.cc's parser"
else
	fail "man page does not document: ${missing[*]}"
fi

# --- DKMS: add the staged /usr/src tree, build for each kernel, remove
if ! command -v dkms > /dev/null; then
	fail "dkms not installed (apt-get install dkms)"
else
	stage=$scratch/stage
	dk=$scratch/dkms
	make -s install-files DESTDIR="$stage" > "$scratch/out" 2>&1 || { fail "staging the source tree"; note < "$scratch/out"; }
	mkdir -p "$dk/tree" "$dk/install" "$dk/keys"
	# Its own signing key (dkms generates one in /var/lib/dkms otherwise).
	export mok_signing_key=$dk/keys/mok.key mok_certificate=$dk/keys/mok.pub
	dflags=(--dkmstree "$dk/tree" --sourcetree "$stage/usr/src" --installtree "$dk/install" --no-depmod)
	if dkms add "${dflags[@]}" -m sock_vs -v "$version" > "$scratch/out" 2>&1 &&
		dkms status "${dflags[@]}" -m sock_vs -v "$version" | grep -q "sock_vs/$version: added"; then
		pass "dkms add sock_vs/$version from the staged /usr/src/sock_vs-$version"
	else
		fail "dkms add sock_vs/$version"; note < "$scratch/out"
	fi
	for k in "${kvers[@]}"; do
		if ! dkms build "${dflags[@]}" -m sock_vs -v "$version" -k "$k" > "$scratch/out" 2>&1; then
			fail "dkms build -k $k"; note < "$scratch/out"
			cat "$dk/tree/sock_vs/$version/build/make.log" 2>/dev/null | tail -n 30 | note
			continue
		fi
		ko=$(find "$dk/tree/sock_vs/$version/$k" -name 'sock_vs.ko*' 2>/dev/null | head -n 1)
		v=$( [ -n "$ko" ] && modinfo -F version "$ko")
		l=$( [ -n "$ko" ] && modinfo -F license "$ko")
		vm=$( [ -n "$ko" ] && modinfo -F vermagic "$ko")
		if [ -n "$ko" ] && [ "$v" = "$version" ] && [ "$l" = GPL ] && [[ $vm == "$k "* ]]; then
			pass "dkms build -k $k: ${ko##*/} (version $v, license $l, vermagic $k)"
		else
			fail "dkms build -k $k: module '${ko:-none}' version '$v' license '$l' vermagic '$vm'"
		fi
	done
	# dkms install to the private install tree: DEST_MODULE_LOCATION.
	k=${kvers[0]:-}
	mkdir -p "$dk/install/$k"  # dkms installs only onto a kernel that has a tree
	if [ -n "$k" ] && dkms install "${dflags[@]}" -m sock_vs -v "$version" -k "$k" > "$scratch/out" 2>&1 &&
		ls "$dk/install/$k/updates/dkms/"sock_vs.ko* > /dev/null 2>&1; then
		pass "dkms install -k $k puts the module in /lib/modules/$k/updates/dkms (private install tree)"
	else
		fail "dkms install -k ${k:-?}"; note < "$scratch/out"
	fi
	if dkms remove "${dflags[@]}" -m sock_vs -v "$version" --all > "$scratch/out" 2>&1 &&
		[ -z "$(dkms status "${dflags[@]}" -m sock_vs)" ] &&
		[ -z "$(find "$dk/install" -name 'sock_vs.ko*')" ]; then
		pass "dkms remove --all: nothing registered or installed is left"
	else
		fail "dkms remove --all"; { cat "$scratch/out"; dkms status "${dflags[@]}"; } | note
	fi

	# The same through `make install` without DESTDIR (the real host's path),
	# every location pointed at the scratch directory.
	p=$scratch/host
	mk=(PREFIX="$p/usr/local" dkmssrcdir="$p/usr/src" DKMS_KVERS="$k"
		DKMS_FLAGS="--dkmstree $p/dkms --sourcetree $p/usr/src --installtree $p/modules --no-depmod")
	mkdir -p "$p/dkms" "$p/modules/$k"
	if [ -n "$k" ] && make -s install "${mk[@]}" > "$scratch/out" 2>&1 &&
		ls "$p/modules/$k/updates/dkms/"sock_vs.ko* > /dev/null 2>&1 &&
		[ -x "$p/usr/local/sbin/sockvsadm" ]; then
		pass "make install (no DESTDIR, DKMS=auto): dkms add + dkms install -k $k"
	else
		fail "make install (no DESTDIR, DKMS=auto)"; note < "$scratch/out"
	fi
	if make -s uninstall "${mk[@]}" > "$scratch/out" 2>&1 &&
		[ -z "$(find "$p/modules" "$p/usr" -type f)" ] &&
		[ -z "$(dkms status --dkmstree "$p/dkms" -m sock_vs)" ]; then
		pass "make uninstall (no DESTDIR): dkms remove, no file left"
	else
		fail "make uninstall (no DESTDIR)"; { cat "$scratch/out"; find "$p" -type f; } | note
	fi
	unset mok_signing_key mok_certificate
fi

system_state > "$scratch/state.after"
if diff "$scratch/state.before" "$scratch/state.after" > "$scratch/diff"; then
	pass "/var/lib/dkms, /usr/src and /lib/modules/*/updates untouched"
else
	fail "the tests changed system state:"; note < "$scratch/diff"
fi

[ "$nfail" -eq 0 ]
