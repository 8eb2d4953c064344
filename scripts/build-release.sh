#!/usr/bin/env bash
# The release binary: Swift's runtime and Foundation linked in (--static-swift-stdlib),
# and the C++ runtime and unwinder too, so that `ldd .build/release/gpuctop` shows only
# glibc and ncurses. The swift toolchain links -lstdc++ and -lgcc_s; a directory that
# holds only their static archives, searched first, makes the linker take those.
# Falls back to the plain build (which also needs libstdc++.so.6 and libgcc_s.so.1,
# present on every glibc distribution) when the archives are not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.build/static-runtime
cxx=$(g++ -print-file-name=libstdc++.a 2>/dev/null || true)
eh=$(gcc -print-file-name=libgcc_eh.a 2>/dev/null || true)
extra=()
if [ -f "$cxx" ] && [ -f "$eh" ]; then
    mkdir -p "$dir"
    ln -sf "$cxx" "$dir/libstdc++.a"
    ln -sf "$eh" "$dir/libgcc_s.a"
    extra=(-Xlinker "-L$dir")
else
    echo "build-release: static libstdc++/libgcc_eh not found; linking them dynamically" >&2
fi
# Linked by lld with packed relative relocations (DT_RELR): the position-independent
# binary's 37,000 relocations take 2 KiB instead of 880 KiB, which the loader no longer
# reads into memory at every start (0.6 MiB less resident; glibc 2.36 or newer, which
# the binary needs anyway). lld comes with the Swift toolchain; without it, gold as before.
if [ -x "$(dirname "$(command -v swiftc)")/ld.lld" ] || command -v ld.lld >/dev/null; then
    extra+=(-Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs)
else
    echo "build-release: ld.lld not found; linking with the default linker (more memory)" >&2
fi
# Each function in a section of its own, laid out in the order scripts/gpuctop.order names
# (the functions gpuctop runs on its usual paths, scripts/order-file.sh): the kernel maps
# a binary 64 KiB around each page it faults in, so hot code scattered across 10 MiB of
# .text made 5 MiB of it resident. Only what the linker can move moves (our modules, the
# C++ runtime; the standard library's Swift code is one section): on the H200 the
# binary's resident pages went from 6.8 to 5.9 MiB (BENCHMARKS.md). lld only.
if [[ " ${extra[*]} " == *" -use-ld=lld "* ]] && [ -s scripts/gpuctop.order ]; then
    # -disable-incremental-llvm-codegen: the compiler otherwise keeps an object whose IR is
    # unchanged, compiled with whatever flags it had; an object from before -function-sections
    # (one .text for the whole file) then lies across the ordered run (0.5 MiB more resident).
    extra+=(-Xswiftc -Xfrontend -Xswiftc -function-sections
            -Xswiftc -Xfrontend -Xswiftc -disable-incremental-llvm-codegen
            -Xlinker --symbol-ordering-file="$PWD/scripts/gpuctop.order" -Xlinker --no-warn-symbol-ordering)
fi
swift build -c release --static-swift-stdlib --product gpuctop "${extra[@]}" "$@"
