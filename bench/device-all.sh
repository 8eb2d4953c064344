#!/usr/bin/env bash
# Everything BENCHMARKS.md reports from the GPU host, in one run of about 6 minutes: the
# comparison with nvidia-smi, nvtop, nvitop and gpustat at 4 and at 64 PyTorch processes
# (4 busy, 60 idle contexts; bench/device-bench.sh, 20 s windows), then, with the 64 still
# on the GPU, gpuctop's own profile (startup steps with the memory each adds, the NVML
# schedule, steady-state stages, every NVML call) and its memory without NVML.
#
#   bench/device-all.sh [GPUCTOP_BINARY] [SECONDS]   (BENCH_KEEP=DIR keeps the raw streams)
#
# Needs .whl/ (bench/tool-kit.sh) for nvtop, nvitop and gpustat.
set -u
cd "$(dirname "$0")/.."
bin=${1:-.device/gpuctop}
BENCH_PROFILE=1 bash bench/device-bench.sh "$bin" "${2:-20}" "4 64"
