// Fake NVML: a stand-in for libnvidia-ml.so.1 driven by a scenario file.
//
// Build: scripts/build-fake-nvml.sh. Scenario format: SCENARIO.md.
// The exported signatures follow Sources/CNVML/include/cnvml.h (enums travel as
// int / unsigned int). With -DFAKE_NVML_LEGACY the newer symbols are left out,
// as in an old driver: no _v2/_v3 process lists, no nvmlDeviceGetMemoryInfo_v2,
// no nvmlDeviceGetPciInfo_v2/_v3, no nvmlSystemGetCudaDriverVersion_v2, no
// nvmlDeviceGetProcessUtilization, no MIG calls, no total energy.
//
// All state sits behind one mutex; the only time a call lets go of it is while
// it sleeps for `slow`.
#define _GNU_SOURCE
#include "cnvml.h"
#include "scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#ifdef FAKE_NVML_LEGACY
#define NEWER_ONLY __attribute__((unused))
#else
#define NEWER_ONLY
#endif

// The opaque handle type of cnvml.h. Handles are addresses in the two tables
// below; a handle is never freed, so one kept across a scenario reload that
// drops its GPU answers GPU_IS_LOST rather than crashing.
struct nvmlDevice_st {
    int gpu;
    int slot;  // MIG slot, -1 for the full GPU
};

static struct nvmlDevice_st g_gpu_h[FN_MAX_GPUS];
static struct nvmlDevice_st g_mig_h[FN_MAX_GPUS][FN_MAX_MIG];

typedef struct {
    uint32_t grown;  // extra processes currently pretended
    int armed;       // a size query happened since the last growth
} growth_t;

// Run-time state of one GPU index; survives scenario reloads and nvmlShutdown.
typedef struct {
    uint64_t calls[FN_F_COUNT_ALL];
    uint64_t total;  // device calls, for lost_after
    int limit_set;
    uint32_t limit_mw;
    growth_t growth[FN_PROC_KINDS];
} gpu_rt_t;

typedef struct {
    int valid;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_id_t;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned g_refs;        // nvmlInit reference count
static fn_scenario *g_sc;      // current world; kept after shutdown
static char g_path[4096];      // scenario path of the last successful init
static file_id_t g_fid;        // identity of the file g_sc came from (or last seen bad)
static struct timespec g_last_check;
static uint64_t g_global_calls[FN_F_GLOBAL_END];
static gpu_rt_t g_rt[FN_MAX_GPUS];

// ---------------------------------------------------------------------------
// Helpers

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(2, line, (size_t)n);  // one write: one line
    (void)w;
}

