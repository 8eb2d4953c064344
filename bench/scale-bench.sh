#!/usr/bin/env bash
# gpuctop at fleet-node scale, on a machine without a GPU: the fake NVML with 8 GPUs
# lists 100, 1,000 and 5,000 GPU processes whose PIDs are real processes (busybox
# sleeps) spread over 200 real containers of the private test dockerd. For each size,
# `gpuctop profile` reports the first refresh and the steady-state median per stage
# (NVML, procfs/cgroups, Docker, join, render into a 200x50 frame), the process's CPU
# per refresh (all threads), peak RSS, and what the steady state re-read.
#
#   bench/scale-bench.sh [GPUCTOP_BINARY] [REFRESHES] [SIZES]
#
# GPUCTOP_BINARY defaults to the release build (scripts/build-release.sh); SIZES to
# "100 1000 5000". Needs root (dockerd), docker.io and busybox-static, as the tests do.
# The containers are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/gpuctop}
refreshes=${2:-20}
sizes=${3:-100 1000 5000}
containers=${GPUCTOP_SCALE_CONTAINERS:-200}
per=${GPUCTOP_SCALE_PER_CONTAINER:-25}
interval=${GPUCTOP_SCALE_INTERVAL:-0.5}

scripts/test-dockerd.sh start >&2
eval "$(scripts/test-dockerd.sh env)"
dk() { docker -H "$GPUCTOP_TEST_DOCKER_HOST" "$@"; }
fake=$(scripts/build-fake-nvml.sh | tail -1)/libnvidia-ml.so.1
work=$(mktemp -d /tmp/gpuctop-scale.XXXXXX)
remove_containers() {
    dk ps -aq --filter label=gpuctop.scale=1 | xargs -r docker -H "$GPUCTOP_TEST_DOCKER_HOST" rm -f >/dev/null 2>&1 || true
}
trap 'remove_containers; rm -rf "$work"' EXIT
remove_containers
# GPUCTOP_SCALE_HOLD=1: leave the containers running at the end (for profiling by hand).
[ -n "${GPUCTOP_SCALE_HOLD:-}" ] && trap 'rm -rf "$work"' EXIT

echo "scale-bench: starting $containers containers with $per processes each" >&2
t0=$(date +%s)
seq "$containers" | xargs -P 4 -I{} docker -H "$GPUCTOP_TEST_DOCKER_HOST" run -d --network none \
    --label gpuctop.scale=1 --label com.docker.compose.project=scale --label com.docker.compose.service=job{} \
    --name gpuctop-scale-{} gpuctop-test/busybox:latest \
    sh -c "i=0; while [ \$i -lt $per ]; do sleep 1000000 & i=\$((i+1)); done; wait" >/dev/null
echo "scale-bench: containers up in $(( $(date +%s) - t0 )) s" >&2

# Host PIDs of each container's sleeps: the children of its init shell.
: >"$work/pids"
for c in $(seq "$containers"); do
    shell=$(dk inspect --format '{{.State.Pid}}' "gpuctop-scale-$c")
    for _ in $(seq 100); do
        kids=$(cat "/proc/$shell/task/$shell/children" 2>/dev/null || true)
        [ "$(echo $kids | wc -w)" -ge "$per" ] && break
        sleep 0.1
    done
    echo "$c $kids" >>"$work/pids"
done

scenario() {  # scenario N: N processes over the containers, round robin over 8 GPUs
    python3 - "$1" "$work/pids" <<'PY'
import sys
n = int(sys.argv[1])
rows = [line.split() for line in open(sys.argv[2])]
containers = [r[1:] for r in rows]
# Take processes round robin across containers, so N=100 uses 100 containers.
picked = []
depth = 0
while len(picked) < n:
    for kids in containers:
        if depth < len(kids) and len(picked) < n:
            picked.append(int(kids[depth]))
    depth += 1
print("driver 580.159.04")
for g in range(8):
    print("gpu")
    print("name NVIDIA H200")
    print("memory_total 143771MiB")
    print("memory_used 60GiB 61GiB 59GiB")
    print("util 97 100 88 100")
    print("mem_util 40 45")
    print("temperature 51 52")
    print("clock_sm 1980")
    print("clock_mem 3201")
    print("pstate 0")
    print("power 512000 530000 498000")
    print("power_limit 700000")
    print("power_default 700000")
    print("power_min 200000")
    print("power_max 700000")
    print("energy 1000000 700")
    print("persistence 1")
    print("compute_mode 0")
    print("encoder 0")
    print("decoder 0")
    print("mig 0")
    print("process_util_min 72")
    for i, pid in enumerate(picked):
        if i % 8 == g:
            print(f"process compute pid={pid} mem={256 + i % 512}MiB sm={i % 100} memutil={i % 30}")
PY
}

printf "%-9s %-10s | %-40s | %-49s | %-10s | %-8s | %s\n" "processes" "containers" \
    "first refresh ms: NVML procfs Docker join render" "steady µs CPU: NVML procfs Docker join render total" "process µs" "RSS MiB" "steady re-reads"
for n in $sizes; do
    scenario "$n" >"$work/s$n.scenario"
    FAKE_NVML_SCENARIO="$work/s$n.scenario" "$bin" profile --nvml "$fake" --docker-host "$GPUCTOP_TEST_DOCKER_HOST" \
        --interval "$interval" --refreshes "$refreshes" --calls 0 >"$work/p$n.txt"
    [ -n "${GPUCTOP_SCALE_KEEP:-}" ] && cp "$work/p$n.txt" "$work/s$n.scenario" "$GPUCTOP_SCALE_KEEP/"
    python3 - "$n" "$work/p$n.txt" <<'PY'
import re, sys
n, path = sys.argv[1], sys.argv[2]
text = open(path).read()
def row(label, section):
    part = text.split(section, 1)[1]
    for line in part.splitlines():
        if line.strip().startswith(label):
            nums = re.findall(r"[0-9.]+", line[len(line) - len(line.lstrip()) + len(label):])
            return nums
    return ["?", "?"]
head = text.splitlines()[0]
containers = re.search(r"(\d+) containers", head).group(1)
first = [row(f"first refresh: {s}", "startup")[0] for s in ["NVML", "procfs/cgroups", "Docker", "join", "render"]]
steady = [row(s, "steady state")[0] for s in ["NVML", "procfs/cgroups", "Docker", "join", "render (frame in memory)", "sampler + render"]]
proc = re.search(r"all threads \(mean\)\s+(\d+)", text).group(1)
rss = re.search(r"VmHWM: ([0-9.]+) MiB", text).group(1)
rereads = re.search(r"re-read in steady state: (.*)", text).group(1)
print(f"{n:<9} {containers:<10} | {' '.join(f'{v:>7}' for v in first):<40} | {' '.join(f'{v:>7}' for v in steady):<49} | {proc:>10} | {rss:>8} | {rereads}")
PY
done
