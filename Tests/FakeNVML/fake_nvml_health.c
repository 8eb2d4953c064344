// GPU health calls of the fake NVML: clock event reasons, violation time, ECC,
// row remapping, and XID critical errors through NVML's event sets.
// Scenario keys: SCENARIO.md, "GPU health".
//
// Not compiled on its own: fake_nvml.c includes it at its end, so these calls
// share its call prologue (lock, handle resolution, reloads, `slow`, lost_after,
// error injection) without that file exposing its internals.

// Time in the scenario: milliseconds since the library was loaded, so `at=3s`
// means three seconds into the run of whoever loaded it.
static struct timespec g_health_loaded;

__attribute__((constructor)) static void health_mark_load(void) { clock_gettime(CLOCK_MONOTONIC, &g_health_loaded); }

static uint64_t health_now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = ms_between(g_health_loaded, now);
    return ms > 0 ? (uint64_t)ms : 0;
}

// The index of the timed line in force at `now` (latest `at` <= now, the later
// line on a tie), or -1 when none has come yet. `stride` steps over the list's
// elements, whose first field is `at_ms`.
static int timed_index(const void *list, uint32_t n, size_t stride, uint64_t now) {
    int best = -1;
    uint64_t best_at = 0;
    for (uint32_t i = 0; i < n && i < FN_MAX_TIMED; i++) {
        uint64_t at = *(const uint64_t *)((const char *)list + i * stride);
        if (at <= now && (best < 0 || at >= best_at)) {
            best = (int)i;
            best_at = at;
        }
    }
    return best;
}

static uint64_t timed_value(const fn_timed *list, uint32_t n, uint64_t now) {
    int i = timed_index(list, n, sizeof *list, now);
    return i < 0 ? 0 : list[i].v;
}

// ---------------------------------------------------------------------------
// Clock event reasons and violation time

static nvmlReturn_t get_reasons(ctx_t *c, unsigned long long *reasons) {
    if (!reasons) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m || !(c->g->health_has & FN_HEALTH_REASONS)) return NVML_ERROR_NOT_SUPPORTED;
    *reasons = timed_value(c->g->reasons, c->g->n_reasons, health_now_ms());
    return NVML_SUCCESS;
}
#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t dev, unsigned long long *reasons) {
    DEVICE_CALL(dev, FN_F_CLOCKS_EVENT_REASONS, get_reasons(&c, reasons));
}
#endif
EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t dev, unsigned long long *reasons) {
    DEVICE_CALL(dev, FN_F_CLOCKS_EVENT_REASONS, get_reasons(&c, reasons));
}

// Milliseconds of [0, now] during which the reasons in force had SW power cap (0x4).
static uint64_t power_capped_ms(const fn_gpu *g, uint64_t now) {
    uint64_t total = 0;
    uint32_t n = g->n_reasons < FN_MAX_TIMED ? g->n_reasons : FN_MAX_TIMED;
    for (uint32_t i = 0; i < n; i++) {
        // Line i is in force from its `at` until the next later `at` (or now) unless another
        // line with the same or a later position wins the same instant.
        uint64_t from = g->reasons[i].at_ms, until = now;
        if (from >= now || !(g->reasons[i].v & 0x4)) continue;
        int overridden = 0;
        for (uint32_t j = 0; j < n; j++) {
            if (j == i) continue;
            uint64_t at = g->reasons[j].at_ms;
            if (at > from && at < until) until = at;
            if (at == from && j > i) overridden = 1;
        }
        if (!overridden) total += until - from;
    }
    return total;
}