static void sleep_ms(uint32_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t ms_between(struct timespec a, struct timespec b) {
    return (int64_t)(b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

static unsigned match_error(const fn_error *e, uint32_t n, unsigned field, uint64_t call) {
    for (uint32_t i = 0; i < n && i < FN_MAX_ERRORS; i++) {
        if (e[i].field != field || call < e[i].after) continue;
        if (e[i].times == FN_FOREVER || call - e[i].after < e[i].times) return e[i].code;
    }
    return 0;
}

static void file_id_from(file_id_t *id, const struct stat *st) {
    id->valid = 1;
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime = st->st_mtim;
}

static int file_id_same(const file_id_t *id, const struct stat *st) {
    return id->valid && id->dev == st->st_dev && id->ino == st->st_ino && id->size == st->st_size &&
           id->mtime.tv_sec == st->st_mtim.tv_sec && id->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

// Reads and parses the scenario at `path`. On failure prints one line to
// stderr and returns -1. *id gets the identity of what was read.
static fn_scenario *read_scenario(const char *path, file_id_t *id) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say("fake-nvml: %s:0: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        say("fake-nvml: %s:0: not a regular file", path);
        close(fd);
        return NULL;
    }
    file_id_from(id, &st);
    size_t cap = FN_MAX_FILE_BYTES + 1, len = 0;
    char *text = malloc(cap);
    if (!text) {
        close(fd);
        say("fake-nvml: %s:0: out of memory", path);
        return NULL;
    }
    for (;;) {
        ssize_t r = read(fd, text + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            say("fake-nvml: %s:0: read: %s", path, strerror(errno));
            free(text);
            close(fd);
            return NULL;
        }
        if (r == 0) break;
        len += (size_t)r;
        if (len == cap) break;
    }
    close(fd);
    fn_parse_error err;
    fn_scenario *sc = fake_nvml_parse_scenario_alloc(text, len, &err);
    free(text);
    if (!sc) say("fake-nvml: %s:%u: %s", path, err.line, err.msg);
    return sc;
}

// Re-reads the scenario when the file changed; at most one stat per 100 ms.
// Called with the lock held while initialized. A bad new file is reported once
// and the previous world stays.
static void maybe_reload(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (ms_between(g_last_check, now) < 100) return;
    g_last_check = now;
    struct stat st;
    if (stat(g_path, &st) != 0 || file_id_same(&g_fid, &st)) return;
    file_id_t id;
    fn_scenario *ns = read_scenario(g_path, &id);
    if (ns) {
        free(g_sc);
        g_sc = ns;
        g_fid = id;
    } else {
        file_id_from(&g_fid, &st);
    }
}

// ---------------------------------------------------------------------------
// Call prologue

typedef struct {
    int gi;        // GPU index of the handle, -1 when unknown
    int slot;      // MIG slot, -1 for a full GPU
    fn_gpu *g;     // the GPU (parent of a MIG device), or NULL
    fn_mig *m;     // the MIG device, or NULL
    gpu_rt_t *rt;
    uint64_t call; // 0-based number of this call of its field on this GPU
} ctx_t;

static int handle_index(nvmlDevice_t dev, int *gi, int *slot) {
    uintptr_t p = (uintptr_t)dev, sz = sizeof(struct nvmlDevice_st);
    uintptr_t a = (uintptr_t)&g_gpu_h[0];
    if (p >= a && p < a + sizeof g_gpu_h && (p - a) % sz == 0) {
        *gi = (int)((p - a) / sz);
        *slot = -1;
        return 1;
    }
    a = (uintptr_t)&g_mig_h[0][0];
    if (p >= a && p < a + sizeof g_mig_h && (p - a) % sz == 0) {
        int i = (int)((p - a) / sz);
        *gi = i / FN_MAX_MIG;
        *slot = i % FN_MAX_MIG;
        return 1;
    }
    return 0;
}

static nvmlReturn_t resolve(nvmlDevice_t dev, ctx_t *c) {
    memset(c, 0, sizeof *c);
    c->gi = -1;
    c->slot = -1;
    int valid = handle_index(dev, &c->gi, &c->slot);
    if (g_refs) maybe_reload();
    if (valid && g_sc && (uint32_t)c->gi < g_sc->n_gpus) {
        c->g = &g_sc->gpus[c->gi];
        c->rt = &g_rt[c->gi];
        if (c->slot >= 0 && c->g->mig[c->slot].present) c->m = &c->g->mig[c->slot];
    }
    if (!g_refs) return NVML_ERROR_UNINITIALIZED;
    if (!valid) return NVML_ERROR_INVALID_ARGUMENT;
    if (!c->g) return NVML_ERROR_GPU_IS_LOST;  // its GPU left the scenario
    if (c->slot >= 0 && (!c->m || c->g->mig_current != 1)) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_SUCCESS;
}

static int is_lost(const fn_gpu *g, uint64_t total) {
    return (g->has & FN_HAS_LOST_AFTER) && total >= g->lost_after;
}

// Takes the lock (always: end() releases it) and runs the common checks:
// init, handle, reload, `slow`, lost_after, error injection. Calls on MIG
// handles count for their parent's lost_after but have no field counters,
// slow or error injection of their own.
static nvmlReturn_t begin_ex(nvmlDevice_t dev, unsigned field, ctx_t *c, int device_call) {
    pthread_mutex_lock(&g_mu);
    int slept = 0;
    for (;;) {
        nvmlReturn_t r = resolve(dev, c);
        if (r != NVML_SUCCESS) return r;
        uint32_t ms = c->slot < 0 ? c->g->slow_ms[field] : 0;
        if (slept || ms == 0) break;
        pthread_mutex_unlock(&g_mu);
        sleep_ms(ms);
        pthread_mutex_lock(&g_mu);
        slept = 1;  // the world may have changed meanwhile: resolve again
    }
    uint64_t total = device_call ? c->rt->total++ : c->rt->total;
    if (c->slot < 0) c->call = c->rt->calls[field]++;
    if (is_lost(c->g, total)) return NVML_ERROR_GPU_IS_LOST;
    if (c->slot < 0) {
        unsigned code = match_error(c->g->errors, c->g->n_errors, field, c->call);
        if (code) return (nvmlReturn_t)code;
    }
    return NVML_SUCCESS;
}

static nvmlReturn_t begin(nvmlDevice_t dev, unsigned field, ctx_t *c) { return begin_ex(dev, field, c, 1); }

static void end(void) { pthread_mutex_unlock(&g_mu); }

// Prologue of the calls that take no device. Takes the lock (end() releases it).
static nvmlReturn_t begin_global(unsigned field) {
    pthread_mutex_lock(&g_mu);
    if (!g_refs) return NVML_ERROR_UNINITIALIZED;
    maybe_reload();
    uint32_t ms = g_sc->slow_ms[field];
    if (ms) {
        pthread_mutex_unlock(&g_mu);
        sleep_ms(ms);
        pthread_mutex_lock(&g_mu);
        if (!g_refs) return NVML_ERROR_UNINITIALIZED;
    }
    uint64_t call = g_global_calls[field]++;
    unsigned code = match_error(g_sc->errors, g_sc->n_errors, field, call);
    return code ? (nvmlReturn_t)code : NVML_SUCCESS;
}

// ---------------------------------------------------------------------------
// call_cost: CPU time burnt per call (SCENARIO.md), so that a test sees the driver's
// per-call cost as the caller's own CPU time, as with the real library.

// The cost of `func` in the current world, with the lock held. `*slot` caches the
// function's number (-2: not looked up yet); the lock also guards it.
static uint64_t cost_locked(const char *func, int *slot) {
    if (!g_sc || !g_sc->has_call_cost) return 0;
    if (*slot == -2) *slot = fn_function_index(func);
    return *slot >= 0 ? g_sc->call_cost_ns[*slot] : 0;
}

// Spins on this thread's CPU clock (not sleeping: the time must count as CPU).
static void burn_cpu(uint64_t ns) {
    if (ns == 0) return;
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    do {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    } while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(t.tv_nsec - t0.tv_nsec) < ns);
}

// For the calls outside DEVICE_CALL: charges `func`'s cost after the call, returns r.
static nvmlReturn_t charged(nvmlReturn_t r, const char *func) {
    int slot = -2;
    pthread_mutex_lock(&g_mu);
    uint64_t ns = cost_locked(func, &slot);
    pthread_mutex_unlock(&g_mu);
    burn_cpu(ns);
    return r;
}

// k-th value of a cycling key; 0 when the key is absent.
static int cyc(const fn_gpu *g, unsigned key, uint64_t call, uint64_t *v) {
    const fn_cycle *c = &g->cyc[key];
    if (c->n == 0 || c->n > FN_MAX_VALUES) return 0;
    *v = c->v[call % c->n];
    return 1;
}

static nvmlReturn_t put_string(const char *s, char *buf, unsigned int length) {
    if (!buf) return NVML_ERROR_INVALID_ARGUMENT;
    size_t n = strlen(s);
    if (n + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, s, n + 1);
    return NVML_SUCCESS;
}

static uint64_t sub_sat(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// ---------------------------------------------------------------------------
// Init, shutdown, errors

static nvmlReturn_t do_init(void) {
    pthread_mutex_lock(&g_mu);
    if (g_refs > 0) {
        g_refs++;
        pthread_mutex_unlock(&g_mu);
        return NVML_SUCCESS;
    }
    nvmlReturn_t r = NVML_SUCCESS;
    fn_scenario *ns = NULL;
    file_id_t id;
    const char *path = getenv("FAKE_NVML_SCENARIO");
    if (!path || !*path) {
        r = NVML_ERROR_DRIVER_NOT_LOADED;
        goto out;
    }
    if (strlen(path) >= sizeof g_path) {
        say("fake-nvml: %.200s...:0: path too long", path);
        r = NVML_ERROR_UNKNOWN;
        goto out;
    }
    ns = read_scenario(path, &id);
    if (!ns) {
        r = NVML_ERROR_UNKNOWN;
        goto out;
    }
    if (ns->init_error) {
        r = (nvmlReturn_t)ns->init_error;
        goto out;
    }
    if (ns->slow_ms[FN_F_INIT]) sleep_ms(ns->slow_ms[FN_F_INIT]);  // under the lock: init is rare
    unsigned code = match_error(ns->errors, ns->n_errors, FN_F_INIT, g_global_calls[FN_F_INIT]++);
    if (code) {
        r = (nvmlReturn_t)code;
        goto out;
    }
    free(g_sc);
    g_sc = ns;
    ns = NULL;
    g_fid = id;
    memcpy(g_path, path, strlen(path) + 1);
    clock_gettime(CLOCK_MONOTONIC, &g_last_check);
    g_refs = 1;
out:
    free(ns);
    pthread_mutex_unlock(&g_mu);
    return r;
}

EXPORT nvmlReturn_t nvmlInit_v2(void) { return charged(do_init(), __func__); }
EXPORT nvmlReturn_t nvmlInit(void) { return charged(do_init(), __func__); }

EXPORT nvmlReturn_t nvmlShutdown(void) {
    pthread_mutex_lock(&g_mu);
    nvmlReturn_t r = NVML_SUCCESS;
    if (g_refs == 0) r = NVML_ERROR_UNINITIALIZED;
    else g_refs--;
    pthread_mutex_unlock(&g_mu);
    return charged(r, __func__);
}

EXPORT const char *nvmlErrorString(nvmlReturn_t result) {
    switch ((int)result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_IRQ_ISSUE: return "Interrupt Request Issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request.";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_NO_DATA: return "No data";
    case NVML_ERROR_VGPU_ECC_NOT_ENABLED:
        return "The requested vgpu operation is not available on target device, because ECC is enabled";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Ran out of critical resources, other than memory";
    case NVML_ERROR_FREQ_NOT_SUPPORTED: return "The requested frequency is not supported";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    case NVML_ERROR_DEPRECATED: return "The requested functionality has been deprecated";
    case NVML_ERROR_NOT_READY: return "The system is not ready for the request";
    case NVML_ERROR_GPU_NOT_FOUND: return "No GPUs were found";
    case NVML_ERROR_INVALID_STATE: return "Resource not in correct state to perform requested operation";
    default: return "Unknown Error";
    }
}

// ---------------------------------------------------------------------------
// System

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    nvmlReturn_t r = begin_global(FN_F_DRIVER_VERSION);
    if (r == NVML_SUCCESS) r = put_string(g_sc->driver, version, length);
    end();
    return charged(r, __func__);
}

static nvmlReturn_t cuda_version(int *v) {
    nvmlReturn_t r = begin_global(FN_F_CUDA_VERSION);
    if (r == NVML_SUCCESS) {
        if (!v) r = NVML_ERROR_INVALID_ARGUMENT;
        else *v = g_sc->cuda;
    }
    end();
    return r;
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v) { return charged(cuda_version(v), __func__); }
#endif
EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v) { return charged(cuda_version(v), __func__); }

static nvmlReturn_t device_count(unsigned int *count) {
    nvmlReturn_t r = begin_global(FN_F_COUNT);
    if (r == NVML_SUCCESS) {
        if (!count) r = NVML_ERROR_INVALID_ARGUMENT;
        else *count = g_sc->n_gpus;
    }
    end();
    return r;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) { return charged(device_count(count), __func__); }
EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *count) { return charged(device_count(count), __func__); }

