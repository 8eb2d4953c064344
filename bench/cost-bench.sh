#!/usr/bin/env bash
# The device comparison's gpuctop half, on a machine without a GPU: the fake NVML lists
# one H200 with 4 or 64 GPU processes and charges each NVML call the CPU it costs on a
# real GPU with as many processes (`call_cost`, Tests/FakeNVML/SCENARIO.md): the process
# lists and per-process utilisation as measured with 4 (H100) and 64 (H200, issue #14)
# processes; utilisation near 100 %, power changing every second, as under load.
# The processes are real (python3, a few threads each, waking every 250 ms for about
# a millisecond of CPU, like an idle PyTorch context); at 64, 4 of them have per-process
# utilisation samples (the busy ones) and 60 have none.
#
#   bench/cost-bench.sh [GPUCTOP_BINARY] [SECONDS] [LOADS]
#
# GPUCTOP_BINARY defaults to the release build; SECONDS (default 30) is the steady window
# of the dashboard; LOADS (default "4 64") the process counts. For each load:
#   - `gpuctop profile` (30 refreshes at 1 s, 200x50 frame): the steady stages and the
#     process's CPU per refresh;
#   - the dashboard in a 200x50 tmux pane at 1 s: after 5 s, SECONDS measured: CPU s/min
#     (utime+stime), peak RSS (VmHWM), terminal bytes/s (pipe-pane);
#   - one-shot `snapshot --json`: median wall ms of 7 runs.
# BENCH_KEEP=DIR keeps the scenarios, the profiles, the terminal streams and last screens.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-.build/release/gpuctop}")
seconds=${2:-30}
loads=${3:-4 64}
fake=$(scripts/build-fake-nvml.sh | tail -1)/libnvidia-ml.so.1
work=$(mktemp -d /tmp/gpuctop-cost.XXXXXX)
pids=()
cleanup() {
    tmux -S "$work/tmux" kill-server 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

start_processes() {  # N: N python3 processes, PIDs appended to pids and to $work/pids
    : >"$work/pids"
    for _ in $(seq "$1"); do
        python3 -c '
import threading, time
def idle():
    while True: time.sleep(1)
for _ in range(6): threading.Thread(target=idle, daemon=True).start()
while True:
    t = time.process_time()
    while time.process_time() - t < 0.001: pass
    time.sleep(0.25)
' &
        pids+=($!)
        echo $! >>"$work/pids"
    done
}

scenario() {  # N busy: one H200, N processes of which `busy` have utilisation samples
    local n=$1 busy=$2 compute=48us graphics=33us mps=32us util=1450us
    # The driver's per-call cost grows with the contexts on the GPU: with 4 processes
    # (H100, BENCHMARKS.md) and with 64 (H200, issue #14).
    [ "$n" -ge 64 ] && { compute=1500us; graphics=700us; mps=900us; util=1800us; }
    cat <<EOF
driver 580.159.04
cuda 13000
call_cost nvmlDeviceGetComputeRunningProcesses_v3 $compute
call_cost nvmlDeviceGetGraphicsRunningProcesses_v3 $graphics
call_cost nvmlDeviceGetMPSComputeRunningProcesses_v3 $mps
call_cost nvmlDeviceGetProcessUtilization $util
call_cost nvmlDeviceGetMigMode 81us
call_cost nvmlDeviceGetPowerManagementLimit 84us
call_cost nvmlDeviceGetFanSpeed 79us
call_cost nvmlDeviceGetMemoryInfo_v2 6us
call_cost nvmlDeviceGetPersistenceMode 3us
call_cost nvmlDeviceGetComputeMode 3us
gpu
name NVIDIA H200
uuid GPU-a66de040-50ad-07c5-991d-4be90d4bdfdc
pci 00000000:19:00.0
memory_total 143771MiB
memory_reserved 512MiB
memory_used 60GiB
util 100 100 100 99 100 100 100 100 100 100
mem_util 40 40 41 40 40 40 40 40 40 40
temperature 51 51 51 51 51 51 51 51 51 51 51 51 51 51 51 51 51 51 51 52
clock_sm 1980
clock_mem 3201
pstate 0
power 512000 530000 498000 541000
power_limit 700000
power_default 700000
power_min 200000
power_max 700000
persistence 1
compute_mode 0
encoder 0
decoder 0
mig 0
process_util_min 72
EOF
    local i=0
    while read -r pid; do
        if [ "$i" -lt "$busy" ]; then
            echo "process compute pid=$pid mem=$((4 + i))GiB sm=$((90 - 20 * i)) memutil=$((30 - 5 * i))"
        else
            echo "process compute pid=$pid mem=$((500 + i))MiB"
        fi
        i=$((i + 1))
    done <"$work/pids"
}

tick=$(getconf CLK_TCK)
cpu_ticks() { awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
# CPU nanoseconds of the process's live threads (schedstat): ticks are 10 ms, too coarse for
# 0.1 CPU s/min over 20 s. A thread that ends within the window loses its share here: when
# the ticks say more than two ticks beyond, the ticks are reported instead.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }

for n in $loads; do
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
    start_processes "$n"
    scenario "$n" 4 >"$work/s$n.scenario"
    export FAKE_NVML_SCENARIO="$work/s$n.scenario"
    common=(--nvml "$fake" --docker-host unix:///nonexistent/docker.sock)
    echo "== $n GPU processes (4 with utilisation samples), fake NVML at the H200's per-call costs"
    "$bin" profile "${common[@]}" --interval 1 --refreshes 30 --calls 0 >"$work/profile$n.txt"
    grep -E "^  (NVML|procfs|join|render|sampler|process CPU)" "$work/profile$n.txt" | sed 's/^/  profile: /'
    grep "^memory" "$work/profile$n.txt" | sed 's/^/  profile: /'

    log="$work/tmux$n.out"
    : >"$log"
    tmux -S "$work/tmux" -f /dev/null new-session -d -x 200 -y 50 -s "g$n" \
        "exec env TERM=xterm-256color LANG=C.UTF-8 FAKE_NVML_SCENARIO=$FAKE_NVML_SCENARIO $bin ${common[*]} --interval 1"
    tmux -S "$work/tmux" pipe-pane -t "g$n" -o "cat >>$log"
    pid=$(tmux -S "$work/tmux" display-message -p -t "g$n" '#{pane_pid}')
    sleep 5
    t0=$(date +%s.%N); b0=$(stat -c %s "$log"); c0=$(cpu_ticks "$pid"); n0=$(cpu_ns "$pid")
    sleep "$seconds"
    t1=$(date +%s.%N); b1=$(stat -c %s "$log"); c1=$(cpu_ticks "$pid"); n1=$(cpu_ns "$pid")
    hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
    tmux -S "$work/tmux" capture-pane -p -t "g$n" >"$work/screen$n.txt"
    tmux -S "$work/tmux" kill-session -t "g$n"
    awk -v t0="$t0" -v t1="$t1" -v b0="$b0" -v b1="$b1" -v c0="$c0" -v c1="$c1" -v n0="$n0" -v n1="$n1" -v tick="$tick" -v hwm="$hwm" 'BEGIN {
        d = t1 - t0; cpu = (c1 - c0) / tick; ns = (n1 - n0) / 1e9; if (cpu - ns < 2 / tick) cpu = ns
        printf "  dashboard: CPU %.3f s/min, peak RSS %.1f MiB, terminal %.0f bytes/s\n", cpu * 60 / d, hwm / 1024, (b1 - b0) / d }'
    python3 - "$bin" "${common[@]}" <<'PY'
import statistics, subprocess, sys, time
runs = []
for _ in range(7):
    t = time.perf_counter()
    subprocess.run([sys.argv[1], "snapshot", "--json"] + sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs.append((time.perf_counter() - t) * 1000)
print(f"  one-shot snapshot --json: {statistics.median(runs):.1f} ms median ({' '.join(f'{r:.1f}' for r in runs)})")
PY
    [ -n "${BENCH_KEEP:-}" ] && cp "$work"/s$n.scenario "$work"/profile$n.txt "$work"/tmux$n.out "$work"/screen$n.txt "$BENCH_KEEP"/
done
