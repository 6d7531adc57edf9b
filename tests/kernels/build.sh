#!/bin/bash
# Build (or take from the cache) and install the debug kernels of the test matrix.
#
#   tests/kernels/build.sh [--print-release] NAME...
#
# NAME is a kernel source:
#   6.1, 6.12   Debian 12's linux-source-6.1 / linux-source-6.12 packages
#   unstable    the newest linux-source-* in Debian's unstable suite, read through a
#               private apt configuration (its own sources file, lists and cache
#               under the cache directory); the machine's apt setup is not touched
#
# Each kernel is configured as `make defconfig` + `make kvm_guest.config` +
# guest.config + debug.config (both beside this script), built once per machine and
# kept in the cache ($SVS_KERNEL_CACHE, default /var/cache/sock_vs/kernels) under a
# key made of the source package's version and a hash of the configuration inputs.
# An interrupted build resumes where it stopped.  The result is installed the
# ordinary way: /boot/vmlinuz-REL, /boot/config-REL, /boot/System.map-REL,
# /lib/modules/REL/ with its build link into the cached tree, REL ending in
# "-svsdebug", so that the module's Makefile, DKMS and tests/vm see it.
#
# --print-release: print REL for each NAME (from the cache; builds nothing), or
# nothing for a NAME not built yet.
# Environment: SVS_KERNEL_JOBS (default: number of CPUs).
# Prints one line per kernel: "kernel NAME REL (built in N s | cached)".
set -euo pipefail

me=tests/kernels/build.sh
die() { echo "$me: $*" >&2; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cache=${SVS_KERNEL_CACHE:-/var/cache/sock_vs/kernels}
jobs=${SVS_KERNEL_JOBS:-$(nproc)}
suffix=-svsdebug

print_only=0
if [ "${1:-}" = --print-release ]; then print_only=1; shift; fi
[ $# -gt 0 ] || die "usage: $me [--print-release] 6.1|6.12|unstable..."

# The packages a kernel build needs (Debian 12 has all of them).
build_deps=(build-essential bc bison flex libelf-dev libssl-dev kmod cpio xz-utils python3)

need_pkgs() {
    local p missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]} (run as root)"
    echo "$me: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
        die "cannot install ${missing[*]}"
}

# Private apt configuration for Debian's unstable suite, derived from the machine's
# own sources: the archive that serves this machine's release.
sid_apt() {
    local dir=$cache/apt-unstable codename uri
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
        awk -v c="$codename" '$2 == c { print $1; exit }')
    [ -n "$uri" ] || die "cannot find the archive of '$codename' in this machine's apt sources"
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/etc"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri sid main" > "$dir/etc/sources.list"
    sid_opts=(-o "Dir::Etc::sourcelist=$dir/etc/sources.list" -o "Dir::Etc::sourceparts=-"
        -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
        -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Get::List-Cleanup=0")
    # Refresh the lists at most once a day.
    if [ -z "$(find "$dir/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null)" ]; then
        apt-get "${sid_opts[@]}" update -qq >&2 || die "apt-get update of the unstable suite failed"
    fi
}

