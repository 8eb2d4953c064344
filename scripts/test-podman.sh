#!/usr/bin/env bash
# A private Podman API service for the tests (Podman beside the test dockerd).
#
#   scripts/test-podman.sh start   start it (or reuse the one already running), load the test image
#   scripts/test-podman.sh env     print `export GPUCTOP_TEST_PODMAN_HOST=unix:///...`
#   scripts/test-podman.sh stop    stop it, remove its containers, mounts and directories
#
# Typical use:  scripts/test-podman.sh start && eval "$(scripts/test-podman.sh env)"
# Tests drive it as a person would: `podman --remote --url "$GPUCTOP_TEST_PODMAN_HOST" run ...`.
#
# Why it looks like this:
# - Everything lives under one directory in /tmp (override with GPUCTOP_TEST_PODMAN_DIR): its own
#   storage root, run root, tmpdir (events log, exit files) and network config, so the machine's
#   own Podman (/var/lib/containers, /run/podman/podman.sock) is never touched.
# - `podman system service --time=0` serves Podman's API, Docker-compatible endpoints included,
#   on our socket until it is stopped. Containers created through it get the service's settings.
# - cgroupfs (no systemd in these machines), vfs storage (no overlay support needed), the events
#   log in a file (no journald). `podman run` must add `--network none` and
#   `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024` (the default ulimits are refused here).
# - The image is loaded without a registry: a rootfs holding busybox-static, imported as a tarball.
# - Needs root (rootful Podman, like the Podman that runs GPU containers on a server).
set -euo pipefail

DIR="${GPUCTOP_TEST_PODMAN_DIR:-/tmp/gpuctop-test-podman}"
SOCK="$DIR/podman.sock"
PIDFILE="$DIR/service.pid"
IMAGE="localhost/gpuctop-test/busybox:latest"
BUSYBOX="${GPUCTOP_TEST_BUSYBOX:-/bin/busybox}"
WAIT_SECONDS="${GPUCTOP_TEST_PODMAN_WAIT:-60}"

TAG=test-podman
. "$(dirname "$0")/test-daemon-lib.sh"

# Podman on our private storage, in-process (not through the service).
pm() {
    podman --root "$DIR/root" --runroot "$DIR/runroot" --tmpdir "$DIR/tmp" \
        --network-config-dir "$DIR/networks" --storage-driver=vfs \
        --cgroup-manager=cgroupfs --events-backend=file "$@"
}

ping_ok() {
    [ -S "$SOCK" ] && [ "$(curl -s --max-time 2 --unix-socket "$SOCK" http://d/_ping 2>/dev/null)" = "OK" ]
}

# The image as the service sees it (storage written by another process must be visible to it).
image_served() {
    curl -sf --max-time 5 --unix-socket "$SOCK" "http://d/v4.0.0/libpod/images/$IMAGE/exists" >/dev/null 2>&1
}

load_image() {
    if image_served; then return 0; fi
    [ -x "$BUSYBOX" ] || die "no static busybox at $BUSYBOX (apt-get install busybox-static)"
    local rootfs="$DIR/rootfs" applet
    rm -rf "$rootfs"
    mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/etc"
    cp "$BUSYBOX" "$rootfs/bin/busybox"
    for applet in $("$rootfs/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
    done
    echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
    echo 'root:x:0:' >"$rootfs/etc/group"
    log "importing $IMAGE"
    tar -C "$rootfs" -c . | pm import --quiet --change 'CMD ["sh"]' --change 'ENV PATH=/bin' - "$IMAGE" >/dev/null
    rm -rf "$rootfs"
    image_served || die "the service does not see $IMAGE after the import; see $DIR/service.log"
}

start() {
    [ "$(id -u)" = 0 ] || die "must run as root (rootful Podman)"
    command -v podman >/dev/null || die "podman not found (apt-get install podman)"
    command -v curl >/dev/null || die "curl not found (apt-get install curl)"
    mkdir -p "$DIR/tmp" "$DIR/networks"
    if alive "$PIDFILE" podman && ping_ok; then
        log "reusing running podman service (pid $(cat "$PIDFILE"), $SOCK)"
        load_image
        return 0
    fi
    if alive "$PIDFILE" podman; then die "podman pid $(cat "$PIDFILE") is running but $SOCK does not answer; run '$0 stop' first"; fi
    rm -f "$SOCK" "$PIDFILE"
    log "starting podman system service ($SOCK, log $DIR/service.log)"
    setsid podman --root "$DIR/root" --runroot "$DIR/runroot" --tmpdir "$DIR/tmp" \
        --network-config-dir "$DIR/networks" --storage-driver=vfs \
        --cgroup-manager=cgroupfs --events-backend=file \
        system service --time=0 "unix://$SOCK" </dev/null >>"$DIR/service.log" 2>&1 &
    # setsid execs podman, so $! is the service's pid.
    echo $! >"$PIDFILE"
    local deadline=$((SECONDS + WAIT_SECONDS))
    until ping_ok; do
        if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            tail -n 30 "$DIR/service.log" >&2 || true
            die "podman system service exited during startup; see $DIR/service.log"
        fi
        if [ $SECONDS -ge $deadline ]; then
            tail -n 30 "$DIR/service.log" >&2 || true
            die "podman system service did not answer within ${WAIT_SECONDS}s; see $DIR/service.log"
        fi
        sleep 0.2
    done
    load_image
    log "ready: export GPUCTOP_TEST_PODMAN_HOST=unix://$SOCK"
}

stop() {
    # Remove the containers first (SIGKILL, no grace): their conmon processes outlive the service.
    if [ -d "$DIR/root" ]; then pm rm --all --force --time 0 >/dev/null 2>&1 || true; fi
    stop_pid "$PIDFILE" podman
    # A conmon left behind names our storage on its command line.
    kill_leftovers conmon " $DIR/" conmon
    remove_dir "$DIR"
    log "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) echo "export GPUCTOP_TEST_PODMAN_HOST=unix://$SOCK" ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
