#!/usr/bin/env bash
# Where gpuctop's time and memory go on a real GPU: `gpuctop profile` with 4 PyTorch
# processes busy (startup, each refresh stage, each NVML call, memory by mapping),
# then the dashboard itself in a 200x50 tmux pane under `strace -c -f` when strace
# is installed (which system calls a steady second makes). Read-only.
#
#   bench/device-profile.sh [GPUCTOP_BINARY] [REFRESHES]
set -u
cd "$(dirname "$0")/.."
bin=${1:-.device/gpuctop}
refreshes=${2:-20}
work=$(mktemp -d /tmp/gpuctop-profile.XXXXXX)
pids=()
cleanup() { tmux -S "$work/tmux" kill-server 2>/dev/null; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
. bench/gpu-load.sh
start_gpu_load 4

echo "== nvidia-smi -q persistence/driver (read only)"
nvidia-smi --query-gpu=name,driver_version,persistence_mode,pstate --format=csv
echo "== gpuctop profile, 1 s refresh"
"$bin" profile --interval 1 --refreshes "$refreshes" --calls 200
if command -v strace >/dev/null; then
    echo "== strace -c -f of the dashboard, 10 s at 1 s, 200x50"
    tmux -S "$work/tmux" -f /dev/null new-session -d -x 200 -y 50 -s s \
        "exec env TERM=xterm-256color LANG=C.UTF-8 strace -c -f -o $work/strace.txt $bin --interval 1"
    sleep 12
    tmux -S "$work/tmux" send-keys -t s q
    sleep 1
    cat "$work/strace.txt"
else
    echo "strace: not installed"
fi
command -v perf >/dev/null && echo "perf: $(command -v perf)" || echo "perf: not installed"
