#!/usr/bin/env bash
# Runs every gpuctop test on a fresh Debian 12 machine: installs what the tests
# need, builds the fake NVML, starts a private dockerd and a private Podman service,
# builds, tests, and stops both again whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

need=()
command -v dockerd >/dev/null || need+=(docker.io)
# Podman beside Docker: containers of both engines named and acted on (scripts/test-podman.sh).
command -v podman >/dev/null || need+=(podman)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v tmux >/dev/null || need+=(tmux)
command -v cc >/dev/null || need+=(gcc)
command -v curl >/dev/null || need+=(curl)
[ -f /usr/include/ncursesw/ncurses.h ] || need+=(libncurses-dev)
# gpuctop export is checked against the real thing: promtool, Prometheus, node_exporter.
{ command -v promtool && command -v prometheus; } >/dev/null || need+=(prometheus)
command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
# Several hosts over ssh are tested against real sshd processes on loopback ports.
{ [ -x /usr/sbin/sshd ] && command -v ssh && command -v ssh-keygen; } >/dev/null || need+=(openssh-server openssh-client)
# Packaging (PackageInstallTests, ContainerImageTests, KubernetesManifestTests, ManualPageAndCompletionTests):
# the .deb is built with dpkg-deb and dpkg-shlibdeps and checked with lintian, its man page read
# with man and groff, its completions used in bash (with bash-completion's loader) and zsh; the
# Kubernetes manifest is parsed with python3-yaml.
command -v lintian >/dev/null || need+=(lintian)
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
{ command -v man && command -v groff; } >/dev/null || need+=(man-db groff-base)
[ -x /usr/bin/zsh ] || need+=(zsh)
[ -f /usr/share/bash-completion/bash_completion ] || need+=(bash-completion)
/usr/bin/python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
if [ ${#need[@]} -gt 0 ]; then
    echo "test.sh: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

scripts/build-fake-nvml.sh >/dev/null
export GPUCTOP_FAKE_NVML_DIR="$repo/.build/fake-nvml"

# Stop the test dockerd and Podman service afterwards only if this run started them (a
# developer may keep them running).
started=()
stop_started() { local s; for s in ${started[@]+"${started[@]}"}; do "scripts/test-$s.sh" stop || true; done; }
trap stop_started EXIT
eval "$(scripts/test-dockerd.sh env)"
if ! curl -sf --unix-socket "${GPUCTOP_TEST_DOCKER_HOST#unix://}" http://d/_ping >/dev/null 2>&1; then
    started+=(dockerd)
    scripts/test-dockerd.sh start
fi
eval "$(scripts/test-podman.sh env)"
if ! curl -sf --unix-socket "${GPUCTOP_TEST_PODMAN_HOST#unix://}" http://d/_ping >/dev/null 2>&1; then
    started+=(podman)
fi
# Run also when it answers: start loads the test image if it is missing.
scripts/test-podman.sh start

swift build
# The release binary first: the scale budget test (ScaleBudgetTests) times it, since a
# debug build says nothing about speed.
scripts/build-release.sh >/dev/null
export GPUCTOP_RELEASE_BIN="$repo/.build/release/gpuctop"
# XCTest only (the suites are XCTest); the summary is kept for the closing line below.
swift test --disable-swift-testing "$@" 2>&1 | tee .build/test-output.log

# The release binary needs only glibc and ncurses, and starts without an NVIDIA driver.
extra=$(ldd .build/release/gpuctop | awk '{print $1}' | grep -vE '^(linux-vdso\.so|libc\.so|libm\.so|/lib64/ld-linux|libncursesw\.so|libtinfo\.so)' || true)
if [ -n "$extra" ]; then echo "release binary needs more than glibc and ncurses: $extra"; exit 1; fi
.build/release/gpuctop snapshot --nvml /nonexistent/libnvidia-ml.so.1 >/dev/null
echo "release binary: needs only glibc and ncurses, and starts without an NVIDIA driver"
# No module calls into the standard library's _StringProcessing (string `contains`,
# `firstRange(of:)`, `replacing`, regexes): its code sits beside the regex parser's, and a
# few calls there keep 0.6 MiB of it resident (Support/TextSearch.swift says what to use).
calls=$(xargs nm -u -A < .build/release/gpuctop.product/Objects.LinkFileList 2>/dev/null \
    | grep '17_StringProcessing\|12_RegexParser' | cut -d: -f1 | sort -u | xargs -r -n1 basename || true)
if [ -n "$calls" ]; then echo "these objects call into _StringProcessing (use Support's firstRange(ofText:), includes, replacingText): $calls"; exit 1; fi
echo "release binary: no calls into _StringProcessing"

# The concurrency tests once more under the thread sanitizer: the lock, the sampler/UI
# mailbox, the whole run loop on a screen in memory, the container catalog with its events
# thread, /proc read alongside NVML on a helper thread, the XID watcher's thread, and the Docker client against a misbehaving daemon. Instrumented in a scratch path of its own, so the build above stays as it is;
# skipped when arguments pick the tests. A data race fails the run (TSan exits 66).
tsan_status=0
if [ $# -eq 0 ]; then
    tsan_tests='^(TUITests\.MailboxTests|TUITests\.DashboardRunnerTests|SupportTests\.LockedValueTests|TelemetryTests\.ContainerCatalogTests|DockerSocketTests\.FakeDaemonTests)/|^TelemetryTests\.NVMLSamplerTests/testManyNewProcessesAreReadFromProcAlongsideNVML|^TelemetryTests\.NVMLHealthTests/(testXIDEventsCarryWhoWasOnTheGPU|testWatcherStopsWithinOneWait|testDroppedSamplerEndsItsThread|testAWatcherEndedByNVMLLeavesItsGPUsUnwatched)'
    timeout 600 swift test --disable-swift-testing --sanitize=thread --scratch-path .build-tsan \
        --filter "$tsan_tests" > .build/test-tsan-output.log 2>&1 || tsan_status=$?
    grep -q "WARNING: ThreadSanitizer" .build/test-tsan-output.log && tsan_status=1
    tsan_summary=$(grep -E "^\s*Executed [0-9]+ tests?, with [0-9]+ failures?" .build/test-tsan-output.log | tail -1 | sed -E 's/^\s*//' || true)
    if [ "$tsan_status" != 0 ]; then
        grep -E -A40 "WARNING: ThreadSanitizer|error:" .build/test-tsan-output.log | head -300 || true
        echo "thread sanitizer run FAILED (status $tsan_status): .build/test-tsan-output.log"
    else
        echo "thread sanitizer: ${tsan_summary:-no tests ran}, no data races"
    fi
fi

# One closing line for CI: the XCTest totals.
summary=$(grep -E "^\s*Executed [0-9]+ tests?, with [0-9]+ failures?" .build/test-output.log | tail -1)
total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
failed=$(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
echo "$((total - failed)) passed, $failed failed"
[ "$tsan_status" = 0 ] || exit 1