# Sets src_pkg, src_ver, src_tar for NAME (downloads or installs what it needs).
find_source() {
    case $1 in
    6.1 | 6.12)
        src_pkg=linux-source-$1
        [ "$print_only" = 1 ] || need_pkgs "$src_pkg"
        src_ver=$(dpkg-query -W -f='${Version}' "$src_pkg" 2>/dev/null) || return 1
        src_tar=/usr/src/$src_pkg.tar.xz
        ;;
    unstable)
        sid_apt
        src_pkg=$(apt-cache "${sid_opts[@]}" search --names-only '^linux-source-[0-9][0-9.]*$' |
            awk '{ print $1 }' | sort -V | tail -n 1)
        [ -n "$src_pkg" ] || die "no linux-source-* in the unstable suite"
        src_ver=$(apt-cache "${sid_opts[@]}" show "$src_pkg" | awk '$1 == "Version:" { print $2 }' |
            sort -V | tail -n 1)
        src_tar=$cache/debs/$src_pkg-$src_ver/usr/src/$src_pkg.tar.xz
        if [ "$print_only" = 0 ] && [ ! -s "$src_tar" ]; then
            local d=$cache/debs/$src_pkg-$src_ver
            rm -rf "$d" && mkdir -p "$d"
            (cd "$d" && apt-get "${sid_opts[@]}" download "$src_pkg=$src_ver" >&2) ||
                die "cannot download $src_pkg $src_ver"
            dpkg-deb -x "$d"/*.deb "$d" && rm -f "$d"/*.deb
            [ -s "$src_tar" ] || die "$src_pkg has no $src_tar"
        fi
        ;;
    *) die "unknown kernel source '$1' (6.1, 6.12 or unstable)" ;;
    esac
}

# The configuration inputs: a change to any of them is a new cache entry.
config_hash() {
    cat "$here/guest.config" "$here/debug.config" | sha256sum | cut -c1-12
}

# Fail unless every option guest.config/debug.config asks for came out as asked
# (an option that does not exist in this kernel version is reported, not fatal).
check_config() { # DIR
    local f line opt want got bad=0
    for f in "$here/guest.config" "$here/debug.config"; do
        while IFS= read -r line; do
            case $line in CONFIG_*=*) ;; *) continue ;; esac
            opt=${line%%=*} want=${line#*=}
            got=$(grep -E "^$opt=|^# $opt is not set" "$1/.config" | head -n 1)
            case $got in
            "$opt=$want") ;;
            "# $opt is not set") [ "$want" = n ] || { echo "$me: $opt is not set (wanted $want)" >&2; bad=1; } ;;
            "") [ "$want" = n ] || echo "$me: note: $opt does not exist in this kernel" >&2 ;;
            *) echo "$me: $got (wanted $want)" >&2; bad=1 ;;
            esac
        done < "$f"
    done
    return $bad
}

build_one() { # NAME
    local name=$1 key dir start rel t
    find_source "$name" || { [ "$print_only" = 1 ] && return 0; die "no source for $name"; }
    key=$name-$src_ver-$(config_hash)
    dir=$cache/$key
    if [ "$print_only" = 1 ]; then
        [ -f "$dir/installed" ] && cat "$dir/release"
        return 0
    fi
    if [ -f "$dir/built" ] && [ -f "$dir/release" ]; then
        rel=$(cat "$dir/release")
        install_one "$dir" "$rel"
        echo "kernel $name $rel (cached: $dir)"
        return 0
    fi
    need_pkgs "${build_deps[@]}"
    start=$(date +%s)
    mkdir -p "$dir"
    if [ ! -f "$dir/unpacked" ]; then
        echo "$me: unpacking $src_tar" >&2
        rm -rf "$dir/src" && mkdir -p "$dir/src"
        tar -xf "$src_tar" -C "$dir/src" --strip-components=1
        touch "$dir/unpacked"
    fi
    local k=(make -C "$dir/src" -s LOCALVERSION="$suffix")
    if [ ! -f "$dir/configured" ]; then
        "${k[@]}" defconfig >/dev/null
        "${k[@]}" kvm_guest.config >/dev/null
        (cd "$dir/src" && scripts/kconfig/merge_config.sh -m .config \
            "$here/guest.config" "$here/debug.config" >/dev/null)
        sed -i 's/^CONFIG_LOCALVERSION_AUTO=y/# CONFIG_LOCALVERSION_AUTO is not set/' "$dir/src/.config"
        "${k[@]}" olddefconfig >/dev/null
        check_config "$dir/src" || die "$name: the configuration is not what guest.config/debug.config ask for"
        cp "$dir/src/.config" "$dir/config"
        touch "$dir/configured"
    fi
    echo "$me: building $src_pkg $src_ver in $dir/src (make -j$jobs; log $dir/build.log)" >&2
    if ! "${k[@]}" -j"$jobs" bzImage modules > "$dir/build.log" 2>&1; then
        tail -n 30 "$dir/build.log" >&2
        die "$name: kernel build failed (log $dir/build.log)"
    fi
    rel=$("${k[@]}" kernelrelease)
    case $rel in *"$suffix") ;; *) die "$name: release '$rel' does not end in $suffix" ;; esac
    echo "$rel" > "$dir/release"
    t=$(($(date +%s) - start))
    echo "$t" > "$dir/build-seconds"
    touch "$dir/built"
    install_one "$dir" "$rel"
    echo "kernel $name $rel (built in $t s: $dir)"
}

# Install the cached kernel the way a packaged one is installed.
install_one() { # DIR REL
    local dir=$1 rel=$2
    if [ -f "$dir/installed" ] && [ -s "/boot/vmlinuz-$rel" ] &&
        [ "$(readlink -f "/lib/modules/$rel/build")" = "$(readlink -f "$dir/src")" ] &&
        cmp -s "$dir/src/arch/x86/boot/bzImage" "/boot/vmlinuz-$rel"; then
        return 0
    fi
    echo "$me: installing $rel" >&2
    rm -rf "/lib/modules/$rel"
    make -C "$dir/src" -s LOCALVERSION="$suffix" INSTALL_MOD_STRIP=1 modules_install >/dev/null
    ln -sfn "$dir/src" "/lib/modules/$rel/build"
    install -m 0644 "$dir/src/arch/x86/boot/bzImage" "/boot/vmlinuz-$rel"
    install -m 0644 "$dir/src/.config" "/boot/config-$rel"
    install -m 0644 "$dir/src/System.map" "/boot/System.map-$rel"
    depmod "$rel"
    touch "$dir/installed"
}

for n in "$@"; do build_one "$n"; done
