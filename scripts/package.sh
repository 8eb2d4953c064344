#!/usr/bin/env bash
# Packages gpuctop the way operators install it:
#   dist/gpuctop_<version>_<arch>.deb             /usr/bin/gpuctop, gpuctop(1), bash and zsh
#                                                 completion, a systemd unit for `gpuctop export`
#                                                 (installed, not enabled); built with dpkg-deb
#   dist/gpuctop-<version>-linux-<machine>.tar.gz the binary, gpuctop.1, completions/, systemd/,
#                                                 README.md (and LICENSE, once the repository has one)
#
#   scripts/package.sh [--binary PATH] [--out DIR] [--no-lintian]
#
# --binary (or GPUCTOP_RELEASE_BIN): an existing release binary from scripts/build-release.sh;
# without it this script builds one. The version is the binary's own (`gpuctop --version`), and
# the man page and completion scripts are its own output (`gpuctop manpage`, `gpuctop completion
# bash|zsh`), so everything in a package describes the binary in it. When lintian is installed
# the .deb is checked with it and an error fails the script (warnings are printed).
# Reproducible: file times and the changelog date come from the last commit (SOURCE_DATE_EPOCH).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "package: $*" >&2; exit 1; }
. scripts/release-binary.sh

bin=${GPUCTOP_RELEASE_BIN:-}
out=dist
lintian=1
while [ $# -gt 0 ]; do
    case $1 in
        --binary) [ $# -ge 2 ] || die "--binary needs a path"; bin=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift 2 ;;
        --no-lintian) lintian=0; shift ;;
        *) echo "usage: $0 [--binary PATH] [--out DIR] [--no-lintian]" >&2; exit 2 ;;
    esac
done
bin=$(release_binary "$bin")
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg)"

version=$(release_version "$bin")
deb_arch=$(dpkg --print-architecture)
machine=$(uname -m)
maintainer=${GPUCTOP_MAINTAINER:-$(git log -1 --format='%an <%ae>' 2>/dev/null || true)}
[ -n "$maintainer" ] || die "no maintainer: set GPUCTOP_MAINTAINER='Name <address>'"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# What both packages carry, from the binary itself.
strip --strip-unneeded --remove-section=.comment -o "$work/gpuctop" "$bin"
chmod 0755 "$work/gpuctop"
"$work/gpuctop" --version >/dev/null || die "the stripped binary does not run"
"$work/gpuctop" manpage >"$work/gpuctop.1"
"$work/gpuctop" completion bash >"$work/gpuctop.bash"
"$work/gpuctop" completion zsh >"$work/_gpuctop"
unit=deploy/systemd/gpuctop-export.service

# --- the .deb ---
root="$work/deb"
install -D -m 0755 "$work/gpuctop" "$root/usr/bin/gpuctop"
install -d -m 0755 "$root/usr/share/man/man1"
gzip -9n <"$work/gpuctop.1" >"$root/usr/share/man/man1/gpuctop.1.gz"
install -D -m 0644 "$work/gpuctop.bash" "$root/usr/share/bash-completion/completions/gpuctop"
install -D -m 0644 "$work/_gpuctop" "$root/usr/share/zsh/vendor-completions/_gpuctop"
# Debian 12 keeps system units in /lib (usrmerge makes it /usr/lib as well).
install -D -m 0644 "$unit" "$root/lib/systemd/system/gpuctop-export.service"
doc="$root/usr/share/doc/gpuctop"
install -d -m 0755 "$doc"
gzip -9n <README.md >"$doc/README.md.gz"
{
    echo "gpuctop ($version) unstable; urgency=medium"
    echo
    echo "  * gpuctop $version."
    echo
    echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.gz"
if [ -f LICENSE ]; then
    { echo "gpuctop"; echo; cat LICENSE; } >"$doc/copyright"
else
    cat >"$doc/copyright" <<'EOF'
gpuctop: a terminal dashboard for GPU containers.

The gpuctop repository states no licence. No licence is granted by this package
beyond what its authors state; ask them before redistributing it.
EOF
fi
chmod 0644 "$doc/copyright"

# The libraries the binary links, as dpkg knows them (glibc and ncurses; see build-release.sh).
depends="libc6, libncursesw6, libtinfo6"
if command -v dpkg-shlibdeps >/dev/null; then
    mkdir -p "$work/shlibs/debian"
    printf 'Source: gpuctop\n\nPackage: gpuctop\nArchitecture: any\n' >"$work/shlibs/debian/control"
    found=$(cd "$work/shlibs" && dpkg-shlibdeps -O -e "$root/usr/bin/gpuctop" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
    [ -n "$found" ] && depends=$found
fi

install -d -m 0755 "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<EOF
Package: gpuctop
Version: $version
Architecture: $deb_arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Section: admin
Priority: optional
Description: terminal dashboard for GPU containers
 gpuctop shows which container is using which GPU, how much, and at what
 power: an ncurses dashboard, one-shot text and JSON snapshots, a Prometheus
 exporter (gpuctop export; a systemd unit for it is installed but not
 enabled), actions on containers, processes and power limits, and several
 hosts over ssh.
 .
 It reads NVML (libnvidia-ml.so.1 of the NVIDIA driver, loaded when it runs;
 without it gpuctop still starts and says so), /proc and cgroups, and the
 Docker or Podman API.
EOF
# A running exporter is stopped before its binary goes, and systemd forgets the unit after.
cat >"$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    deb-systemd-invoke stop gpuctop-export.service >/dev/null || true
fi
EOF
cat >"$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
EOF
chmod 0755 "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb="$out/gpuctop_${version}_${deb_arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"

if [ "$lintian" = 1 ] && command -v lintian >/dev/null; then
    report=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v "running with root privileges" || true)
    [ -z "$report" ] || echo "$report" | sed 's/^/lintian: /' >&2
    errors=$(echo "$report" | grep -c '^E: ' || true)
    warnings=$(echo "$report" | grep -c '^W: ' || true)
    echo "lintian: $errors errors, $warnings warnings" >&2
    [ "$errors" = 0 ] || die "lintian reports errors for $deb"
fi

# --- the tarball ---
name="gpuctop-$version-linux-$machine"
dir="$work/tar/$name"
install -D -m 0755 "$work/gpuctop" "$dir/gpuctop"
install -m 0644 "$work/gpuctop.1" "$dir/gpuctop.1"
install -D -m 0644 "$work/gpuctop.bash" "$dir/completions/gpuctop.bash"
install -m 0644 "$work/_gpuctop" "$dir/completions/_gpuctop"
install -D -m 0644 "$unit" "$dir/systemd/gpuctop-export.service"
install -m 0644 README.md "$dir/README.md"
[ ! -f LICENSE ] || install -m 0644 LICENSE "$dir/LICENSE"
tarball="$out/$name.tar.gz"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$work/tar" -cf - "$name" | gzip -9n >"$tarball"
echo "$tarball"
