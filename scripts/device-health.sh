#!/usr/bin/env bash
# GPU health as gpuctop reads it beside nvidia-smi, on a GPU host. Read-only: it
# changes no setting (no power limit, clocks, modes, ECC mode, MIG or reset), runs
# no workload and provokes nothing; it only asks NVML and nvidia-smi.
#
#   scripts/device-health.sh [GPUCTOP_BINARY]      (default .device/gpuctop)
#
# Prints, per GPU:
#   1. gpuctop's reading (`snapshot --json`): clock event (throttle) reasons as a mask
#      and in words, the power violation counter, uncorrected ECC (volatile and
#      aggregate), remapped rows (correctable, uncorrectable, pending, failure);
#   2. nvidia-smi's CSV of the same figures, and a comparison (ECC and remapping must
#      be equal: FAIL otherwise; the reasons may change between the two reads: NOTE);
#   3. `nvidia-smi -q -d PERFORMANCE,ECC,ROW_REMAPPER` whole;
#   4. a 6 s `snapshot --json --stream`: whether XID events are watched on each GPU
#      (xidCounts [] = registered, nothing came; absent = not watched) and any XID seen;
#   5. `gpuctop profile --refreshes 10 --interval 1 --calls 20`: the refresh stages and
#      the time of the health calls (reasons, violation, ECC, remap, event set, wait).
# Exit status: 0 when the figures agree, 1 when one differs, 2 when a tool failed.
set -u
cd "$(dirname "$0")/.." || exit 2
bin=${1:-.device/gpuctop}
work=$(mktemp -d /tmp/gpuctop-device-health.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== gpuctop binary"
"$bin" --version || { echo "cannot run $bin"; exit 2; }
nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1 | sed 's/^/driver /'

echo "== gpuctop snapshot --json (health fields)"
"$bin" snapshot --json >"$work/snap.json" || { echo "gpuctop snapshot failed"; exit 2; }
python3 - "$work/snap.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
names = [(0x1, "idle"), (0x2, "application clocks"), (0x4, "power cap"), (0x8, "HW slowdown"),
         (0x10, "sync boost"), (0x20, "thermal"), (0x40, "HW thermal"), (0x80, "power brake"),
         (0x100, "display clocks")]
for d in s.get("degraded", []):
    print(f"degraded {d['source']}: {d['reason']}")
for g in s["gpus"]:
    r = g.get("clockEventReasons")
    words = ", ".join(n for b, n in names if r is not None and r & b) or ("none" if r == 0 else "n/a")
    print(f"GPU {g['index']} {g.get('name')}")
    print(f"  clock event reasons  {hex(r) if r is not None else 'n/a'} ({words})")
    print(f"  power violation      {g.get('powerViolationTime', 'n/a')} ns, capped {g.get('powerCappedPercent', 'n/a')} %")
    print(f"  uncorrected ECC      volatile {g.get('eccUncorrectedVolatile', 'n/a')}, aggregate {g.get('eccUncorrectedAggregate', 'n/a')}")
    print(f"  remapped rows        correctable {g.get('remappedRowsCorrectable', 'n/a')}, uncorrectable {g.get('remappedRowsUncorrectable', 'n/a')}, "
          f"pending {g.get('rowRemapPending', 'n/a')}, failure {g.get('rowRemapFailure', 'n/a')}")
PY

echo "== nvidia-smi --query-gpu (the same figures)"
# Newer drivers name the reasons clocks_event_reasons, older ones clocks_throttle_reasons.
fields="index,ecc.errors.uncorrected.volatile.total,ecc.errors.uncorrected.aggregate.total,remapped_rows.correctable,remapped_rows.uncorrectable,remapped_rows.pending,remapped_rows.failure"
smi_ok=0
for reasons in clocks_event_reasons.active clocks_throttle_reasons.active; do
    if nvidia-smi --query-gpu="$fields,$reasons" --format=csv,noheader,nounits >"$work/smi.csv" 2>"$work/smi.err"; then
        smi_ok=1
        break
    fi
done
[ "$smi_ok" = 1 ] || { cat "$work/smi.err"; echo "nvidia-smi --query-gpu failed"; exit 2; }
echo "index, ecc uncorrected volatile, aggregate, remapped correctable, uncorrectable, pending, failure, reasons"
cat "$work/smi.csv"

echo "== comparison"
python3 - "$work/snap.json" "$work/smi.csv" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
gpus = {g["index"]: g for g in s["gpus"]}
bad = 0
def num(text):
    t = text.strip()
    if t in ("[N/A]", "N/A", "[Not Supported]", "Not Supported", "Disabled", "[Disabled]"):
        return None
    if t.lower() in ("yes", "no"):
        return t.lower() == "yes"
    try:
        return int(t, 16) if t.startswith("0x") else int(t)
    except ValueError:
        return t
for line in open(sys.argv[2]):
    cols = [c.strip() for c in line.split(",")]
    if len(cols) < 8:
        continue
    i = int(cols[0]); g = gpus.get(i, {})
    pairs = [("uncorrected ECC volatile", num(cols[1]), g.get("eccUncorrectedVolatile")),
             ("uncorrected ECC aggregate", num(cols[2]), g.get("eccUncorrectedAggregate")),
             ("remapped rows correctable", num(cols[3]), g.get("remappedRowsCorrectable")),
             ("remapped rows uncorrectable", num(cols[4]), g.get("remappedRowsUncorrectable")),
             ("remap pending", num(cols[5]), g.get("rowRemapPending")),
             ("remap failure", num(cols[6]), g.get("rowRemapFailure"))]
    for what, smi, ours in pairs:
        ok = smi == ours
        print(f"{'PASS' if ok else 'FAIL'} GPU {i} {what}: nvidia-smi {smi}, gpuctop {ours}")
        bad += 0 if ok else 1
    smi_r, ours_r = num(cols[7]), g.get("clockEventReasons")
    same = smi_r == ours_r
    print(f"{'PASS' if same else 'NOTE'} GPU {i} clock event reasons: nvidia-smi {cols[7]}, gpuctop "
          f"{hex(ours_r) if ours_r is not None else None}{'' if same else ' (read a moment apart: bits like idle may change)'}")
sys.exit(1 if bad else 0)
PY
status=$?

echo "== nvidia-smi -q -d PERFORMANCE,ECC,ROW_REMAPPER"
nvidia-smi -q -d PERFORMANCE,ECC,ROW_REMAPPER

echo "== gpuctop snapshot --json --stream for 6 s (XID watching)"
timeout --preserve-status -s INT 6 "$bin" snapshot --json --stream --interval 1 >"$work/stream.jsonl" 2>"$work/stream.err"
cat "$work/stream.err"
python3 - "$work/stream.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{len(lines)} snapshots")
if lines:
    last = lines[-1]
    for g in last["gpus"]:
        counts = g.get("xidCounts")
        state = "not watched" if counts is None else ("watched, none" if not counts else f"watched: {counts}")
        print(f"GPU {g['index']}: XID events {state}; last XID {g.get('lastXID')}")
    for e in last.get("xidEvents") or []:
        who = ", ".join(c.get("name") or c["id"][:12] for c in e.get("containers", []))
        print(f"XID {e['code']} on GPU {e['gpuIndex']} at {e['time']}: {who}")
PY

echo "== gpuctop profile --refreshes 10 --interval 1 --calls 20"
"$bin" profile --refreshes 10 --interval 1 --calls 20 >"$work/profile.txt" 2>&1 || { cat "$work/profile.txt"; echo "gpuctop profile failed"; exit 2; }
sed -n '1,/^NVML calls/p' "$work/profile.txt" | grep -v '^$'
echo "(health calls)"
grep -E 'NVML calls|ClocksEventReasons|ClocksThrottleReasons|ViolationStatus|TotalEccErrors|RemappedRows|SupportedEventTypes|EventSet' "$work/profile.txt"
exit $status
