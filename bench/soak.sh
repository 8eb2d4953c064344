#!/usr/bin/env bash
# Soak: the dashboard (release binary) at a 0.1 s refresh in a 200x50 tmux pane, for
# DURATION seconds, while processes and containers come and go: every 2 s a container
# of the private test dockerd starts (3 processes) and, past 5, the oldest is removed;
# a host process starts and, past 4, the oldest is killed; the fake NVML scenario (2
# GPUs) is rewritten to list exactly the live processes, with changing values. Keys
# are pressed now and then (selection, sort). Every SAMPLE seconds: VmRSS, VmHWM and
# open file descriptors of the dashboard. Fails (exit 1) if the dashboard dies, if its
# peak RSS grows more than 1 MiB after the warm-up, or if its descriptors grow.
#
#   bench/soak.sh [--duration S] [--sample S] [--warmup S] [--binary PATH]
#
# Defaults: one hour, a sample a minute, 5 minutes of warm-up, .build/release/gpuctop.
# Needs root (dockerd), docker.io, busybox-static and tmux, as the tests do; starts and
# stops a private dockerd in GPUCTOP_SOAK_DOCKER_DIR (default /tmp/gpuctop-soak-docker).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=3600 sample=60 warmup=300 bin=.build/release/gpuctop
while [ $# -gt 0 ]; do
    case $1 in
        --duration) duration=$2; shift 2 ;;
        --sample) sample=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --binary) bin=$2; shift 2 ;;
        *) echo "soak: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ -x "$bin" ] || { echo "soak: no binary at $bin (scripts/build-release.sh builds it)" >&2; exit 2; }

