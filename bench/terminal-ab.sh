#!/usr/bin/env bash
# Terminal bytes of two gpuctop builds by turns, on the GPU host, under N busy PyTorch
# processes (bench/gpu-load.sh): each in a 200x50 tmux pane at 1 s, 5 s warm-up, then a
# 20-s window; ROUNDS rounds. Read only: it runs workloads and gpuctop, and sets nothing.
#
#   bench/terminal-ab.sh BIN_A BIN_B [N] [ROUNDS]      (defaults: 4 processes, 3 rounds)
set -u
cd "$(dirname "$0")/.."
a=$(realpath "$1"); b=$(realpath "$2"); n=${3:-4}; rounds=${4:-3}
sock=$(mktemp -u /tmp/terminal-ab.XXXXXX)
. bench/gpu-load.sh
pids=()
trap 'tmux -S "$sock" kill-server 2>/dev/null; stop_gpu_load' EXIT
start_gpu_load "$n"; wait_for_steady_memory
nvidia-smi --query-gpu=utilization.gpu,power.draw,power.limit --format=csv,noheader
for round in $(seq "$rounds"); do
    for bin in "$a" "$b"; do
        log=$(mktemp /tmp/terminal-ab-out.XXXXXX)
        tmux -S "$sock" -f /dev/null new-session -d -x 200 -y 50 -s g "exec env TERM=xterm-256color LANG=C.UTF-8 $bin --interval 1"
        tmux -S "$sock" pipe-pane -t g -o "cat >> $log"
        sleep 5; b0=$(stat -c %s "$log"); t0=$(date +%s.%N)
        sleep 20; b1=$(stat -c %s "$log"); t1=$(date +%s.%N)
        awk -v n="$(basename "$bin")" -v r="$round" -v b0="$b0" -v b1="$b1" -v t0="$t0" -v t1="$t1" \
            'BEGIN { printf "round %d %-16s %5.0f B/s\n", r, n, (b1 - b0) / (t1 - t0) }'
        tmux -S "$sock" kill-server; sleep 0.5; rm -f "$log"
    done
done
nvidia-smi --query-gpu=utilization.gpu,power.draw,power.limit --format=csv,noheader