static nvmlReturn_t get_violation(ctx_t *c, int policy, nvmlViolationTime_t *v) {
    if (!v || policy < 0 || policy > 11) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m || !(c->g->health_has & FN_HEALTH_VIOLATION)) return NVML_ERROR_NOT_SUPPORTED;
    uint64_t capped = policy == CNVML_PERF_POLICY_POWER ? power_capped_ms(c->g, health_now_ms()) : 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    v->referenceTime = (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
    v->violationTime = c->g->violation_power + capped * 1000000ull;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetViolationStatus(nvmlDevice_t dev, int policy, nvmlViolationTime_t *v) {
    DEVICE_CALL(dev, FN_F_VIOLATION, get_violation(&c, policy, v));
}

// ---------------------------------------------------------------------------
// ECC and row remapping

static nvmlReturn_t get_ecc(ctx_t *c, int type, int counter, unsigned long long *count) {
    if (!count || type < 0 || type > 1 || counter < 0 || counter > 1) return NVML_ERROR_INVALID_ARGUMENT;
    uint32_t need = counter == CNVML_VOLATILE_ECC ? FN_HEALTH_ECC_VOLATILE : FN_HEALTH_ECC_AGGREGATE;
    if (c->m || !(c->g->health_has & need)) return NVML_ERROR_NOT_SUPPORTED;
    if (type != CNVML_MEMORY_ERROR_TYPE_UNCORRECTED) {
        *count = 0;  // corrected errors: none in the fake's world
        return NVML_SUCCESS;
    }
    uint64_t now = health_now_ms();
    *count = counter == CNVML_VOLATILE_ECC ? timed_value(c->g->ecc_volatile, c->g->n_ecc_volatile, now)
                                           : timed_value(c->g->ecc_aggregate, c->g->n_ecc_aggregate, now);
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t dev, int type, int counter, unsigned long long *count) {
    DEVICE_CALL(dev, FN_F_ECC, get_ecc(&c, type, counter, count));
}

static NEWER_ONLY nvmlReturn_t get_remap(ctx_t *c, unsigned int *corr, unsigned int *unc, unsigned int *pending,
                                         unsigned int *failure) {
    if (!corr || !unc || !pending || !failure) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m || !(c->g->health_has & FN_HEALTH_REMAP)) return NVML_ERROR_NOT_SUPPORTED;
    int i = timed_index(c->g->remap, c->g->n_remap, sizeof c->g->remap[0], health_now_ms());
    fn_remap none = {0, 0, 0, 0, 0};
    const fn_remap *r = i < 0 ? &none : &c->g->remap[i];
    *corr = r->corr;
    *unc = r->unc;
    *pending = r->pending;
    *failure = r->failure;
    return NVML_SUCCESS;
}
#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t dev, unsigned int *corr, unsigned int *unc,
                                              unsigned int *pending, unsigned int *failure) {
    DEVICE_CALL(dev, FN_F_REMAPPED_ROWS, get_remap(&c, corr, unc, pending, failure));
}
#endif

// ---------------------------------------------------------------------------
// Event sets: XID critical errors only

#define FN_MAX_EVENT_SETS 32
#define FN_EVENT_XID 0x8ull

// One event set: the GPUs registered in it and, per GPU, which xid lines it has
// delivered (by their position among that GPU's xid lines).
struct nvmlEventSet_st {
    int used;
    uint32_t gpus;  // bit per GPU index
    uint64_t delivered[FN_MAX_GPUS];
};

static struct nvmlEventSet_st g_sets[FN_MAX_EVENT_SETS];
static pthread_cond_t g_event_cond;
static pthread_once_t g_event_once = PTHREAD_ONCE_INIT;

static void event_cond_init(void) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g_event_cond, &attr);
    pthread_condattr_destroy(&attr);
}

static int set_valid(nvmlEventSet_t set) {
    uintptr_t p = (uintptr_t)set, a = (uintptr_t)&g_sets[0];
    return p >= a && p < a + sizeof g_sets && (p - a) % sizeof g_sets[0] == 0 && set->used;
}

EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    pthread_mutex_lock(&g_mu);
    nvmlReturn_t r = NVML_ERROR_INSUFFICIENT_RESOURCES;
    if (!g_refs) r = NVML_ERROR_UNINITIALIZED;
    else if (!set) r = NVML_ERROR_INVALID_ARGUMENT;
    else {
        for (int i = 0; i < FN_MAX_EVENT_SETS; i++) {
            if (g_sets[i].used) continue;
            memset(&g_sets[i], 0, sizeof g_sets[i]);
            g_sets[i].used = 1;
            *set = &g_sets[i];
            r = NVML_SUCCESS;
            break;
        }
    }
    pthread_mutex_unlock(&g_mu);
    return r;
}

EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    pthread_once(&g_event_once, event_cond_init);
    pthread_mutex_lock(&g_mu);
    nvmlReturn_t r = NVML_SUCCESS;
    if (!g_refs) r = NVML_ERROR_UNINITIALIZED;
    else if (!set_valid(set)) r = NVML_ERROR_INVALID_ARGUMENT;
    else {
        set->used = 0;
        pthread_cond_broadcast(&g_event_cond);  // a waiter on it answers INVALID_ARGUMENT
    }
    pthread_mutex_unlock(&g_mu);
    return r;
}

