// Do NVML's first calls overlap on threads?  nvmlpar THREADS: wall ms of nvmlInit+handle, and
// of one refresh's calls (as gpuctop's one-shot makes them) on THREADS threads (1: in order).
//   gcc -O2 -o nvmlpar bench/probes/nvmlpar.c -ldl -lpthread   (built here, run on the GPU host)
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static void *lib, *dev;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
#define F(n) dlsym(lib, n)
static void c_enf(void) { unsigned v; ((int (*)(void *, unsigned *))F("nvmlDeviceGetEnforcedPowerLimit"))(dev, &v); }
static void c_mig(void) { unsigned a, b; ((int (*)(void *, unsigned *, unsigned *))F("nvmlDeviceGetMigMode"))(dev, &a, &b); }
static void c_pml(void) { unsigned v; ((int (*)(void *, unsigned *))F("nvmlDeviceGetPowerManagementLimit"))(dev, &v); }
static void c_util(void) { unsigned v[2]; ((int (*)(void *, unsigned *))F("nvmlDeviceGetUtilizationRates"))(dev, v); }
static void c_mem(void) { unsigned long long v[3]; ((int (*)(void *, unsigned long long *))F("nvmlDeviceGetMemoryInfo"))(dev, v); }
static void c_temp(void) { unsigned v; ((int (*)(void *, int, unsigned *))F("nvmlDeviceGetTemperature"))(dev, 0, &v); }
static void c_fan(void) { unsigned v; ((int (*)(void *, unsigned *))F("nvmlDeviceGetFanSpeed"))(dev, &v); }
static void c_clk(void) { unsigned v; ((int (*)(void *, int, unsigned *))F("nvmlDeviceGetClockInfo"))(dev, 1, &v); ((int (*)(void *, int, unsigned *))F("nvmlDeviceGetClockInfo"))(dev, 2, &v); }
static void c_pow(void) { unsigned v; ((int (*)(void *, unsigned *))F("nvmlDeviceGetPowerUsage"))(dev, &v); int p; ((int (*)(void *, int *))F("nvmlDeviceGetPerformanceState"))(dev, &p); }
static void c_cproc(void) { static char b[24 * 1024]; unsigned n = 1024; ((int (*)(void *, unsigned *, void *))F("nvmlDeviceGetComputeRunningProcesses_v3"))(dev, &n, b); }
static void c_gproc(void) { static char b[24 * 1024]; unsigned n = 1024; ((int (*)(void *, unsigned *, void *))F("nvmlDeviceGetGraphicsRunningProcesses_v3"))(dev, &n, b); }
static void c_mproc(void) { static char b[24 * 1024]; unsigned n = 1024; ((int (*)(void *, unsigned *, void *))F("nvmlDeviceGetMPSComputeRunningProcesses_v3"))(dev, &n, b); }
static void c_putil(void) { static char b[32 * 1024]; unsigned n = 1024; ((int (*)(void *, void *, unsigned *, unsigned long long))F("nvmlDeviceGetProcessUtilization"))(dev, b, &n, 0); }
static void c_reas(void) { unsigned long long v; ((int (*)(void *, unsigned long long *))F("nvmlDeviceGetCurrentClocksEventReasons"))(dev, &v); }
static void c_ecc(void) { unsigned long long v; ((int (*)(void *, int, int, unsigned long long *))F("nvmlDeviceGetTotalEccErrors"))(dev, 0, 1, &v); ((int (*)(void *, int, int, unsigned long long *))F("nvmlDeviceGetTotalEccErrors"))(dev, 1, 1, &v); }
static void (*calls[])(void) = {c_enf, c_util, c_ecc, c_cproc, c_putil, c_temp, c_clk, c_gproc, c_mproc, c_mig, c_reas, c_fan, c_pml, c_mem, c_pow};
static const int ncalls = sizeof calls / sizeof *calls;
static int threads;
static void *worker(void *arg) { for (int i = (int)(long)arg; i < ncalls; i += threads) calls[i](); return 0; }
int main(int argc, char **argv) {
    threads = argc > 1 ? atoi(argv[1]) : 1;
    double t0 = now();
    lib = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    ((int (*)(void))F("nvmlInit_v2"))();
    ((int (*)(unsigned, void **))F("nvmlDeviceGetHandleByIndex_v2"))(0, &dev);
    double t1 = now();
    pthread_t t[16];
    for (long i = 1; i < threads; i++) pthread_create(&t[i], 0, worker, (void *)i);
    worker(0);
    for (int i = 1; i < threads; i++) pthread_join(t[i], 0);
    double t2 = now();
    printf("threads %d: init+handle %.1f ms, first calls %.1f ms\n", threads, t1 - t0, t2 - t1);
    fflush(stdout); _exit(0);
}