static nvmlReturn_t handle_by_index(unsigned int index, nvmlDevice_t *device) {
    pthread_mutex_lock(&g_mu);
    if (!g_refs) {
        pthread_mutex_unlock(&g_mu);
        return NVML_ERROR_UNINITIALIZED;
    }
    maybe_reload();
    int bad = index >= g_sc->n_gpus || !device;
    pthread_mutex_unlock(&g_mu);
    if (bad) return NVML_ERROR_INVALID_ARGUMENT;
    ctx_t c;
    nvmlReturn_t r = begin_ex(&g_gpu_h[index], FN_F_HANDLE, &c, 0);
    if (r == NVML_SUCCESS) {
        g_gpu_h[index].gpu = (int)index;
        g_gpu_h[index].slot = -1;
        *device = &g_gpu_h[index];
    }
    end();
    return r;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    return charged(handle_by_index(index, device), __func__);
}
EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device) {
    return charged(handle_by_index(index, device), __func__);
}

// ---------------------------------------------------------------------------
// Identity

// Wraps a body run after a successful prologue; `c` is the context.
// The call's cost (call_cost) is burnt after the lock is released.
#define DEVICE_CALL(dev, field, body)                        \
    do {                                                     \
        static int slot_ = -2;                               \
        ctx_t c;                                             \
        nvmlReturn_t r = begin((dev), (field), &c);          \
        if (r == NVML_SUCCESS) r = (body);                   \
        uint64_t cost_ = cost_locked(__func__, &slot_);      \
        end();                                               \
        burn_cpu(cost_);                                     \
        return r;                                            \
    } while (0)

