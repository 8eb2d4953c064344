#!/usr/bin/env bash
# GPM figures and energy per container as gpuctop reads them, beside nvidia-smi's,
# on a GPU host while PyTorch runs. Read-only: it changes no GPU setting (no power
# limit, clocks, modes, MIG or reset); the only workload is bench/gpu-load.sh's
# PyTorch processes, which it ends.
#
#   scripts/device-gpm.sh [GPUCTOP_BINARY]      (default .device/gpuctop)
#
# Prints:
#   1. under load, 8 one-second `snapshot --json --stream` lines of gpuctop's GPM figures
#      for GPU 0 (SM active, occupancy, tensor, DRAM, PCIe/NVLink) beside
#      `nvidia-smi dmon --gpm-metrics 2,3,5,10,20,21,60,61` over the same seconds;
#   2. `gpuctop profile`: the cost of the GPM calls (support, sample, sample+metrics);
#   3. a 30 s `gpuctop record --energy` under load, then `snapshot --from --energy`:
#      each container's kWh beside GPU 0's own counter, and the counter delta
#      nvidia-smi reports (total_energy_consumption is not in --query-gpu: we read
#      `nvidia-smi -q -d POWER`'s energy field where the driver has it).
# Exit status: 0 when the estimate is within 10 % of GPU 0's counter, 1 otherwise, 2 when a tool failed.
set -u
cd "$(dirname "$0")/.." || exit 2
bin=${1:-.device/gpuctop}
work=$(mktemp -d /tmp/gpuctop-device-gpm.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
. bench/gpu-load.sh

"$bin" --version || { echo "cannot run $bin"; exit 2; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader

echo "== starting PyTorch load on GPU 0"
start_gpu_load 2 || exit 2
sleep 3

echo "== GPM: gpuctop (snapshot --json --stream) beside nvidia-smi dmon --gpm-metrics"
nvidia-smi dmon -i 0 -c 8 -d 1 --gpm-metrics 2,3,5,10,20,21,60,61 >"$work/dmon.txt" 2>&1 &
dmon=$!
timeout 9 "$bin" snapshot --json --stream --interval 1 >"$work/stream.jsonl" 2>"$work/stream.err"
wait "$dmon"
cat "$work/dmon.txt"
python3 - "$work/stream.jsonl" <<'PY'
import json, sys
print("gpuctop GPU 0: SM%   occ%   tensor%  dram%   pcieTX MiB/s  pcieRX MiB/s  nvlTX MiB/s  nvlRX MiB/s")
for line in open(sys.argv[1]):
    try: s = json.loads(line)
    except ValueError: continue
    a = (s.get("gpus") or [{}])[0].get("activity")
    if not a: print("  (no activity: GPM not supported or first sample)"); continue
    mib = lambda k: "-" if a.get(k) is None else f"{a[k] / 1048576:.0f}"
    pct = lambda k: "-" if a.get(k) is None else f"{a[k]:.1f}"
    print(f"  {pct('smActive'):>6} {pct('smOccupancy'):>6} {pct('tensorActive'):>8} {pct('dramActive'):>6}"
          f" {mib('pcieTxBytesPerSecond'):>13} {mib('pcieRxBytesPerSecond'):>13} {mib('nvlinkTxBytesPerSecond'):>12} {mib('nvlinkRxBytesPerSecond'):>12}")
PY

echo "== gpuctop profile (GPM call costs)"
"$bin" profile --refreshes 5 --interval 1 --calls 20 2>&1 | grep -i -E "gpm|stage|refresh" || echo "(profile failed)"

echo "== energy: 30 s recording with --energy under load"
nvidia-smi -q -d POWER -i 0 | grep -i -E "energy" | sed 's/^/before: /'
"$bin" record -o "$work/e.rec" --interval 1 --duration 30 --energy || exit 2
nvidia-smi -q -d POWER -i 0 | grep -i -E "energy" | sed 's/^/after:  /'
"$bin" snapshot --from "$work/e.rec" --energy --price 0.30 || exit 2
"$bin" snapshot --from "$work/e.rec" --energy --json >"$work/e.json" || exit 2
python3 - "$work/e.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
g = [x for x in r["gpus"] if x["gpu"] == 0]
if not g or not g[0]["counterKilowattHours"]:
    print("FAIL: no GPU 0 energy counter in the recording"); sys.exit(1)
p = g[0]["attributedPercent"]
print(f"GPU 0: containers' estimates are {p:.1f}% of its counter")
sys.exit(0 if abs(p - 100) <= 10 else 1)
PY
