# Sourced by scripts/test-dockerd.sh and scripts/test-podman.sh: what starting and stopping
# a private daemon for the tests needs in both. The sourcing script sets TAG (its name in
# messages) first.

die() { echo "$TAG: $*" >&2; exit 1; }
log() { echo "$TAG: $*" >&2; }

alive() { # alive PIDFILE NAME: the process named in PIDFILE is running and is NAME
    # (checking the name keeps a stale pidfile from pointing us at a recycled pid).
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

stop_pid() { # stop_pid PIDFILE NAME: SIGTERM, bounded wait, then SIGKILL
    alive "$1" "$2" || return 0
    local pid i
    pid=$(cat "$1")
    log "stopping $2 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    log "$2 did not exit after SIGTERM; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

kill_leftovers() { # kill_leftovers WHAT TEXT [COMM]: SIGKILL every process whose command line
    # holds TEXT (and whose name is COMM, when given): the shims and monitors a daemon leaves.
    local p
    for p in /proc/[0-9]*; do
        [ -z "${3:-}" ] || [ "$(cat "$p/comm" 2>/dev/null)" = "$3" ] || continue
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$2"; then
            log "killing leftover $1 ${p#/proc/}"
            kill -KILL "${p#/proc/}" 2>/dev/null || true
        fi
    done
}

remove_dir() { # remove_dir DIR: unmount whatever is still mounted below it (deepest first), then remove it
    [ -d "$1" ] || return 0
    local m
    awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$1" 2>/dev/null || { sleep 1; rm -rf "$1"; }
}