static nvmlReturn_t get_index(ctx_t *c, unsigned int *index) {
    if (!index) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m) return NVML_ERROR_NOT_SUPPORTED;
    *index = (unsigned int)c->gi;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t dev, unsigned int *index) {
    DEVICE_CALL(dev, FN_F_INDEX, get_index(&c, index));
}

static nvmlReturn_t get_minor(ctx_t *c, unsigned int *minor) {
    if (!minor) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m) return NVML_ERROR_NOT_SUPPORTED;
    *minor = (c->g->has & FN_HAS_MINOR) ? c->g->minor : (unsigned int)c->gi;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t dev, unsigned int *minor) {
    DEVICE_CALL(dev, FN_F_MINOR, get_minor(&c, minor));
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t dev, char *name, unsigned int length) {
    DEVICE_CALL(dev, FN_F_NAME, put_string(c.m ? c.m->name : c.g->name, name, length));
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t dev, char *uuid, unsigned int length) {
    DEVICE_CALL(dev, FN_F_UUID, put_string(c.m ? c.m->uuid : c.g->uuid, uuid, length));
}

static nvmlReturn_t get_pci(ctx_t *c, nvmlPciInfo_t *pci) {
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m) return NVML_ERROR_NOT_SUPPORTED;
    const fn_gpu *g = c->g;
    memset(pci, 0, sizeof *pci);
    memcpy(pci->busIdLegacy, g->bus_id_legacy, sizeof pci->busIdLegacy);
    pci->busIdLegacy[sizeof pci->busIdLegacy - 1] = '\0';
    memcpy(pci->busId, g->bus_id, sizeof pci->busId);
    pci->busId[sizeof pci->busId - 1] = '\0';
    pci->domain = g->domain;
    pci->bus = g->bus;
    pci->device = g->device;
    pci->pciDeviceId = g->pci_device_id;
    pci->pciSubSystemId = g->pci_subsystem_id;
    return NVML_SUCCESS;
}
#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t dev, nvmlPciInfo_t *pci) {
    DEVICE_CALL(dev, FN_F_PCI, get_pci(&c, pci));
}
EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t dev, nvmlPciInfo_t *pci) {
    DEVICE_CALL(dev, FN_F_PCI, get_pci(&c, pci));
}
#endif
EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t dev, nvmlPciInfo_t *pci) {
    DEVICE_CALL(dev, FN_F_PCI, get_pci(&c, pci));
}

// ---------------------------------------------------------------------------
// Utilisation and memory

static nvmlReturn_t get_util(ctx_t *c, nvmlUtilization_t *u) {
    if (!u) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m || c->g->mig_current == 1) return NVML_ERROR_NOT_SUPPORTED;
    uint64_t gpu = 0, mem = 0;
    int a = cyc(c->g, FN_C_UTIL, c->call, &gpu);
    int b = cyc(c->g, FN_C_MEM_UTIL, c->call, &mem);
    if (!a && !b) return NVML_ERROR_NOT_SUPPORTED;
    u->gpu = (unsigned int)gpu;
    u->memory = (unsigned int)mem;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev, nvmlUtilization_t *u) {
    DEVICE_CALL(dev, FN_F_UTIL, get_util(&c, u));
}

