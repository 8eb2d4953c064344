#!/usr/bin/env bash
# The other tools of the device comparison, for a GPU host without network: writes
# .whl/ (git-ignored), which bench/device-bench.sh installs into a private directory.
#
#   bench/tool-kit.sh [OUTDIR]        (default .whl; run on Debian 12 with network, as root for apt)
#
# .whl/*.whl    nvitop and gpustat with everything they import, as wheels for CPython 3.12 on
#               x86-64 Linux (the GPU host's Ubuntu 24.04): pip download for that platform, and
#               gpustat (published as a source archive) built into a pure-Python wheel here
# .whl/bin/nvtop  Debian bookworm's nvtop (contrib) binary, which runs on Ubuntu 24.04 as is;
#               fetched with apt-get through a private sources list (the system's is not touched)
# Versions are those of the last device run (issue #14's table); override with NVITOP=, GPUSTAT=, NVTOP=.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.whl}
nvitop=${NVITOP:-1.7.2}
gpustat=${GPUSTAT:-1.1.1}
nvtop=${NVTOP:-3.0.1-1}
python=${PYTHON_VERSION:-3.12}
die() { echo "tool-kit: $*" >&2; exit 1; }
command -v pip >/dev/null || die "pip not found"
command -v apt-get >/dev/null || die "apt-get not found (Debian or Ubuntu)"
mkdir -p "$out/bin"
scratch=$(mktemp -d /tmp/gpuctop-toolkit.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# gpustat: a pure-Python wheel built from its source archive (no dependencies pulled here).
pip wheel --quiet --no-deps -w "$out" "gpustat==$gpustat"
# nvitop and the packages both tools import (gpustat: nvidia-ml-py, psutil, blessed), with
# their own dependencies, as the target platform's wheels.
pip download --quiet --only-binary=:all: --python-version "$python" --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d "$out" "nvitop==$nvitop" nvidia-ml-py psutil blessed

# nvtop from bookworm contrib: a private apt configuration, state and cache under $scratch.
mkdir -p "$scratch/lists/partial" "$scratch/archives/partial" "$scratch/x"
echo "deb http://deb.debian.org/debian bookworm contrib" >"$scratch/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$scratch/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$scratch/lists" -o "Dir::Cache::Archives=$scratch/archives"
          -o "Dir::Cache::pkgcache=$scratch/pkgcache.bin" -o "Dir::Cache::srcpkgcache=$scratch/srcpkgcache.bin"
          -o "APT::Architecture=amd64" -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" -qq update
(cd "$scratch" && apt-get "${apt_opts[@]}" -qq download "nvtop=$nvtop")
dpkg-deb -x "$scratch"/nvtop_*.deb "$scratch/x"
install -m 755 "$scratch/x/usr/bin/nvtop" "$out/bin/nvtop"

echo "tool-kit: $out:"
ls -1 "$out" "$out/bin" | sed 's/^/  /'
du -sh "$out" | sed 's/^/tool-kit: /'
