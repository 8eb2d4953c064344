#!/usr/bin/env python3
"""Compares `gpuctop snapshot --json` with nvidia-smi's CSV output.

usage: device_compare.py SNAP.json GPUS.csv APPS.csv
GPUS.csv: index,name,uuid,pci.bus_id,memory.total,power.limit,enforced.power.limit,
          power.default_limit,power.min_limit,power.max_limit,driver_version,...
APPS.csv: pid,gpu_uuid,used_memory   (MiB)
"""
import csv, json, sys

snap = json.load(open(sys.argv[1]))
gpus_csv = [[c.strip() for c in row] for row in csv.reader(open(sys.argv[2])) if row]
apps_csv = [[c.strip() for c in row] for row in csv.reader(open(sys.argv[3])) if row]
failures = 0

def check(what, ours, theirs, ok=None):
    global failures
    good = ok if ok is not None else ours == theirs
    failures += 0 if good else 1
    print(f"{'PASS' if good else 'FAIL'}  {what:40s} gpuctop={ours!s:42s} nvidia-smi={theirs}")

def watts(mw):
    return None if mw is None else mw / 1000.0

check("driver version", snap.get("driverVersion"), gpus_csv[0][10] if gpus_csv else None)
check("GPU count", len(snap["gpus"]), len(gpus_csv))
by_uuid = {g.get("uuid"): g for g in snap["gpus"]}
for row in gpus_csv:
    index, name, uuid, bus, mem_total = row[0], row[1], row[2], row[3], row[4]
    g = by_uuid.get(uuid)
    check(f"GPU {index} present by UUID", uuid in by_uuid, uuid, ok=uuid in by_uuid)
    if not g:
        continue
    check(f"GPU {index} index", g["index"], int(index))
    check(f"GPU {index} name", g.get("name"), name)
    check(f"GPU {index} PCI bus id", (g.get("pciBusId") or "").upper(), bus.upper())
    check(f"GPU {index} memory total MiB", (g.get("memoryTotal") or 0) // (1 << 20), int(mem_total))
    for label, key, col in [("power limit W", "powerLimit", 5), ("enforced power limit W", "powerLimitEnforced", 6),
                            ("default power limit W", "powerLimitDefault", 7), ("min power limit W", "powerLimitMin", 8),
                            ("max power limit W", "powerLimitMax", 9)]:
        theirs = row[col]
        ours = watts(g.get(key))
        if theirs in ("[N/A]", "N/A", "[Not Supported]"):
            check(f"GPU {index} {label}", ours, theirs, ok=ours is None)
        else:
            check(f"GPU {index} {label}", ours, float(theirs), ok=ours is not None and abs(ours - float(theirs)) < 0.01)

uuid_to_index = {g.get("uuid"): g["index"] for g in snap["gpus"]}
ours_apps = {(p["pid"], p["gpuIndex"]): p for p in snap["processes"]}
check("GPU process count", len(ours_apps), len(apps_csv))
for pid, gpu_uuid, used in apps_csv:
    key = (int(pid), uuid_to_index.get(gpu_uuid))
    p = ours_apps.get(key)
    check(f"process {pid} present on GPU {key[1]}", p is not None, "listed", ok=p is not None)
    if p:
        ours_mib = (p.get("usedGpuMemory") or 0) // (1 << 20)
        check(f"process {pid} used memory MiB", ours_mib, int(used), ok=abs(ours_mib - int(used)) <= 2)
        info = p.get("info") or {}
        check(f"process {pid} command from /proc", info.get("command", "")[:30], "python3 ...", ok="python" in info.get("command", ""))
        check(f"process {pid} SM utilisation read", p.get("smUtilization"), "0..100",
              ok=p.get("smUtilization") is not None and 0 <= p["smUtilization"] <= 100)

print(f"{failures} failed")
sys.exit(1 if failures else 0)
