#!/usr/bin/env bash
# Screenshots of the dashboard for the README, taken in a real terminal (tmux)
# against the fake NVML and the private test dockerd, rendered to PNG.
#
#   scripts/screenshot.sh [--out DIR] [--keep-ans] [--no-install]
#
# Writes DIR/dashboard-200x50.png, dashboard-80x24.png, detail.png, help.png and
# h200-real-containers.png (the example recording from the H200, replayed)
# (DIR defaults to <repo>/screenshots). Builds no Swift: it runs
# .build/debug/gpuctop, or $GPUCTOP (run `swift build` first).
#
# What it does:
# - checks its needs and installs what is missing (tmux and the DejaVu fonts
#   with apt-get, Pillow with pip; --no-install only reports them);
# - builds the fake NVML library if stale (scripts/build-fake-nvml.sh) and a tiny
#   static C program that stands in for the workloads (python3 train.py, vllm,
#   jupyter kernels: it sleeps, holds a little memory and burns a little CPU, so
#   command lines, HOST MEM and CPU% look like a real machine's);
# - starts the private test dockerd (scripts/test-dockerd.sh; it is left
#   running if it was running before, else stopped at the end) and runs four
#   containers labelled like Docker Compose and Kubernetes (dockershim names
#   and io.kubernetes.* labels) plus one holding a GPU device it does not use
#   (--device /dev/nvidiaN; when that node is missing, a temporary
#   `mknod c 1 3` stand-in is made and removed again right after);
# - writes a fake NVML scenario with two H100s, the second one in MIG mode with
#   two instances, whose processes are those containers' PIDs and one host
#   process;
# - runs gpuctop in a private tmux server (TERM=xterm-256color, LANG=C.UTF-8)
#   under its own UTS namespace with hostname $SHOT_HOSTNAME (default
#   gpu-node-01; plain hostname when unshare is not allowed), waits until the
#   sparklines have history, sends keys for help and a detail view, resizes to
#   80x24, captures each screen with `tmux capture-pane -e -p -N` and renders it
#   with scripts/screenshot.py;
# - removes everything it made (tmux server, containers, image tags, device
#   nodes, temporary files), also on failure or Ctrl-C.
#
# Environment: GPUCTOP (binary), SHOT_INTERVAL (refresh, default 0.5),
# SHOT_WARMUP (seconds of history before the first capture, default 24),
# SHOT_HOSTNAME, SHOT_FONT_SIZE (default 15), GPUCTOP_TEST_DOCKER_DIR (where the
# test dockerd lives, see scripts/test-dockerd.sh). Needs root (dockerd, mknod).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
out="$repo/screenshots"
keep_ans=0
install=1
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=${2:?--out needs a directory}; shift ;;
        --keep-ans) keep_ans=1 ;;
        --no-install) install=0 ;;
        -h|--help) sed -n '2,40p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "screenshot: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

log() { echo "screenshot: $*" >&2; }
die() { echo "screenshot: $*" >&2; exit 1; }

bin=${GPUCTOP:-$repo/.build/debug/gpuctop}
interval=${SHOT_INTERVAL:-0.5}
warmup=${SHOT_WARMUP:-24}
shot_host=${SHOT_HOSTNAME:-gpu-node-01}
font_size=${SHOT_FONT_SIZE:-15}

# ---------------------------------------------------------------------------
# Needs

[ "$(id -u)" = 0 ] || die "must run as root (the test dockerd and mknod need it)"
[ -x "$bin" ] || die "no gpuctop binary at $bin: run 'swift build' first, or set GPUCTOP"
command -v python3 >/dev/null || die "needs python3 (3.8 or newer)"
command -v docker >/dev/null || die "needs the docker CLI and dockerd (apt-get install docker.io)"
command -v cc >/dev/null || die "needs a C compiler for the fake NVML library (apt-get install gcc libc6-dev)"

