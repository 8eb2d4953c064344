#!/usr/bin/env bash
# Builds the "device kit": Docker without installing Docker, for a GPU host that has no
# network and no Docker (see scripts/device-containers.sh, which runs there).
#
#   scripts/device-kit.sh [OUTPUT]     (default .device/docker-kit.tar.xz; run on Debian 12 as root)
#
# The kit is one xz tarball holding docker-kit/:
#   bin/   dockerd, containerd, containerd-shim-runc-v2, runc, docker, ctr   (Debian 12's docker.io,
#          containerd and runc packages, copied as they are)
#   lib/   the shared libraries the target may lack or have in another version: libdevmapper
#          (dockerd) and libseccomp (runc); device-containers.sh puts this folder on
#          LD_LIBRARY_PATH for containerd and dockerd (their children inherit it). Everything else
#          they link (libc, libsystemd, libcap, libgcrypt, liblzma, libzstd, liblz4, libselinux,
#          libudev, libpcre2, libgpg-error) is in every Ubuntu 24.04 (glibc 2.39).
#   rootfs.tar   the image's root file system, imported there with `docker import`: busybox-static
#          at /busybox (a shell when the host's /usr is not mounted), /bin -> usr/bin,
#          /lib -> usr/lib, /lib64 -> usr/lib64, /sbin -> usr/sbin (as on Ubuntu 24.04, so the
#          host's /usr mounted read-only gives the container the host's python3 and PyTorch), and
#          empty mount points (/usr, /opt, /etc, /work, /tmp, /root, ...).
#   MANIFEST   package versions, sha256 of every file, and each binary's ldd.
# It prints the kit's size; it must stay well under 40 MiB (the whole working tree that travels to
# the device, .device/gpuctop included, is limited to 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-.device/docker-kit.tar.xz}
# binary name, then the package it comes from
binaries=(dockerd:docker.io containerd:containerd containerd-shim-runc-v2:containerd runc:runc docker:docker.io ctr:containerd)
ship_libs=(libdevmapper.so.1.02.1 libseccomp.so.2)
busybox=${BUSYBOX:-/bin/busybox}

die() { echo "device-kit: $*" >&2; exit 1; }
log() { echo "device-kit: $*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root (the rootfs must be owned by root)"
command -v xz >/dev/null || die "xz not found (apt-get install xz-utils)"
file "$busybox" 2>/dev/null | grep -q 'statically linked' || die "$busybox is not a static busybox (apt-get install busybox-static)"

stage=$(mktemp -d /tmp/gpuctop-kit.XXXXXX)
trap 'rm -rf "$stage"' EXIT
kit=$stage/docker-kit
mkdir -p "$kit/bin" "$kit/lib"

find_binary() {
    local d
    for d in /usr/sbin /usr/bin /sbin /bin; do
        [ -x "$d/$1" ] && { echo "$d/$1"; return 0; }
    done
    return 1
}

{
    echo "gpuctop device kit, built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release; echo "$PRETTY_NAME") $(uname -m)"
    echo
    echo "== packages"
} >"$kit/MANIFEST"

for entry in "${binaries[@]}"; do
    name=${entry%%:*}; pkg=${entry#*:}
    path=$(find_binary "$name") || die "$name not found (apt-get install $pkg)"
    cp -L "$path" "$kit/bin/$name"
    echo "$name  $path  $pkg $(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || echo '?')" >>"$kit/MANIFEST"
done

# Libraries: take each one from where the loader finds it for our binaries, by its soname.
for lib in "${ship_libs[@]}"; do
    path=$(ldd "$kit"/bin/* 2>/dev/null | awk -v l="$lib" '$1 == l && $3 ~ /^\// { print $3; exit }')
    [ -n "$path" ] || die "no binary links $lib (ldd)"
    cp -L "$path" "$kit/lib/$lib"
    real=$(readlink -f "$path")
    pkg=$( (dpkg -S "$real" || dpkg -S "${real#/usr}") 2>/dev/null | head -n1 | sed 's/: .*//' || true)
    echo "$lib  $real  ${pkg:-?} $( [ -n "$pkg" ] && dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null)" >>"$kit/MANIFEST"
done

# Anything a binary links that is neither shipped nor in this list is worth a look before a
# device run: say so.
expected_on_host='linux-vdso.so.1 libc.so.6 libm.so.6 libsystemd.so.0 libcap.so.2 libgcrypt.so.20 liblzma.so.5 libzstd.so.1 liblz4.so.1 libselinux.so.1 libudev.so.1 libgpg-error.so.0 libpcre2-8.so.0 ld-linux-x86-64.so.2'
for f in "$kit"/bin/* "$kit"/lib/*; do
    for so in $(ldd "$f" 2>/dev/null | awk '{ print $1 }'); do
        so=${so##*/}
        case " $expected_on_host ${ship_libs[*]} " in
            *" $so "*) ;;
            *) log "warning: ${f##*/} links $so, which the kit does not ship" ;;
        esac
    done
done

# The image's root file system.
rootfs=$stage/rootfs
mkdir -p "$rootfs/busybox" "$rootfs/usr" "$rootfs/opt" "$rootfs/etc" "$rootfs/work" "$rootfs/root" \
         "$rootfs/home" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/run" "$rootfs/var/tmp" "$rootfs/mnt" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
chmod 0700 "$rootfs/root"
cp "$busybox" "$rootfs/busybox/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/busybox/$applet"
done
ln -s usr/bin "$rootfs/bin"
ln -s usr/lib "$rootfs/lib"
ln -s usr/lib64 "$rootfs/lib64"
ln -s usr/sbin "$rootfs/sbin"
# Shadowed when the host's /etc is mounted; enough for busybox alone.
echo 'root:x:0:0:root:/root:/busybox/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
tar -C "$rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$kit/rootfs.tar" .
echo "rootfs.tar  busybox $(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || echo '?'), $(tar -tf "$kit/rootfs.tar" | wc -l) entries" >>"$kit/MANIFEST"

{
    echo
    echo "== ldd (what the target must provide, the libraries in lib/ aside)"
    for f in "$kit"/bin/*; do
        echo "${f##*/}:"
        ldd "$f" 2>&1 | sed 's/ (0x[0-9a-f]*)//; s/^[[:space:]]*/   /'
    done
    echo
    echo "== sha256"
    (cd "$kit" && find bin lib rootfs.tar -type f | sort | xargs sha256sum)
} >>"$kit/MANIFEST"

# The x86 BCJ filter and a dictionary larger than the whole tar (183 MiB) let xz find what the
# five Go binaries share: 31 MiB instead of 35 MiB with plain -9e. Unpacking needs ~200 MiB of RAM.
log "compressing (xz --x86 -9e, 192 MiB dictionary: about 3 minutes, 2 GiB of RAM)"
mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$
tar -C "$stage" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - docker-kit \
    | xz --x86 --lzma2=preset=9e,dict=192MiB -T1 >"$tmp"
mv "$tmp" "$out"
size=$(stat -c %s "$out")
unpacked=$(du -sb "$kit" | cut -f1)
echo "$out: $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }') MiB; unpacked $(awk -v s="$unpacked" 'BEGIN { printf "%.1f", s / 1048576 }') MiB)"
if [ "$size" -gt $((40 * 1024 * 1024)) ]; then
    die "the kit is over 40 MiB"
fi