// total, reserved, used (v2 meaning: reserved apart).
static nvmlReturn_t memory_numbers(ctx_t *c, uint64_t *total, uint64_t *reserved, uint64_t *used) {
    if (c->m) {
        *total = c->m->memory;
        *reserved = 0;
        *used = c->m->used;
        return NVML_SUCCESS;
    }
    if (!(c->g->has & FN_HAS_MEMORY_TOTAL)) return NVML_ERROR_NOT_SUPPORTED;
    *total = c->g->memory_total;
    *reserved = c->g->memory_reserved;
    *used = 0;
    cyc(c->g, FN_C_MEMORY_USED, c->call, used);
    return NVML_SUCCESS;
}

static NEWER_ONLY nvmlReturn_t get_memory_v2(ctx_t *c, nvmlMemory_v2_t *m) {
    uint64_t total, reserved, used;
    if (!m) return NVML_ERROR_INVALID_ARGUMENT;
    if (m->version != CNVML_MEMORY_V2_VERSION) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    nvmlReturn_t r = memory_numbers(c, &total, &reserved, &used);
    if (r != NVML_SUCCESS) return r;
    m->total = total;
    m->reserved = reserved;
    m->used = used;
    m->free = sub_sat(sub_sat(total, reserved), used);
    return NVML_SUCCESS;
}

static nvmlReturn_t get_memory_v1(ctx_t *c, nvmlMemory_t *m) {
    uint64_t total, reserved, used;
    if (!m) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t r = memory_numbers(c, &total, &reserved, &used);
    if (r != NVML_SUCCESS) return r;
    m->total = total;
    m->used = used + reserved;
    m->free = sub_sat(total, used + reserved);
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t dev, nvmlMemory_v2_t *m) {
    DEVICE_CALL(dev, FN_F_MEMORY, get_memory_v2(&c, m));
}
#endif
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *m) {
    DEVICE_CALL(dev, FN_F_MEMORY, get_memory_v1(&c, m));
}

// ---------------------------------------------------------------------------
// Sensors, clocks, power

// A cycling key returned as unsigned int; absent: NOT_SUPPORTED.
static nvmlReturn_t get_cyc_uint(ctx_t *c, unsigned key, unsigned int *out) {
    uint64_t v;
    if (!out) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m) return NVML_ERROR_NOT_SUPPORTED;
    if (!cyc(c->g, key, c->call, &v)) return NVML_ERROR_NOT_SUPPORTED;
    *out = (unsigned int)v;
    return NVML_SUCCESS;
}

static nvmlReturn_t get_temperature(ctx_t *c, int sensor, unsigned int *temp) {
    if (!temp || sensor != CNVML_TEMPERATURE_GPU) return NVML_ERROR_INVALID_ARGUMENT;
    return get_cyc_uint(c, FN_C_TEMPERATURE, temp);
}
EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t dev, int sensor, unsigned int *temp) {
    DEVICE_CALL(dev, FN_F_TEMPERATURE, get_temperature(&c, sensor, temp));
}

EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t dev, unsigned int *speed) {
    DEVICE_CALL(dev, FN_F_FAN, get_cyc_uint(&c, FN_C_FAN, speed));
}

static nvmlReturn_t get_clock(ctx_t *c, int type, unsigned int *clock) {
    if (!clock) return NVML_ERROR_INVALID_ARGUMENT;
    switch (type) {
    case CNVML_CLOCK_GRAPHICS:
        if (!c->m && c->g->cyc[FN_C_CLOCK_GRAPHICS].n == 0) return get_cyc_uint(c, FN_C_CLOCK_SM, clock);
        return get_cyc_uint(c, FN_C_CLOCK_GRAPHICS, clock);
    case CNVML_CLOCK_SM: return get_cyc_uint(c, FN_C_CLOCK_SM, clock);
    case CNVML_CLOCK_MEM: return get_cyc_uint(c, FN_C_CLOCK_MEM, clock);
    case 3: return NVML_ERROR_NOT_SUPPORTED;  // NVML_CLOCK_VIDEO
    default: return NVML_ERROR_INVALID_ARGUMENT;
    }
}
EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t dev, int type, unsigned int *clock) {
    unsigned field = type == CNVML_CLOCK_GRAPHICS ? FN_F_CLOCK_GRAPHICS
                     : type == CNVML_CLOCK_SM     ? FN_F_CLOCK_SM
                     : type == CNVML_CLOCK_MEM    ? FN_F_CLOCK_MEM
                                                  : FN_F_CLOCK_OTHER;
    DEVICE_CALL(dev, field, get_clock(&c, type, clock));
}

static nvmlReturn_t get_pstate(ctx_t *c, int *p) {
    unsigned int v;
    if (!p) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t r = get_cyc_uint(c, FN_C_PSTATE, &v);
    if (r == NVML_SUCCESS) *p = (int)v;
    return r;
}
EXPORT nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t dev, int *pstate) {
    DEVICE_CALL(dev, FN_F_PSTATE, get_pstate(&c, pstate));
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned int *mw) {
    DEVICE_CALL(dev, FN_F_POWER, get_cyc_uint(&c, FN_C_POWER, mw));
}

static nvmlReturn_t get_power_limit(ctx_t *c, unsigned int *mw) {
    if (!mw) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m || !(c->g->has & FN_HAS_POWER_LIMIT)) return NVML_ERROR_NOT_SUPPORTED;
    *mw = c->rt->limit_set ? c->rt->limit_mw : c->g->power_limit;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t dev, unsigned int *mw) {
    DEVICE_CALL(dev, FN_F_POWER_LIMIT, get_power_limit(&c, mw));
}
EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t dev, unsigned int *mw) {
    DEVICE_CALL(dev, FN_F_POWER_LIMIT, get_power_limit(&c, mw));
}

