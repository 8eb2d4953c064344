#!/usr/bin/env bash
# Where gpuctop's cost goes on the GPU host, for issue #14 (read only: nothing set).
# With 4 busy + 60 idle PyTorch contexts, then 4 busy:
#   - `gpuctop profile`: each NVML call timed inside the refreshes, at their spacing;
#   - `gpuctop profile --startup`: the libraries and memory each step of opening NVML adds;
#   - `gpuctop profile --one-shot` (three times): what `snapshot --json` spends, call by call;
#   - the dashboard at 1 s for 20 s after 5 s, as is and with GPM, the XID thread, or both
#     off (DIAG_FULL=1; else GPM only): CPU s/min of each, the CPU of each of its threads,
#     and for the first the terminal stream with a timeline and the pane's text every second;
#   - memory by mapping of gpuctop, and with DIAG_FULL=1 of nvtop and nvidia-smi -l 1;
#   - one-shot wall times: gpuctop snapshot --json with and without NVML, nvidia-smi,
#     nvidia-smi -L.
#   bench/device-diagnose.sh [GPUCTOP_BINARY] OUTDIR
set -u
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-.device/gpuctop}")
out=${2:-/tmp/diagnose}
mkdir -p "$out"
work=$(mktemp -d /tmp/gpuctop-diag.XXXXXX)
pids=()
cleanup() { tmux -S "$work/tmux" kill-server 2>/dev/null; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
[ -x .whl/bin/nvtop ] && export PATH="$PWD/.whl/bin:$PATH"
. bench/gpu-load.sh
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }
threads() { for t in /proc/"$1"/task/*; do echo "$(basename "$t") $(cat "$t/comm") $(awk '{ print $1 }' "$t/schedstat")"; done 2>/dev/null; }

dashboard() {  # load, name, env...: CPU s/min over 20 s after 5 s; the first keeps its stream
    local load=$1 name=$2; shift 2
    local s="$load-$name"
    tmux -S "$work/tmux" -f /dev/null new-session -d -x 200 -y 50 -s "$s" "exec env TERM=xterm-256color LANG=C.UTF-8 $* $bin --interval 1"
    tmux -S "$work/tmux" pipe-pane -t "$s" -o "python3 $PWD/bench/tty-timeline.py $out/$s.raw $out/$s.timeline"
    local pid; pid=$(tmux -S "$work/tmux" display-message -p -t "$s" '#{pane_pid}')
    sleep 5
    local t0 n0 t1 n1 i
    t0=$(date +%s.%N); n0=$(cpu_ns "$pid"); threads "$pid" >"$work/threads0"
    if [ "$name" = default ]; then
        mkdir -p "$out/$s.screens"
        for i in $(seq -w 1 20); do sleep 1; tmux -S "$work/tmux" capture-pane -p -t "$s" >"$out/$s.screens/$i.txt"; done
        echo "$(date +%s.%N) window-end" >>"$out/$s.timeline"
    else
        sleep 20
    fi
    t1=$(date +%s.%N); n1=$(cpu_ns "$pid"); threads "$pid" >"$work/threads1"
    join "$work/threads0" "$work/threads1" | awk -v s="$s" -v t0="$t0" -v t1="$t1" '{ printf "%s thread %s %s: %.0f µs/s\n", s, $1, $2, ($5 - $3) / 1000 / (t1 - t0) }' | tee -a "$out/summary.txt"
    python3 bench/smaps-summary.py "$pid" >"$out/$s.smaps" 2>&1
    tmux -S "$work/tmux" kill-session -t "$s"
    awk -v n="$s $*" -v t0="$t0" -v t1="$t1" -v n0="$n0" -v n1="$n1" 'BEGIN { printf "%-50s %8.3f CPU s/min\n", n, (n1 - n0) / 1e9 * 60 / (t1 - t0) }' | tee -a "$out/summary.txt"
}

other_tool() {  # load, name, command: memory by mapping after 8 s
    local s="$1-$2"
    tmux -S "$work/tmux" -f /dev/null new-session -d -x 200 -y 50 -s "$s" "exec env TERM=xterm-256color LANG=C.UTF-8 $3"
    local pid; pid=$(tmux -S "$work/tmux" display-message -p -t "$s" '#{pane_pid}')
    sleep 8
    python3 bench/smaps-summary.py "$pid" >"$out/$s.smaps" 2>&1
    tmux -S "$work/tmux" kill-session -t "$s"
}

oneshots() {  # load
    python3 - "$bin" "$1" <<'PY' | tee -a "$out/summary.txt"
import statistics, subprocess, sys, time
b, load = sys.argv[1], sys.argv[2]
for name, cmd in [("gpuctop snapshot --json", [b, "snapshot", "--json"]),
                  ("gpuctop snapshot --json (no NVML)", [b, "snapshot", "--json", "--nvml", "/nonexistent/libnvidia-ml.so.1"]),
                  ("gpuctop --version", [b, "--version"]),
                  ("nvidia-smi", ["nvidia-smi"]), ("nvidia-smi -L", ["nvidia-smi", "-L"])]:
    runs = []
    for _ in range(9):
        t = time.perf_counter(); subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        runs.append((time.perf_counter() - t) * 1000)
    print(f"{load} one-shot {name:36s} {statistics.median(runs):7.1f} ms  ({' '.join(f'{r:.1f}' for r in runs)})")
PY
}

for load in 64 4; do
    busy=4; idle=$(( load - busy ))
    start_gpu_load "$busy"
    [ "$idle" -gt 0 ] && start_idle_contexts "$idle"
    echo "== $load processes: nvidia-smi lists $(gpu_processes)" | tee -a "$out/summary.txt"
    "$bin" profile --interval 1 --refreshes 20 --calls 0 >"$out/$load-profile.txt" 2>&1
    "$bin" profile --startup >"$out/$load-startup.txt" 2>&1
    for i in 1 2 3; do "$bin" profile --one-shot >"$out/$load-oneshot-$i.txt" 2>&1; done
    oneshots "$load"
    dashboard "$load" default
    dashboard "$load" nogpm GPUCTOP_GPM_PERIOD=0
    if [ "$load" = 64 ] && [ "${DIAG_FULL:-}" = 1 ]; then
        dashboard "$load" noxid GPUCTOP_WATCH_XID=0
        dashboard "$load" neither GPUCTOP_GPM_PERIOD=0 GPUCTOP_WATCH_XID=0
        other_tool "$load" nvtop "nvtop -d 10"
        other_tool "$load" nvidia-smi "nvidia-smi -l 1"
    fi
    stop_gpu_load
done
