# Sourced by the device benchmarks: start_gpu_load N starts N PyTorch processes
# busy on GPU 0 (a matrix product, then a short sleep, different sizes), adds their
# PIDs to the array `pids`, and waits until nvidia-smi lists them all.
start_gpu_load() {
    local n=$1 i
    for i in $(seq "$n"); do
        python3 - "$i" >/dev/null 2>&1 <<'PY' &
import sys, time, torch
n = int(sys.argv[1]); x = torch.randn(2048 * n, 2048, device="cuda"); w = torch.randn(2048, 2048, device="cuda")
end = time.time() + 600
while time.time() < end:
    y = x @ w; torch.cuda.synchronize(); time.sleep(0.01 * n)
PY
        pids+=($!)
    done
    for _ in $(seq 120); do
        [ "$(nvidia-smi --query-compute-apps=pid --format=csv,noheader | grep -c .)" -ge "$n" ] && return 0
        sleep 0.5
    done
    echo "gpu-load: fewer than $n processes appeared on the GPU" >&2
}
