#!/usr/bin/env bash
# Real Docker containers doing PyTorch work on a real GPU, recorded and named by gpuctop.
# Runs ON THE GPU HOST (Ubuntu 24.04, root, no network, no Docker installed), from the repo root:
#
#   DURATION=180 OUT=/some/dir scripts/device-containers.sh
#
# Needs .device/docker-kit.tar.xz (scripts/device-kit.sh builds it) and .device/gpuctop (else
# .build/release/gpuctop or .build/debug/gpuctop; GPUCTOP=path overrides).
#
# What it does:
#   1. unpacks the kit to /tmp/gpuctop-device/kit and starts its own containerd and dockerd with
#      their sockets and data under /tmp/gpuctop-device (overlay2, vfs if overlay2 does not
#      work; no bridge, no iptables, cgroupfs driver); imports the busybox rootfs as an image.
#   2. probes, in a throw-away container, that the host's python3 (host /usr, /opt, /etc mounted
#      read-only) imports torch and sees CUDA; without it the containers run busybox loops.
#   3. the scenario, DURATION seconds (T = DURATION), recorded by
#      `gpuctop record -o $OUT/example.gpuctop --interval 1 --duration T`:
#        research-trainer-1    compose research/trainer    8192 matmuls, 8 GiB; stops at 0.75 T
#        research-finetune-1   compose research/finetune   light (2048, pauses, 2 GiB), then at
#                                                          0.5 T heavy (6144, 6 GiB)
#        research-inference-1  compose research/inference  starts at 0.25 T; 4096 with pauses, 3 GiB
#        k8s_server_inference-7f9c_serving_..._0           Kubernetes labels (pod inference-7f9c,
#                                                          namespace serving, container server);
#                                                          python under a shell; 1024, 1 GiB
#        research-notebook-1   compose research/notebook   GPU devices but only `sleep`: an idle
#                                                          allocation
#        research/trainer-0    a Kubernetes pod on containerd, no Docker: `ctr run` in namespace
#                              k8s.io with the CRI plugin's annotations (container pytorch, image
#                              nvcr.io/nvidia/pytorch:25.01-py3) in the kubelet's cgroupfs shape
#                              /kubepods/besteffort/pod<uid>/<id>, beside its pause sandbox (which
#                              must not appear); 2048 with pauses, 1 GiB
#        research/notebook-0   a pod container holding /dev/nvidia0 with NVIDIA_VISIBLE_DEVICES=void
#                              and running `sleep`: an idle allocation read from its OCI spec
#      gpuctop reads the pods from containerd's state directory (--containerd-state).
#      the live dashboard in tmux (200x50, TERM=xterm-256color) from 0.3 T; at 0.6 T (all busy):
#      `gpuctop snapshot` and `snapshot --json`, nvidia-smi, docker ps, the dashboard's screen,
#      and the checks (PASS/FAIL lines): every GPU process's container in gpuctop's JSON is the
#      container whose process tree holds it (docker inspect), with its name and labels; every
#      busy container has a GPU process; the idle one is an idle allocation; gpuctop's PIDs are
#      nvidia-smi's. After the recording: the same names replayed from the file.
#   4. cleans up everything: containers, dockerd, containerd, shims, mounts, /tmp/gpuctop-device,
#      and /etc/docker, /run/docker, /run/containerd where they did not exist before.
#
# It never changes GPU settings (no power limit, clocks, modes, MIG, reset): it only runs
# workloads and reads (nvidia-smi queries, gpuctop record/snapshot/dashboard).
#
# Output in $OUT (default /tmp/device-out, emptied first): example.gpuctop, snapshot.txt,
# snapshot.json, dashboard-200x50.ans (capture-pane -e), dashboard-200x50.txt (plain),
# checks.txt, run.log (this script's output). At most 8 files, each under 16 MiB, names of
# [A-Za-z0-9._-] only: checked at the end.
#
# Testing without a GPU: NO_GPU=1 skips the missing /dev/nvidia* devices and runs busybox loops;
# FAKE_NVML=path/libnvidia-ml.so.1 (scripts/build-fake-nvml.sh) makes gpuctop and the checks see
# the containers' processes as GPU processes of a fake GPU.
# Exit status: 0 when every check passed, 1 when one failed, 2 when the setup failed.
set -u
set -o pipefail
cd "$(dirname "$0")/.." || exit 2
. scripts/containerd-config.sh
REPO=$(pwd)

DURATION=${DURATION:-180}
NO_GPU=${NO_GPU:-0}
FAKE_NVML=${FAKE_NVML:-}
KIT_ARCHIVE=${KIT:-$REPO/.device/docker-kit.tar.xz}
BASE=${GPUCTOP_DEVICE_DIR:-/tmp/gpuctop-device}
KITDIR=$BASE/kit
DIR=$BASE/docker
WORK=$BASE/work
SOCK=$DIR/docker.sock
CTR_SOCK=$DIR/containerd/containerd.sock
IMAGE=gpuctop-device/base:latest
TMUX_SOCK=$WORK/tmux.sock
if [ -z "${OUT:-}" ]; then
    OUT=/tmp/device-out
    rm -rf "$OUT"
fi
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)

case "$DURATION" in ''|*[!0-9]*) echo "DURATION must be whole seconds" >&2; exit 2 ;; esac
[ "$DURATION" -ge 20 ] || { echo "DURATION must be at least 20 seconds" >&2; exit 2; }

exec > >(tee -a "$OUT/run.log") 2>&1
START=$(date +%s)
log() { echo "[+$(( $(date +%s) - START ))s] $*"; }
FAILS=0
pass() { echo "PASS $*" | tee -a "$OUT/checks.txt"; }
fail() { echo "FAIL $*" | tee -a "$OUT/checks.txt"; FAILS=$((FAILS + 1)); }
section() { printf '\n== %s\n' "$*" >>"$OUT/checks.txt"; }

