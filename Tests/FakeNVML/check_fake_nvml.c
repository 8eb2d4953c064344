// Checks the fake NVML library through dlopen, as gpuctop uses the real one.
//
//   check_fake_nvml FULL_LIB LEGACY_LIB
//
// Exit status 0 when every check passes. Run by scripts/build-fake-nvml.sh --check.
#define _GNU_SOURCE
#include "cnvml.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define GiB (1ull << 30)

// ---------------------------------------------------------------------------

typedef nvmlReturn_t (*device_uint_uint_fn)(nvmlDevice_t, unsigned int *, unsigned int *);

typedef struct {
    void *dl;
    cnvml_void_fn init_v2, init, shutdown;
    cnvml_error_string_fn error_string;
    cnvml_string_fn driver_version;
    cnvml_int_out_fn cuda_v2, cuda;
    cnvml_uint_out_fn count_v2, count;
    cnvml_handle_by_index_fn handle_v2, handle;
    cnvml_device_uint_fn index, minor;
    cnvml_device_string_fn name, uuid;
    cnvml_pci_fn pci_v3, pci_v2, pci;
    cnvml_utilization_fn util;
    cnvml_memory_v2_fn mem_v2;
    cnvml_memory_v1_fn mem;
    cnvml_device_sensor_fn temperature, clock;
    cnvml_device_uint_fn fan, power, enforced_limit, management_limit, default_limit;
    cnvml_device_int_fn pstate, persistence, compute_mode;
    cnvml_device_uint_uint_fn constraints, encoder, decoder, mig_mode;
    cnvml_device_ull_fn energy;
    cnvml_processes_fn compute_v3, compute_v2, graphics_v3, graphics_v2, mps_v3, mps_v2;
    cnvml_processes_v1_fn compute, graphics, mps;
    cnvml_process_utilization_fn process_util;
    cnvml_device_uint_fn mig_max, gi_id, ci_id, is_mig;
    cnvml_mig_handle_fn mig_handle;
    cnvml_attributes_fn attributes;
    cnvml_device_set_uint_fn set_limit;
} api_t;

// Symbols the legacy build must not export.
static const char *k_newer[] = {
    "nvmlSystemGetCudaDriverVersion_v2", "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2",
    "nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetTotalEnergyConsumption",
    "nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2",
    "nvmlDeviceGetGraphicsRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v2",
    "nvmlDeviceGetMPSComputeRunningProcesses_v3", "nvmlDeviceGetMPSComputeRunningProcesses_v2",
    "nvmlDeviceGetProcessUtilization", "nvmlDeviceGetMigMode", "nvmlDeviceGetMaxMigDeviceCount",
    "nvmlDeviceGetMigDeviceHandleByIndex", "nvmlDeviceGetGpuInstanceId", "nvmlDeviceGetComputeInstanceId",
    "nvmlDeviceGetAttributes_v2", "nvmlDeviceIsMigDeviceHandle",
};

static void *sym(void *dl, const char *name) { return dlsym(dl, name); }

static int load(api_t *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!a->dl) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
#define S(field, name) *(void **)&a->field = sym(a->dl, name)
    S(init_v2, "nvmlInit_v2");
    S(init, "nvmlInit");
    S(shutdown, "nvmlShutdown");
    S(error_string, "nvmlErrorString");
    S(driver_version, "nvmlSystemGetDriverVersion");
    S(cuda_v2, "nvmlSystemGetCudaDriverVersion_v2");
    S(cuda, "nvmlSystemGetCudaDriverVersion");
    S(count_v2, "nvmlDeviceGetCount_v2");
    S(count, "nvmlDeviceGetCount");
    S(handle_v2, "nvmlDeviceGetHandleByIndex_v2");
    S(handle, "nvmlDeviceGetHandleByIndex");
    S(index, "nvmlDeviceGetIndex");
    S(minor, "nvmlDeviceGetMinorNumber");
    S(name, "nvmlDeviceGetName");
    S(uuid, "nvmlDeviceGetUUID");
    S(pci_v3, "nvmlDeviceGetPciInfo_v3");
    S(pci_v2, "nvmlDeviceGetPciInfo_v2");
    S(pci, "nvmlDeviceGetPciInfo");
    S(util, "nvmlDeviceGetUtilizationRates");
    S(mem_v2, "nvmlDeviceGetMemoryInfo_v2");
    S(mem, "nvmlDeviceGetMemoryInfo");
    S(temperature, "nvmlDeviceGetTemperature");
    S(fan, "nvmlDeviceGetFanSpeed");
    S(clock, "nvmlDeviceGetClockInfo");
    S(pstate, "nvmlDeviceGetPerformanceState");
    S(power, "nvmlDeviceGetPowerUsage");
    S(enforced_limit, "nvmlDeviceGetEnforcedPowerLimit");
    S(management_limit, "nvmlDeviceGetPowerManagementLimit");
    S(default_limit, "nvmlDeviceGetPowerManagementDefaultLimit");
    S(constraints, "nvmlDeviceGetPowerManagementLimitConstraints");
    S(energy, "nvmlDeviceGetTotalEnergyConsumption");
    S(persistence, "nvmlDeviceGetPersistenceMode");
    S(compute_mode, "nvmlDeviceGetComputeMode");
    S(encoder, "nvmlDeviceGetEncoderUtilization");
    S(decoder, "nvmlDeviceGetDecoderUtilization");
    S(compute_v3, "nvmlDeviceGetComputeRunningProcesses_v3");
    S(compute_v2, "nvmlDeviceGetComputeRunningProcesses_v2");
    S(compute, "nvmlDeviceGetComputeRunningProcesses");
    S(graphics_v3, "nvmlDeviceGetGraphicsRunningProcesses_v3");
    S(graphics_v2, "nvmlDeviceGetGraphicsRunningProcesses_v2");
    S(graphics, "nvmlDeviceGetGraphicsRunningProcesses");
    S(mps_v3, "nvmlDeviceGetMPSComputeRunningProcesses_v3");
    S(mps_v2, "nvmlDeviceGetMPSComputeRunningProcesses_v2");
    S(mps, "nvmlDeviceGetMPSComputeRunningProcesses");
    S(process_util, "nvmlDeviceGetProcessUtilization");
    S(mig_mode, "nvmlDeviceGetMigMode");
    S(mig_max, "nvmlDeviceGetMaxMigDeviceCount");
    S(mig_handle, "nvmlDeviceGetMigDeviceHandleByIndex");
    S(gi_id, "nvmlDeviceGetGpuInstanceId");
    S(ci_id, "nvmlDeviceGetComputeInstanceId");
    S(attributes, "nvmlDeviceGetAttributes_v2");
    S(is_mig, "nvmlDeviceIsMigDeviceHandle");
    S(set_limit, "nvmlDeviceSetPowerManagementLimit");
#undef S
    return 0;
}

// ---------------------------------------------------------------------------
// Files

static char g_dir[64];

static void path_in_dir(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

// Writes atomically (temporary file, then rename), as SCENARIO.md advises.
static void write_file(const char *path, const char *text) {
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        perror(path);
        exit(2);
    }
}

static size_t read_text(const char *path, char *buf, size_t n) {
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t r = fread(buf, 1, n - 1, f);
    buf[r] = '\0';
    fclose(f);
    return r;
}