static nvmlReturn_t get_supported_events(ctx_t *c, unsigned long long *types) {
    if (!types) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m) return NVML_ERROR_NOT_SUPPORTED;
    *types = FN_EVENT_XID;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t dev, unsigned long long *types) {
    DEVICE_CALL(dev, FN_F_SUPPORTED_EVENTS, get_supported_events(&c, types));
}

static nvmlReturn_t register_events(ctx_t *c, unsigned long long types, nvmlEventSet_t set) {
    if (!set_valid(set) || types == 0) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m || (types & ~FN_EVENT_XID)) return NVML_ERROR_NOT_SUPPORTED;
    set->gpus |= 1u << c->gi;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t dev, unsigned long long types, nvmlEventSet_t set) {
    DEVICE_CALL(dev, FN_F_REGISTER_EVENTS, register_events(&c, types, set));
}

// The earliest due xid line not yet delivered to `set`: 1 and (*gpu, *k) when there
// is one; else 0 and *next_ms the time the next one falls due (UINT64_MAX: none).
static int next_event(const struct nvmlEventSet_st *set, uint64_t now, int *gpu, uint32_t *k, uint64_t *next_ms) {
    int found = 0;
    uint64_t best = UINT64_MAX;
    *next_ms = UINT64_MAX;
    for (uint32_t gi = 0; gi < g_sc->n_gpus && gi < FN_MAX_GPUS; gi++) {
        if (!(set->gpus & (1u << gi))) continue;
        const fn_gpu *g = &g_sc->gpus[gi];
        for (uint32_t i = 0; i < g->n_xid && i < FN_MAX_XID; i++) {
            if (set->delivered[gi] & (1ull << i)) continue;
            uint64_t at = g->xid[i].at_ms;
            if (at <= now) {
                if (!found || at < best) {
                    found = 1;
                    best = at;
                    *gpu = (int)gi;
                    *k = i;
                }
            } else if (at < *next_ms) {
                *next_ms = at;
            }
        }
    }
    return found;
}

// Waits at most `timeoutms` for an xid line of a registered GPU to fall due and
// delivers each line once per set. The lock is let go while waiting; the world
// is re-checked (reloads included) at least every 100 ms.
static nvmlReturn_t event_wait(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms, int v2) {
    pthread_once(&g_event_once, event_cond_init);
    pthread_mutex_lock(&g_mu);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    nvmlReturn_t r;
    for (;;) {
        if (!g_refs) {
            r = NVML_ERROR_UNINITIALIZED;
            break;
        }
        if (!set_valid(set) || !data) {
            r = NVML_ERROR_INVALID_ARGUMENT;
            break;
        }
        maybe_reload();
        uint64_t now = health_now_ms(), next_ms;
        int gpu = -1;
        uint32_t k = 0;
        if (next_event(set, now, &gpu, &k, &next_ms)) {
            const fn_xid *x = &g_sc->gpus[gpu].xid[k];
            set->delivered[gpu] |= 1ull << k;
            g_gpu_h[gpu].gpu = gpu;
            g_gpu_h[gpu].slot = -1;
            data->device = &g_gpu_h[gpu];
            data->eventType = FN_EVENT_XID;
            data->eventData = x->code;
            if (v2) {  // the v1 struct ends before the instance ids
                data->gpuInstanceId = x->gi;
                data->computeInstanceId = x->ci;
            }
            r = NVML_SUCCESS;
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t waited = ms_between(start, ts);
        if (waited >= (int64_t)timeoutms) {
            r = NVML_ERROR_TIMEOUT;
            break;
        }
        uint64_t sleep = (uint64_t)timeoutms - (uint64_t)waited;
        if (sleep > 100) sleep = 100;
        if (next_ms != UINT64_MAX && next_ms - now < sleep) sleep = next_ms - now;
        if (sleep == 0) sleep = 1;
        ts.tv_sec += (time_t)(sleep / 1000);
        ts.tv_nsec += (long)(sleep % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g_event_cond, &g_mu, &ts);
    }
    pthread_mutex_unlock(&g_mu);
    return r;
}

#ifndef FAKE_NVML_LEGACY
EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    return event_wait(set, data, timeoutms, 1);
}
#endif
EXPORT nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    return event_wait(set, data, timeoutms, 0);
}
