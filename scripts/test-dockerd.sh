#!/usr/bin/env bash
# A private Docker daemon for the DockerSocket integration tests.
#
#   scripts/test-dockerd.sh start   start it (or reuse the one already running), build the test image
#   scripts/test-dockerd.sh env     print `export GPUCTOP_TEST_DOCKER_HOST=unix:///...` and the private
#                                   containerd's socket and state (GPUCTOP_TEST_CONTAINERD_SOCK, _STATE)
#   scripts/test-dockerd.sh stop    stop it, remove its containers, mounts and directories
#
# Typical use:  scripts/test-dockerd.sh start && eval "$(scripts/test-dockerd.sh env)"
#
# Why it looks like this:
# - Everything lives under one directory in /tmp (override with GPUCTOP_TEST_DOCKER_DIR), so it
#   never touches /var/lib/docker, /var/run/docker.sock or /etc/docker of the machine.
# - We start our OWN containerd with its own socket, root and state and pass it to dockerd with
#   --containerd. Left alone, dockerd 20.10 would reuse a system containerd whenever
#   /run/containerd/containerd.sock exists, and two dockerds sharing one containerd clash.
# - vfs storage needs no overlay support; no bridge and no iptables means nothing on the host's
#   network changes. Test containers must run with `--network none`.
# - The image is built without a registry: a rootfs holding busybox-static, imported as a tarball.
# - Needs root (dockerd does).
set -euo pipefail
. "$(dirname "$0")/containerd-config.sh"

DIR="${GPUCTOP_TEST_DOCKER_DIR:-/tmp/gpuctop-test-docker}"
SOCK="$DIR/docker.sock"
PIDFILE="$DIR/dockerd.run.pid"       # written by us from $! (dockerd refuses a pidfile that exists)
DOCKERD_PIDFILE="$DIR/dockerd.pid"   # written by dockerd itself
CTR_SOCK="$DIR/containerd/containerd.sock"
CTR_PIDFILE="$DIR/containerd.pid"
IMAGE="gpuctop-test/busybox:latest"
BUSYBOX="${GPUCTOP_TEST_BUSYBOX:-/bin/busybox}"
WAIT_SECONDS="${GPUCTOP_TEST_DOCKER_WAIT:-60}"

TAG=test-dockerd
. "$(dirname "$0")/test-daemon-lib.sh"

# The docker CLI, pinned to our socket. Any docker CLI works (it negotiates the API version).
dk() { docker -H "unix://$SOCK" "$@"; }

ping_ok() {
    if command -v curl >/dev/null 2>&1; then
        [ "$(curl -s --max-time 2 --unix-socket "$SOCK" http://localhost/_ping 2>/dev/null)" = "OK" ]
    else
        dk version >/dev/null 2>&1
    fi
}

wait_for() { # wait_for NAME LOGFILE PIDFILE COMMAND...: bounded wait, clear error
    local what=$1 logfile=$2 pidfile=$3; shift 3
    local deadline=$((SECONDS + WAIT_SECONDS))
    until "$@"; do
        # kill -0 only: right after the fork the process may still be named "setsid".
        if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            tail -n 30 "$logfile" >&2 || true
            die "$what exited during startup; see $logfile"
        fi
        if [ $SECONDS -ge $deadline ]; then
            tail -n 30 "$logfile" >&2 || true
            die "$what did not answer within ${WAIT_SECONDS}s; see $logfile"
        fi
        sleep 0.2
    done
}

start_containerd() {
    alive "$CTR_PIDFILE" containerd && [ -S "$CTR_SOCK" ] && return 0
    write_containerd_config "$DIR" "$CTR_SOCK"
    log "starting containerd ($CTR_SOCK)"
    setsid containerd --config "$DIR/containerd.toml" </dev/null >>"$DIR/containerd.log" 2>&1 &
    echo $! >"$CTR_PIDFILE"
    wait_for containerd "$DIR/containerd.log" "$CTR_PIDFILE" test -S "$CTR_SOCK"
}

build_image() {
    if dk image inspect "$IMAGE" >/dev/null 2>&1; then return 0; fi
    [ -x "$BUSYBOX" ] || die "no static busybox at $BUSYBOX (apt-get install busybox-static)"
    local rootfs="$DIR/rootfs"
    rm -rf "$rootfs"
    mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/etc"
    cp "$BUSYBOX" "$rootfs/bin/busybox"
    local applet
    for applet in $("$rootfs/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
    done
    echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
    echo 'root:x:0:' >"$rootfs/etc/group"
    log "importing $IMAGE"
    tar -C "$rootfs" -c . | dk import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' - "$IMAGE" >/dev/null
    rm -rf "$rootfs"
}

start() {
    [ "$(id -u)" = 0 ] || die "must run as root (dockerd needs it)"
    command -v dockerd >/dev/null || die "dockerd not found (apt-get install docker.io)"
    mkdir -p "$DIR"
    if alive "$PIDFILE" dockerd && ping_ok; then
        log "reusing running dockerd (pid $(cat "$PIDFILE"), $SOCK)"
        build_image
        return 0
    fi
    if alive "$PIDFILE" dockerd; then die "dockerd pid $(cat "$PIDFILE") is running but $SOCK does not answer; run '$0 stop' first"; fi
    rm -f "$SOCK" "$PIDFILE" "$DOCKERD_PIDFILE"
    start_containerd
    echo '{}' >"$DIR/daemon.json"
    log "starting dockerd ($SOCK, log $DIR/dockerd.log)"
    # --config-file: ignore /etc/docker/daemon.json. --shutdown-timeout: `stop` must be quick even
    # if a container ignores SIGTERM. The cgroup driver is dockerd's default (cgroupfs).
    setsid dockerd \
        --host "unix://$SOCK" \
        --data-root "$DIR/data" \
        --exec-root "$DIR/exec" \
        --pidfile "$DOCKERD_PIDFILE" \
        --config-file "$DIR/daemon.json" \
        --containerd "$CTR_SOCK" \
        --storage-driver=vfs \
        --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
        --bridge=none \
        --userland-proxy=false \
        --shutdown-timeout=2 \
        </dev/null >>"$DIR/dockerd.log" 2>&1 &
    # setsid execs dockerd, so $! is dockerd's pid; needed before dockerd writes its own pidfile.
    echo $! >"$PIDFILE"
    wait_for dockerd "$DIR/dockerd.log" "$PIDFILE" ping_ok
    build_image
    log "ready: export GPUCTOP_TEST_DOCKER_HOST=unix://$SOCK"
}

stop() {
    if alive "$PIDFILE" dockerd && [ -S "$SOCK" ]; then
        # Remove the containers first with SIGKILL: faster than dockerd's shutdown stopping them.
        local ids
        ids=$(dk ps -aq 2>/dev/null || true)
        [ -n "$ids" ] && dk rm -f $ids >/dev/null 2>&1 || true
    fi
    stop_pid "$PIDFILE" dockerd
    stop_pid "$CTR_PIDFILE" containerd
    # Shims of our containerd outlive it; they name its socket on their command line.
    kill_leftovers shim "-address $CTR_SOCK "
    remove_dir "$DIR"
    log "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env)
        echo "export GPUCTOP_TEST_DOCKER_HOST=unix://$SOCK"
        # The private containerd under it, for tests that run containers with ctr.
        echo "export GPUCTOP_TEST_CONTAINERD_SOCK=$CTR_SOCK"
        echo "export GPUCTOP_TEST_CONTAINERD_STATE=$DIR/containerd-state"
        ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