static nvmlReturn_t get_power_default(ctx_t *c, unsigned int *mw) {
    if (!mw) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m || !(c->g->has & FN_HAS_POWER_DEFAULT)) return NVML_ERROR_NOT_SUPPORTED;
    *mw = c->g->power_default;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t dev, unsigned int *mw) {
    DEVICE_CALL(dev, FN_F_POWER_DEFAULT, get_power_default(&c, mw));
}

static void power_bounds(const fn_gpu *g, unsigned int *min, unsigned int *max) {
    *min = (g->has & FN_HAS_POWER_MIN) ? g->power_min : 0;
    *max = (g->has & FN_HAS_POWER_MAX) ? g->power_max : UINT32_MAX;
}

static nvmlReturn_t get_power_constraints(ctx_t *c, unsigned int *min, unsigned int *max) {
    if (!min || !max) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m || !(c->g->has & (FN_HAS_POWER_MIN | FN_HAS_POWER_MAX))) return NVML_ERROR_NOT_SUPPORTED;
    power_bounds(c->g, min, max);
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t dev, unsigned int *min,
                                                                  unsigned int *max) {
    DEVICE_CALL(dev, FN_F_POWER_CONSTRAINTS, get_power_constraints(&c, min, max));
}

static uint64_t energy_following_power(ctx_t *c);  // fake_nvml_gpm.c

static NEWER_ONLY nvmlReturn_t get_energy(ctx_t *c, unsigned long long *mj) {
    if (!mj) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m || !(c->g->has & FN_HAS_ENERGY)) return NVML_ERROR_NOT_SUPPORTED;
    *mj = c->g->energy_follows_power ? energy_following_power(c) : c->g->energy + c->call * c->g->energy_step;
    return NVML_SUCCESS;
}
#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t dev, unsigned long long *mj) {
    DEVICE_CALL(dev, FN_F_ENERGY, get_energy(&c, mj));
}
#endif

static nvmlReturn_t get_flag(ctx_t *c, uint32_t has, uint32_t value, int *out) {
    if (!out) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m || !(c->g->has & has)) return NVML_ERROR_NOT_SUPPORTED;
    *out = (int)value;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t dev, int *mode) {
    DEVICE_CALL(dev, FN_F_PERSISTENCE, get_flag(&c, FN_HAS_PERSISTENCE, c.g->persistence, mode));
}
EXPORT nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t dev, int *mode) {
    DEVICE_CALL(dev, FN_F_COMPUTE_MODE, get_flag(&c, FN_HAS_COMPUTE_MODE, c.g->compute_mode, mode));
}

static nvmlReturn_t get_codec(ctx_t *c, unsigned key, unsigned int *util, unsigned int *period) {
    if (!util || !period) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t r = get_cyc_uint(c, key, util);
    if (r == NVML_SUCCESS) *period = 167000;  // microseconds, as drivers report
    return r;
}
EXPORT nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t dev, unsigned int *util, unsigned int *period) {
    DEVICE_CALL(dev, FN_F_ENCODER, get_codec(&c, FN_C_ENCODER, util, period));
}
EXPORT nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t dev, unsigned int *util, unsigned int *period) {
    DEVICE_CALL(dev, FN_F_DECODER, get_codec(&c, FN_C_DECODER, util, period));
}

// ---------------------------------------------------------------------------
// Processes

