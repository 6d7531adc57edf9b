#!/bin/bash
# Build the Debian packages (debian/) in a copy of the tree: `make deb`.
#
#   packaging/deb.sh [-o OUTDIR] [-s SUFFIX] [-r REV] [--no-lintian]
#
#   -o OUTDIR     where the .debs, .changes, .buildinfo and lintian.txt go
#                 (default build/deb); the copy is built in OUTDIR/src/
#   -s SUFFIX     package version SOCK_VS_VERSION+SUFFIX (a rebuild that
#                 upgrades the last one; make deb DEB_SUFFIX=...)
#   -r REV        package commit REV (git archive) instead of the working
#                 tree (make deb DEB_REV=HEAD): what others are editing in
#                 this checkout stays out
#   --no-lintian  skip lintian
#
# The package version is SOCK_VS_VERSION (kmod/include/uapi/linux/sock_vs.h):
# when debian/changelog's top entry has another version, the copy gets a new
# top entry with it.  The copy is what `git ls-files` knows of debian/, kmod/,
# userspace/, doc/, packaging/, tests/unit/ and bench/*.cc (tracked or new, as they are
# in the working tree), so build outputs and other scratch never reach the
# packages.  dpkg-buildpackage -us -uc -b builds them (DEB_BUILD_OPTIONS
# passes through: nocheck skips the unit tests).  Then lintian on the
# .changes: any E: or W: line fails the build (overrides, with reasons, are
# in debian/*.lintian-overrides).  Exit status 0 if both passed.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"
out=build/deb suffix='' lintian=1 rev=''
while [ $# -gt 0 ]; do
	case $1 in
	-o) out=$2; shift 2 ;;
	-s) suffix=$2; shift 2 ;;
	-r) rev=$2; shift 2 ;;
	--no-lintian) lintian=0; shift ;;
	*) echo "usage: deb.sh [-o OUTDIR] [-s SUFFIX] [-r REV] [--no-lintian]" >&2; exit 2 ;;
	esac
done
case $out in /*) ;; *) out=$repo/$out ;; esac
[[ -z $suffix || $suffix =~ ^[A-Za-z0-9.~]+$ ]] || { echo "deb.sh: bad suffix '$suffix'" >&2; exit 2; }

# bench/*.cc: the unit-test build compiles bench programs (healthd_scale)
paths=(debian kmod userspace doc packaging tests/unit 'bench/*.cc' LICENSE README.md)
if [ -n "$rev" ]; then
	git rev-parse -q --verify "$rev^{commit}" >/dev/null || { echo "deb.sh: no commit $rev" >&2; exit 2; }
	uapi() { git show "$rev:kmod/include/uapi/linux/sock_vs.h"; }
	changelog() { git show "$rev:debian/changelog"; }
else
	uapi() { cat kmod/include/uapi/linux/sock_vs.h; }
	changelog() { cat debian/changelog; }
fi
version=$(uapi | sed -n 's/^#define[[:space:]]*SOCK_VS_VERSION[[:space:]]*"\([^"]*\)".*/\1/p')
[ -n "$version" ] || { echo "deb.sh: no SOCK_VS_VERSION in kmod/include/uapi/linux/sock_vs.h" >&2; exit 1; }
debver=$version${suffix:++$suffix}

src=$out/src/sock-vs-$debver
rm -rf "$out/src"
mkdir -p "$src"
if [ -n "$rev" ]; then
	git archive --format=tar "$rev" -- "${paths[@]}" | tar -x -C "$src"
else
	git ls-files -z -c -o --exclude-standard -- "${paths[@]}" |
		while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
		cpio -0 -pdm --quiet "$src"
fi

changelog > "$out/changelog.orig"
top=$(dpkg-parsechangelog -l "$out/changelog.orig" -S Version)
if [ "$top" != "$debver" ]; then
	{
		printf 'sock-vs (%s) unstable; urgency=medium\n\n' "$debver"
		if [ -n "$suffix" ]; then
			printf '  * Rebuild of %s (make deb DEB_SUFFIX=%s).\n\n' "$version" "$suffix"
		else
			printf '  * SOCK_VS_VERSION %s.\n\n' "$version"
		fi
		printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l "$out/changelog.orig" -S Maintainer)" \
			"$(date -R -u ${SOURCE_DATE_EPOCH:+-d @$SOURCE_DATE_EPOCH})"
		cat "$out/changelog.orig"
	} > "$src/debian/changelog"
fi

rm -f "$out/changelog.orig"
echo "deb.sh: building sock-vs $debver${rev:+ (commit $(git rev-parse --short "$rev"))} in $src"
start=$(date +%s)
(cd "$src" && dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "deb.sh: dpkg-buildpackage failed; whole log in $out/build.log" >&2
	exit 1
}
echo "deb.sh: dpkg-buildpackage took $(($(date +%s) - start)) s (log: $out/build.log)"
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo "$out"/lintian.txt
changes=sock-vs_${debver}_$(dpkg --print-architecture).changes
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
ls -l "$out"/*.deb

if [ "$lintian" = 1 ]; then
	start=$(date +%s)
	lintian --info --display-info --pedantic --color never "$out/$changes" > "$out/lintian.txt" 2>&1 || true
	echo "deb.sh: lintian took $(($(date +%s) - start)) s ($out/lintian.txt)"
	if grep -E '^[EW]: ' "$out/lintian.txt"; then
		echo "deb.sh: lintian reported errors or warnings (above)" >&2
		exit 1
	fi
	n=$(grep -cE '^[IPX]: ' "$out/lintian.txt" || true)
	echo "deb.sh: lintian: no errors or warnings; info, pedantic and experimental tags: $n"
fi
