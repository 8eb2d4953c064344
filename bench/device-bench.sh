#!/usr/bin/env bash
# Cost of watching one GPU: gpuctop beside nvidia-smi, nvtop, nvitop and gpustat, in one
# run so the ratios hold, at two loads. Runs on the GPU host (read-only: it changes no
# setting).
#
#   bench/device-bench.sh [GPUCTOP_BINARY] [SECONDS] [LOADS]
#
# LOADS (default "4 64"): N PyTorch processes on GPU 0, 4 of them busy (a matrix product
# in a loop) and N-4 idle contexts (a CUDA context and a sleep). For each load and each
# tool: the tool in a 200x50 tmux pane (TERM=xterm-256color) at a 1 s refresh; after a
# 5 s warm-up, SECONDS (default 20) of steady state: CPU seconds per minute (utime+stime
# from /proc/PID/stat, all threads), peak RSS (VmHWM) and terminal bytes per second (tmux
# pipe-pane); then the median wall time of one-shot runs (gpuctop and nvidia-smi taking
# turns, 15 each; nvitop and gpustat 7 each). One table per
# load, as issue #14's.
#
# Needs: tmux, python3 with PyTorch; nvtop, nvitop and gpustat come in .whl/ (made by
# bench/tool-kit.sh), installed here into a private directory.
# BENCH_KEEP=DIR keeps the raw terminal streams (with a timeline of when each chunk came,
# bench/tty-timeline.py) and last screens. BENCH_PROFILE=1 (what
# bench/device-all.sh sets) also runs `gpuctop profile` with the last load still on the GPU.
set -u
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-.device/gpuctop}")
seconds=${2:-20}
loads=${3:-4 64}
work=$(mktemp -d /tmp/gpuctop-bench.XXXXXX)
pids=()
cleanup() { tmux -S "$work/tmux" kill-server 2>/dev/null; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

# nvtop: Debian's nvtop 3.0.1 binary (contrib), carried as .whl/bin/nvtop (bench/tool-kit.sh).
[ -x .whl/bin/nvtop ] && export PATH="$PWD/.whl/bin:$PATH"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target "$work/site" .whl/*.whl >/dev/null 2>&1 \
        && export PYTHONPATH="$work/site" PATH="$work/site/bin:$PATH"
fi

. bench/gpu-load.sh

echo "== versions"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for t in nvtop nvitop gpustat; do
    command -v "$t" >/dev/null && echo "$t $("$t" --version 2>&1 | head -1)" || echo "$t: not installed"
done
"$bin" --version 2>&1 | head -1

tick=$(getconf CLK_TCK)
cpu_ticks() { awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
# CPU nanoseconds of the process's live threads (schedstat): ticks are 10 ms, too coarse for
# 0.1 CPU s/min over 20 s. A thread that ends within the window loses its share here: when
# the ticks say more than two ticks beyond, the ticks are reported instead.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }
threads() { for t in /proc/"$1"/task/*; do echo "$(basename "$t") $(cat "$t/comm") $(awk '{ print $1 }' "$t/schedstat")"; done 2>/dev/null; }

measure() {   # load, name, command: one line "name cpu rss bytes" into $work/steady-LOAD.txt
    local load=$1 name=$2 cmd=$3 log="$work/$1-$2.out"
    : >"$log"
    tmux -S "$work/tmux" -f /dev/null new-session -d -x 200 -y 50 -s "$name" "exec env TERM=xterm-256color LANG=C.UTF-8 $cmd"
    tmux -S "$work/tmux" pipe-pane -t "$name" -o "python3 $PWD/bench/tty-timeline.py $log $work/$load-$name.timeline"
    local pid; pid=$(tmux -S "$work/tmux" display-message -p -t "$name" '#{pane_pid}')
    sleep 5
    local t0 b0 c0 t1 b1 c1
    t0=$(date +%s.%N); b0=$(stat -c %s "$log"); c0=$(cpu_ticks "$pid"); n0=$(cpu_ns "$pid"); threads "$pid" >"$work/threads0"
    sleep "$seconds"
    t1=$(date +%s.%N); b1=$(stat -c %s "$log"); c1=$(cpu_ticks "$pid"); n1=$(cpu_ns "$pid"); threads "$pid" >"$work/threads1"
    # gpuctop names its threads (sampler, xid-events, ...): each one's share, for BENCHMARKS.md.
    [ "$name" = gpuctop ] && join "$work/threads0" "$work/threads1" | awk -v t0="$t0" -v t1="$t1" \
        '{ printf "%s:%.0f ", $2, ($5 - $3) / 1000 / (t1 - t0) }' >"$work/threads-$load.txt"
    local hwm; hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
    tmux -S "$work/tmux" capture-pane -p -t "$name" >"$work/$load-$name.screen"
    tmux -S "$work/tmux" kill-session -t "$name"
    awk -v n="$name" -v t0="$t0" -v t1="$t1" -v b0="$b0" -v b1="$b1" -v c0="$c0" -v c1="$c1" -v n0="$n0" -v n1="$n1" -v tick="$tick" -v hwm="$hwm" 'BEGIN {
        d = t1 - t0; cpu = (c1 - c0) / tick; ns = (n1 - n0) / 1e9; if (cpu - ns < 2 / tick) cpu = ns
        printf "%-12s %8.3f %8.1f %8.0f\n", n, cpu * 60 / d, hwm / 1024, (b1 - b0) / d }' \
        | tee -a "$work/steady-$load.txt"
}

oneshot() {   # load: "name ms" lines into $work/oneshot-LOAD.txt
    # gpuctop and nvidia-smi take turns, 15 runs each: their medians are a few ms apart
    # and the host drifts by as much between two blocks of runs; nvitop and gpustat, far
    # slower, 7 runs each.
    python3 - "$bin" "$work/oneshot-$1.txt" <<'PY'
import shutil, statistics, subprocess, sys, time
tools = [("gpuctop", [sys.argv[1], "snapshot", "--json"]), ("nvidia-smi", ["nvidia-smi"]),
         ("nvitop", ["nvitop", "--once"]), ("gpustat", ["gpustat", "--json"])]
def once(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t) * 1000
runs = {name: [] for name, _ in tools}
present = [(name, cmd) for name, cmd in tools if shutil.which(cmd[0])]
turns = [(name, cmd) for name, cmd in present if name in ("gpuctop", "nvidia-smi")]
for _ in range(15):
    for name, cmd in turns:
        runs[name].append(once(cmd))
for name, cmd in present:
    if (name, cmd) not in turns:
        runs[name] = [once(cmd) for _ in range(7)]
with open(sys.argv[2], "w") as out:
    for name, cmd in tools:
        if not runs[name]:
            print(f"{name:12s} not installed"); continue
        print(f"{name:12s} one-shot {statistics.median(runs[name]):7.1f} ms   ({' '.join(f'{r:.1f}' for r in runs[name])})")
        out.write(f"{name} {statistics.median(runs[name]):.1f}\n")
PY
}

table() {   # load, title: issue #14's table for one load, in Markdown
    python3 - "$work/steady-$1.txt" "$work/oneshot-$1.txt" "$2" <<'PY'
import sys
steady = {l.split()[0]: l.split()[1:] for l in open(sys.argv[1]) if l.strip()}
shot = {l.split()[0]: l.split()[1] for l in open(sys.argv[2]) if l.strip()}
tools = ["nvidia-smi", "nvtop", "nvitop", "gpustat", "gpuctop"]
print(f"| load | figure | {' | '.join(tools)} |")
print("| --- | --- |" + " --- |" * len(tools))
rows = [("CPU s/min", lambda t: steady[t][0] if t in steady else "–"),
        ("peak RSS MiB", lambda t: steady[t][1] if t in steady else "–"),
        ("terminal B/s", lambda t: steady[t][2] if t in steady else "–"),
        ("one-shot ms", lambda t: shot.get(t, "–"))]
for i, (name, get) in enumerate(rows):
    print(f"| {sys.argv[3] if i == 0 else ''} | {name} | {' | '.join(get(t) for t in tools)} |")
PY
}

for load in $loads; do
    busy=$(( load < 4 ? load : 4 ))
    idle=$(( load - busy ))
    start_gpu_load "$busy"
    [ "$idle" -gt 0 ] && start_idle_contexts "$idle"
    # Steady state for every tool: 60 new contexts go on allocating for half a minute after
    # nvidia-smi lists them (the tool measured first would see that; gpuctop asks the
    # process lists on every refresh while the used memory moves).
    wait_for_steady_memory
    title="$load PyTorch processes ($busy busy, $idle idle contexts)"
    echo
    echo "== $title; nvidia-smi lists $(gpu_processes); steady state ${seconds} s, 200x50, 1 s refresh"
    printf "%-12s %8s %8s %8s\n" tool "CPU s/min" "RSS MiB" "bytes/s"
    : >"$work/steady-$load.txt"
    measure "$load" gpuctop "$bin --interval 1"
    measure "$load" nvidia-smi "nvidia-smi -l 1"
    command -v nvtop >/dev/null && measure "$load" nvtop "nvtop -d 10" || echo "nvtop: not installed"
    command -v nvitop >/dev/null && measure "$load" nvitop "nvitop --interval 1" || echo "nvitop: not installed"
    command -v gpustat >/dev/null && measure "$load" gpustat "gpustat --interval 1" || echo "gpustat: not installed"
    [ -s "$work/threads-$load.txt" ] && echo "gpuctop threads, CPU µs/s: $(cat "$work/threads-$load.txt")"
    oneshot "$load"
    echo "== gpuctop profile --one-shot ($title)"
    "$bin" profile --one-shot
    echo "== table: $title"
    table "$load" "$title"
    if [ "${BENCH_PROFILE:-}" = 1 ] && [ "$load" = "${loads##* }" ]; then
        echo "== gpuctop profile --startup ($title)"
        "$bin" profile --startup
        echo "== gpuctop profile, 30 refreshes at 1 s ($title)"
        "$bin" profile --interval 1 --refreshes 30 --calls 5
        echo "== gpuctop without NVML (memory of gpuctop alone)"
        "$bin" profile --startup --nvml /nonexistent/libnvidia-ml.so.1 | tail -1
    fi
    stop_gpu_load
done
# Keep the raw terminal streams and the last screens where the caller wants them.
[ -n "${BENCH_KEEP:-}" ] && cp "$work"/*.out "$work"/*.timeline "$work"/*.screen "$BENCH_KEEP"/ 2>/dev/null
true