// NVML's size protocol, plus process_growth (SCENARIO.md). `v1` selects
// nvmlProcessInfo_v1_t, else nvmlProcessInfo_t.
static nvmlReturn_t list_processes(ctx_t *c, unsigned kind, unsigned int *count, void *infos, int v1) {
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    const fn_gpu *g = c->g;
    uint32_t idx[FN_MAX_PROCS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->n_procs && i < FN_MAX_PROCS; i++) {
        const fn_process *p = &g->procs[i];
        if (p->kind != kind) continue;
        if (c->m && (p->gi != c->m->gi || p->ci != c->m->ci)) continue;  // MIG handle: its own
        idx[n++] = i;
    }
    growth_t *gr = (!c->m && g->process_growth > 0 && n > 0) ? &c->rt->growth[kind] : NULL;
    uint32_t needed = n + (gr ? gr->grown : 0);
    if (*count < needed) {
        if (gr) gr->armed = 1;  // a size query
        *count = needed;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (needed == 0) {
        *count = 0;
        return NVML_SUCCESS;
    }
    if (!infos) return NVML_ERROR_INVALID_ARGUMENT;
    if (gr && gr->armed && *count == needed) {
        // The exact-fit call after a size query: K more processes "appeared".
        gr->armed = 0;
        gr->grown += g->process_growth;
        if (gr->grown > FN_MAX_GROWTH) gr->grown = FN_MAX_GROWTH;
        *count = n + gr->grown;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    const fn_process *last = &g->procs[idx[n - 1]];
    for (uint32_t i = 0; i < needed; i++) {
        const fn_process *p = i < n ? &g->procs[idx[i]] : last;
        uint32_t pid = p->pid;
        if (i >= n && g->n_growth_pids > 0 && g->n_growth_pids <= FN_MAX_GROWTH_PIDS)
            pid = g->growth_pids[(i - n) % g->n_growth_pids];
        if (v1) {
            nvmlProcessInfo_v1_t *o = (nvmlProcessInfo_v1_t *)infos + i;
            o->pid = pid;
            o->usedGpuMemory = p->mem;
        } else {
            nvmlProcessInfo_t *o = (nvmlProcessInfo_t *)infos + i;
            o->pid = pid;
            o->usedGpuMemory = p->mem;
            o->gpuInstanceId = p->gi;
            o->computeInstanceId = p->ci;
        }
    }
    *count = needed;
    if (gr) gr->grown = 0;  // the extra processes were reported; they go away again
    return NVML_SUCCESS;
}

#define PROCESS_CALLS(Kind, kind, field)                                                                       \
    NEWER_ONLY_EXPORTS(Kind, kind, field)                                                                      \
    EXPORT nvmlReturn_t nvmlDeviceGet##Kind##RunningProcesses(nvmlDevice_t dev, unsigned int *count,          \
                                                              nvmlProcessInfo_v1_t *infos) {                  \
        DEVICE_CALL(dev, field, list_processes(&c, kind, count, infos, 1));                                    \
    }

#ifdef FAKE_NVML_LEGACY
#define NEWER_ONLY_EXPORTS(Kind, kind, field)
#else
#define NEWER_ONLY_EXPORTS(Kind, kind, field)                                                                  \
    EXPORT nvmlReturn_t nvmlDeviceGet##Kind##RunningProcesses_v3(nvmlDevice_t dev, unsigned int *count,       \
                                                                 nvmlProcessInfo_t *infos) {                  \
        DEVICE_CALL(dev, field, list_processes(&c, kind, count, infos, 0));                                    \
    }                                                                                                          \
    EXPORT nvmlReturn_t nvmlDeviceGet##Kind##RunningProcesses_v2(nvmlDevice_t dev, unsigned int *count,       \
                                                                 nvmlProcessInfo_t *infos) {                  \
        DEVICE_CALL(dev, field, list_processes(&c, kind, count, infos, 0));                                    \
    }
#endif

PROCESS_CALLS(Compute, FN_PROC_COMPUTE, FN_F_COMPUTE_PROCS)
PROCESS_CALLS(Graphics, FN_PROC_GRAPHICS, FN_F_GRAPHICS_PROCS)
PROCESS_CALLS(MPSCompute, FN_PROC_MPS, FN_F_MPS_PROCS)

static NEWER_ONLY nvmlReturn_t get_process_util(ctx_t *c, nvmlProcessUtilizationSample_t *samples,
                                                unsigned int *count, unsigned long long last_seen) {
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m) return NVML_ERROR_NOT_SUPPORTED;
    const fn_gpu *g = c->g;
    uint32_t idx[FN_MAX_PROCS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->n_procs && i < FN_MAX_PROCS; i++) {
        if (!g->procs[i].has_util) continue;
        int dup = 0;
        for (uint32_t j = 0; j < n && !dup; j++) dup = g->procs[idx[j]].pid == g->procs[i].pid;
        if (!dup) idx[n++] = i;
    }
    uint32_t needed = n > g->process_util_min ? n : g->process_util_min;
    if (needed == 0) {
        *count = 0;
        return NVML_ERROR_NOT_FOUND;
    }
    if (!samples || *count < needed) {
        *count = needed;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long now = (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
    if (n == 0 || now <= last_seen) {
        *count = 0;
        return NVML_ERROR_NOT_FOUND;
    }
    for (uint32_t i = 0; i < n; i++) {
        const fn_process *p = &g->procs[idx[i]];
        samples[i].pid = p->pid;
        samples[i].timeStamp = now;
        samples[i].smUtil = p->sm;
        samples[i].memUtil = p->memutil;
        samples[i].encUtil = p->enc;
        samples[i].decUtil = p->dec;
    }
    *count = n;
    return NVML_SUCCESS;
}
#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t dev, nvmlProcessUtilizationSample_t *samples,
                                                    unsigned int *count, unsigned long long lastSeenTimeStamp) {
    DEVICE_CALL(dev, FN_F_PROCESS_UTIL, get_process_util(&c, samples, count, lastSeenTimeStamp));
}
#endif

// ---------------------------------------------------------------------------
// MIG

static NEWER_ONLY nvmlReturn_t get_mig_mode(ctx_t *c, unsigned int *current, unsigned int *pending) {
    if (!current || !pending || c->m) return NVML_ERROR_INVALID_ARGUMENT;
    if (!(c->g->has & FN_HAS_MIG)) return NVML_ERROR_NOT_SUPPORTED;
    *current = c->g->mig_current;
    *pending = c->g->mig_pending;
    return NVML_SUCCESS;
}

static NEWER_ONLY uint32_t mig_max(const fn_gpu *g) {
    if (!(g->has & FN_HAS_MIG) || g->mig_current != 1) return 0;
    uint32_t v = (g->has & FN_HAS_MIG_MAX) ? g->mig_max : 7;
    return v > FN_MAX_MIG ? FN_MAX_MIG : v;
}

static NEWER_ONLY nvmlReturn_t get_mig_max(ctx_t *c, unsigned int *count) {
    if (!count || c->m) return NVML_ERROR_INVALID_ARGUMENT;
    *count = mig_max(c->g);
    return NVML_SUCCESS;
}