static int g_saved_stderr = -1;
static char g_capture_path[256];

static void capture_stderr(void) {
    path_in_dir(g_capture_path, sizeof g_capture_path, "stderr.txt");
    fflush(stderr);
    g_saved_stderr = dup(2);
    int fd = open(g_capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
}

static void end_capture(char *buf, size_t n) {
    fflush(stderr);
    dup2(g_saved_stderr, 2);
    close(g_saved_stderr);
    read_text(g_capture_path, buf, n);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long now_us_realtime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
}

static int init_with(api_t *a, const char *path) {
    setenv("FAKE_NVML_SCENARIO", path, 1);
    return (int)a->init_v2();
}

// ---------------------------------------------------------------------------
// Scenarios

static const char *k_main =
    "# two GPUs with processes\n"
    "driver 580.95.05\n"
    "cuda 13000\n"
    "error count UNKNOWN after=1 times=1\n"
    "gpu\n"
    "name NVIDIA H200   # trailing comment\n"
    "uuid GPU-aaaaaaaa-1111-2222-3333-444444444444\n"
    "minor 7\n"
    "pci 00000000:19:00.0 0x233510DE 0x18B010DE\n"
    "util 10 20 30\n"
    "mem_util 5\n"
    "memory_total 150GiB\n"
    "memory_reserved 1GiB\n"
    "memory_used 10GiB 20GiB\n"
    "temperature 40 41\n"
    "fan 30\n"
    "clock_sm 1980\n"
    "clock_mem 3201\n"
    "pstate 0\n"
    "power 350000 360000\n"
    "power_limit 700000\n"
    "power_default 700000\n"
    "power_min 200000\n"
    "power_max 700000\n"
    "energy 1000 10\n"
    "persistence 1\n"
    "compute_mode 0\n"
    "encoder 0\n"
    "decoder 3\n"
    "process compute pid=100 mem=1GiB sm=50 memutil=10 enc=0 dec=0\n"
    "process compute pid=101 mem=na\n"
    "process graphics pid=200 mem=2GiB sm=5\n"
    "process mps pid=300 mem=3221225472\n"
    "process_util_min 72\n"
    "error fan NOT_SUPPORTED after=2 times=1\n"
    "error temperature GPU_IS_LOST after=1\n"
    "error set_power_limit NO_PERMISSION after=2 times=1\n"
    "slow name 150\n"
    "\n"
    "gpu\n"
    "name NVIDIA H100 80GB HBM3\n"
    "uuid GPU-bbbb\n"
    "pci 0000:9a:00.0\n"
    "lost_after 5\n"
    "util 99\n";

static const char *k_mig =
    "gpu\n"
    "name NVIDIA H100 80GB HBM3\n"
    "memory_total 80GiB\n"
    "sms 132\n"
    "util 50\n"
    "mig 1 1\n"
    "mig_device slot=0 gi=1 ci=0 slices=3 ci_slices=3 sms=60 memory=40GiB used=1GiB uuid=MIG-aaaa "
    "name=NVIDIA H100 80GB HBM3 MIG 3g.40gb\n"
    "mig_device slot=2 gi=2 ci=0 slices=1 ci_slices=1 sms=16 memory=10GiB used=0\n"
    "process compute pid=500 mem=1GiB gi=1 ci=0\n"
    "process compute pid=501 mem=2GiB gi=2 ci=0\n"
    "process compute pid=502 mem=2GiB gi=2 ci=0\n"
    "gpu\n"
    "name No MIG\n"
    "util 1\n"
    "gpu\n"
    "name MIG capable, disabled\n"
    "mig 0 1\n";

static const char *k_growth =
    "gpu\n"
    "process compute pid=100 mem=1GiB\n"
    "process compute pid=101 mem=2GiB\n"
    "process graphics pid=200 mem=1GiB\n"
    "process_growth 2\n"
    "growth_pids 900 901\n"
    "gpu\n"
    "process compute pid=7 mem=1GiB\n"
    "process_growth 1\n";

// ---------------------------------------------------------------------------

static void check_uninitialized(api_t *a) {
    unsigned int n = 0;
    nvmlDevice_t h = NULL;
    CHECK_RC(a->count_v2(&n), NVML_ERROR_UNINITIALIZED);
    CHECK_RC(a->handle_v2(0, &h), NVML_ERROR_UNINITIALIZED);
    CHECK_RC(a->shutdown(), NVML_ERROR_UNINITIALIZED);
    char buf[80];
    CHECK_RC(a->driver_version(buf, sizeof buf), NVML_ERROR_UNINITIALIZED);
    unsetenv("FAKE_NVML_SCENARIO");
    CHECK_RC(a->init_v2(), NVML_ERROR_DRIVER_NOT_LOADED);
    CHECK_RC(a->init(), NVML_ERROR_DRIVER_NOT_LOADED);
    CHECK_STR(a->error_string(NVML_ERROR_DRIVER_NOT_LOADED), "Driver Not Loaded");
    CHECK_STR(a->error_string(NVML_ERROR_NOT_SUPPORTED), "Not Supported");
    CHECK_STR(a->error_string(NVML_ERROR_NO_PERMISSION), "Insufficient Permissions");
    CHECK_STR(a->error_string(NVML_ERROR_GPU_IS_LOST), "GPU is lost");
    CHECK_STR(a->error_string(NVML_ERROR_INSUFFICIENT_SIZE), "Insufficient Size");
    CHECK_STR(a->error_string(NVML_ERROR_NOT_FOUND), "Not Found");
    CHECK_STR(a->error_string(NVML_ERROR_UNKNOWN), "Unknown Error");
    CHECK_STR(a->error_string((nvmlReturn_t)12345), "Unknown Error");
}

static void check_bad_scenarios(api_t *a) {
    char path[256], want[512], got[2048];
    path_in_dir(path, sizeof path, "bad.scenario");
    struct {
        const char *text;
        const char *msg;  // expected stderr after "fake-nvml: PATH:"
    } cases[] = {
        {"gpu\nutil 10 abc\n", "2: bad value 'abc' for 'util'"},
        {"# c\n\nfrobnicate 1\n", "3: unknown key 'frobnicate'"},
        {"util 1\n", "1: 'util' before any 'gpu' line"},
        {"gpu\nerror fan NOT_AN_ERROR\n", "2: unknown NVML error 'NOT_AN_ERROR'"},
        {"gpu\nerror fans NOT_SUPPORTED\n", "2: error: unknown field 'fans'"},
        {"gpu\nprocess compute mem=1\n", "2: process: pid= is required"},
        {"gpu\nmig_device slot=16\n", "2: bad value '16' for 'slot'"},
        {"gpu\npci 00000000:19:00\n", "2: bad value '00000000:19:00' for 'pci'"},
        {"gpu\nmemory_total 18446744073709551616\n", "2: bad value '18446744073709551616' for 'memory_total'"},
        {"gpu\nname a\001b\n", "2: control character 0x01"},
        {"driver 1 2\n", "1: 'driver': too many values"},
        {"call_cost nvmlDeviceGetFrobnication 1us\n", "1: call_cost: unknown function or field 'nvmlDeviceGetFrobnication'"},
        {"call_cost util 5\n", "1: bad value '5' for 'call_cost'"},
        {"call_cost util 1.5ms\n", "1: bad value '1.5ms' for 'call_cost'"},
        {"call_cost util 10001ms\n", "1: bad value '10001ms' for 'call_cost'"},
        {"call_cost util\n", "1: 'call_cost': missing value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(path, cases[i].text);
        setenv("FAKE_NVML_SCENARIO", path, 1);
        capture_stderr();
        int rc = (int)a->init_v2();
        end_capture(got, sizeof got);
        CHECK_RC(rc, NVML_ERROR_UNKNOWN);
        snprintf(want, sizeof want, "fake-nvml: %s:%s\n", path, cases[i].msg);
        CHECK_STR(got, want);
    }
    // Too many GPUs, a long line, a missing file.
    char *big = malloc(20000);
    big[0] = '\0';
    for (int i = 0; i < 17; i++) strcat(big, "gpu\n");
    write_file(path, big);
    capture_stderr();
    CHECK_RC(a->init_v2(), NVML_ERROR_UNKNOWN);
    end_capture(got, sizeof got);
    snprintf(want, sizeof want, "fake-nvml: %s:17: too many gpus (max 16)\n", path);
    CHECK_STR(got, want);
    memset(big, 'x', 5000);
    memcpy(big, "name ", 5);
    big[5000] = '\0';
    write_file(path, big);
    capture_stderr();
    CHECK_RC(a->init_v2(), NVML_ERROR_UNKNOWN);
    end_capture(got, sizeof got);
    snprintf(want, sizeof want, "fake-nvml: %s:1: line longer than 4096 bytes\n", path);
    CHECK_STR(got, want);
    free(big);
    char missing[256];
    path_in_dir(missing, sizeof missing, "missing.scenario");
    setenv("FAKE_NVML_SCENARIO", missing, 1);
    capture_stderr();
    CHECK_RC(a->init_v2(), NVML_ERROR_UNKNOWN);
    end_capture(got, sizeof got);
    CHECK(strncmp(got, "fake-nvml: ", 11) == 0 && strchr(got, '\n') == got + strlen(got) - 1);
    // init_error
    write_file(path, "init_error NO_PERMISSION\ngpu\n");
    CHECK_RC(init_with(a, path), NVML_ERROR_NO_PERMISSION);
    write_file(path, "init_error DRIVER_NOT_LOADED\n");
    CHECK_RC(init_with(a, path), NVML_ERROR_DRIVER_NOT_LOADED);
    // Still uninitialized after all that.
    unsigned int n;
    CHECK_RC(a->count_v2(&n), NVML_ERROR_UNINITIALIZED);
}

static void check_main(api_t *a, const char *setlog) {
    char path[256], buf[256];
    path_in_dir(path, sizeof path, "main.scenario");
    write_file(path, k_main);
    CHECK_RC(init_with(a, path), NVML_SUCCESS);

    unsigned int n = 0;
    CHECK_RC(a->count_v2(&n), NVML_SUCCESS);
    CHECK_U64(n, 2);
    CHECK_RC(a->count_v2(&n), NVML_ERROR_UNKNOWN);  // error count after=1 times=1
    CHECK_RC(a->count(&n), NVML_SUCCESS);
    CHECK_RC(a->driver_version(buf, sizeof buf), NVML_SUCCESS);
    CHECK_STR(buf, "580.95.05");
    CHECK_RC(a->driver_version(buf, 9), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_RC(a->driver_version(buf, 10), NVML_SUCCESS);
    int cuda = 0;
    CHECK_RC(a->cuda_v2(&cuda), NVML_SUCCESS);
    CHECK_U64(cuda, 13000);
    CHECK_RC(a->cuda(&cuda), NVML_SUCCESS);
    CHECK_U64(cuda, 13000);

    nvmlDevice_t g0 = NULL, g1 = NULL, other = NULL;
    CHECK_RC(a->handle_v2(0, &g0), NVML_SUCCESS);
    CHECK_RC(a->handle_v2(1, &g1), NVML_SUCCESS);
    CHECK_RC(a->handle(1, &other), NVML_SUCCESS);
    CHECK(g1 == other && g0 != g1);
    CHECK_RC(a->handle_v2(2, &other), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(a->name((nvmlDevice_t)&n, buf, sizeof buf), NVML_ERROR_INVALID_ARGUMENT);  // not a handle

    // GPU 1: lost after 5 device calls (pci, name, util, util, compute list).
    nvmlPciInfo_t pci;
    CHECK_RC(a->pci_v3(g1, &pci), NVML_SUCCESS);
    CHECK_STR(pci.busId, "00000000:9A:00.0");
    CHECK_RC(a->name(g1, buf, sizeof buf), NVML_SUCCESS);
    CHECK_STR(buf, "NVIDIA H100 80GB HBM3");
    nvmlUtilization_t u;
    CHECK_RC(a->util(g1, &u), NVML_SUCCESS);
    CHECK_U64(u.gpu, 99);
    CHECK_U64(u.memory, 0);
    CHECK_RC(a->util(g1, &u), NVML_SUCCESS);
    n = 0;
    CHECK_RC(a->compute_v3(g1, &n, NULL), NVML_SUCCESS);  // no processes: size 0 fits
    CHECK_U64(n, 0);
    CHECK_RC(a->util(g1, &u), NVML_ERROR_GPU_IS_LOST);
    CHECK_RC(a->name(g1, buf, sizeof buf), NVML_ERROR_GPU_IS_LOST);
    CHECK_RC(a->handle_v2(1, &other), NVML_ERROR_GPU_IS_LOST);
    CHECK_RC(a->set_limit(g1, 300000), NVML_ERROR_GPU_IS_LOST);

    // GPU 0: identity.
    unsigned int idx = 9;
    CHECK_RC(a->index(g0, &idx), NVML_SUCCESS);
    CHECK_U64(idx, 0);
    unsigned int minor = 0;
    CHECK_RC(a->minor(g0, &minor), NVML_SUCCESS);  // `minor 7`
    CHECK_U64(minor, 7);
    CHECK_RC(a->minor(g0, NULL), NVML_ERROR_INVALID_ARGUMENT);
    double t0 = now_s();
    CHECK_RC(a->name(g0, buf, sizeof buf), NVML_SUCCESS);  // slow name 150
    CHECK(now_s() - t0 >= 0.14);
    CHECK_STR(buf, "NVIDIA H200");
    CHECK_RC(a->name(g0, buf, 11), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_RC(a->name(g0, buf, 12), NVML_SUCCESS);
    CHECK_RC(a->uuid(g0, buf, sizeof buf), NVML_SUCCESS);
    CHECK_STR(buf, "GPU-aaaaaaaa-1111-2222-3333-444444444444");
    CHECK_RC(a->uuid(g0, buf, 10), NVML_ERROR_INSUFFICIENT_SIZE);
    memset(&pci, 0, sizeof pci);
    CHECK_RC(a->pci(g0, &pci), NVML_SUCCESS);
    CHECK_STR(pci.busId, "00000000:19:00.0");
    CHECK_STR(pci.busIdLegacy, "0000:19:00.0");
    CHECK_U64(pci.domain, 0);
    CHECK_U64(pci.bus, 0x19);
    CHECK_U64(pci.device, 0);
    CHECK_U64(pci.pciDeviceId, 0x233510DE);
    CHECK_U64(pci.pciSubSystemId, 0x18B010DE);
    CHECK_RC(a->pci_v2(g0, &pci), NVML_SUCCESS);

    // Cycling values.
    unsigned int seq[4];
    for (int i = 0; i < 4; i++) {
        CHECK_RC(a->util(g0, &u), NVML_SUCCESS);
        seq[i] = u.gpu;
        CHECK_U64(u.memory, 5);
    }
    CHECK(seq[0] == 10 && seq[1] == 20 && seq[2] == 30 && seq[3] == 10);
    nvmlMemory_v2_t m2;
    memset(&m2, 0, sizeof m2);
    m2.version = 1;
    CHECK_RC(a->mem_v2(g0, &m2), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);  // memory call 0
    m2.version = CNVML_MEMORY_V2_VERSION;
    CHECK_RC(a->mem_v2(g0, &m2), NVML_SUCCESS);  // call 1: used = 20GiB
    CHECK_U64(m2.total, 150 * GiB);
    CHECK_U64(m2.reserved, 1 * GiB);
    CHECK_U64(m2.used, 20 * GiB);
    CHECK_U64(m2.free, 129 * GiB);
    nvmlMemory_t m1;
    CHECK_RC(a->mem(g0, &m1), NVML_SUCCESS);  // call 2: used 10GiB + reserved
    CHECK_U64(m1.total, 150 * GiB);
    CHECK_U64(m1.used, 11 * GiB);
    CHECK_U64(m1.free, 139 * GiB);

    // Error injection: temperature lost from the 2nd call, fan NOT_SUPPORTED on the 3rd only.
    unsigned int v = 0;
    CHECK_RC(a->temperature(g0, CNVML_TEMPERATURE_GPU, &v), NVML_SUCCESS);
    CHECK_U64(v, 40);
    CHECK_RC(a->temperature(g0, CNVML_TEMPERATURE_GPU, &v), NVML_ERROR_GPU_IS_LOST);
    CHECK_RC(a->temperature(g0, CNVML_TEMPERATURE_GPU, &v), NVML_ERROR_GPU_IS_LOST);
    CHECK_RC(a->fan(g0, &v), NVML_SUCCESS);
    CHECK_RC(a->fan(g0, &v), NVML_SUCCESS);
    CHECK_RC(a->fan(g0, &v), NVML_ERROR_NOT_SUPPORTED);
    CHECK_RC(a->fan(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 30);

    CHECK_RC(a->clock(g0, CNVML_CLOCK_SM, &v), NVML_SUCCESS);
    CHECK_U64(v, 1980);
    CHECK_RC(a->clock(g0, CNVML_CLOCK_MEM, &v), NVML_SUCCESS);
    CHECK_U64(v, 3201);
    CHECK_RC(a->clock(g0, CNVML_CLOCK_GRAPHICS, &v), NVML_SUCCESS);
    CHECK_U64(v, 1980);
    CHECK_RC(a->clock(g0, 3, &v), NVML_ERROR_NOT_SUPPORTED);
    CHECK_RC(a->clock(g0, 9, &v), NVML_ERROR_INVALID_ARGUMENT);
    int iv = -1;
    CHECK_RC(a->pstate(g0, &iv), NVML_SUCCESS);
    CHECK_U64(iv, 0);
    CHECK_RC(a->power(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 350000);
    CHECK_RC(a->power(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 360000);
    CHECK_RC(a->enforced_limit(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 700000);
    CHECK_RC(a->management_limit(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 700000);
    CHECK_RC(a->default_limit(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 700000);
    unsigned int lo = 0, hi = 0;
    CHECK_RC(a->constraints(g0, &lo, &hi), NVML_SUCCESS);
    CHECK(lo == 200000 && hi == 700000);
    unsigned long long e = 0;
    CHECK_RC(a->energy(g0, &e), NVML_SUCCESS);
    CHECK_U64(e, 1000);
    CHECK_RC(a->energy(g0, &e), NVML_SUCCESS);
    CHECK_U64(e, 1010);
    CHECK_RC(a->persistence(g0, &iv), NVML_SUCCESS);
    CHECK_U64(iv, 1);
    CHECK_RC(a->compute_mode(g0, &iv), NVML_SUCCESS);
    CHECK_U64(iv, 0);
    unsigned int period = 0;
    CHECK_RC(a->encoder(g0, &v, &period), NVML_SUCCESS);
    CHECK(v == 0 && period > 0);
    CHECK_RC(a->decoder(g0, &v, &period), NVML_SUCCESS);
    CHECK_U64(v, 3);

    // Process lists: NVML's size protocol, one kind per call.
    nvmlProcessInfo_t p[8];
    nvmlProcessInfo_v1_t p1[8];
    n = 0;
    CHECK_RC(a->compute_v3(g0, &n, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_U64(n, 2);
    n = 1;
    CHECK_RC(a->compute_v3(g0, &n, p), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_U64(n, 2);
    n = 8;
    CHECK_RC(a->compute_v3(g0, &n, p), NVML_SUCCESS);
    CHECK_U64(n, 2);
    CHECK(p[0].pid == 100 && p[0].usedGpuMemory == 1 * GiB && p[0].gpuInstanceId == 0xFFFFFFFFu &&
          p[0].computeInstanceId == 0xFFFFFFFFu);
    CHECK(p[1].pid == 101 && p[1].usedGpuMemory == ~0ull);
    n = 8;
    CHECK_RC(a->compute_v2(g0, &n, p), NVML_SUCCESS);
    CHECK_U64(n, 2);
    n = 8;
    CHECK_RC(a->compute(g0, &n, p1), NVML_SUCCESS);
    CHECK(n == 2 && p1[0].pid == 100 && p1[1].pid == 101 && p1[0].usedGpuMemory == 1 * GiB);
    n = 8;
    CHECK_RC(a->graphics_v3(g0, &n, p), NVML_SUCCESS);
    CHECK(n == 1 && p[0].pid == 200 && p[0].usedGpuMemory == 2 * GiB);
    n = 0;
    CHECK_RC(a->graphics_v2(g0, &n, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_U64(n, 1);
    n = 8;
    CHECK_RC(a->graphics(g0, &n, p1), NVML_SUCCESS);
    CHECK(n == 1 && p1[0].pid == 200);
    n = 8;
    CHECK_RC(a->mps_v3(g0, &n, p), NVML_SUCCESS);
    CHECK(n == 1 && p[0].pid == 300 && p[0].usedGpuMemory == 3 * GiB);
    n = 8;
    CHECK_RC(a->mps(g0, &n, p1), NVML_SUCCESS);
    CHECK(n == 1 && p1[0].pid == 300);
    CHECK_RC(a->mps_v2(g0, NULL, p), NVML_ERROR_INVALID_ARGUMENT);

    // Process utilisation with process_util_min 72.
    nvmlProcessUtilizationSample_t s[80];
    n = 0;
    CHECK_RC(a->process_util(g0, NULL, &n, 0), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_U64(n, 72);
    n = 10;
    CHECK_RC(a->process_util(g0, s, &n, 0), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_U64(n, 72);
    n = 80;
    unsigned long long before = now_us_realtime();
    CHECK_RC(a->process_util(g0, s, &n, before - 1000000), NVML_SUCCESS);
    unsigned long long after = now_us_realtime();
    CHECK_U64(n, 2);
    CHECK(s[0].pid == 100 && s[0].smUtil == 50 && s[0].memUtil == 10);
    CHECK(s[1].pid == 200 && s[1].smUtil == 5);
    CHECK(s[0].timeStamp >= before && s[0].timeStamp <= after);
    n = 80;
    CHECK_RC(a->process_util(g0, s, &n, after + 60000000ull), NVML_ERROR_NOT_FOUND);

    // Set calls and the set log: 2 pass, the 3rd answers NO_PERMISSION, range check.
    CHECK_RC(a->set_limit(g0, 600000), NVML_SUCCESS);
    CHECK_RC(a->enforced_limit(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 600000);
    CHECK_RC(a->management_limit(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 600000);
    CHECK_RC(a->set_limit(g0, 100000), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(a->set_limit(g0, 650000), NVML_ERROR_NO_PERMISSION);
    CHECK_RC(a->set_limit(g0, 800000), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(a->enforced_limit(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 600000);
    char logtext[2048];
    read_text(setlog, logtext, sizeof logtext);
    CHECK_STR(logtext,
              "set_power_limit gpu=1 uuid=GPU-bbbb mw=300000 result=GPU_IS_LOST\n"
              "set_power_limit gpu=0 uuid=GPU-aaaaaaaa-1111-2222-3333-444444444444 mw=600000 result=SUCCESS\n"
              "set_power_limit gpu=0 uuid=GPU-aaaaaaaa-1111-2222-3333-444444444444 mw=100000 "
              "result=INVALID_ARGUMENT\n"
              "set_power_limit gpu=0 uuid=GPU-aaaaaaaa-1111-2222-3333-444444444444 mw=650000 "
              "result=NO_PERMISSION\n"
              "set_power_limit gpu=0 uuid=GPU-aaaaaaaa-1111-2222-3333-444444444444 mw=800000 "
              "result=INVALID_ARGUMENT\n");

    // Reload on change: counters and the set limit persist; GPU 1 is back.
    // util has been called 4 times on GPU 0; the 5th call takes value 4 mod 7.
    write_file(path,
               "driver 999.1\n"
               "gpu\n"
               "name Renamed\n"
               "util 1 2 3 4 5 6 7\n"
               "fan 77\n"
               "power_limit 500000\n"
               "gpu\n"
               "name back\n");
    sleep_ms(150);
    CHECK_RC(a->util(g0, &u), NVML_SUCCESS);
    CHECK_U64(u.gpu, 5);
    CHECK_RC(a->fan(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 77);
    CHECK_RC(a->enforced_limit(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 600000);
    CHECK_RC(a->driver_version(buf, sizeof buf), NVML_SUCCESS);
    CHECK_STR(buf, "999.1");
    CHECK_RC(a->temperature(g0, 0, &v), NVML_ERROR_NOT_SUPPORTED);  // key gone
    CHECK_RC(a->name(g1, buf, sizeof buf), NVML_SUCCESS);
    CHECK_STR(buf, "back");
    // A bad new file: one stderr line, the previous world stays.
    write_file(path, "gpu\nutil x\n");
    sleep_ms(150);
    char got[1024], want[512];
    capture_stderr();
    CHECK_RC(a->name(g0, buf, sizeof buf), NVML_SUCCESS);
    CHECK_RC(a->name(g0, buf, sizeof buf), NVML_SUCCESS);
    end_capture(got, sizeof got);
    CHECK_STR(buf, "Renamed");
    snprintf(want, sizeof want, "fake-nvml: %s:2: bad value 'x' for 'util'\n", path);
    CHECK_STR(got, want);
    // A GPU that leaves the scenario: its handle answers GPU_IS_LOST.
    write_file(path, "gpu\nname only\n");
    sleep_ms(150);
    CHECK_RC(a->count_v2(&n), NVML_SUCCESS);
    CHECK_U64(n, 1);
    CHECK_RC(a->name(g1, buf, sizeof buf), NVML_ERROR_GPU_IS_LOST);

    // Reference counted init; handles answer UNINITIALIZED after the last shutdown.
    CHECK_RC(a->init(), NVML_SUCCESS);
    CHECK_RC(a->shutdown(), NVML_SUCCESS);
    CHECK_RC(a->name(g0, buf, sizeof buf), NVML_SUCCESS);
    CHECK_RC(a->shutdown(), NVML_SUCCESS);
    CHECK_RC(a->name(g0, buf, sizeof buf), NVML_ERROR_UNINITIALIZED);
    CHECK_RC(a->shutdown(), NVML_ERROR_UNINITIALIZED);
}

static void check_growth(api_t *a) {
    char path[256];
    path_in_dir(path, sizeof path, "growth.scenario");
    write_file(path, k_growth);
    CHECK_RC(init_with(a, path), NVML_SUCCESS);
    nvmlDevice_t g0, g1;
    CHECK_RC(a->handle_v2(0, &g0), NVML_SUCCESS);
    CHECK_RC(a->handle_v2(1, &g1), NVML_SUCCESS);
    nvmlProcessInfo_t p[8];
    unsigned int n;
    for (int round = 0; round < 2; round++) {
        n = 0;
        CHECK_RC(a->compute_v3(g0, &n, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
        CHECK_U64(n, 2);
        CHECK_RC(a->compute_v3(g0, &n, p), NVML_ERROR_INSUFFICIENT_SIZE);  // exact fit: 2 appeared
        CHECK_U64(n, 4);
        CHECK_RC(a->compute_v3(g0, &n, p), NVML_SUCCESS);  // exact fit again: no second growth
        CHECK_U64(n, 4);
        CHECK(p[0].pid == 100 && p[1].pid == 101 && p[2].pid == 900 && p[3].pid == 901);
        CHECK(p[3].usedGpuMemory == 2 * GiB);
    }
    n = 4;  // no size query first: no growth
    CHECK_RC(a->compute_v3(g0, &n, p), NVML_SUCCESS);
    CHECK_U64(n, 2);
    n = 2;
    CHECK_RC(a->compute_v3(g0, &n, p), NVML_SUCCESS);
    CHECK_U64(n, 2);
    // Graphics list: its own state.
    n = 0;
    CHECK_RC(a->graphics_v3(g0, &n, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_U64(n, 1);
    CHECK_RC(a->graphics_v3(g0, &n, p), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_U64(n, 3);
    CHECK_RC(a->graphics_v3(g0, &n, p), NVML_SUCCESS);
    CHECK(n == 3 && p[0].pid == 200 && p[1].pid == 900 && p[2].pid == 901);
    // Without growth_pids the extras repeat the last pid.
    n = 0;
    CHECK_RC(a->compute_v3(g1, &n, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_U64(n, 1);
    CHECK_RC(a->compute_v3(g1, &n, p), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_U64(n, 2);
    nvmlProcessInfo_v1_t p1[8];
    CHECK_RC(a->compute(g1, &n, p1), NVML_SUCCESS);
    CHECK(n == 2 && p1[0].pid == 7 && p1[1].pid == 7);
    CHECK_RC(a->shutdown(), NVML_SUCCESS);
}

static void check_mig(api_t *a) {
    char path[256], buf[96];
    path_in_dir(path, sizeof path, "mig.scenario");
    write_file(path, k_mig);
    CHECK_RC(init_with(a, path), NVML_SUCCESS);
    nvmlDevice_t g0, g1, g2, m0 = NULL, m2 = NULL, h;
    CHECK_RC(a->handle_v2(0, &g0), NVML_SUCCESS);
    CHECK_RC(a->handle_v2(1, &g1), NVML_SUCCESS);
    CHECK_RC(a->handle_v2(2, &g2), NVML_SUCCESS);
    unsigned int cur = 9, pend = 9, v = 9;
    CHECK_RC(a->mig_mode(g0, &cur, &pend), NVML_SUCCESS);
    CHECK(cur == 1 && pend == 1);
    CHECK_RC(a->mig_max(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 7);
    CHECK_RC(a->mig_handle(g0, 0, &m0), NVML_SUCCESS);
    CHECK_RC(a->mig_handle(g0, 1, &h), NVML_ERROR_NOT_FOUND);
    CHECK_RC(a->mig_handle(g0, 2, &m2), NVML_SUCCESS);
    CHECK_RC(a->mig_handle(g0, 7, &h), NVML_ERROR_INVALID_ARGUMENT);
    CHECK(m0 && m2 && m0 != m2 && m0 != g0);
    CHECK_RC(a->is_mig(m0, &v), NVML_SUCCESS);
    CHECK_U64(v, 1);
    CHECK_RC(a->is_mig(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 0);
    CHECK_RC(a->gi_id(m0, &v), NVML_SUCCESS);
    CHECK_U64(v, 1);
    CHECK_RC(a->ci_id(m0, &v), NVML_SUCCESS);
    CHECK_U64(v, 0);
    CHECK_RC(a->gi_id(m2, &v), NVML_SUCCESS);
    CHECK_U64(v, 2);
    CHECK_RC(a->gi_id(g0, &v), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(a->ci_id(g0, &v), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(a->minor(m0, &v), NVML_ERROR_NOT_SUPPORTED);  // a MIG instance has no /dev/nvidiaN
    CHECK_RC(a->name(m0, buf, sizeof buf), NVML_SUCCESS);
    CHECK_STR(buf, "NVIDIA H100 80GB HBM3 MIG 3g.40gb");
    CHECK_RC(a->name(m2, buf, sizeof buf), NVML_SUCCESS);
    CHECK_STR(buf, "NVIDIA H100 80GB HBM3 MIG 1g.10gb");
    CHECK_RC(a->uuid(m0, buf, sizeof buf), NVML_SUCCESS);
    CHECK_STR(buf, "MIG-aaaa");
    CHECK_RC(a->uuid(m2, buf, sizeof buf), NVML_SUCCESS);
    CHECK(strncmp(buf, "MIG-", 4) == 0);
    nvmlMemory_v2_t mem = {.version = CNVML_MEMORY_V2_VERSION};
    CHECK_RC(a->mem_v2(m0, &mem), NVML_SUCCESS);
    CHECK(mem.total == 40 * GiB && mem.used == 1 * GiB && mem.free == 39 * GiB && mem.reserved == 0);
    nvmlMemory_t mem1;
    CHECK_RC(a->mem(m2, &mem1), NVML_SUCCESS);
    CHECK(mem1.total == 10 * GiB && mem1.used == 0);
    nvmlDeviceAttributes_t at;
    CHECK_RC(a->attributes(m0, &at), NVML_SUCCESS);
    CHECK(at.multiprocessorCount == 60 && at.gpuInstanceSliceCount == 3 && at.computeInstanceSliceCount == 3 &&
          at.memorySizeMB == 40960);
    CHECK_RC(a->attributes(g0, &at), NVML_SUCCESS);
    CHECK(at.multiprocessorCount == 132 && at.memorySizeMB == 81920);
    nvmlUtilization_t u;
    CHECK_RC(a->util(g0, &u), NVML_ERROR_NOT_SUPPORTED);  // MIG enabled
    CHECK_RC(a->util(m0, &u), NVML_ERROR_NOT_SUPPORTED);
    nvmlProcessInfo_t p[8];
    unsigned int n = 8;
    CHECK_RC(a->compute_v3(g0, &n, p), NVML_SUCCESS);
    CHECK(n == 3 && p[0].pid == 500 && p[0].gpuInstanceId == 1 && p[0].computeInstanceId == 0);
    n = 8;
    CHECK_RC(a->compute_v3(m2, &n, p), NVML_SUCCESS);
    CHECK(n == 2 && p[0].pid == 501 && p[1].pid == 502);
    n = 8;
    CHECK_RC(a->compute_v3(m0, &n, p), NVML_SUCCESS);
    CHECK(n == 1 && p[0].pid == 500);
    // Not MIG capable; MIG capable but off.
    CHECK_RC(a->mig_mode(g1, &cur, &pend), NVML_ERROR_NOT_SUPPORTED);
    CHECK_RC(a->mig_max(g1, &v), NVML_SUCCESS);
    CHECK_U64(v, 0);
    CHECK_RC(a->mig_handle(g1, 0, &h), NVML_ERROR_NOT_SUPPORTED);
    CHECK_RC(a->util(g1, &u), NVML_SUCCESS);
    CHECK_RC(a->minor(g1, &v), NVML_SUCCESS);  // no `minor`: the index
    CHECK_U64(v, 1);
    CHECK_RC(a->mig_mode(g2, &cur, &pend), NVML_SUCCESS);
    CHECK(cur == 0 && pend == 1);
    CHECK_RC(a->mig_max(g2, &v), NVML_SUCCESS);
    CHECK_U64(v, 0);
    CHECK_RC(a->mig_handle(g2, 0, &h), NVML_ERROR_INVALID_ARGUMENT);
    // MIG turned off by a reload: the MIG handle is no longer valid.
    write_file(path, "gpu\nname NVIDIA H100 80GB HBM3\nutil 50\nmig 0 0\n");
    sleep_ms(150);
    CHECK_RC(a->name(m0, buf, sizeof buf), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(a->util(g0, &u), NVML_SUCCESS);
    CHECK_RC(a->shutdown(), NVML_SUCCESS);
}

static void check_legacy(const char *lib) {
    api_t a;
    if (load(&a, lib) != 0) {
        g_failures++;
        return;
    }
    for (size_t i = 0; i < sizeof k_newer / sizeof k_newer[0]; i++) {
        g_checks++;
        if (dlsym(a.dl, k_newer[i]) != NULL) {
            g_failures++;
            fprintf(stderr, "FAILED: legacy library exports %s\n", k_newer[i]);
        }
    }
    CHECK(a.init_v2 && a.init && a.count_v2 && a.handle_v2 && a.mem && a.pci && a.compute && a.graphics && a.mps &&
          a.cuda && a.set_limit && a.util && a.error_string);
    char path[256];
    path_in_dir(path, sizeof path, "legacy.scenario");
    write_file(path, "gpu\nmemory_total 16GiB\nmemory_reserved 1GiB\nmemory_used 2GiB\n"
                     "process compute pid=42 mem=2GiB gi=1 ci=1\n");
    CHECK_RC(init_with(&a, path), NVML_SUCCESS);
    nvmlDevice_t g;
    CHECK_RC(a.handle_v2(0, &g), NVML_SUCCESS);
    nvmlMemory_t m;
    CHECK_RC(a.mem(g, &m), NVML_SUCCESS);
    CHECK(m.total == 16 * GiB && m.used == 3 * GiB && m.free == 13 * GiB);
    nvmlProcessInfo_v1_t p[4];
    unsigned int n = 0;
    CHECK_RC(a.compute(g, &n, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_U64(n, 1);
    CHECK_RC(a.compute(g, &n, p), NVML_SUCCESS);
    CHECK(n == 1 && p[0].pid == 42 && p[0].usedGpuMemory == 2 * GiB);
    CHECK_RC(a.shutdown(), NVML_SUCCESS);
}

// Every call made with garbage handles and NULL pointers must answer, not crash.
static void check_robustness(api_t *a) {
    char path[256];
    path_in_dir(path, sizeof path, "robust.scenario");
    write_file(path, "gpu\n");  // a GPU with nothing but defaults
    CHECK_RC(init_with(a, path), NVML_SUCCESS);
    nvmlDevice_t g, bad = (nvmlDevice_t)(uintptr_t)0x1000;
    CHECK_RC(a->handle_v2(0, &g), NVML_SUCCESS);
    CHECK_RC(a->handle_v2(0, NULL), NVML_ERROR_INVALID_ARGUMENT);
    char buf[96];
    CHECK_RC(a->name(g, buf, sizeof buf), NVML_SUCCESS);
    CHECK_STR(buf, "NVIDIA Fake GPU");
    CHECK_RC(a->uuid(g, buf, sizeof buf), NVML_SUCCESS);
    CHECK_STR(buf, "GPU-00000000-0000-0000-0000-000000000000");
    nvmlDevice_t hs[] = {g, bad, NULL};
    for (size_t i = 0; i < 3; i++) {
        nvmlDevice_t h = hs[i];
        nvmlReturn_t want_missing = h == g ? NVML_ERROR_NOT_SUPPORTED : NVML_ERROR_INVALID_ARGUMENT;
        unsigned int v;
        CHECK_RC(a->fan(h, &v), want_missing);
        // No `minor` key: the index.
        CHECK_RC(a->minor(h, &v), h == g ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT);
        if (h == g) CHECK_U64(v, 0);
        CHECK_RC(a->temperature(h, 0, &v), want_missing);
        CHECK_RC(a->power(h, &v), want_missing);
        CHECK_RC(a->enforced_limit(h, &v), want_missing);
        nvmlUtilization_t u;
        CHECK_RC(a->util(h, &u), want_missing);
        nvmlMemory_t m;
        CHECK_RC(a->mem(h, &m), want_missing);
        unsigned long long e;
        CHECK_RC(a->energy(h, &e), want_missing);
        CHECK_RC(a->fan(h, NULL), NVML_ERROR_INVALID_ARGUMENT);
        CHECK_RC(a->name(h, NULL, 10), NVML_ERROR_INVALID_ARGUMENT);
        CHECK_RC(a->pci_v3(h, NULL), NVML_ERROR_INVALID_ARGUMENT);
        CHECK_RC(a->mem_v2(h, NULL), NVML_ERROR_INVALID_ARGUMENT);
        CHECK_RC(a->constraints(h, NULL, NULL), NVML_ERROR_INVALID_ARGUMENT);
        CHECK_RC(a->process_util(h, NULL, NULL, 0), NVML_ERROR_INVALID_ARGUMENT);
        CHECK_RC(a->mig_handle(h, 0, NULL), NVML_ERROR_INVALID_ARGUMENT);
        CHECK_RC(a->set_limit(h, 1), h == g ? NVML_ERROR_NOT_SUPPORTED : NVML_ERROR_INVALID_ARGUMENT);
        unsigned int cnt = 0;
        CHECK_RC(a->compute_v3(h, &cnt, NULL), h == g ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT);
        cnt = 5;
        CHECK_RC(a->process_util(h, NULL, &cnt, 0), h == g ? NVML_ERROR_NOT_FOUND : NVML_ERROR_INVALID_ARGUMENT);
    }
    nvmlPciInfo_t pci;
    CHECK_RC(a->pci_v3(g, &pci), NVML_SUCCESS);
    CHECK_STR(pci.busId, "00000000:01:00.0");
    CHECK_RC(a->shutdown(), NVML_SUCCESS);
}

// call_cost: each call of the named function burns that much of the calling
// thread's CPU time; other functions, and the same field's other variants when a
// function is named, cost nothing extra; a field name covers all of its functions.
static uint64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define CPU_OF(call, out)                      \
    do {                                       \
        uint64_t t0_ = thread_cpu_ns();        \
        (void)(call);                          \
        (out) = thread_cpu_ns() - t0_;         \
    } while (0)

static void check_call_cost(api_t *a) {
    char path[256];
    path_in_dir(path, sizeof path, "cost.scenario");
    write_file(path,
               "call_cost nvmlInit_v2 15ms\n"
               "call_cost nvmlDeviceGetComputeRunningProcesses_v3 20ms\n"
               "gpu\n"
               "util 1\n"
               "temperature 40\n"
               "process compute pid=1 mem=1GiB\n"
               "call_cost util 5000us\n"               // a field, after a gpu line: still global
               "call_cost nvmlDeviceGetCount_v2 3ms\n");
    uint64_t ns;
    setenv("FAKE_NVML_SCENARIO", path, 1);
    nvmlReturn_t rc;
    CPU_OF(rc = a->init_v2(), ns);
    CHECK_RC(rc, NVML_SUCCESS);
    CHECK(ns >= 15000000ull && ns < 200000000ull);
    unsigned int n = 0;
    CPU_OF(a->count_v2(&n), ns);
    CHECK(ns >= 3000000ull && ns < 150000000ull);
    CPU_OF(a->count(&n), ns);  // the other variant of a named function: no cost
    CHECK(ns < 2000000ull);
    nvmlDevice_t g;
    CHECK_RC(a->handle_v2(0, &g), NVML_SUCCESS);
    nvmlProcessInfo_t p[4];
    n = 4;
    CPU_OF(rc = a->compute_v3(g, &n, p), ns);
    CHECK_RC(rc, NVML_SUCCESS);
    CHECK(ns >= 20000000ull && ns < 200000000ull);
    n = 0;  // a size query is a call too
    CPU_OF(rc = a->compute_v3(g, &n, NULL), ns);
    CHECK_RC(rc, NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(ns >= 20000000ull);
    n = 4;
    CPU_OF(a->compute_v2(g, &n, p), ns);
    CHECK(ns < 2000000ull);
    nvmlUtilization_t u;
    CPU_OF(rc = a->util(g, &u), ns);
    CHECK_RC(rc, NVML_SUCCESS);
    CHECK(ns >= 5000000ull && ns < 150000000ull);
    unsigned int t;
    CPU_OF(a->temperature(g, CNVML_TEMPERATURE_GPU, &t), ns);
    CHECK(ns < 2000000ull);
    // Charged as CPU of the process too (what `ps` and the benchmarks read).
    struct timespec p0, p1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p0);
    for (int i = 0; i < 5; i++) {
        n = 4;
        a->compute_v3(g, &n, p);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p1);
    CHECK((p1.tv_sec - p0.tv_sec) * 1000000000ll + (p1.tv_nsec - p0.tv_nsec) >= 100000000ll);
    CHECK_RC(a->shutdown(), NVML_SUCCESS);

    // Every function the library exports can be named.
    static const char *names[] = {
        "nvmlInit_v2", "nvmlInit", "nvmlShutdown", "nvmlSystemGetDriverVersion",
        "nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion", "nvmlDeviceGetCount_v2",
        "nvmlDeviceGetCount", "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetIndex",
        "nvmlDeviceGetName", "nvmlDeviceGetUUID", "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2",
        "nvmlDeviceGetPciInfo", "nvmlDeviceGetUtilizationRates", "nvmlDeviceGetMemoryInfo_v2",
        "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetTemperature", "nvmlDeviceGetFanSpeed", "nvmlDeviceGetClockInfo",
        "nvmlDeviceGetPerformanceState", "nvmlDeviceGetPowerUsage", "nvmlDeviceGetEnforcedPowerLimit",
        "nvmlDeviceGetPowerManagementLimit", "nvmlDeviceGetPowerManagementDefaultLimit",
        "nvmlDeviceGetPowerManagementLimitConstraints", "nvmlDeviceGetTotalEnergyConsumption",
        "nvmlDeviceGetPersistenceMode", "nvmlDeviceGetComputeMode", "nvmlDeviceGetEncoderUtilization",
        "nvmlDeviceGetDecoderUtilization", "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetComputeRunningProcesses_v2", "nvmlDeviceGetComputeRunningProcesses",
        "nvmlDeviceGetGraphicsRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v2",
        "nvmlDeviceGetGraphicsRunningProcesses", "nvmlDeviceGetMPSComputeRunningProcesses_v3",
        "nvmlDeviceGetMPSComputeRunningProcesses_v2", "nvmlDeviceGetMPSComputeRunningProcesses",
        "nvmlDeviceGetProcessUtilization", "nvmlDeviceGetMigMode", "nvmlDeviceGetMaxMigDeviceCount",
        "nvmlDeviceGetMigDeviceHandleByIndex", "nvmlDeviceGetGpuInstanceId", "nvmlDeviceGetComputeInstanceId",
        "nvmlDeviceGetAttributes_v2", "nvmlDeviceIsMigDeviceHandle", "nvmlDeviceSetPowerManagementLimit",
    };
    char text[160];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        CHECK(dlsym(a->dl, names[i]) != NULL);
        snprintf(text, sizeof text, "call_cost %s 1ns\ngpu\n", names[i]);
        write_file(path, text);
        rc = (nvmlReturn_t)init_with(a, path);
        CHECK_RC(rc, NVML_SUCCESS);
        if (rc == NVML_SUCCESS) a->shutdown();
    }
}


// Threads hammer the library while the scenario file keeps changing.
typedef struct {
    api_t *a;
    int bad;
} hammer_t;

static void *hammer(void *arg) {
    hammer_t *h = arg;
    api_t *a = h->a;
    for (int i = 0; i < 3000; i++) {
        unsigned int n = 0;
        nvmlDevice_t g;
        if (a->count_v2(&n) != NVML_SUCCESS) h->bad++;
        int rc = (int)a->handle_v2((unsigned)i % 3, &g);
        if (rc == NVML_ERROR_INVALID_ARGUMENT) continue;  // the file had fewer GPUs just then
        if (rc != NVML_SUCCESS) {
            h->bad++;
            continue;
        }
        nvmlUtilization_t u;
        rc = (int)a->util(g, &u);
        if (rc != NVML_SUCCESS && rc != NVML_ERROR_GPU_IS_LOST) h->bad++;
        nvmlProcessInfo_t p[4];
        n = 4;
        rc = (int)a->compute_v3(g, &n, p);
        if (rc != NVML_SUCCESS && rc != NVML_ERROR_GPU_IS_LOST && rc != NVML_ERROR_INSUFFICIENT_SIZE) h->bad++;
        char buf[96];
        rc = (int)a->name(g, buf, sizeof buf);
        if (rc != NVML_SUCCESS && rc != NVML_ERROR_GPU_IS_LOST) h->bad++;
    }
    return NULL;
}

static void check_threads(api_t *a) {
    char path[256];
    path_in_dir(path, sizeof path, "threads.scenario");
    const char *worlds[] = {
        "gpu\nutil 1 2\nprocess compute pid=1\ngpu\nutil 3\nprocess_growth 1\nprocess compute pid=2\n",
        "gpu\nutil 4\ngpu\nutil 5\ngpu\nutil 6\nslow util 1\n",
        "gpu\nutil 7\n",
    };
    write_file(path, worlds[0]);
    CHECK_RC(init_with(a, path), NVML_SUCCESS);
    pthread_t th[4];
    hammer_t hs[4];
    for (int i = 0; i < 4; i++) {
        hs[i].a = a;
        hs[i].bad = 0;
        pthread_create(&th[i], NULL, hammer, &hs[i]);
    }
    for (int i = 0; i < 12; i++) {
        sleep_ms(40);
        write_file(path, worlds[i % 3]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_U64(hs[i].bad, 0);
    }
    CHECK_RC(a->shutdown(), NVML_SUCCESS);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s FULL_LIB LEGACY_LIB\n", argv[0]);
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/fake-nvml-check.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 2;
    }
    char setlog[256];
    path_in_dir(setlog, sizeof setlog, "set.log");
    setenv("FAKE_NVML_SET_LOG", setlog, 1);

    api_t a;
    if (load(&a, argv[1]) != 0) return 1;
    for (size_t i = 0; i < sizeof k_newer / sizeof k_newer[0]; i++) {
        g_checks++;
        if (!dlsym(a.dl, k_newer[i])) {
            g_failures++;
            fprintf(stderr, "FAILED: full library lacks %s\n", k_newer[i]);
        }
    }
    if (g_failures) {  // the checks below would call through NULL
        rmdir(g_dir);
        return 1;
    }
    check_uninitialized(&a);
    check_bad_scenarios(&a);
    check_main(&a, setlog);
    check_growth(&a);
    check_mig(&a);
    check_robustness(&a);
    check_threads(&a);
    check_call_cost(&a);
    check_legacy(argv[2]);

    // Clean up the scratch directory.
    const char *names[] = {"bad.scenario", "main.scenario", "growth.scenario", "mig.scenario",
                           "legacy.scenario", "robust.scenario", "threads.scenario", "cost.scenario", "stderr.txt",
                           "set.log"};
    char p[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        path_in_dir(p, sizeof p, names[i]);
        unlink(p);
    }
    rmdir(g_dir);

    printf("check_fake_nvml: %d checks, %d failed\n", g_checks, g_failures);
    return g_failures ? 1 : 0;
}
