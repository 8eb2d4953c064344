#!/usr/bin/env bash
# Local cost of the several-host dashboard: CPU and peak RSS of `gpuctop --host ...`
# with 1, 2, 4 and 8 hosts, all aliases (h1..h8) of one loopback sshd whose remote
# gpuctop reads a fake NVML scenario (1 GPU, 4 processes). Each run: the dashboard
# in a 200x50 tmux pane at a 1 s refresh, 5 s warm-up, then SECONDS measured.
# Usage: bench/multihost-bench.sh [GPUCTOP_BINARY] [SECONDS]   (needs root for sshd)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-.build/debug/gpuctop}")
secs=${2:-20}
lib=$(realpath .build/fake-nvml/libnvidia-ml.so.1)
dir=$(mktemp -d /tmp/mh-bench-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$dir/hostkey"; ssh-keygen -q -t ed25519 -N '' -f "$dir/key"
cp "$dir/key.pub" "$dir/auth"
cat > "$dir/scenario" <<S
gpu
name NVIDIA H200
uuid GPU-bench
util 10 20 30
memory_total 150754820096
memory_used 25769803776
power 300000
power_limit 700000
process compute pid=1 mem=4GiB sm=40
process compute pid=2 mem=4GiB sm=30
process compute pid=3 mem=2GiB sm=20
process compute pid=4 mem=1GiB sm=10
S
cat > "$dir/sshd_config" <<S
Port $port
ListenAddress 127.0.0.1
HostKey $dir/hostkey
PidFile none
PermitRootLogin prohibit-password
AuthorizedKeysFile $dir/auth
UsePAM no
StrictModes no
MaxSessions 50
MaxStartups 50
SetEnv FAKE_NVML_SCENARIO=$dir/scenario GPUCTOP_NVML=$lib DOCKER_HOST=unix:///nonexistent.sock
S
: > "$dir/ssh_config"
for i in 1 2 3 4 5 6 7 8; do printf 'Host h%s\n  HostName 127.0.0.1\n  Port %s\n' $i $port >> "$dir/ssh_config"; done
printf 'Host *\n  User root\n  IdentitiesOnly yes\n  LogLevel ERROR\n' >> "$dir/ssh_config"
/usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>"$dir/sshd.log" &
sshd=$!
trap 'kill $sshd 2>/dev/null; tmux -S "$dir/tmux" kill-server 2>/dev/null; true' EXIT
sleep 1
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
printf '| hosts | dashboard CPU s/min | ssh clients CPU s/min | dashboard peak RSS MiB | ssh clients RSS MiB |\n| --- | --- | --- | --- | --- |\n'
for n in 1 2 4 8; do
    hosts=$(for i in $(seq 1 $n); do printf -- '--host h%s ' $i; done)
    tmux -S "$dir/tmux" -f /dev/null new-session -d -x 200 -y 50 -s b \
        "TERM=xterm-256color GPUCTOP_SSH='-F $dir/ssh_config -i $dir/key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' GPUCTOP_REMOTE_COMMAND=$bin $bin $hosts --interval 1"
    sleep 5
    pid=$(pgrep -f "^$bin --host h1" | head -1)
    sshs=$(pgrep -P "$pid" -x ssh | tr '\n' ' ')
    c0=$(cpu "$pid"); s0=0; for s in $sshs; do s0=$((s0 + $(cpu $s))); done
    sleep "$secs"
    c1=$(cpu "$pid"); s1=0; for s in $sshs; do s1=$((s1 + $(cpu $s))); done
    hwm=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
    srss=0; for s in $sshs; do srss=$((srss + $(awk '/VmRSS/{print $2}' /proc/$s/status))); done
    up=$(tmux -S "$dir/tmux" capture-pane -p -t b | head -1 | grep -o '[0-9]* of [0-9]* hosts\? up' || true)
    awk -v n=$n -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v t=$ticks -v secs=$secs -v h=$hwm -v r=$srss -v up="$up" \
        'BEGIN { printf "| %d (%s) | %.3f | %.3f | %.1f | %.1f |\n", n, up, c/t*60/secs, s/t*60/secs, h/1024, r/1024 }'
    tmux -S "$dir/tmux" kill-server
    sleep 1
done
