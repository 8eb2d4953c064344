#!/usr/bin/env bash
# The least memory an NVML dashboard can take, in Swift and in C: issue #14 asks gpuctop's
# peak RSS to be below nvtop's, and this measures what any program that opens NVML and
# draws a 200x50 ncurses screen pays before it does anything of its own.
#
#   bench/floor.sh build DIR             here: DIR/floor-swift (static standard library,
#                                        linked like gpuctop's release build) and DIR/floor-c
#   bench/floor.sh measure DIR [BIN...]  on the GPU host: each program, and each BIN given
#                                        (a gpuctop, say), in a 200x50 tmux pane for 8 s: peak
#                                        RSS (VmHWM) and the larger mappings' RSS
#
# bench/floor/floor.swift: dlopen NVML, nvmlInit, every second utilisation, memory, power and
# the process list, drawn from Swift strings through ncurses; no Foundation, no threads.
# bench/floor/floor.c: the same in C. BENCHMARKS.md has the H200's figures.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-}; dir=${2:-}
[ -n "$what" ] && [ -n "$dir" ] || { sed -n '6,9p' "$0"; exit 2; }
shift 2
case $what in
build)
    mkdir -p "$dir"
    gcc -O2 -o "$dir/floor-c" bench/floor/floor.c -ldl -lncursesw
    runtime=.build/static-runtime   # libstdc++ and libgcc_eh linked in, as scripts/build-release.sh does
    [ -d "$runtime" ] || scripts/build-release.sh >/dev/null
    swiftc -O -static-stdlib bench/floor/floor.swift -o "$dir/floor-swift" -L "$runtime" \
        -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs -lncursesw
    ls -l "$dir/floor-c" "$dir/floor-swift"
    ;;
measure)
    sock=$(mktemp -u /tmp/floor-tmux.XXXXXX)
    for cmd in "$dir/floor-c 20" "$dir/floor-swift 20" "${@/%/ --interval 1}"; do
        tmux -S "$sock" -f /dev/null new-session -d -x 200 -y 50 -s m "exec env TERM=xterm-256color LANG=C.UTF-8 $cmd"
        sleep 8
        pid=$(tmux -S "$sock" display-message -p -t m '#{pane_pid}')
        printf "%-28s " "$(basename "${cmd%% *}")"
        awk '/VmHWM/ { printf "peak RSS %5.1f MiB ", $2 / 1024 }' "/proc/$pid/status"
        awk '/^[0-9a-f]+-[0-9a-f]+ / { n = ($6 == "" ? "[anon]" : $6); sub(/.*\//, "", n) }
             /^Rss:/ { r[n] += $2 }
             END { for (k in r) if (r[k] >= 300) printf " %s %.1f", k, r[k] / 1024; print "" }' "/proc/$pid/smaps"
        tmux -S "$sock" kill-server; sleep 0.5
    done
    ;;
*) sed -n '6,9p' "$0"; exit 2 ;;
esac
