#!/usr/bin/env bash
# Checks gpuctop against the real driver and nvidia-smi on a GPU host. Read-only:
# it never changes the card's settings (no power limit, clocks, modes or reset).
#
#   scripts/device-check.sh [GPUCTOP_BINARY] [NUMBER_OF_PYTORCH_PROCESSES]
#
# Starts PyTorch processes that keep the GPU busy, waits until nvidia-smi lists
# them, then compares `gpuctop snapshot --json` with nvidia-smi's --query-gpu and
# --query-compute-apps, and times the one-shot snapshot. Exit 1 on any mismatch.
set -u
cd "$(dirname "$0")/.."
bin=${1:-.device/gpuctop}
workers=${2:-4}
work=$(mktemp -d /tmp/gpuctop-device-check.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

echo "== gpuctop binary"
"$bin" --version || { echo "cannot run $bin"; exit 1; }
ldd "$bin" | sed 's/ (0x[0-9a-f]*)//'

echo "== starting $workers PyTorch processes"
for i in $(seq "$workers"); do
    python3 - "$i" >"$work/worker$i.log" 2>&1 <<'PY' &
import sys, time, torch
n = int(sys.argv[1])
x = torch.randn(2048 + 512 * n, 2048 + 512 * n, device="cuda")
end = time.time() + 240
while time.time() < end:
    y = x @ x
    torch.cuda.synchronize()
    time.sleep(0.02 * n)   # different loads per worker
PY
    pids+=($!)
done
for _ in $(seq 120); do
    n=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader | grep -c .)
    [ "$n" -ge "$workers" ] && break
    sleep 0.5
done
sleep 3   # let allocations settle so both tools see the same memory

echo "== nvidia-smi"
nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,memory.total,power.limit,enforced.power.limit,power.default_limit,power.min_limit,power.max_limit,driver_version,persistence_mode,mig.mode.current \
    --format=csv,noheader,nounits | tee "$work/gpus.csv"
nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory --format=csv,noheader,nounits | tee "$work/apps.csv"

echo "== gpuctop snapshot"
"$bin" snapshot
"$bin" snapshot --json >"$work/snap.json"; echo "exit status $?"

echo "== comparison"
python3 scripts/device_compare.py "$work/snap.json" "$work/gpus.csv" "$work/apps.csv"
status=$?

echo "== one-shot timing (median of 7, wall ms)"
python3 - "$bin" <<'PY'
import subprocess, sys, time, statistics
def median_ms(cmd):
    runs = []
    for _ in range(7):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs), runs
for name, cmd in [("gpuctop snapshot --json", [sys.argv[1], "snapshot", "--json"]),
                  ("nvidia-smi (one-shot)", ["nvidia-smi"]),
                  ("nvidia-smi --query-gpu csv", ["nvidia-smi", "--query-gpu=index,utilization.gpu,memory.used,power.draw", "--format=csv"])]:
    m, runs = median_ms(cmd)
    print(f"{name:32s} median {m:7.1f} ms   runs {' '.join(f'{r:.1f}' for r in runs)}")
PY
exit $status
