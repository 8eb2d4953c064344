// Checks the fake NVML's GPU health calls through dlopen (SCENARIO.md, "GPU
// health"): timed clock event reasons and the violation counter they drive, ECC
// and row remapping, XID events through event sets (timeouts honoured, each event
// once per set, MIG ids only from _v2), error injection, and the legacy build.
//
//   check_fake_nvml_health FULL_LIB LEGACY_LIB
//
// Run by scripts/build-fake-nvml.sh --check; exit status 0 when every check passes.
#define _GNU_SOURCE
#include "cnvml.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

typedef struct {
    void *dl;
    cnvml_void_fn init, shutdown;
    cnvml_handle_by_index_fn handle;
    cnvml_device_ull_fn reasons, throttle, supported;
    cnvml_violation_fn violation;
    cnvml_total_ecc_fn ecc;
    cnvml_remapped_rows_fn remap;
    cnvml_event_set_create_fn create;
    cnvml_register_events_fn reg;
    cnvml_event_set_wait_fn wait_v2, wait;
    cnvml_event_set_free_fn free_set;
    cnvml_mig_handle_fn mig_handle;
} api_t;

static int load(api_t *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!a->dl) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
#define S(field, name) *(void **)&a->field = dlsym(a->dl, name)
    S(init, "nvmlInit_v2");
    S(shutdown, "nvmlShutdown");
    S(handle, "nvmlDeviceGetHandleByIndex_v2");
    S(reasons, "nvmlDeviceGetCurrentClocksEventReasons");
    S(throttle, "nvmlDeviceGetCurrentClocksThrottleReasons");
    S(supported, "nvmlDeviceGetSupportedEventTypes");
    S(violation, "nvmlDeviceGetViolationStatus");
    S(ecc, "nvmlDeviceGetTotalEccErrors");
    S(remap, "nvmlDeviceGetRemappedRows");
    S(create, "nvmlEventSetCreate");
    S(reg, "nvmlDeviceRegisterEvents");
    S(wait_v2, "nvmlEventSetWait_v2");
    S(wait, "nvmlEventSetWait");
    S(free_set, "nvmlEventSetFree");
    S(mig_handle, "nvmlDeviceGetMigDeviceHandleByIndex");
#undef S
    return 0;
}

static char g_path[128];

