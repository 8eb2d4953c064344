#!/usr/bin/env bash
# Cost of watching one GPU: gpuctop beside nvidia-smi, nvitop and gpustat, in one
# run so the ratios hold. Runs on the GPU host (read-only: it changes no setting).
#
#   bench/device-bench.sh [GPUCTOP_BINARY] [SECONDS]
#
# Needs: tmux, python3 with PyTorch; nvitop and gpustat come as wheels in .whl/
# (see BENCHMARKS.md), installed into a private directory. For each tool: 4 PyTorch
# processes busy on the GPU, the tool in a 200x50 tmux pane (TERM=xterm-256color)
# at a 1 s refresh; after a 5 s warm-up, SECONDS (default 20) of steady state:
# CPU seconds per minute (utime+stime from /proc/PID/stat), peak RSS (VmHWM) and
# terminal bytes per second (tmux pipe-pane). Then the median wall time of 7
# one-shot runs of each tool.
set -u
cd "$(dirname "$0")/.."
bin=${1:-.device/gpuctop}
seconds=${2:-20}
work=$(mktemp -d /tmp/gpuctop-bench.XXXXXX)
pids=()
cleanup() { tmux -S "$work/tmux" kill-server 2>/dev/null; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

# nvtop: Debian's nvtop 3.0.1 binary (contrib), carried as .whl/bin/nvtop (see BENCHMARKS.md).
[ -x .whl/bin/nvtop ] && export PATH="$PWD/.whl/bin:$PATH"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target "$work/site" .whl/*.whl >/dev/null 2>&1 \
        && export PYTHONPATH="$work/site" PATH="$work/site/bin:$PATH"
fi

. bench/gpu-load.sh
start_gpu_load 4

tick=$(getconf CLK_TCK)
cpu_ticks() { awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }

measure() {   # name, command
    local name=$1 cmd=$2 log="$work/$1.out"
    : >"$log"
    tmux -S "$work/tmux" -f /dev/null new-session -d -x 200 -y 50 -s "$name" "exec env TERM=xterm-256color LANG=C.UTF-8 $cmd"
    tmux -S "$work/tmux" pipe-pane -t "$name" -o "cat >>$log"
    local pid; pid=$(tmux -S "$work/tmux" display-message -p -t "$name" '#{pane_pid}')
    sleep 5
    local t0 b0 c0 t1 b1 c1
    t0=$(date +%s.%N); b0=$(stat -c %s "$log"); c0=$(cpu_ticks "$pid")
    sleep "$seconds"
    t1=$(date +%s.%N); b1=$(stat -c %s "$log"); c1=$(cpu_ticks "$pid")
    local hwm; hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
    tmux -S "$work/tmux" capture-pane -p -t "$name" >"$work/$name.screen"
    tmux -S "$work/tmux" kill-session -t "$name"
    awk -v n="$name" -v t0="$t0" -v t1="$t1" -v b0="$b0" -v b1="$b1" -v c0="$c0" -v c1="$c1" -v tick="$tick" -v hwm="$hwm" 'BEGIN {
        d = t1 - t0; printf "%-28s %14.3f %13.1f %17.0f\n", n, (c1 - c0) / tick * 60 / d, hwm / 1024, (b1 - b0) / d }' | tee -a "$work/steady.txt"
}

echo "== steady state, ${seconds} s, 200x50, 1 s refresh, 4 PyTorch processes"
printf "%-28s %14s %13s %17s\n" tool "CPU s/min" "peak RSS MiB" "terminal bytes/s"
measure gpuctop "$bin --interval 1"
measure nvidia-smi "nvidia-smi -l 1"
command -v nvtop >/dev/null && measure nvtop "nvtop -d 10" || echo "nvtop: not installed"
command -v nvitop >/dev/null && measure nvitop "nvitop --interval 1" || echo "nvitop: not installed"
command -v gpustat >/dev/null && measure gpustat "gpustat --interval 1" || echo "gpustat: not installed"

echo "== one-shot, median of 7 runs (wall ms)"
python3 - "$bin" "$work/oneshot.txt" <<'PY'
import shutil, statistics, subprocess, sys, time
tools = [("gpuctop snapshot --json", [sys.argv[1], "snapshot", "--json"]),
         ("nvidia-smi", ["nvidia-smi"]),
         ("nvitop --once", ["nvitop", "--once"]),
         ("gpustat --json", ["gpustat", "--json"])]
for name, cmd in tools:
    if not shutil.which(cmd[0]) and not cmd[0].startswith("."):
        print(f"{name:28s} not installed"); continue
    runs = []
    for _ in range(7):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        runs.append((time.perf_counter() - t) * 1000)
    print(f"{name:28s} {statistics.median(runs):8.1f}   ({' '.join(f'{r:.1f}' for r in runs)})")
    with open(sys.argv[2], "a") as out:
        out.write(f"{name.split()[0].split('/')[-1]} {statistics.median(runs):.1f} {' '.join(name.split()[1:]) or '-'}\n")
PY
echo "== all figures"
awk 'NR == FNR { cpu[$1] = $2; rss[$1] = $3; bytes[$1] = $4; order[++n] = $1; next }
     { rest = $0; sub(/^[^ ]+ [^ ]+ ?/, "", rest); shot[$1] = $2 " ms" (rest != "-" && rest != "" ? " (" rest ")" : "") }
     END {
         printf "%-12s %10s %13s %17s   %s\n", "tool", "CPU s/min", "peak RSS MiB", "terminal bytes/s", "one-shot"
         for (i = 1; i <= n; i++) { t = order[i]
             printf "%-12s %10s %13s %17s   %s\n", t, cpu[t], rss[t], bytes[t], (t in shot) ? shot[t] : "none" }
     }' "$work/steady.txt" "$work/oneshot.txt" 2>/dev/null
# Keep the raw terminal streams and the last screens where the caller wants them.
[ -n "${BENCH_KEEP:-}" ] && cp "$work"/*.out "$work"/*.screen "$BENCH_KEEP"/ 2>/dev/null
true
