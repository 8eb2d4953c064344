# Sourced by the device benchmarks.
#   start_gpu_load N       N PyTorch processes busy on GPU 0 (a matrix product, then a
#                          short sleep, different sizes)
#   start_idle_contexts N  N PyTorch processes that create a CUDA context on GPU 0 (a
#                          one-element tensor) and sleep: the idle contexts of a busy node
#   wait_for_steady_memory until the GPU's used memory has held still for 5 s (at most 90 s):
#                          contexts go on allocating for a while after nvidia-smi lists them
#   stop_gpu_load          ends every process started here and waits until the GPU lists none
# Each adds its PIDs to the array `pids` and waits until nvidia-smi lists them all.
gpu_load_pids=()

gpu_processes() { nvidia-smi --query-compute-apps=pid --format=csv,noheader | grep -c .; }

wait_for_gpu_processes() {  # N: until nvidia-smi lists at least N compute processes
    local want=$1 i
    for i in $(seq 240); do
        [ "$(gpu_processes)" -ge "$want" ] && return 0
        sleep 0.5
    done
    echo "gpu-load: fewer than $want processes appeared on the GPU" >&2
}

start_gpu_load() {
    local n=$1 i before
    before=$(gpu_processes)
    for i in $(seq "$n"); do
        python3 - "$i" >/dev/null 2>&1 <<'PY' &
import sys, time, torch
n = int(sys.argv[1]); x = torch.randn(2048 * n, 2048, device="cuda"); w = torch.randn(2048, 2048, device="cuda")
end = time.time() + 900
while time.time() < end:
    y = x @ w; torch.cuda.synchronize(); time.sleep(0.01 * n)
PY
        pids+=($!); gpu_load_pids+=($!)
    done
    wait_for_gpu_processes $((before + n))
}

start_idle_contexts() {
    local n=$1 i before
    before=$(gpu_processes)
    for i in $(seq "$n"); do
        python3 - >/dev/null 2>&1 <<'PY' &
import time, torch
torch.zeros(1, device="cuda")
time.sleep(900)
PY
        pids+=($!); gpu_load_pids+=($!)
    done
    wait_for_gpu_processes $((before + n))
}

wait_for_steady_memory() {
    local last="" same=0 now i
    for i in $(seq 90); do
        now=$(timeout 10 nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | tr '\n' ' ')
        if [ -n "$now" ] && [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; last=$now; fi
        [ "$same" -ge 5 ] && { echo "gpu-load: used memory steady at $now MiB after ${i} s" >&2; return 0; }
        sleep 1
    done
    echo "gpu-load: used memory still moving after 90 s ($last MiB)" >&2
}

stop_gpu_load() {
    local p i
    for p in "${gpu_load_pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${gpu_load_pids[@]}"; do wait "$p" 2>/dev/null; done
    gpu_load_pids=()
    for i in $(seq 60); do
        [ "$(gpu_processes)" -eq 0 ] && return 0
        sleep 0.5
    done
}
