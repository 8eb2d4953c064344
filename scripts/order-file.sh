#!/usr/bin/env bash
# Writes scripts/gpuctop.order, the functions gpuctop runs on its usual paths, for the
# linker to lay out together (scripts/build-release.sh passes it to lld). Why: the
# kernel maps a binary's pages 64 KiB at a time around each page fault, so code run
# once here and once there across a 10 MiB .text makes half of it resident. Laid out
# together, our own code's hot functions take about 800 KiB; the standard library's
# Swift code cannot be reordered (one section per module). BENCHMARKS.md, "Real H200".
#
# Runs the release build under valgrind's callgrind (every function executed, not a
# sample) on: a one-shot `snapshot --json` and `snapshot`, the dashboard for a few
# refreshes (live with the fake NVML, and replaying the example recording), and
# `export --once`. Needs valgrind and tmux. A stale order file costs memory, never
# correctness: functions it does not name are laid out after the ones it does.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "order-file: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
bin=.build/release/gpuctop
[ -x "$bin" ] || scripts/build-release.sh >/dev/null
fake=$(scripts/build-fake-nvml.sh | tail -1)/libnvidia-ml.so.1
work=$(mktemp -d /tmp/gpuctop-order.XXXXXX)
trap 'tmux -S "$work/tmux" kill-server 2>/dev/null || true; kill "${sleeper:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 300 &
sleeper=$!
cat >"$work/scenario" <<SCENARIO
driver 580.159.04
cuda 13000
gpu
name NVIDIA H200
uuid GPU-a66de040-50ad-07c5-991d-4be90d4bdfdc
memory_total 143771MiB
memory_used 60GiB 61GiB
util 100 90
mem_util 40
temperature 51
clock_sm 1980
clock_mem 3201
pstate 0
power 512000 530000
power_limit 700000
power_default 700000
power_min 200000
power_max 700000
persistence 1
compute_mode 0
mig 0
throttle none
violation_power 0
ecc_volatile 0
ecc_aggregate 0
remapped_rows corr=0 unc=0 pending=0 failure=0
process compute pid=$sleeper mem=4GiB sm=90 memutil=30
process compute pid=$$ mem=500MiB
SCENARIO
export FAKE_NVML_SCENARIO=$work/scenario
vg=(valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no)
common=(--nvml "$fake")
n=0
run() { n=$((n + 1)); "${vg[@]}" --callgrind-out-file="$work/cg.$n" "$@" >/dev/null 2>&1 || true; }
run "$bin" "${common[@]}" snapshot --json
run "$bin" "${common[@]}" snapshot
run "$bin" "${common[@]}" export --once
run "$bin" --version
dash() {  # a dashboard in tmux under callgrind for SECONDS, then q
    local seconds=$1; shift
    n=$((n + 1))
    tmux -S "$work/tmux" -f /dev/null new-session -d -x 200 -y 50 -s "d$n" \
        "exec env TERM=xterm-256color LANG=C.UTF-8 FAKE_NVML_SCENARIO=$FAKE_NVML_SCENARIO ${vg[*]} --callgrind-out-file=$work/cg.$n $*"
    sleep "$seconds"
    tmux -S "$work/tmux" send-keys -t "d$n" q
    for _ in $(seq 60); do tmux -S "$work/tmux" has-session -t "d$n" 2>/dev/null || break; sleep 0.5; done
}
dash 40 "$PWD/$bin" "${common[@]}" --interval 1
dash 25 "$PWD/$bin" replay examples/h200-containers.gpuctop
# fn=NAME lines (uncompressed); keep Swift, C and C++ symbols of the binary itself.
cat "$work"/cg.* | sed -n 's/^fn=//p' | awk '!seen[$0]++' >"$work/functions"
nm --defined-only "$bin" | awk '$2 ~ /[tTwW]/ { print $3 }' | sort -u >"$work/defined"
grep -Fxf "$work/defined" "$work/functions" >"$work/hot"
# Our own functions first, then the C and C++ runtimes', then Foundation's, then the rest.
# Why: lld moves a whole input section to where its first named function is. Ours and
# the runtimes' are a function a section (-function-sections), so they pack together;
# Foundation's Swift code is a section per source file and the standard library's one
# section per module (1.5 MiB), and named early they would split the packed run apart.
nm --defined-only $(cat .build/release/gpuctop.product/Objects.LinkFileList) 2>/dev/null \
    | awk 'NF == 3 { print $3 }' | sort -u >"$work/ours"
swift_static=$(dirname "$(command -v swiftc)")/../lib/swift_static/linux
nm -A --defined-only "$swift_static"/libFoundationEssentials.a "$swift_static"/lib_FoundationCollections.a \
    2>/dev/null | awk 'NF == 4 { print $4 }' | sort -u >"$work/foundation"
awk -v ours="$work/ours" -v foundation="$work/foundation" '
    BEGIN { while ((getline s < ours) > 0) o[s] = 1; while ((getline s < foundation) > 0) f[s] = 1 }
    { rank = ($0 in o) ? 0 : ($0 ~ /^_Z/ || $0 !~ /^\$s/) ? 1 : ($0 in f) ? 2 : 3; print rank "\t" NR "\t" $0 }
' "$work/hot" | sort -n -k1,1 -k2,2 | cut -f3 >scripts/gpuctop.order
echo "order-file: $(wc -l <scripts/gpuctop.order) functions in scripts/gpuctop.order (of $(wc -l <"$work/defined") in the binary)"
