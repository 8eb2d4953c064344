#!/usr/bin/env bash
# Everything BENCHMARKS.md reports from the GPU host, in one run: the comparison with
# nvidia-smi, nvtop, nvitop and gpustat (bench/device-bench.sh, 60 s windows), then
# gpuctop's own profile with 4 PyTorch processes busy (startup steps with the memory
# each adds, steady-state stages, every NVML call) and its memory without NVML.
#
#   bench/device-all.sh [GPUCTOP_BINARY]        (BENCH_KEEP=DIR keeps the raw streams)
set -u
cd "$(dirname "$0")/.."
bin=${1:-.device/gpuctop}
bash bench/device-bench.sh "$bin" 60
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' EXIT
. bench/gpu-load.sh
start_gpu_load 4
echo "== gpuctop profile --startup (4 PyTorch processes)"
"$bin" profile --startup
echo "== gpuctop profile, 30 refreshes at 1 s"
"$bin" profile --interval 1 --refreshes 30 --calls 100
echo "== gpuctop without NVML (memory of gpuctop alone)"
"$bin" profile --startup --nvml /nonexistent/libnvidia-ml.so.1 | tail -1