# A dockerd of the soak's own (its own socket, data root and containerd): containers that
# other work starts meanwhile must not appear in the watched dashboard. Stopped at the end.
export GPUCTOP_TEST_DOCKER_DIR=${GPUCTOP_SOAK_DOCKER_DIR:-/tmp/gpuctop-soak-docker}
scripts/test-dockerd.sh start >&2
eval "$(scripts/test-dockerd.sh env)"
dk() { docker -H "$GPUCTOP_TEST_DOCKER_HOST" "$@"; }
lib=$(scripts/build-fake-nvml.sh | tail -1)/libnvidia-ml.so.1
work=$(mktemp -d /tmp/gpuctop-soak.XXXXXX)
label="gpuctop.soak=$$"
churn_pid=
cleanup() {
    if [ -n "$churn_pid" ]; then kill "$churn_pid" 2>/dev/null || true; wait "$churn_pid" 2>/dev/null || true; fi
    tmux -S "$work/tmux" kill-server 2>/dev/null || true
    dk ps -aq --filter "label=$label" | xargs -r docker -H "$GPUCTOP_TEST_DOCKER_HOST" rm -f >/dev/null 2>&1 || true
    pkill -f "sleep 2000$$" 2>/dev/null || true
    scripts/test-dockerd.sh stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# The scenario: 2 GPUs, the live processes split between them, values changing each write.
write_scenario() {  # step, pids...
    local step=$1 i=0 g pid; shift
    {
        echo "driver 580.159.04"
        for g in 0 1; do
            echo "gpu"
            echo "name NVIDIA H200"
            echo "memory_total 143771MiB"
            echo "memory_used $(( 10 + (step + g) % 50 ))GiB"
            echo "util $(( (step * 7 + g * 13) % 101 )) $(( (step * 11) % 101 ))"
            echo "temperature $(( 40 + step % 30 ))"
            echo "clock_sm 1980"
            echo "clock_mem 3201"
            echo "pstate 0"
            echo "power $(( 100000 + (step * 37000) % 600000 ))"
            echo "power_limit 700000"
            echo "power_default 700000"
            echo "power_min 200000"
            echo "power_max 700000"
            echo "mig 0"
            echo "process_util_min 72"
            i=0
            for pid in "$@"; do
                [ $(( i % 2 )) = "$g" ] && echo "process compute pid=$pid mem=$(( 256 + (i * 97 + step) % 4096 ))MiB sm=$(( (i * 13 + step) % 100 )) memutil=$(( i % 30 ))"
                i=$((i + 1))
            done
        done
    } >"$work/scenario.new"
    mv -f "$work/scenario.new" "$work/scenario"
}

live_pids() {  # children of every live soak container's shell, then the host sleeps
    local c shell
    for c in $(dk ps -q --filter "label=$label"); do
        shell=$(dk inspect -f '{{.State.Pid}}' "$c" 2>/dev/null || echo 0)
        [ "$shell" -gt 0 ] && cat "/proc/$shell/task/$shell/children" 2>/dev/null || true
    done
    pgrep -f "sleep 2000$$" || true
}

churn() {
    local step=0 started=0 hosts=()
    while true; do
        step=$((step + 1))
        dk run -d --network none --label "$label" --label com.docker.compose.service="soak$((step % 7))" \
            --name "gpuctop-soak-$$-$step" gpuctop-test/busybox:latest \
            sh -c 'sleep 100000 & sleep 100000 & sleep 100000 & wait' >/dev/null 2>&1 && started=$((started + 1))
        mapfile -t running < <(dk ps -q --filter "label=$label" | tac)
        if [ "${#running[@]}" -gt 5 ]; then dk rm -f "${running[0]}" >/dev/null 2>&1 || true; fi
        sleep "2000$$" & hosts+=($!)
        if [ "${#hosts[@]}" -gt 4 ]; then kill "${hosts[0]}" 2>/dev/null; wait "${hosts[0]}" 2>/dev/null || true; hosts=("${hosts[@]:1}"); fi
        # shellcheck disable=SC2046
        write_scenario "$step" $(live_pids)
        echo "$step $started" >"$work/churn"
        sleep 2
    done
}

write_scenario 0
churn &
churn_pid=$!
sleep 3
tmux -S "$work/tmux" -f /dev/null new-session -d -x 200 -y 50 -s soak \
    "exec env TERM=xterm-256color LANG=C.UTF-8 FAKE_NVML_SCENARIO=$work/scenario $bin --nvml $lib --docker-host $GPUCTOP_TEST_DOCKER_HOST --interval 0.1 2>$work/stderr"
pid=$(tmux -S "$work/tmux" display-message -p -t soak '#{pane_pid}')
sleep 1
if ! kill -0 "$pid" 2>/dev/null; then echo "soak: the dashboard did not start: $(cat "$work/stderr")"; exit 1; fi

printf "%8s %10s %10s %5s %10s\n" "t (s)" "RSS KiB" "peak KiB" "fds" "churn steps"
status() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$pid/status"; }
# The fewest descriptors in five looks 20 ms apart: a refresh holds a few for a moment
# (a /proc file, a socket to the engine), a leak holds them for good.
fds_held() {
    local least= n i
    for i in 1 2 3 4 5; do
        n=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
        if [ -z "$least" ] || [ "$n" -lt "$least" ]; then least=$n; fi
        sleep 0.02
    done
    echo "$least"
}
t=0 base_hwm= base_fds= max_hwm=0 max_fds=0 keys=0
while [ "$t" -le "$duration" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "soak: the dashboard died at t=$t s: $(cat "$work/stderr")"; exit 1; fi
    rss=$(status VmRSS) hwm=$(status VmHWM) fds=$(fds_held)
    printf "%8d %10d %10d %5d %10s\n" "$t" "$rss" "$hwm" "$fds" "$(cut -d' ' -f1 "$work/churn" 2>/dev/null || echo 0)"
    if [ "$t" -ge "$warmup" ]; then
        [ -z "$base_hwm" ] && base_hwm=$hwm base_fds=$fds
        [ "$hwm" -gt "$max_hwm" ] && max_hwm=$hwm
        [ "$fds" -gt "$max_fds" ] && max_fds=$fds
    fi
    [ "$t" -ge "$duration" ] && break
    # Wander through the table while waiting: down, down, up, next sort column.
    next=$((t + sample)); [ "$next" -gt "$duration" ] && next=$duration
    while [ "$t" -lt "$next" ]; do
        sleep 1; t=$((t + 1)); keys=$((keys + 1))
        case $((keys % 20)) in
            5|10) key=j ;; 15) key=k ;; 0) key=s ;; *) continue ;;
        esac
        tmux -S "$work/tmux" send-keys -t soak "$key" 2>/dev/null || { echo "soak: the dashboard died at t=$t s: $(cat "$work/stderr")"; exit 1; }
    done
done
tmux -S "$work/tmux" capture-pane -p -t soak >"$work/screen"
grep -q "gpuctop-soak-$$-" "$work/screen" || { echo "soak: the dashboard does not show the soak containers:"; cat "$work/screen"; exit 1; }
growth=$(( max_hwm - base_hwm )) fd_growth=$(( max_fds - base_fds ))
read -r steps started <"$work/churn"
echo "soak: ${duration} s at 0.1 s; $started containers started, $steps host processes started; peak RSS ${base_hwm} KiB after warm-up, ${max_hwm} KiB at most (growth ${growth} KiB); descriptors ${base_fds} -> at most ${max_fds}"
[ "$growth" -le 1024 ] || { echo "soak: FAILED: peak RSS grew ${growth} KiB after warm-up (limit 1024)"; exit 1; }
[ "$fd_growth" -le 0 ] || { echo "soak: FAILED: descriptors grew by ${fd_growth}"; exit 1; }
echo "soak: passed"