# ---------------------------------------------------------------- cleanup
existed() { [ -e "$1" ] && echo 1 || echo 0; }
HAD_ETC_DOCKER=$(existed /etc/docker)
HAD_RUN_DOCKER=$(existed /run/docker)
HAD_RUN_CONTAINERD=$(existed /run/containerd)
SHIM_SOCKETS_BEFORE=$(ls /run/containerd/s 2>/dev/null | sort)
CGROUP_DOCKER_BEFORE=$(ls -d /sys/fs/cgroup/docker /sys/fs/cgroup/*/docker /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods 2>/dev/null | sort)
RECORD_PID=""

alive() { # alive PIDFILE NAME: the process in PIDFILE runs and is NAME (not a recycled pid)
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

stop_pid() { # stop_pid PIDFILE NAME: SIGTERM, bounded wait, SIGKILL
    alive "$1" "$2" || return 0
    local pid i
    pid=$(cat "$1")
    log "stopping $2 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    log "$2 did not exit after SIGTERM; SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

cleanup_base() { # everything under $BASE: ours, from this run or an earlier one that was killed
    [ -d "$BASE" ] || return 0
    local p m
    if [ -x "$KITDIR/bin/docker" ] && alive "$DIR/dockerd.run.pid" dockerd; then
        local ids
        ids=$(timeout 20 "$KITDIR/bin/docker" -H "unix://$SOCK" ps -aq 2>/dev/null)
        [ -n "$ids" ] && timeout 60 "$KITDIR/bin/docker" -H "unix://$SOCK" rm -f $ids >/dev/null 2>&1
    fi
    if [ -S "$TMUX_SOCK" ]; then tmux -S "$TMUX_SOCK" kill-server 2>/dev/null; fi
    if [ -x "$KITDIR/bin/ctr" ] && alive "$DIR/containerd.pid" containerd; then
        local c
        for c in $(timeout 20 "$KITDIR/bin/ctr" --address "$CTR_SOCK" -n k8s.io containers ls -q 2>/dev/null); do
            timeout 20 "$KITDIR/bin/ctr" --address "$CTR_SOCK" -n k8s.io task kill -s KILL "$c" >/dev/null 2>&1
            sleep 0.2
            timeout 20 "$KITDIR/bin/ctr" --address "$CTR_SOCK" -n k8s.io task delete -f "$c" >/dev/null 2>&1
            timeout 20 "$KITDIR/bin/ctr" --address "$CTR_SOCK" -n k8s.io containers rm "$c" >/dev/null 2>&1
        done
    fi
    stop_pid "$DIR/dockerd.run.pid" dockerd
    stop_pid "$DIR/containerd.pid" containerd
    # Shims outlive containerd; they name its socket on their command line.
    for p in /proc/[0-9]*; do
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "-address $CTR_SOCK "; then
            log "killing leftover shim ${p#/proc/}"
            kill -KILL "${p#/proc/}" 2>/dev/null
        fi
    done
    sleep 0.5
    awk -v d="$BASE/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    rm -rf "$BASE" 2>/dev/null || { sleep 1; rm -rf "$BASE"; }
    [ -e "$BASE" ] && log "warning: could not remove $BASE"
}

cleanup() {
    trap - EXIT
    trap '' INT TERM   # a second signal must not cut the cleanup short
    log "cleaning up"
    [ -n "${SLEEP_PID:-}" ] && kill "$SLEEP_PID" 2>/dev/null
    if [ -n "${WATCHDOG_PID:-}" ]; then
        local wd_sleep
        wd_sleep=$(pgrep -P "$WATCHDOG_PID" -x sleep)
        kill "$WATCHDOG_PID" 2>/dev/null
        [ -n "$wd_sleep" ] && kill "$wd_sleep" 2>/dev/null
        WATCHDOG_PID=""
    fi
    if [ -n "$RECORD_PID" ] && kill -0 "$RECORD_PID" 2>/dev/null; then
        kill -TERM "$RECORD_PID" 2>/dev/null
        wait "$RECORD_PID" 2>/dev/null
    fi
    cleanup_base
    # What dockerd and containerd leave outside $BASE: only where it was not there before.
    local s
    for s in $(ls /run/containerd/s 2>/dev/null); do
        if ! printf '%s\n' "$SHIM_SOCKETS_BEFORE" | grep -qx "$s" && ! grep -q "/run/containerd/s/$s" /proc/net/unix; then
            rm -f "/run/containerd/s/$s"
        fi
    done
    [ "$HAD_RUN_CONTAINERD" = 0 ] && ! pgrep -x containerd >/dev/null && rm -rf /run/containerd
    [ "$HAD_RUN_DOCKER" = 0 ] && ! pgrep -x dockerd >/dev/null && rm -rf /run/docker
    [ "$HAD_ETC_DOCKER" = 0 ] && rm -rf /etc/docker
    # Empty "docker" cgroups that runc made (rmdir never removes one that is in use).
    for s in /sys/fs/cgroup/docker /sys/fs/cgroup/*/docker /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods; do
        [ -d "$s" ] || continue
        printf '%s\n' "$CGROUP_DOCKER_BEFORE" | grep -qx "$s" && continue
        find "$s" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
        rmdir "$s" 2>/dev/null
    done
    log "clean"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
# A watchdog: past DURATION + 270 s (7.5 minutes for 180) something hangs; stop and clean up.
WATCHDOG=${WATCHDOG:-$((DURATION + 270))}
( sleep "$WATCHDOG" && { echo "watchdog: ${WATCHDOG}s passed, stopping"; kill -TERM $$; } ) &
WATCHDOG_PID=$!
disown "$WATCHDOG_PID"   # no "Terminated" line when cleanup stops it

setup_failed() { log "SETUP FAILED: $*"; echo "FAIL setup: $*" >>"$OUT/checks.txt"; show_logs; exit 2; }
show_logs() {
    local f
    for f in "$DIR/containerd.log" "$DIR/dockerd.log"; do
        [ -s "$f" ] && { echo "--- errors in $f"; grep -aiE 'level=(error|fatal)|failed|error' "$f" | tail -n 12; }
    done
}

# ---------------------------------------------------------------- preflight
log "gpuctop device containers: DURATION=$DURATION NO_GPU=$NO_GPU OUT=$OUT"
[ "$(id -u)" = 0 ] || setup_failed "must run as root"
GPUCTOP=${GPUCTOP:-}
if [ -z "$GPUCTOP" ]; then
    for c in .device/gpuctop .build/release/gpuctop .build/debug/gpuctop; do
        [ -x "$c" ] && { GPUCTOP=$REPO/$c; break; }
    done
fi
[ -n "$GPUCTOP" ] && [ -x "$GPUCTOP" ] || setup_failed "no gpuctop binary (.device/gpuctop)"
"$GPUCTOP" --version || setup_failed "cannot run $GPUCTOP"
[ -f "$KIT_ARCHIVE" ] || setup_failed "no kit at $KIT_ARCHIVE (scripts/device-kit.sh builds it)"
command -v tmux >/dev/null || log "warning: no tmux: no dashboard capture"
if [ -n "$FAKE_NVML" ]; then
    [ "$NO_GPU" = 1 ] || setup_failed "FAKE_NVML is only for NO_GPU=1"
    export GPUCTOP_NVML=$FAKE_NVML FAKE_NVML_SCENARIO=$WORK/fake.scenario
fi
uname -a
grep -E '^(PRETTY_NAME)=' /etc/os-release 2>/dev/null
log "cgroup: $(stat -fc %T /sys/fs/cgroup) at /sys/fs/cgroup; /tmp on $(stat -fc %T /tmp)"

if [ "$NO_GPU" != 1 ] && [ ! -e /dev/nvidia-uvm ]; then
    # nvidia-modprobe makes /dev/nvidia-uvm at the first CUDA init; do one on the host.
    log "/dev/nvidia-uvm is missing: a CUDA init on the host should create it"
    timeout 60 python3 -c 'import torch; print("host CUDA:", torch.cuda.is_available())' 2>&1 | tail -n 2
fi
gpu_flags=()
for d in /dev/nvidia0 /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools; do
    if [ -e "$d" ]; then
        gpu_flags+=(--device "$d")
    elif [ "$NO_GPU" != 1 ] && [ "$d" != /dev/nvidia-uvm-tools ]; then
        setup_failed "$d is missing (NO_GPU=1 to run without a GPU)"
    fi
done
HAVE_GPU_DEVICES=0
[ -e /dev/nvidia0 ] && HAVE_GPU_DEVICES=1
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=index,name,driver_version,memory.used,memory.total,utilization.gpu,power.draw --format=csv
    HAVE_SMI=1
else
    HAVE_SMI=0
    log "no nvidia-smi"
fi

# ---------------------------------------------------------------- the kit
if [ -d "$BASE" ]; then
    log "removing what an earlier run left in $BASE"
    cleanup_base
fi
mkdir -p "$BASE" "$DIR" "$WORK" "$DIR/cli-config"
log "unpacking $(basename "$KIT_ARCHIVE") ($(stat -c %s "$KIT_ARCHIVE") bytes)"
if command -v xz >/dev/null; then
    xz -dc "$KIT_ARCHIVE" | tar -C "$BASE" -xf - || setup_failed "cannot unpack the kit"
else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$KIT_ARCHIVE" \
        | tar -C "$BASE" -xf - || setup_failed "cannot unpack the kit (no xz, python3 lzma failed)"
fi
mv "$BASE/docker-kit" "$KITDIR" || setup_failed "kit has no docker-kit/"
export PATH="$KITDIR/bin:$PATH"
export DOCKER_CONFIG=$DIR/cli-config   # the docker CLI's config: never ~/.docker
missing=$(LD_LIBRARY_PATH=$KITDIR/lib ldd "$KITDIR"/bin/* 2>/dev/null | grep 'not found' | sort -u)
[ -z "$missing" ] || setup_failed "libraries missing for the kit's binaries: $missing"
log "kit: $(LD_LIBRARY_PATH=$KITDIR/lib dockerd --version), $(containerd --version | cut -d' ' -f1,3), runc $(LD_LIBRARY_PATH=$KITDIR/lib runc --version | head -n1 | cut -d' ' -f3)"

dk() { timeout 120 "$KITDIR/bin/docker" -H "unix://$SOCK" "$@"; }

wait_for() { # wait_for NAME PIDFILE SECONDS COMMAND...
    local what=$1 pidfile=$2 limit=$3; shift 3
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        kill -0 "$(cat "$pidfile")" 2>/dev/null || { log "$what exited during startup"; return 1; }
        [ $SECONDS -ge $deadline ] && { log "$what did not answer within ${limit}s"; return 1; }
        sleep 0.2
    done
}

start_containerd() {
    write_containerd_config "$DIR" "$CTR_SOCK"
    log "starting containerd"
    LD_LIBRARY_PATH=$KITDIR/lib setsid containerd --config "$DIR/containerd.toml" </dev/null >>"$DIR/containerd.log" 2>&1 &
    echo $! >"$DIR/containerd.pid"
    wait_for containerd "$DIR/containerd.pid" 60 test -S "$CTR_SOCK"
}

start_dockerd() { # start_dockerd STORAGE_DRIVER
    rm -f "$SOCK" "$DIR/dockerd.pid" "$DIR/dockerd.run.pid"
    echo '{}' >"$DIR/daemon.json"
    log "starting dockerd (storage driver $1)"
    LD_LIBRARY_PATH=$KITDIR/lib setsid dockerd \
        --host "unix://$SOCK" \
        --data-root "$DIR/data-$1" \
        --exec-root "$DIR/exec" \
        --pidfile "$DIR/dockerd.pid" \
        --config-file "$DIR/daemon.json" \
        --containerd "$CTR_SOCK" \
        --storage-driver="$1" \
        --exec-opt native.cgroupdriver=cgroupfs \
        --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
        --bridge=none \
        --userland-proxy=false \
        --shutdown-timeout=2 \
        </dev/null >>"$DIR/dockerd.log" 2>&1 &
    echo $! >"$DIR/dockerd.run.pid"
    wait_for dockerd "$DIR/dockerd.run.pid" 60 dk version
}

import_and_smoke() {
    dk image inspect "$IMAGE" >/dev/null 2>&1 || \
        dk import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/busybox' \
                  --change 'CMD ["/busybox/sh"]' "$KITDIR/rootfs.tar" "$IMAGE" >/dev/null || return 1
    local said
    said=$(dk run --rm --network none "$IMAGE" /busybox/echo container-ok 2>&1)
    echo "$said" | tail -n 3
    [ "$(echo "$said" | tail -n1)" = container-ok ]
}

start_containerd || setup_failed "containerd did not start"
driver=overlay2
if ! { start_dockerd overlay2 && import_and_smoke; }; then
    log "overlay2 did not work; trying vfs"
    show_logs
    stop_pid "$DIR/dockerd.run.pid" dockerd
    awk -v d="$DIR/data-overlay2" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r \
        | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
    rm -rf "$DIR/data-overlay2"
    driver=vfs
    : >"$DIR/dockerd.log"
    { start_dockerd vfs && import_and_smoke; } || setup_failed "dockerd did not start or cannot run a container"
fi
log "dockerd ready ($driver, $(dk version --format '{{.Server.Version}} API {{.Server.APIVersion}}'), cgroup driver $(dk info --format '{{.CgroupDriver}} v{{.CgroupVersion}}'))"

ctrk() { timeout 120 "$KITDIR/bin/ctr" --address "$CTR_SOCK" -n k8s.io "$@"; }
CTR_STATE=$DIR/containerd-state
POD_UID=9b2c4d6e-1f3a-4b5c-8d7e-6f5a4b3c2d1e
POD_QOS=/kubepods/besteffort/pod$POD_UID
pod_id() { printf '%s' "$1" | sha256sum | cut -c1-64; }
SANDBOX_ID=$(pod_id sandbox-trainer-0); TRAINER_ID=$(pod_id trainer-0-pytorch)
NB_UID=5d4c3b2a-0f1e-4d2c-9b8a-7f6e5d4c3b2a
NB_SANDBOX_ID=$(pod_id sandbox-notebook-0); NB_ID=$(pod_id notebook-0-jupyter)
ctr_pid() { ctrk task ls 2>/dev/null | awk -v id="$1" '$1 == id && $3 == "RUNNING" { print $2 }'; }
cri_annotations() { # cri_annotations TYPE POD NAMESPACE UID SANDBOX_ID CONTAINER IMAGE
    echo --annotation "io.kubernetes.cri.container-type=$1" --annotation "io.kubernetes.cri.sandbox-name=$2" \
         --annotation "io.kubernetes.cri.sandbox-namespace=$3" --annotation "io.kubernetes.cri.sandbox-uid=$4" \
         --annotation "io.kubernetes.cri.sandbox-id=$5" \
         ${6:+--annotation "io.kubernetes.cri.container-name=$6"} ${7:+--annotation "io.kubernetes.cri.image-name=$7"}
}
# The image in containerd's k8s.io namespace: dockerd (20.10) keeps its own store, so save it there.
if dk save "$IMAGE" | ctrk images import - >/dev/null 2>&1; then
    CTR_IMAGE=$(ctrk images ls -q | grep -m1 'gpuctop-device/base')
    log "image in containerd namespace k8s.io: $CTR_IMAGE"
else
    CTR_IMAGE=""
    fail "ctr images import (no Kubernetes-shaped pods)"
fi
ctr_gpu_flags=()
for d in /dev/nvidia0 /dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools; do [ -e "$d" ] && ctr_gpu_flags+=(--device "$d"); done
ctr_mounts=()
for m in /usr /etc /opt; do [ -d "$m" ] && ctr_mounts+=(--mount "type=bind,src=$m,dst=$m,options=rbind:ro"); done

# ---------------------------------------------------------------- workloads
cat >"$WORK/load.py" <<'PY'
# A GPU workload shaped by LOAD_PHASES ("offset:size:pause:gib,...", offsets in seconds after
# LOAD_T0): size x size fp32 matmuls, a sleep of `pause` seconds after each, and `gib` GiB held
# on the GPU. Exits at LOAD_END (seconds since 1970) if set, or on SIGTERM.
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
import torch
name = os.environ.get("LOAD_NAME", "load")
t0 = float(os.environ["LOAD_T0"])
end = float(os.environ["LOAD_END"]) if os.environ.get("LOAD_END") else None
phases = []
for p in os.environ["LOAD_PHASES"].split(","):
    off, size, pause, gib = p.split(":")
    phases.append((float(off), int(size), float(pause), float(gib)))
dev = torch.device("cuda")
print(f"{name}: torch {torch.__version__} on {torch.cuda.get_device_name(0)}, pid {os.getpid()}", flush=True)
current, x, ballast, n = None, None, None, 0
while True:
    now = time.time()
    if end is not None and now >= end:
        break
    phase = [p for p in phases if t0 + p[0] <= now][-1] if now >= t0 + phases[0][0] else phases[0]
    if phase is not current:
        current = phase
        x = ballast = None
        torch.cuda.empty_cache()
        x = torch.randn(phase[1], phase[1], device=dev)
        if phase[3] > 0:
            ballast = torch.empty(int(phase[3] * 2**30), dtype=torch.uint8, device=dev)
        print(f"{name}: t={now - t0:.0f}s size {phase[1]} pause {phase[2]} ballast {phase[3]} GiB", flush=True)
    y = x @ x
    torch.cuda.synchronize()
    n += 1
    if phase[2] > 0:
        time.sleep(phase[2])
print(f"{name}: done after {n} matmuls", flush=True)
PY
cat >"$WORK/load.sh" <<'SH'
# The same shape without torch (busybox only): a CPU loop of size/64 steps, then sleep `pause`.
now=$(/busybox/date +%s); read -r up _ </proc/uptime; off=$((now - ${up%.*}))
while :; do
    read -r up _ </proc/uptime; t=$((${up%.*} + off))
    [ -n "${LOAD_END:-}" ] && [ "$t" -ge "${LOAD_END%.*}" ] && break
    size=1024; pause=0.5
    for p in $(echo "$LOAD_PHASES" | /busybox/tr ',' ' '); do
        o=${p%%:*}; r=${p#*:}
        [ "$t" -ge $((${LOAD_T0%.*} + ${o%.*})) ] && { size=${r%%:*}; r=${r#*:}; pause=${r%%:*}; }
    done
    i=0; n=$((size / 64)); while [ $i -lt $n ]; do i=$((i + 1)); done
    [ "$pause" = 0 ] && pause=0.05
    /busybox/sleep "$pause"
done
echo "$LOAD_NAME: done"
SH

mounts=(-v /usr:/usr:ro -v /etc:/etc:ro -v "$WORK:/work:ro")
[ -d /opt ] && mounts+=(-v /opt:/opt:ro)   # -v would create a missing /opt on the host
PYTHON=python3
# Where the host's torch lives: its prefix must be visible in the container too.
host_torch=$(timeout 60 python3 -c 'import sys, torch; print(sys.executable, sys.prefix, torch.__file__)' 2>/dev/null | tail -n1)
if [ -n "$host_torch" ]; then
    read -r host_py host_prefix torch_file <<<"$host_torch"
    log "host: $host_py imports torch from $torch_file"
    case "$host_py" in /usr/*|/opt/*) PYTHON=$host_py ;; esac
    case "$host_prefix" in
        /usr|/usr/*|/opt/*) ;;
        *) log "host python prefix $host_prefix is outside /usr and /opt: mounting it too"
           mounts+=(-v "$host_prefix:$host_prefix:ro"); PYTHON=$host_py ;;
    esac
    case "$torch_file" in
        /usr/*|/opt/*|"$host_prefix"/*) ;;
        *) sp=$(dirname "$(dirname "$torch_file")")
           log "torch is in $sp: mounting it and adding it to PYTHONPATH"
           mounts+=(-v "$sp:$sp:ro" -e "PYTHONPATH=$sp") ;;
    esac
else
    log "the host's python3 does not import torch"
fi
# Stated explicitly so that an AppArmor host without the docker-default profile loaded still runs
# the containers; changes nothing else.
common=(--network none --security-opt apparmor=unconfined "${gpu_flags[@]}" "${mounts[@]}")

log "probing PyTorch in a container"
probe=$(timeout 90 "$KITDIR/bin/docker" -H "unix://$SOCK" run --rm --name gpuctop-probe "${common[@]}" "$IMAGE" "$PYTHON" -c \
    'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")' 2>&1 | tail -n 5)
echo "$probe"
MODE=busybox
if echo "$probe" | grep -q '^torch .* cuda True'; then
    MODE=torch
elif [ "$NO_GPU" != 1 ]; then
    fail "PyTorch with CUDA does not run in a container (probe said: $(echo "$probe" | tail -n1)); busybox loops instead"
fi
log "workload mode: $MODE"
section "setup"
echo "storage driver $driver; workload mode $MODE; gpu devices: ${gpu_flags[*]:-none}" >>"$OUT/checks.txt"
echo "probe: $probe" >>"$OUT/checks.txt"

T0=$(( $(date +%s) + 2 ))
at() { echo $(( DURATION * $1 / 100 )); }  # at PERCENT: seconds after T0
SLEEP_PID=""
sleep_until() { # sleep_until SECONDS_AFTER_T0 (a signal interrupts it at once: the trap runs)
    local left=$(( T0 + $1 - $(date +%s) ))
    [ "$left" -gt 0 ] || return 0
    sleep "$left" &
    SLEEP_PID=$!
    wait "$SLEEP_PID"
    SLEEP_PID=""
}

KPOD_UID=3f0c1d2e-7a4b-4c5d-9e8f-0a1b2c3d4e5f
K8S_NAME=k8s_server_inference-7f9c_serving_${KPOD_UID}_0
compose_labels() { # compose_labels SERVICE
    echo --label com.docker.compose.project=research --label "com.docker.compose.service=$1" \
         --label com.docker.compose.container-number=1 --label com.docker.compose.oneoff=False \
         --label com.docker.compose.project.working_dir=/srv/research
}
run_load() { # run_load NAME PHASES END WRAP LABEL-ARGS...
    local name=$1 phases=$2 end=$3 wrap=$4; shift 4
    local cmd
    if [ "$MODE" = torch ]; then cmd="$PYTHON /work/load.py"; else cmd="/busybox/sh /work/load.sh"; fi
    if [ "$wrap" = shell ]; then
        # A shell as the container's PID 1 and the workload its child, as many images do.
        set -- "$@" "$IMAGE" /busybox/sh -c "$cmd; echo \"\$LOAD_NAME exited \$?\""
    else
        set -- "$@" "$IMAGE" $cmd
    fi
    dk run -d --name "$name" "${common[@]}" -e "LOAD_NAME=$name" -e "LOAD_T0=$T0" -e "LOAD_END=$end" \
        -e "LOAD_PHASES=$phases" "$@" >/dev/null && log "started $name" || fail "docker run $name"
}

write_fake_scenario() { # NO_GPU with FAKE_NVML: the workloads' processes as GPU processes
    [ -n "$FAKE_NVML" ] || return 0
    local tmp=$WORK/fake.scenario.tmp c pid child
    {
        echo "driver 580.95.05"
        echo "gpu"
        echo "name NVIDIA Fake H100 80GB HBM3"
        echo "memory_total 80GiB"; echo "memory_used 21GiB"; echo "util 87"; echo "mem_util 40"
        echo "power 512000"; echo "power_limit 700000"; echo "power_default 700000"
        echo "power_min 200000"; echo "power_max 700000"; echo "temperature 51"; echo "pstate 0"
        for c in research-trainer-1 research-finetune-1 research-inference-1 "$K8S_NAME"; do
            pid=$(dk inspect -f '{{if .State.Running}}{{.State.Pid}}{{end}}' "$c" 2>/dev/null)
            [ -n "$pid" ] && [ "$pid" != 0 ] || continue
            child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{ print $1 }')
            [ "$c" = "$K8S_NAME" ] && [ -n "$child" ] && pid=$child
            echo "process compute pid=$pid mem=2GiB sm=20"
        done
        pid=$(ctr_pid "$TRAINER_ID")
        [ -n "$pid" ] && echo "process compute pid=$pid mem=1GiB sm=15"
    } >"$tmp"
    mv "$tmp" "$WORK/fake.scenario"
}

# ---------------------------------------------------------------- the scenario
log "scenario: T0 in 2 s, $DURATION s"
sleep_until 0
run_load research-trainer-1 "0:8192:0:8" "$((T0 + $(at 75)))" direct $(compose_labels trainer)
run_load research-finetune-1 "0:2048:0.05:2,$(at 50):6144:0:6" "" direct $(compose_labels finetune)
run_load "$K8S_NAME" "0:1024:0.1:1" "" shell \
    --label io.kubernetes.pod.name=inference-7f9c --label io.kubernetes.pod.namespace=serving \
    --label io.kubernetes.container.name=server --label "io.kubernetes.pod.uid=$KPOD_UID" \
    --label io.kubernetes.docker.type=container
dk run -d --name research-notebook-1 "${common[@]}" $(compose_labels notebook) "$IMAGE" /busybox/sleep 100000 >/dev/null \
    && log "started research-notebook-1 (idle GPU allocation)" || fail "docker run research-notebook-1"
start_pods() {
    [ -n "$CTR_IMAGE" ] || return 0
    local cmd
    if [ "$MODE" = torch ]; then cmd="$PYTHON /work/load.py"; else cmd="/busybox/sh /work/load.sh"; fi
    ctrk run -d --cgroup "$POD_QOS/$SANDBOX_ID" $(cri_annotations sandbox trainer-0 research "$POD_UID" "$SANDBOX_ID") \
        "$CTR_IMAGE" "$SANDBOX_ID" /busybox/sleep 100000 >/dev/null && log "started pod sandbox trainer-0" || fail "ctr run sandbox"
    ctrk run -d --cgroup "$POD_QOS/$TRAINER_ID" "${ctr_gpu_flags[@]}" "${ctr_mounts[@]}" \
        --mount "type=bind,src=$WORK,dst=/work,options=rbind:ro" \
        --env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/busybox" \
        --env LOAD_NAME=trainer-0 --env "LOAD_T0=$T0" --env LOAD_PHASES=0:2048:0.05:1 \
        $(cri_annotations container trainer-0 research "$POD_UID" "$SANDBOX_ID" pytorch nvcr.io/nvidia/pytorch:25.01-py3) \
        "$CTR_IMAGE" "$TRAINER_ID" $cmd >/dev/null && log "started pod research/trainer-0 (containerd, k8s.io)" || fail "ctr run trainer-0"
    ctrk run -d --cgroup "/kubepods/besteffort/pod$NB_UID/$NB_SANDBOX_ID" $(cri_annotations sandbox notebook-0 research "$NB_UID" "$NB_SANDBOX_ID") \
        "$CTR_IMAGE" "$NB_SANDBOX_ID" /busybox/sleep 100000 >/dev/null || fail "ctr run sandbox notebook-0"
    ctrk run -d --cgroup "/kubepods/besteffort/pod$NB_UID/$NB_ID" "${ctr_gpu_flags[@]}" --env NVIDIA_VISIBLE_DEVICES=void \
        $(cri_annotations container notebook-0 research "$NB_UID" "$NB_SANDBOX_ID" jupyter quay.io/jupyter/pytorch-notebook:cuda12-2025-01-06) \
        "$CTR_IMAGE" "$NB_ID" /busybox/sleep 100000 >/dev/null && log "started pod research/notebook-0 (idle GPU allocation)" || fail "ctr run notebook-0"
}
start_pods
sleep 1
write_fake_scenario
"$GPUCTOP" record -o "$OUT/example.gpuctop" --interval 1 --duration "$DURATION" --docker-host "unix://$SOCK" --containerd-state "$CTR_STATE" \
    >"$WORK/record.out" 2>&1 &
RECORD_PID=$!
REC_T0=$(date +%s)
log "recording (pid $RECORD_PID)"

sleep_until "$(at 25)"
run_load research-inference-1 "0:4096:0.02:3" "" direct $(compose_labels inference)
sleep 2
write_fake_scenario

sleep_until "$(at 30)"
if command -v tmux >/dev/null; then
    tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -x 200 -y 50 -s dash \
        "env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 $(printf '%q ' "$GPUCTOP") --docker-host unix://$SOCK --containerd-state $CTR_STATE" \
        && log "dashboard started in tmux" || log "tmux new-session failed"
    tmux -S "$TMUX_SOCK" set-option -t dash remain-on-exit on >/dev/null 2>&1
fi

sleep_until "$(at 60)"
BUSY_AT=$(( $(date +%s) - REC_T0 ))
log "all busy: snapshots and checks (${BUSY_AT}s into the recording)"
section "docker ps"
dk ps --no-trunc --format 'table {{.Names}}\t{{.ID}}\t{{.Status}}' >>"$OUT/checks.txt" 2>&1
dk ps >>"$OUT/checks.txt" 2>&1
if [ "$HAVE_SMI" = 1 ]; then
    nvidia-smi --query-compute-apps=pid,used_memory --format=csv >"$WORK/apps.csv" 2>&1
fi
"$GPUCTOP" snapshot --json --docker-host "unix://$SOCK" --containerd-state "$CTR_STATE" >"$OUT/snapshot.json" 2>"$WORK/snapshot.err" \
    || fail "gpuctop snapshot --json: $(cat "$WORK/snapshot.err")"
"$GPUCTOP" snapshot --docker-host "unix://$SOCK" --containerd-state "$CTR_STATE" >"$OUT/snapshot.txt" 2>&1 || fail "gpuctop snapshot"
if [ "$HAVE_SMI" = 1 ]; then
    nvidia-smi --query-compute-apps=pid,used_memory --format=csv >"$WORK/apps-after.csv" 2>&1
    section "nvidia-smi --query-compute-apps=pid,used_memory --format=csv"
    cat "$WORK/apps.csv" >>"$OUT/checks.txt"
    section "nvidia-smi"
    nvidia-smi >>"$OUT/checks.txt" 2>&1
fi
# docker inspect of every running container: the ground truth for the checks.
dk inspect $(dk ps -q) >"$WORK/inspect.json" 2>/dev/null
if [ -S "$TMUX_SOCK" ]; then
    tmux -S "$TMUX_SOCK" capture-pane -e -p -t dash >"$OUT/dashboard-200x50.ans" 2>/dev/null
    tmux -S "$TMUX_SOCK" capture-pane -p -t dash >"$OUT/dashboard-200x50.txt" 2>/dev/null
    if [ "$MODE" = torch ] || [ -n "$FAKE_NVML" ] || [ "$HAVE_GPU_DEVICES" = 1 ]; then
        grep -q research "$OUT/dashboard-200x50.txt" && pass "dashboard shows the research containers" \
            || fail "dashboard screen has no 'research' (see dashboard-200x50.txt)"
    fi
fi

section "checks at ${BUSY_AT}s"
BUSY_NAMES="research-trainer-1 research-finetune-1 research-inference-1 $K8S_NAME"
EXPECT_GPU_PROCS=0
{ [ "$MODE" = torch ] || [ -n "$FAKE_NVML" ]; } && EXPECT_GPU_PROCS=1
cat >"$WORK/check.py" <<'PY'
# check.py SNAPSHOT_JSON INSPECT_JSON APPS_CSV|- TRUTH_OUT BUSY_NAMES EXPECT_GPU_PROCS HAVE_GPU_DEVICES K8S_NAME PODS_JSON
# Prints PASS/FAIL lines; writes the pid -> container truth for the replay check. PODS_JSON:
# the containerd pods as ctr started them, {init pid: {id, pod, namespace, container, image}}.
import csv, json, os, sys
snap_path, inspect_path, apps_path, truth_out, busy, expect_procs, have_dev, k8s, pods_path = sys.argv[1:10]
try:
    pods = {int(k): v for k, v in json.load(open(pods_path)).items()}
except Exception:
    pods = {}
busy = busy.split(); expect_procs = expect_procs == "1"; have_dev = have_dev == "1"
snap = json.load(open(snap_path))
try:
    inspect = json.load(open(inspect_path))
except Exception:
    inspect = []
fails = 0
def result(ok, text):
    global fails
    print(("PASS " if ok else "FAIL ") + text)
    if not ok:
        fails += 1
by_init = {c["State"]["Pid"]: c for c in inspect if c["State"].get("Pid")}
def ppid(pid):
    try:
        stat = open(f"/proc/{pid}/stat").read()
        return int(stat[stat.rindex(")") + 2:].split()[1])
    except Exception:
        return None
def container_of(pid):
    seen = 0
    while pid and pid > 1 and seen < 64:
        if pid in by_init:
            return by_init[pid]
        pid = ppid(pid); seen += 1
    return None
def pod_of(pid):
    seen = 0
    while pid and pid > 1 and seen < 64:
        if pid in pods:
            return pods[pid]
        pid = ppid(pid); seen += 1
    return None
containers = {c["id"]: c for c in snap.get("containers", [])}
for d in snap.get("degraded", []):
    print(f"note: gpuctop degraded source {d.get('source')}: {d.get('reason')}")
truth = {}
seen_names = set()
procs = snap.get("processes", [])
for p in procs:
    pid = p["pid"]
    info = p.get("info") or {}
    ref = info.get("container")
    got = containers.get(ref["id"]) if ref else None
    got_name = (got or {}).get("name")
    real = container_of(pid)
    cmd = (info.get("command") or "?")[:60]
    pod = pod_of(pid)
    if pod is not None:
        label = f"{pod['namespace']}/{pod['pod']}"
        truth[str(pid)] = label
        ok = (ref is not None and ref["id"] == pod["id"] and ref.get("runtime") == "containerd"
              and (got or {}).get("podName") == pod["pod"] and (got or {}).get("podNamespace") == pod["namespace"]
              and (got or {}).get("podContainer") == pod["container"] and (got or {}).get("image") == pod["image"])
        result(ok, f"pid {pid} ({cmd}): ctr says pod {label} container {pod['container']} ({pod['id'][:12]}); gpuctop says "
                   f"{(got or {}).get('podNamespace')}/{(got or {}).get('podName')} container {(got or {}).get('podContainer')} "
                   f"image {(got or {}).get('image')} runtime {ref.get('runtime') if ref else None} ({ref['id'][:12] if ref else 'no container'})")
        if ok:
            seen_names.add(label)
        continue
    if real is None:
        result(ref is None, f"pid {pid} ({cmd}): docker: host process; gpuctop: {got_name or (ref and ref['id'][:12]) or 'host'}")
        truth[str(pid)] = None
        continue
    real_name = real["Name"].lstrip("/")
    truth[str(pid)] = real_name
    ok = ref is not None and ref["id"] == real["Id"] and got_name == real_name
    result(ok, f"pid {pid} ({cmd}): docker inspect says {real_name} ({real['Id'][:12]}, init pid {real['State']['Pid']}); "
               f"gpuctop says {got_name} ({ref['id'][:12] if ref else 'no container'})")
    if ok:
        seen_names.add(real_name)
        labels = real["Config"].get("Labels") or {}
        if "com.docker.compose.project" in labels:
            result(got.get("composeProject") == labels["com.docker.compose.project"]
                   and got.get("composeService") == labels["com.docker.compose.service"],
                   f"{real_name}: compose project/service {got.get('composeProject')}/{got.get('composeService')}")
        if "io.kubernetes.pod.name" in labels:
            result(got.get("podName") == labels["io.kubernetes.pod.name"]
                   and got.get("podNamespace") == labels["io.kubernetes.pod.namespace"]
                   and got.get("podContainer") == labels["io.kubernetes.container.name"],
                   f"{real_name}: pod {got.get('podNamespace')}/{got.get('podName')} container {got.get('podContainer')}")
if expect_procs:
    for name in busy:
        result(name in seen_names, f"busy container {name} has a GPU process in gpuctop's snapshot")
    if k8s in seen_names:
        mine = [q for q in procs if truth.get(str(q["pid"])) == k8s]
        nspids = [(q.get("info") or {}).get("namespacePid") for q in mine]
        result(any(n not in (None, 1) for n in nspids),
               f"{k8s}: its GPU process is the shell's child (namespace pids {nspids})")
else:
    print(f"note: no GPU processes expected ({len(procs)} in the snapshot)")
if pods:
    sandboxes = [c for c in snap.get("containers", []) if c.get("podContainer") is None and c.get("podName") in ("trainer-0", "notebook-0")]
    result(not sandboxes, f"no pod sandbox shown as a container ({len(sandboxes)} shown)")
    if expect_procs:
        result("research/trainer-0" in seen_names, "pod research/trainer-0 (containerd, no Docker) has a GPU process in gpuctop's snapshot")
    if have_dev:
        nb = [c for c in snap.get("containers", []) if c.get("podName") == "notebook-0"]
        result(len(nb) == 1 and nb[0].get("idleAllocation") is True and nb[0].get("runtime") == "containerd",
               f"pod research/notebook-0 is an idle GPU allocation read from its OCI spec ({'gpuRequest ' + str(nb[0].get('gpuRequest')) if nb else 'absent'})")
idle = [c for c in snap.get("containers", []) if c.get("name") == "research-notebook-1"]
if have_dev:
    result(len(idle) == 1 and idle[0].get("idleAllocation") is True and idle[0].get("processCount", 0) == 0,
           f"research-notebook-1 is an idle GPU allocation ({'gpuRequest ' + str(idle[0].get('gpuRequest')) if idle else 'absent'})")
else:
    print("note: no /dev/nvidia0 given to containers: no idle allocation to check")
if apps_path != "-" and os.path.exists(apps_path):
    rows = list(csv.reader(open(apps_path)))
    smi = {int(r[0]) for r in rows[1:] if r and r[0].strip().isdigit()}
    ours = {p["pid"] for p in procs if p.get("kind") == "compute"}
    result(smi == ours, f"compute PIDs: nvidia-smi {sorted(smi)}, gpuctop {sorted(ours)}")
json.dump(truth, open(truth_out, "w"))
sys.exit(1 if fails else 0)
PY
APPS=-
[ -s "$WORK/apps.csv" ] && APPS=$WORK/apps.csv
# The pods as ctr started them: the ground truth for the containerd checks.
{
    printf '{'
    sep=""
    pid=$(ctr_pid "$TRAINER_ID")
    [ -n "$pid" ] && { printf '"%s": {"id": "%s", "pod": "trainer-0", "namespace": "research", "container": "pytorch", "image": "nvcr.io/nvidia/pytorch:25.01-py3"}' "$pid" "$TRAINER_ID"; sep=", "; }
    printf '}\n'
} >"$WORK/pods.json"
section "ctr -n k8s.io task ls"
ctrk task ls >>"$OUT/checks.txt" 2>&1
python3 "$WORK/check.py" "$OUT/snapshot.json" "$WORK/inspect.json" "$APPS" "$WORK/truth.json" \
    "$BUSY_NAMES" "$EXPECT_GPU_PROCS" "$HAVE_GPU_DEVICES" "$K8S_NAME" "$WORK/pods.json" | tee -a "$OUT/checks.txt"
[ "${PIPESTATUS[0]}" = 0 ] || FAILS=$((FAILS + 1))
if [ "$HAVE_SMI" = 1 ] && ! cmp -s "$WORK/apps.csv" "$WORK/apps-after.csv"; then
    echo "note: nvidia-smi's list changed while gpuctop sampled:" | tee -a "$OUT/checks.txt"
    cat "$WORK/apps-after.csv" >>"$OUT/checks.txt"
fi

sleep_until "$(at 75)"
sleep 5
if [ "$(dk inspect -f '{{.State.Running}}' research-trainer-1 2>/dev/null)" = true ]; then
    log "research-trainer-1 still runs: docker stop"
    dk stop --time 5 research-trainer-1 >/dev/null
fi
log "research-trainer-1: $(dk inspect -f '{{.State.Status}} exit {{.State.ExitCode}}' research-trainer-1 2>/dev/null)"

log "waiting for the recording to end"
wait "$RECORD_PID"
rec_status=$?
RECORD_PID=""
section "record"
cat "$WORK/record.out" | tee -a "$OUT/checks.txt"
[ "$rec_status" = 0 ] && pass "gpuctop record exit status 0" || fail "gpuctop record exit status $rec_status"

section "replay"
if "$GPUCTOP" snapshot --from "$OUT/example.gpuctop" --at "+${BUSY_AT}s" --json >"$WORK/replay.json" 2>"$WORK/replay.err"; then
    python3 - "$WORK/replay.json" "$WORK/truth.json" "$EXPECT_GPU_PROCS" <<'PY' | tee -a "$OUT/checks.txt"
import json, sys
replay = json.load(open(sys.argv[1])); truth = json.load(open(sys.argv[2])); expect = sys.argv[3] == "1"
names = {c["id"]: (f"{c.get('podNamespace')}/{c.get('podName')}" if c.get("runtime") == "containerd" and c.get("podName")
                   else c.get("name")) for c in replay.get("containers", [])}
matched = 0; bad = 0
for p in replay.get("processes", []):
    if str(p["pid"]) not in truth:
        continue
    ref = (p.get("info") or {}).get("container")
    got = names.get(ref["id"]) if ref else None
    if got == truth[str(p["pid"])]:
        matched += 1
    else:
        bad += 1
        print(f"FAIL replayed pid {p['pid']}: {got}, docker said {truth[str(p['pid'])]}")
ok = bad == 0 and (matched > 0 or not expect)
print(("PASS" if ok else "FAIL") + f" replay at the busy moment: {matched} GPU processes named as docker named them, {bad} not")
all_names = sorted(n for n in names.values() if n)
print(f"containers in the replayed snapshot: {', '.join(all_names)}")
sys.exit(0 if ok else 1)
PY
    [ "${PIPESTATUS[0]}" = 0 ] || FAILS=$((FAILS + 1))
    "$GPUCTOP" snapshot --from "$OUT/example.gpuctop" >>"$OUT/checks.txt" 2>&1   # the last one: trainer gone
else
    fail "gpuctop snapshot --from: $(cat "$WORK/replay.err")"
fi

section "container logs"
for c in research-trainer-1 research-finetune-1 research-inference-1 "$K8S_NAME" research-notebook-1; do
    echo "--- $c" >>"$OUT/checks.txt"
    dk logs --tail 8 "$c" >>"$OUT/checks.txt" 2>&1
done
echo "--- ctr -n k8s.io containers ls" >>"$OUT/checks.txt"
ctrk containers ls >>"$OUT/checks.txt" 2>&1

log "removing containers"
dk rm -f $(dk ps -aq) >/dev/null 2>&1
cleanup
trap - EXIT

# ---------------------------------------------------------------- the output folder
section "output files"
n=0; bad=0
for f in "$OUT"/* "$OUT"/.[!.]*; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    b=$(basename "$f")
    s=$(stat -c %s "$f")
    echo "$b $s" >>"$OUT/checks.txt"
    [[ "$b" =~ ^[A-Za-z0-9._-]+$ ]] || { fail "output name '$b'"; bad=1; }
    [ -f "$f" ] || { fail "output $b is not a plain file"; bad=1; }
    [ "$s" -lt $((16 * 1024 * 1024)) ] || { fail "output $b is $s bytes (16 MiB at most)"; bad=1; }
done
[ "$n" -le 8 ] || { fail "$n output files (8 at most)"; bad=1; }
[ "$bad" = 0 ] && pass "$n output files, names and sizes fine"
ls -la "$OUT"
log "done in $(( $(date +%s) - START ))s: $FAILS failed check(s)"
grep -h '^FAIL' "$OUT/checks.txt" | head -n 30
[ "$FAILS" = 0 ]
