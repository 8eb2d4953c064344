#!/usr/bin/env bash
# Builds the container image gpuctop:<version> and gpuctop:latest with the Docker daemon the
# docker CLI is pointed at (DOCKER_HOST), FROM scratch: nothing is pulled. It holds
#   /usr/bin/gpuctop                the release binary, stripped
#   its libraries                   glibc and ncurses (ldd of the binary), the loader, and the
#                                   glibc libraries NVIDIA's libnvidia-ml.so.1 links
#                                   (libpthread, libdl, librt; stubs since glibc 2.34)
#   /usr/share/terminfo             xterm, xterm-256color, screen(-256color), tmux(-256color),
#                                   linux, vt100, vt220, dumb
#   /etc/passwd, /etc/group         root and nobody
# and nothing else: no shell, no package manager. libnvidia-ml.so.1 comes from the NVIDIA
# container toolkit when the container runs (README "Install").
#
#   scripts/build-image.sh [--binary PATH] [--name NAME]
#
# --binary (or GPUCTOP_RELEASE_BIN): an existing release binary; without it this script builds
# one (scripts/build-release.sh). --name: the repository name (default gpuctop). Prints the tags.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "build-image: $*" >&2; exit 1; }
. scripts/release-binary.sh

bin=${GPUCTOP_RELEASE_BIN:-}
name=gpuctop
while [ $# -gt 0 ]; do
    case $1 in
        --binary) [ $# -ge 2 ] || die "--binary needs a path"; bin=$2; shift 2 ;;
        --name) [ $# -ge 2 ] || die "--name needs a name"; name=$2; shift 2 ;;
        *) echo "usage: $0 [--binary PATH] [--name NAME]" >&2; exit 2 ;;
    esac
done
bin=$(release_binary "$bin")
command -v docker >/dev/null || die "docker CLI not found"

version=$(release_version "$bin")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
libdir=usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
mkdir -p "$rootfs/usr/bin" "$rootfs/$libdir" "$rootfs/etc" "$rootfs/host"
# usrmerge, as on Debian: /lib is /usr/lib.
ln -s usr/lib "$rootfs/lib"

strip --strip-unneeded --remove-section=.comment -o "$rootfs/usr/bin/gpuctop" "$bin"
chmod 0755 "$rootfs/usr/bin/gpuctop"

# The binary's libraries where ldd finds them, and the loader at the path the binary names.
copy_lib() { # copy_lib PATH: into the image's library directory under its own name
    [ -f "$1" ] || die "library $1 not found"
    cp -L "$1" "$rootfs/$libdir/$(basename "$1")"
}
interpreter=
while read -r line; do
    case $line in
        *"=> /"*) copy_lib "$(echo "$line" | awk '{ print $3 }')" ;;
        /*) interpreter=$(echo "$line" | awk '{ print $1 }') ;;
    esac
done < <(ldd "$bin")
[ -n "$interpreter" ] || die "ldd names no loader for $bin"
mkdir -p "$rootfs/$(dirname "$interpreter")"
cp -L "$interpreter" "$rootfs/$interpreter"
libc=$(ldd "$bin" | awk '$1 == "libc.so.6" { print $3 }')
for lib in libpthread.so.0 libdl.so.2 librt.so.1; do
    [ -f "$(dirname "$libc")/$lib" ] && copy_lib "$(dirname "$libc")/$lib"
done

# Terminal descriptions ncurses looks up by $TERM (the binary's default search path includes
# /usr/share/terminfo).
for term in xterm xterm-256color screen screen-256color tmux tmux-256color linux vt100 vt220 dumb; do
    letter=${term:0:1}
    for dir in /etc/terminfo /lib/terminfo /usr/share/terminfo; do
        if [ -f "$dir/$letter/$term" ]; then
            mkdir -p "$rootfs/usr/share/terminfo/$letter"
            cp -L "$dir/$letter/$term" "$rootfs/usr/share/terminfo/$letter/$term"
            break
        fi
    done
    [ -f "$rootfs/usr/share/terminfo/$letter/$term" ] || die "no terminfo entry for $term (apt-get install ncurses-base ncurses-term)"
done

# User names for uid 0 and nobody (the host's users are not the container's: --host-root
# reads the host's names).
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files\n' >"$rootfs/etc/nsswitch.conf"

# The image must start: its binary with its own loader and libraries, no NVML.
"$rootfs/$interpreter" --library-path "$rootfs/$libdir" "$rootfs/usr/bin/gpuctop" --version >/dev/null \
    || die "the binary does not run with the image's libraries"

cat >"$work/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/bin
EXPOSE 9835
LABEL org.opencontainers.image.title="gpuctop" \\
      org.opencontainers.image.description="Which container uses which GPU: dashboard, snapshot, Prometheus exporter" \\
      org.opencontainers.image.version="$version"
ENTRYPOINT ["/usr/bin/gpuctop"]
EOF

# The classic builder: it needs no buildx plugin and, FROM scratch, no registry.
old=$(docker image inspect -f '{{.Id}}' "$name:$version" 2>/dev/null || true)
DOCKER_BUILDKIT=0 docker build -q -t "$name:$version" -t "$name:latest" "$work" >/dev/null
# A rebuild leaves the image it replaced without a name: remove it (unless a container uses it).
new=$(docker image inspect -f '{{.Id}}' "$name:$version")
if [ -n "$old" ] && [ "$old" != "$new" ]; then docker image rm "$old" >/dev/null 2>&1 || true; fi
echo "$name:$version"
echo "$name:latest"