missing_apt=()
command -v tmux >/dev/null || missing_apt+=(tmux)
python3 - <<'EOF' || missing_apt+=(fonts-dejavu-core)
import os, sys
dirs = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF"]
sys.exit(0 if any(os.path.isfile(os.path.join(d, "DejaVuSansMono.ttf")) for d in dirs) else 1)
EOF
need_pillow=0
python3 -c 'import PIL' 2>/dev/null || need_pillow=1
if [ ${#missing_apt[@]} -gt 0 ] || [ $need_pillow = 1 ]; then
    what="${missing_apt[*]}"
    [ $need_pillow = 1 ] && what="$what Pillow(pip)"
    [ $install = 1 ] || die "missing: $what (apt-get install -y ${missing_apt[*]:-}; pip install pillow)"
    if [ ${#missing_apt[@]} -gt 0 ]; then
        log "installing ${missing_apt[*]} with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_apt[@]}" >/dev/null
    fi
    if [ $need_pillow = 1 ]; then
        log "installing Pillow with pip"
        python3 -m pip install -q pillow 2>/dev/null || python3 -m pip install -q --break-system-packages pillow \
            || die "could not install Pillow: pip install pillow"
    fi
fi

# ---------------------------------------------------------------------------
# Cleanup, registered before anything is made

work=$(mktemp -d /tmp/gpuctop-shot.XXXXXX)
sock="$work/tmux.sock"
containers=()
tags=()
nodes=()
host_pid=""
feeder_pid=""
dh=""
dk() { docker -H "$dh" "$@"; }
dockerd_was_running=0
dockerd_started=0

cleanup() {
    set +e
    [ -S "$sock" ] && tmux -S "$sock" kill-server 2>/dev/null
    [ -n "$feeder_pid" ] && kill "$feeder_pid" 2>/dev/null
    [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null
    if [ ${#containers[@]} -gt 0 ]; then dk rm -f "${containers[@]}" >/dev/null 2>&1; fi
    if [ ${#tags[@]} -gt 0 ]; then dk rmi "${tags[@]}" >/dev/null 2>&1; fi
    local n
    for n in "${nodes[@]}"; do rm -f "$n"; done
    if [ $dockerd_started = 1 ] && [ $dockerd_was_running = 0 ]; then
        "$here/test-dockerd.sh" stop >/dev/null 2>&1
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------------------
# Fake NVML, the workload stand-in, the dockerd

nvml_dir=$("$here/build-fake-nvml.sh" | tail -n 1)
nvml="$nvml_dir/libnvidia-ml.so.1"
[ -f "$nvml" ] || die "build-fake-nvml.sh did not produce $nvml"

# The stand-in workload: any name, any arguments; sleeps, holds FAKE_RSS_MB of
# memory and burns FAKE_CPU_PERCENT of one core. Static, so it runs in the
# busybox image.
cat >"$work/workload.c" <<'EOF'
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static void bye(int s) { (void)s; _exit(0); }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(void) {
    signal(SIGTERM, bye); signal(SIGINT, bye); signal(SIGHUP, bye);
    const char *m = getenv("FAKE_RSS_MB"), *c = getenv("FAKE_CPU_PERCENT");
    if (m) { /* touch every page, through volatile so that it is not optimised away */
        size_t n = (size_t)atol(m) << 20; volatile char *p = malloc(n);
        for (size_t i = 0; p && i < n; i += 4096) p[i] = 1;
    }
    double duty = c ? atof(c) / 100.0 : 0;
    for (;;) {
        if (duty <= 0) { pause(); continue; }
        double t0 = now();
        while (now() - t0 < 0.1 * duty) { }
        usleep((useconds_t)(100000 * (1 - duty)));
    }
}
EOF
workload="$work/workload"
if ! cc -static -O2 -o "$workload" "$work/workload.c" 2>"$work/cc.log"; then
    cat "$work/cc.log" >&2
    die "could not build the static workload stand-in (needs libc6-dev with libc.a)"
fi

eval "$("$here/test-dockerd.sh" env)"
dh=$GPUCTOP_TEST_DOCKER_HOST
dk() { docker -H "$dh" "$@"; }
if dk version >/dev/null 2>&1; then dockerd_was_running=1; fi
dockerd_started=1
"$here/test-dockerd.sh" start
[ $dockerd_was_running = 1 ] && log "the test dockerd was running: it stays running"

# ---------------------------------------------------------------------------
# Containers

base_image=gpuctop-test/busybox:latest
tag_image() { # tag_image NAME: a realistic image name for the busybox image
    if ! dk image inspect "$1" >/dev/null 2>&1; then
        dk tag "$base_image" "$1"
        tags+=("$1")
    fi
}

# A GPU device node for --device: the real one if there is one, else a
# temporary stand-in (the null device, c 1 3) that is removed after `docker run`.
# Sets dev (not printed: a $(...) subshell would lose the record in nodes).
gpu_device() { # gpu_device N
    dev=/dev/nvidia$1
    if [ ! -e "$dev" ]; then
        mknod "$dev" c 1 3 2>/dev/null || return 1
        nodes+=("$dev")
    fi
}

prefix=gpuctop-shot
run_workload() { # run_workload NAME IMAGE RSS_MB CPU% [docker options...] -- COMMAND...
    local name=$1 image=$2 rss=$3 cpu=$4; shift 4
    local opts=()
    while [ "$1" != "--" ]; do opts+=("$1"); shift; done
    shift
    dk rm -f "$name" >/dev/null 2>&1 || true   # a leftover of an interrupted run
    tag_image "$image"
    containers+=("$name")
    # The stand-in is mounted under every program name the command uses.
    local mounts=() prog
    for prog in python3 jupyter-lab text-embeddings-router; do
        mounts+=(-v "$workload:/usr/local/bin/$prog:ro")
    done
    dk run -d --network none --name "$name" \
        -e PATH=/usr/local/bin:/usr/bin:/bin -e FAKE_RSS_MB="$rss" -e FAKE_CPU_PERCENT="$cpu" \
        "${mounts[@]}" "${opts[@]}" "$image" "$@" >/dev/null
}
pid_of() { dk inspect -f '{{.State.Pid}}' "$1"; }

compose() { # compose PROJECT SERVICE: Docker Compose labels
    echo --label "com.docker.compose.project=$1" --label "com.docker.compose.service=$2" \
        --label "com.docker.compose.container-number=1" --label "com.docker.compose.oneoff=False" \
        --label "com.docker.compose.project.working_dir=/srv/$1" --label "com.docker.compose.version=2.29.7"
}
k8s() { # k8s NAMESPACE POD CONTAINER UID: the labels the kubelet puts on a dockershim container
    echo --label "io.kubernetes.pod.namespace=$1" --label "io.kubernetes.pod.name=$2" \
        --label "io.kubernetes.container.name=$3" --label "io.kubernetes.pod.uid=$4" \
        --label "io.kubernetes.docker.type=container"
}

gpu_device 0 || die "cannot create a stand-in /dev/nvidia0 (mknod not allowed?)"
dev0=$dev
gpu_device 1 || die "cannot create a stand-in /dev/nvidia1 (mknod not allowed?)"
dev1=$dev

log "starting containers"
trainer=llm-finetune-trainer-1
# shellcheck disable=SC2046
run_workload "$trainer" nvcr.io/nvidia/pytorch:24.10-py3 600 22 $(compose llm-finetune trainer) --device "$dev0" \
    -- python3 train.py --model meta-llama/Llama-3.1-8B --bf16 --batch-size 16 --grad-accum 8
evaluator=llm-finetune-eval-1
# shellcheck disable=SC2046
run_workload "$evaluator" nvcr.io/nvidia/pytorch:24.10-py3 200 4 $(compose llm-finetune eval) --device "$dev0" \
    -- python3 eval.py --watch /ckpt --every 500
pod_vllm=vllm-6d8f7c9b4-x2kqp
uid_vllm=0b8e5f3a-7c1d-4e2f-9a6b-3d5c8e1f2a47
vllm=k8s_vllm_${pod_vllm}_inference_${uid_vllm}_0
# shellcheck disable=SC2046
run_workload "$vllm" vllm/vllm-openai:v0.6.3 500 8 $(k8s inference "$pod_vllm" vllm "$uid_vllm") \
    -- python3 -m vllm.entrypoints.openai.api_server --model mistralai/Mistral-7B-Instruct-v0.3 --gpu-memory-utilization 0.85
pod_nb=jupyter-alice-0
uid_nb=6c2a9e41-5b7f-4d08-8e3c-1f9a7b2d4c65
notebook=k8s_notebook_${pod_nb}_research_${uid_nb}_0
# Two kernels, children of jupyter-lab (PID 1 of the container).
# shellcheck disable=SC2046
run_workload "$notebook" quay.io/jupyter/pytorch-notebook:cuda12-2024-10-14 90 1 $(k8s research "$pod_nb" notebook "$uid_nb") \
    -- sh -c 'FAKE_RSS_MB=150 FAKE_CPU_PERCENT=2 python3 -m ipykernel_launcher -f /home/jovyan/.local/share/jupyter/runtime/kernel-3fa1c2.json &
              FAKE_RSS_MB=120 python3 -m ipykernel_launcher -f /home/jovyan/.local/share/jupyter/runtime/kernel-9b07e4.json &
              exec jupyter-lab --ip=0.0.0.0 --port=8888 --no-browser'
embedder=rag-embedder-1
# shellcheck disable=SC2046
run_workload "$embedder" ghcr.io/huggingface/text-embeddings-inference:1.5 80 0 $(compose rag embedder) --device "$dev1" \
    -- text-embeddings-router --model-id BAAI/bge-large-en-v1.5 --port 80
# The stand-in device nodes are only needed while the containers are created.
for n in "${nodes[@]}"; do rm -f "$n"; done
nodes=()

# A host process (not in any container).
FAKE_RSS_MB=200 FAKE_CPU_PERCENT=3 bash -c 'exec -a /usr/local/bin/ollama "$0" runner --model /usr/share/ollama/.ollama/models/blobs/sha256-6a0746a1ec1a --ctx-size 8192 --port 41857' "$workload" &
host_pid=$!

p_trainer=$(pid_of "$trainer")
p_eval=$(pid_of "$evaluator")
p_vllm=$(pid_of "$vllm")
p_nb=$(pid_of "$notebook")
kernels=()
for _ in $(seq 1 50); do
    mapfile -t kernels < <(pgrep -P "$p_nb" | sort -n)
    [ ${#kernels[@]} -ge 2 ] && break
    sleep 0.1
done
[ ${#kernels[@]} -ge 2 ] || die "the notebook's kernels did not start"
for p in "$p_trainer" "$p_eval" "$p_vllm" "$p_nb" "${kernels[0]}" "${kernels[1]}" "$host_pid"; do
    [ -n "$p" ] && [ "$p" -gt 0 ] && kill -0 "$p" || die "a workload process did not start"
done

# ---------------------------------------------------------------------------
# Scenario (Tests/FakeNVML/SCENARIO.md). Cycling values give the sparklines a
# history; each refresh reads the next one.

scenario="$work/shot.scenario"
# Per-process SM% and memory cannot cycle in a scenario, so a feeder rewrites
# the file every second (the fake re-reads it when it changes) with the next
# step of these series.
sm_trainer=(91 94 96 93 89 95 97 92 74 52 88 95 97 94 90 96 98 93 81 63 90 95)
sm_eval=(14 0 0 31 38 22 0 0 0 12 35 41 18 0 0 0 27 33 9 0)
sm_host=(3 2 4 3 0 5 6 2 1 3)
mem_trainer=(52836 52836 53348 53860 53860 53348 52836 52836 52324 52836)
scenario_text() { # scenario_text STEP
    local k=$1
    local st=${sm_trainer[k % ${#sm_trainer[@]}]} se=${sm_eval[k % ${#sm_eval[@]}]}
    local sh=${sm_host[k % ${#sm_host[@]}]} mt=${mem_trainer[k % ${#mem_trainer[@]}]}
    local used0=$((mt + 9415 + 1187 + 612))
    cat <<EOF
driver 580.95.05
cuda 13000

gpu
name NVIDIA H100 80GB HBM3
uuid GPU-7f3c2a91-5d4e-4b8a-9c16-2e8f0a4d1b73
pci 00000000:19:00.0 0x233010DE 0x16C110DE
util 88 93 97 95 91 84 62 41 78 94 98 96 92 89 95 97 93 86 90 96 98 94 71 55 83 92 97 95 93 90
mem_util 52 58 61 60 57 50 33 21 45 59 63 61 58 54 60 62 59 51 56 61 63 60 40 29 49 58 62 60 58 55
memory_total 81559MiB
memory_reserved 522MiB
memory_used ${used0}MiB
temperature 63 64 65 66 66 67 66 64 63 64 65 66 67 67 66 65 64 63 64 65
power 598000 621000 644000 633000 612000 575000 421000 318000 507000 628000 659000 648000 619000 603000 637000 652000 631000 566000 590000 641000 662000 640000 452000 377000 540000 611000 655000 642000 627000 600000
power_limit 700000
power_default 700000
power_min 200000
power_max 700000
energy 981234567000 650
clock_sm 1980 1980 1965 1950 1980 1980 1755 1410 1890 1980 1980 1965 1980 1980 1950 1980 1980 1935 1980 1980
clock_mem 2619
pstate 0
persistence 1
compute_mode 0
sms 132
mig 0 0
process compute pid=$p_trainer mem=${mt}MiB sm=$st memutil=$((st * 6 / 10))
process compute pid=$p_eval mem=9415MiB sm=$se memutil=$((se / 3))
process compute pid=$host_pid mem=1187MiB sm=$sh memutil=1

gpu
name NVIDIA H100 80GB HBM3
uuid GPU-c41e8b02-93a7-4f5d-b2e0-6a9d17c38f45
pci 00000000:2A:00.0 0x233010DE 0x16C110DE
memory_total 81559MiB
memory_reserved 522MiB
memory_used 42690MiB
temperature 46 46 47 47 48 48 47 47 46 46 47 48 48 49 48 47
power 231000 238000 244000 252000 263000 258000 247000 239000 233000 229000 241000 256000 268000 271000 262000 249000
power_limit 700000
power_default 700000
power_min 200000
power_max 700000
energy 612345678000 250
clock_sm 1755 1755 1785 1830 1980 1980 1890 1785
clock_mem 2619
pstate 0
persistence 1
compute_mode 0
sms 132
mig 1 1
mig_max 7
mig_device slot=0 gi=1 ci=0 slices=3 ci_slices=3 sms=60 memory=40192MiB used=34915MiB uuid=MIG-3a8f1c27-6b04-5e9d-a1f3-8c2d47e6b019 name=NVIDIA H100 80GB HBM3 MIG 3g.40gb
mig_device slot=1 gi=5 ci=0 slices=2 ci_slices=2 sms=32 memory=19968MiB used=7775MiB uuid=MIG-91d4e6b3-2c7a-5f08-b3e1-4a6f0c9d8e25 name=NVIDIA H100 80GB HBM3 MIG 2g.20gb
process compute pid=$p_vllm mem=34608MiB gi=1 ci=0
process compute pid=${kernels[0]} mem=4913MiB gi=5 ci=0
process compute pid=${kernels[1]} mem=2555MiB gi=5 ci=0
EOF
}
scenario_text 0 >"$scenario"
(
    trap - EXIT
    k=0
    while sleep 1; do
        k=$((k + 1))
        scenario_text $k >"$scenario.tmp" && mv -f "$scenario.tmp" "$scenario"
    done
) &
feeder_pid=$!

# ---------------------------------------------------------------------------
# The dashboard in tmux

tm() { tmux -S "$sock" "$@"; }
capture() { tm capture-pane -e -p -N -t shot; }
plain() { tm capture-pane -p -t shot; }
wait_screen() { # wait_screen SECONDS GREP-PATTERN: until the screen shows it
    local deadline=$((SECONDS + $1))
    until plain | grep -q -- "$2"; do
        if [ $SECONDS -ge $deadline ]; then
            plain >&2
            die "timed out waiting for '$2' on the screen (above)"
        fi
        sleep 0.2
    done
}
render() { # render NAME COLS ROWS: capture the pane and render it to $out/NAME.png
    capture >"$work/$1.ans"
    python3 "$here/screenshot.py" --from-ansi "$work/$1.ans" "$out/$1.png" --cols "$2" --rows "$3" --font-size "$font_size"
    [ $keep_ans = 0 ] || cp "$work/$1.ans" "$out/$1.ans"
}

mkdir -p "$out"
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
inner="exec $(q "$bin") --nvml $(q "$nvml") --docker-host $(q "$dh") --interval $interval"
if unshare --uts true 2>/dev/null; then
    inner="unshare --uts sh -c $(q "hostname $(q "$shot_host") && $inner")"
fi
tm -f /dev/null new-session -d -x 200 -y 50 -s shot \
    "env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 FAKE_NVML_SCENARIO=$(q "$scenario") sh -c $(q "$inner"); echo; echo gpuctop exited with status \$?; sleep 600"
tm set-option -t shot remain-on-exit on >/dev/null

log "waiting for the dashboard"
wait_screen 20 "inference/vllm"
wait_screen 10 "$embedder"
log "letting the history fill for ${warmup}s"
sleep "$warmup"

render dashboard-200x50 200 50

# Help and detail at 120x30: at 200x50 they are mostly empty.
tm resize-window -t shot -x 120 -y 30
sleep 1
tm send-keys -t shot '?'
wait_screen 5 "details of the selected container"
sleep 0.3
render help 120 30
tm send-keys -t shot '?'
wait_screen 5 "CONTAINER"

# The detail view of the first row: the trainer (largest GPU memory).
tm send-keys -t shot Home
sleep 0.3
tm send-keys -t shot Enter
wait_screen 5 "GPU request"
sleep 1
render detail 120 30
tm send-keys -t shot q
wait_screen 5 "CONTAINER"

tm resize-window -t shot -x 80 -y 24
sleep 2
wait_screen 5 "CONTAINER"
render dashboard-80x24 80 24

tm send-keys -t shot q

# The example recording, made on a real H200 with PyTorch jobs in Docker containers
# (scripts/device-containers.sh), replayed by this build: what the README's first
# command shows. Paused two minutes in, so the sparklines have history.
example="$repo/examples/h200-containers.gpuctop"
tm resize-window -t shot -x 200 -y 50
tm respawn-pane -k -t shot "env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC $(q "$bin") replay $(q "$example") --at +2m; sleep 600"
wait_screen 10 "H200"
tm send-keys -t shot ' '
wait_screen 5 "paused"
sleep 0.5
render h200-real-containers 200 50
tm send-keys -t shot q
log "done: $(cd "$out" && ls -1 dashboard-200x50.png dashboard-80x24.png detail.png help.png h200-real-containers.png | tr '\n' ' ')"