static NEWER_ONLY nvmlReturn_t get_mig_handle(ctx_t *c, unsigned int index, nvmlDevice_t *out) {
    if (!out || c->m) return NVML_ERROR_INVALID_ARGUMENT;
    if (!(c->g->has & FN_HAS_MIG)) return NVML_ERROR_NOT_SUPPORTED;
    if (index >= mig_max(c->g)) return NVML_ERROR_INVALID_ARGUMENT;
    if (!c->g->mig[index].present) return NVML_ERROR_NOT_FOUND;
    struct nvmlDevice_st *h = &g_mig_h[c->gi][index];
    h->gpu = c->gi;
    h->slot = (int)index;
    *out = h;
    return NVML_SUCCESS;
}

static NEWER_ONLY nvmlReturn_t get_instance_id(ctx_t *c, int compute, unsigned int *id) {
    if (!id || !c->m) return NVML_ERROR_INVALID_ARGUMENT;
    *id = compute ? c->m->ci : c->m->gi;
    return NVML_SUCCESS;
}

static NEWER_ONLY nvmlReturn_t get_attributes(ctx_t *c, nvmlDeviceAttributes_t *a) {
    if (!a) return NVML_ERROR_INVALID_ARGUMENT;
    memset(a, 0, sizeof *a);
    if (c->m) {
        a->multiprocessorCount = c->m->sms;
        a->gpuInstanceSliceCount = c->m->slices;
        a->computeInstanceSliceCount = c->m->ci_slices;
        a->memorySizeMB = c->m->memory >> 20;
    } else {
        a->multiprocessorCount = c->g->sms;
        a->memorySizeMB = c->g->memory_total >> 20;
    }
    return NVML_SUCCESS;
}

static NEWER_ONLY nvmlReturn_t get_is_mig(ctx_t *c, unsigned int *is_mig) {
    if (!is_mig) return NVML_ERROR_INVALID_ARGUMENT;
    *is_mig = c->m ? 1 : 0;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t dev, unsigned int *current, unsigned int *pending) {
    DEVICE_CALL(dev, FN_F_MIG_MODE, get_mig_mode(&c, current, pending));
}
EXPORT nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t dev, unsigned int *count) {
    DEVICE_CALL(dev, FN_F_MIG_MAX, get_mig_max(&c, count));
}
EXPORT nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t dev, unsigned int index,
                                                        nvmlDevice_t *mig) {
    DEVICE_CALL(dev, FN_F_MIG_HANDLE, get_mig_handle(&c, index, mig));
}
EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t dev, unsigned int *id) {
    DEVICE_CALL(dev, FN_F_GPU_INSTANCE_ID, get_instance_id(&c, 0, id));
}
EXPORT nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t dev, unsigned int *id) {
    DEVICE_CALL(dev, FN_F_COMPUTE_INSTANCE_ID, get_instance_id(&c, 1, id));
}
EXPORT nvmlReturn_t nvmlDeviceGetAttributes_v2(nvmlDevice_t dev, nvmlDeviceAttributes_t *attributes) {
    DEVICE_CALL(dev, FN_F_ATTRIBUTES, get_attributes(&c, attributes));
}
EXPORT nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t dev, unsigned int *isMigDevice) {
    DEVICE_CALL(dev, FN_F_IS_MIG, get_is_mig(&c, isMigDevice));
}
#endif

// ---------------------------------------------------------------------------
// Set calls

static void log_set(const ctx_t *c, unsigned int mw, nvmlReturn_t r) {
    const char *path = getenv("FAKE_NVML_SET_LOG");
    if (!path || !*path) return;
    const char *uuid = c->m ? c->m->uuid : c->g ? c->g->uuid : "-";
    char line[320];
    int n = snprintf(line, sizeof line, "set_power_limit gpu=%d uuid=%.100s mw=%u result=%s\n", c->gi, uuid, mw,
                     fn_code_name((unsigned)r));
    if (n <= 0 || (size_t)n >= sizeof line) return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    ssize_t w = write(fd, line, (size_t)n);  // one write: lines of concurrent writers do not mix
    (void)w;
    close(fd);
}

static nvmlReturn_t set_power_limit(ctx_t *c, unsigned int mw) {
    unsigned int min, max;
    if (c->m || !(c->g->has & FN_HAS_POWER_LIMIT)) return NVML_ERROR_NOT_SUPPORTED;
    power_bounds(c->g, &min, &max);
    if (mw < min || mw > max) return NVML_ERROR_INVALID_ARGUMENT;
    c->rt->limit_set = 1;
    c->rt->limit_mw = mw;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceSetPowerManagementLimit(nvmlDevice_t dev, unsigned int mw) {
    ctx_t c;
    nvmlReturn_t r = begin(dev, FN_F_SET_POWER_LIMIT, &c);
    if (r == NVML_SUCCESS) r = set_power_limit(&c, mw);
    log_set(&c, mw, r);
    end();
    return charged(r, __func__);
}

// GPU health (clock event reasons, violation, ECC, remapping, XID event sets): a
// file of its own that shares this one's call prologue.
#include "fake_nvml_health.c"

// GPM (samples and metrics) and an energy counter that follows the power readings.
#include "fake_nvml_gpm.c"