static int init_with(api_t *a, const char *text) {
    FILE *f = fopen(g_path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(g_path);
        exit(2);
    }
    setenv("FAKE_NVML_SCENARIO", g_path, 1);
    return (int)a->init();
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static nvmlDevice_t gpu(api_t *a, unsigned i) {
    nvmlDevice_t h = NULL;
    CHECK_RC(a->handle(i, &h), NVML_SUCCESS);
    return h;
}

// Times are from the library's load: the checks below run well inside the first
// second except where they wait on purpose.
static const char *k_health =
    "gpu\n"
    "throttle none\n"
    "throttle power_cap,thermal at=600ms\n"
    "violation_power 1000000\n"
    "ecc_volatile 0\n"
    "ecc_volatile 2 at=600ms\n"
    "ecc_aggregate 7\n"
    "remapped_rows corr=3 unc=1 pending=1 failure=0\n"
    "xid code=79 gi=1 ci=0\n"
    "xid code=13 at=700ms\n"
    "gpu\n"
    "clocks_event_reasons 0x104\n"
    "error register_events NOT_SUPPORTED\n"
    "gpu\n"
    "error clocks_event_reasons UNKNOWN times=1\n"
    "clocks_event_reasons 1\n";

static void check_values(api_t *a) {
    nvmlDevice_t g0 = gpu(a, 0), g1 = gpu(a, 1), g2 = gpu(a, 2);
    unsigned long long v = 99;
    CHECK_RC(a->reasons(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 0);
    CHECK_RC(a->throttle(g1, &v), NVML_SUCCESS);  // the old name reads the same
    CHECK_U64(v, 0x104);
    CHECK_RC(a->reasons(g1, NULL), NVML_ERROR_INVALID_ARGUMENT);
    // error injection: the first call fails, the next answers
    CHECK_RC(a->reasons(g2, &v), NVML_ERROR_UNKNOWN);
    CHECK_RC(a->reasons(g2, &v), NVML_SUCCESS);
    CHECK_U64(v, 1);

    nvmlViolationTime_t vt;
    CHECK_RC(a->violation(g0, CNVML_PERF_POLICY_POWER, &vt), NVML_SUCCESS);
    CHECK_U64(vt.violationTime, 1000000);  // not power-capped yet
    CHECK_RC(a->violation(g1, CNVML_PERF_POLICY_POWER, &vt), NVML_ERROR_NOT_SUPPORTED);
    CHECK_RC(a->violation(g0, 99, &vt), NVML_ERROR_INVALID_ARGUMENT);

    CHECK_RC(a->ecc(g0, CNVML_MEMORY_ERROR_TYPE_UNCORRECTED, CNVML_VOLATILE_ECC, &v), NVML_SUCCESS);
    CHECK_U64(v, 0);
    CHECK_RC(a->ecc(g0, CNVML_MEMORY_ERROR_TYPE_UNCORRECTED, CNVML_AGGREGATE_ECC, &v), NVML_SUCCESS);
    CHECK_U64(v, 7);
    CHECK_RC(a->ecc(g0, 0, CNVML_AGGREGATE_ECC, &v), NVML_SUCCESS);  // corrected: none
    CHECK_U64(v, 0);
    CHECK_RC(a->ecc(g1, CNVML_MEMORY_ERROR_TYPE_UNCORRECTED, CNVML_VOLATILE_ECC, &v), NVML_ERROR_NOT_SUPPORTED);

    unsigned corr = 9, unc = 9, pending = 9, failure = 9;
    CHECK_RC(a->remap(g0, &corr, &unc, &pending, &failure), NVML_SUCCESS);
    CHECK(corr == 3 && unc == 1 && pending == 1 && failure == 0);
    CHECK_RC(a->remap(g1, &corr, &unc, &pending, &failure), NVML_ERROR_NOT_SUPPORTED);

    // After 600 ms: power cap and thermal, two volatile ECC errors, and the power
    // violation counter growing with the time spent capped.
    sleep_ms(900);
    CHECK_RC(a->reasons(g0, &v), NVML_SUCCESS);
    CHECK_U64(v, 0x24);
    CHECK_RC(a->ecc(g0, CNVML_MEMORY_ERROR_TYPE_UNCORRECTED, CNVML_VOLATILE_ECC, &v), NVML_SUCCESS);
    CHECK_U64(v, 2);
    nvmlViolationTime_t a1, a2;
    CHECK_RC(a->violation(g0, CNVML_PERF_POLICY_POWER, &a1), NVML_SUCCESS);
    sleep_ms(200);
    CHECK_RC(a->violation(g0, CNVML_PERF_POLICY_POWER, &a2), NVML_SUCCESS);
    CHECK(a1.violationTime > 1000000 + 200000000ull);  // at least 0.2 s capped on top of the base
    unsigned long long held = a2.violationTime - a1.violationTime;
    unsigned long long span = (a2.referenceTime - a1.referenceTime) * 1000;
    CHECK(held > span * 8 / 10 && held <= span + 20000000ull);  // capped all along (within the clocks' jitter)
}

static void check_events(api_t *a, int legacy) {
    nvmlDevice_t g0 = gpu(a, 0), g1 = gpu(a, 1);
    unsigned long long types = 0;
    CHECK_RC(a->supported(g0, &types), NVML_SUCCESS);
    CHECK_U64(types, CNVML_EVENT_TYPE_XID_CRITICAL_ERROR);
    nvmlEventSet_t s1 = NULL, s2 = NULL;
    CHECK_RC(a->create(&s1), NVML_SUCCESS);
    CHECK_RC(a->create(&s2), NVML_SUCCESS);
    CHECK_RC(a->reg(g0, 0x1, s1), NVML_ERROR_NOT_SUPPORTED);  // only XID events
    CHECK_RC(a->reg(g0, CNVML_EVENT_TYPE_XID_CRITICAL_ERROR, s1), NVML_SUCCESS);
    CHECK_RC(a->reg(g1, CNVML_EVENT_TYPE_XID_CRITICAL_ERROR, s1), NVML_ERROR_NOT_SUPPORTED);  // injected
    CHECK_RC(a->reg(g0, CNVML_EVENT_TYPE_XID_CRITICAL_ERROR, s2), NVML_SUCCESS);
    cnvml_event_set_wait_fn wait = legacy ? a->wait : a->wait_v2;

    // The event at 0 is due (this runs past 900 ms), and so is the one at 700 ms:
    // oldest first, each once per set.
    nvmlEventData_t d;
    memset(&d, 0, sizeof d);
    d.gpuInstanceId = 0xABCD;
    CHECK_RC(wait(s1, &d, 0), NVML_SUCCESS);
    CHECK(d.device == g0);
    CHECK_U64(d.eventType, CNVML_EVENT_TYPE_XID_CRITICAL_ERROR);
    CHECK_U64(d.eventData, 79);
    if (legacy) CHECK_U64(d.gpuInstanceId, 0xABCD);  // v1 leaves the instance ids alone
    else CHECK(d.gpuInstanceId == 1 && d.computeInstanceId == 0);
    CHECK_RC(wait(s1, &d, 0), NVML_SUCCESS);
    CHECK_U64(d.eventData, 13);
    if (!legacy) CHECK_U64(d.gpuInstanceId, CNVML_NO_INSTANCE_ID);
    double t0 = now_s();
    CHECK_RC(wait(s1, &d, 250), NVML_ERROR_TIMEOUT);
    double waited = now_s() - t0;
    CHECK(waited >= 0.24 && waited < 0.6);
    t0 = now_s();
    CHECK_RC(wait(s1, &d, 0), NVML_ERROR_TIMEOUT);
    CHECK(now_s() - t0 < 0.05);
    // The other set still has both.
    CHECK_RC(wait(s2, &d, 100), NVML_SUCCESS);
    CHECK_U64(d.eventData, 79);
    CHECK_RC(wait(s2, &d, 100), NVML_SUCCESS);
    CHECK_U64(d.eventData, 13);
    CHECK_RC(a->free_set(s2), NVML_SUCCESS);
    CHECK_RC(wait(s2, &d, 0), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(a->free_set(s2), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(wait(s1, NULL, 0), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(a->free_set(s1), NVML_SUCCESS);
}

// An event due in the future wakes a waiter at its time, not at the timeout.
static void check_wakeup(api_t *a, double loaded) {
    char text[128];
    int due_ms = (int)((now_s() - loaded) * 1000) + 500;  // half a second from now, on the library's clock
    snprintf(text, sizeof text, "gpu\nxid code=48 at=%dms\n", due_ms);
    CHECK_RC(init_with(a, text), NVML_SUCCESS);
    nvmlDevice_t g0 = gpu(a, 0);
    nvmlEventSet_t s = NULL;
    CHECK_RC(a->create(&s), NVML_SUCCESS);
    CHECK_RC(a->reg(g0, CNVML_EVENT_TYPE_XID_CRITICAL_ERROR, s), NVML_SUCCESS);
    nvmlEventData_t d;
    double t0 = now_s();
    CHECK_RC(a->wait_v2(s, &d, 5000), NVML_SUCCESS);
    double took = now_s() - t0;
    CHECK_U64(d.eventData, 48);
    CHECK(took > 0.3 && took < 1.5);
    CHECK_RC(a->free_set(s), NVML_SUCCESS);
}

static int g_waiter_rc = -1;
static void *waiter(void *arg) {
    api_t *a = arg;
    nvmlEventSet_t s = NULL;
    if (a->create(&s) != NVML_SUCCESS) return NULL;
    nvmlEventData_t d;
    g_waiter_rc = (int)a->wait_v2(s, &d, 3000);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s FULL_LIB LEGACY_LIB\n", argv[0]);
        return 2;
    }
    snprintf(g_path, sizeof g_path, "/tmp/fake-nvml-health-%d.scenario", (int)getpid());
    api_t a;
    double loaded = now_s();  // the library's clock starts at its load
    if (load(&a, argv[1]) != 0) return 1;
    CHECK(a.reasons && a.throttle && a.violation && a.ecc && a.remap && a.create && a.reg && a.wait_v2 && a.wait &&
          a.free_set && a.supported);
    if (g_failures) return 1;
    nvmlEventSet_t none = NULL;
    CHECK_RC(a.create(&none), NVML_ERROR_UNINITIALIZED);

    CHECK_RC(init_with(&a, k_health), NVML_SUCCESS);
    check_values(&a);
    check_events(&a, 0);
    CHECK_RC(a.shutdown(), NVML_SUCCESS);

    // The legacy build: the old reasons name and the v1 wait; no remapping, no _v2 wait.
    api_t l;
    if (load(&l, argv[2]) != 0) return 1;
    CHECK(!l.reasons && l.throttle && !l.remap && !l.wait_v2 && l.wait && l.ecc && l.violation);
    CHECK_RC(init_with(&l, k_health), NVML_SUCCESS);
    sleep_ms(900);
    check_events(&l, 1);
    CHECK_RC(l.shutdown(), NVML_SUCCESS);

    check_wakeup(&a, loaded);

    // Shutdown under a waiter (check_wakeup's init is the last one left) ends its wait with UNINITIALIZED, within the fake's 100 ms poll.
    pthread_t th;
    pthread_create(&th, NULL, waiter, &a);
    sleep_ms(200);
    CHECK_RC(a.shutdown(), NVML_SUCCESS);
    double t0 = now_s();
    pthread_join(th, NULL);
    CHECK(now_s() - t0 < 0.5);
    CHECK_RC(g_waiter_rc, NVML_ERROR_UNINITIALIZED);

    unlink(g_path);
    printf("check_fake_nvml_health: %d checks, %d failed\n", g_checks, g_failures);
    return g_failures ? 1 : 0;
}
