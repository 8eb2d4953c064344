#!/usr/bin/env bash
# Builds the fake NVML library that tests load in place of libnvidia-ml.so.1.
#
#   scripts/build-fake-nvml.sh [--check] [-v] [OUTDIR]
#
# OUTDIR (default <repo>/.build/fake-nvml) receives
#   libnvidia-ml.so.1          every symbol the fake implements
#   legacy/libnvidia-ml.so.1   built with -DFAKE_NVML_LEGACY: no newer symbols
#   check/                     with --check: the test drivers and the parser tool
# Rebuilds only what is older than its sources; safe to run concurrently (each
# output is written to a temporary file and renamed into place).
# --check also builds and runs Tests/FakeNVML/check_fake_nvml{,_health}.c and feeds the
# scenario parser random and mutated input under ASan/UBSan; exit status is
# non-zero on any failure. -v shows the check output even when it passes.
# On success the only output is OUTDIR (absolute) on the last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
src="$repo/Tests/FakeNVML"
inc="$repo/Sources/CNVML/include"

check=0
verbose=0
out=""
for arg in "$@"; do
    case "$arg" in
        --check) check=1 ;;
        -v) verbose=1 ;;
        -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) echo "build-fake-nvml: unknown option $arg" >&2; exit 2 ;;
        *) [ -z "$out" ] || { echo "build-fake-nvml: one OUTDIR only" >&2; exit 2; }; out=$arg ;;
    esac
done
[ -n "$out" ] || out="$repo/.build/fake-nvml"
mkdir -p "$out"
out=$(cd "$out" && pwd)

CC=${CC:-cc}
CFLAGS=(-std=c11 -O2 -Wall -Wextra -Werror -I "$inc" -I "$src")
lib_sources=("$src/fake_nvml.c" "$src/scenario.c")
# fake_nvml.c includes fake_nvml_health.c and fake_nvml_gpm.c (they share its call prologue).
lib_deps=("${lib_sources[@]}" "$src/fake_nvml_health.c" "$src/fake_nvml_gpm.c" "$src/scenario.h" "$inc/cnvml.h" "${BASH_SOURCE[0]}")

# stale OUTPUT DEPS...: true when OUTPUT is missing or older than a dependency.
stale() {
    local target=$1 dep
    shift
    [ -e "$target" ] || return 0
    for dep in "$@"; do
        [ "$dep" -nt "$target" ] && return 0
    done
    return 1
}

# build OUTPUT COMPILER-ARGS...: compile to a temporary name, then rename.
build() {
    local target=$1 tmp
    shift
    mkdir -p "$(dirname "$target")"
    tmp=$(mktemp "$target.tmp.XXXXXX")
    if ! "$CC" "$@" -o "$tmp"; then
        rm -f "$tmp"
        echo "build-fake-nvml: failed to build $target" >&2
        exit 1
    fi
    chmod 755 "$tmp"
    mv -f "$tmp" "$target"
}

so_flags=(-shared -fPIC -fvisibility=hidden -pthread -Wl,-soname,libnvidia-ml.so.1 -Wl,--no-undefined)

if stale "$out/libnvidia-ml.so.1" "${lib_deps[@]}"; then
    build "$out/libnvidia-ml.so.1" "${CFLAGS[@]}" "${so_flags[@]}" "${lib_sources[@]}"
fi
if stale "$out/legacy/libnvidia-ml.so.1" "${lib_deps[@]}"; then
    build "$out/legacy/libnvidia-ml.so.1" "${CFLAGS[@]}" -DFAKE_NVML_LEGACY "${so_flags[@]}" "${lib_sources[@]}"
fi

if [ "$check" = 1 ]; then
    chk="$out/check"
    if stale "$chk/check_fake_nvml" "$src/check_fake_nvml.c" "$src/check.h" "$inc/cnvml.h" "${BASH_SOURCE[0]}"; then
        build "$chk/check_fake_nvml" "${CFLAGS[@]}" "$src/check_fake_nvml.c" -ldl -pthread
    fi
    if stale "$chk/check_fake_nvml_health" "$src/check_fake_nvml_health.c" "$src/check.h" "$inc/cnvml.h" "${BASH_SOURCE[0]}"; then
        build "$chk/check_fake_nvml_health" "${CFLAGS[@]}" "$src/check_fake_nvml_health.c" -ldl -pthread
    fi
    # The parser alone, with sanitizers where the compiler has them.
    san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
    if ! echo 'int main(void){return 0;}' | "$CC" "${san[@]}" -x c - -o /dev/null 2>/dev/null; then
        san=(-g)
    fi
    if stale "$chk/parse_scenario" "$src/parse_scenario_main.c" "$src/scenario.c" "$src/scenario.h" "${BASH_SOURCE[0]}"; then
        build "$chk/parse_scenario" "${CFLAGS[@]}" -O1 "${san[@]}" "$src/parse_scenario_main.c" "$src/scenario.c"
    fi

    log=$(mktemp)
    trap 'rm -f "$log" "$log.rnd" "$log.example"' EXIT
    status=0
    {
        "$chk/check_fake_nvml" "$out/libnvidia-ml.so.1" "$out/legacy/libnvidia-ml.so.1" || status=1
        "$chk/check_fake_nvml_health" "$out/libnvidia-ml.so.1" "$out/legacy/libnvidia-ml.so.1" || status=1
        # The full example of SCENARIO.md must parse.
        awk '/^```scenario$/{on=1; next} /^```$/{on=0} on' "$src/SCENARIO.md" > "$log.example"
        "$chk/parse_scenario" "$log.example" || status=1
        # Garbage: random bytes, token soups, and mutations of the example
        # (seeded, so a failure can be replayed with the same seed).
        export ASAN_OPTIONS=exitcode=86:detect_leaks=1 UBSAN_OPTIONS=exitcode=87:print_stacktrace=1
        "$chk/parse_scenario" --fuzz 1 3000 "$log.example" || status=1
        for _ in 1 2 3 4 5; do
            head -c 100000 /dev/urandom > "$log.rnd"
            rc=0
            "$chk/parse_scenario" --quiet "$log.rnd" || rc=$?
            [ "$rc" -le 1 ] || { echo "parse_scenario crashed on random input (rc $rc)"; status=1; }
        done
        rm -f "$log.rnd" "$log.example"
    } > "$log" 2>&1
    if [ "$status" != 0 ] || [ "$verbose" = 1 ]; then
        cat "$log" >&2
    fi
    if [ "$status" != 0 ]; then
        echo "build-fake-nvml: check FAILED" >&2
        exit 1
    fi
fi

echo "$out"
