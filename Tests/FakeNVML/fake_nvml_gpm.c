// GPM calls of the fake NVML (support query, sample buffers, whole-GPU and MIG
// samples, metrics between two samples) and an energy counter that follows the
// power readings. Scenario keys: SCENARIO.md, "GPM and energy".
//
// Not compiled on its own: fake_nvml.c includes it at its end, so these calls
// share its call prologue (lock, handle resolution, reloads, `slow`, lost_after,
// error injection). The legacy build (an old driver) has none of the GPM symbols.

// ---------------------------------------------------------------------------
// Energy that follows power

// Run-time state per GPU index: microjoules counted, and when the counter was last read.
static uint64_t g_energy_uj[FN_MAX_GPUS];
static struct timespec g_energy_read[FN_MAX_GPUS];
static int g_energy_started[FN_MAX_GPUS];

// The counter of a GPU with `energy_follows_power`: its `energy` base plus, for each
// time between two counter reads, the power last returned by GetPowerUsage times
// that time. A real GPU's power reading is an average over the last second or so;
// here the reading stands for the whole time since the previous counter read.
static uint64_t energy_following_power(ctx_t *c) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int gi = c->gi;
    if (gi < 0 || gi >= FN_MAX_GPUS) return c->g->energy;
    if (g_energy_started[gi]) {
        uint64_t calls = c->rt->calls[FN_F_POWER], mw = 0;
        if (calls > 0) cyc(c->g, FN_C_POWER, calls - 1, &mw);
        int64_t us = (int64_t)(now.tv_sec - g_energy_read[gi].tv_sec) * 1000000 +
                     (now.tv_nsec - g_energy_read[gi].tv_nsec) / 1000;
        if (us > 0) g_energy_uj[gi] += mw * (uint64_t)us / 1000;  // mW * us = nJ; / 1000 = uJ
    }
    g_energy_started[gi] = 1;
    g_energy_read[gi] = now;
    return c->g->energy + g_energy_uj[gi] / 1000;
}

#ifndef FAKE_NVML_LEGACY
// ---------------------------------------------------------------------------
// GPM

struct nvmlGpmSample_st {
    uint32_t magic;   // FN_GPM_MAGIC while allocated
    int taken;
    int gpu;
    uint32_t gi;      // FN_GPM_WHOLE for a whole-GPU sample
    uint64_t seq;     // the k-th sample of its GPU or instance (1-based)
};
#define FN_GPM_MAGIC 0x67706d31u

// Samples taken so far, per GPU and per GPU instance id (the last slot: the whole GPU).
static uint64_t g_gpm_seq[FN_MAX_GPUS][FN_MAX_MIG + 1];

static nvmlReturn_t gpm_support(ctx_t *c, nvmlGpmSupport_t *s) {
    if (!s) return NVML_ERROR_INVALID_ARGUMENT;
    if (s->version != CNVML_GPM_SUPPORT_VERSION) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (c->m) return NVML_ERROR_NOT_SUPPORTED;
    s->isSupportedDevice = c->g->gpm_supported ? 1 : 0;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlGpmQueryDeviceSupport(nvmlDevice_t dev, nvmlGpmSupport_t *s) {
    DEVICE_CALL(dev, FN_F_GPM_SUPPORT, gpm_support(&c, s));
}

EXPORT nvmlReturn_t nvmlGpmSampleAlloc(nvmlGpmSample_t *sample) {
    if (!sample) return NVML_ERROR_INVALID_ARGUMENT;
    struct nvmlGpmSample_st *s = calloc(1, sizeof *s);
    if (!s) return NVML_ERROR_MEMORY;
    s->magic = FN_GPM_MAGIC;
    *sample = s;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlGpmSampleFree(nvmlGpmSample_t sample) {
    if (!sample || sample->magic != FN_GPM_MAGIC) return NVML_ERROR_INVALID_ARGUMENT;
    sample->magic = 0;
    free(sample);
    return NVML_SUCCESS;
}

// Slot of g_gpm_seq for a GPU instance id: the MIG slot whose instance it is, or -1.
static int gpm_instance_slot(const fn_gpu *g, uint32_t gi) {
    if (gi == FN_GPM_WHOLE) return FN_MAX_MIG;
    for (int i = 0; i < FN_MAX_MIG; i++)
        if (g->mig[i].present && g->mig[i].gi == gi) return i;
    return -1;
}

static nvmlReturn_t gpm_take(ctx_t *c, uint32_t gi, nvmlGpmSample_t sample) {
    if (!sample || sample->magic != FN_GPM_MAGIC) return NVML_ERROR_INVALID_ARGUMENT;
    if (c->m || !c->g->gpm_supported) return NVML_ERROR_NOT_SUPPORTED;
    if (gi != FN_GPM_WHOLE && c->g->mig_current != 1) return NVML_ERROR_INVALID_ARGUMENT;
    int slot = gpm_instance_slot(c->g, gi);
    if (slot < 0 || c->gi < 0 || c->gi >= FN_MAX_GPUS) return NVML_ERROR_NOT_FOUND;
    sample->taken = 1;
    sample->gpu = c->gi;
    sample->gi = gi;
    sample->seq = ++g_gpm_seq[c->gi][slot];
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlGpmSampleGet(nvmlDevice_t dev, nvmlGpmSample_t sample) {
    DEVICE_CALL(dev, FN_F_GPM_SAMPLE, gpm_take(&c, FN_GPM_WHOLE, sample));
}
EXPORT nvmlReturn_t nvmlGpmMigSampleGet(nvmlDevice_t dev, unsigned int gpuInstanceId, nvmlGpmSample_t sample) {
    DEVICE_CALL(dev, FN_F_GPM_SAMPLE, gpm_take(&c, gpuInstanceId == FN_GPM_WHOLE ? 0xFFFFFFFEu : gpuInstanceId, sample));
}

// The metrics between two samples of one GPU or instance, sample2 the later one:
// each metric the scenario gives cycles one value per pair (the n-th pair, by the
// later sample, gives the n-th value); a metric it does not give is NOT_SUPPORTED.
EXPORT nvmlReturn_t nvmlGpmMetricsGet(nvmlGpmMetricsGet_t *m) {
    if (!m) return NVML_ERROR_INVALID_ARGUMENT;
    if (m->version != CNVML_GPM_METRICS_GET_VERSION) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (m->numMetrics > 210) return NVML_ERROR_INVALID_ARGUMENT;  // NVML's own bound per call
    struct nvmlGpmSample_st *a = m->sample1, *b = m->sample2;
    if (!a || !b || a->magic != FN_GPM_MAGIC || b->magic != FN_GPM_MAGIC || !a->taken || !b->taken)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (a->gpu != b->gpu || a->gi != b->gi || b->seq <= a->seq) return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&g_mu);
    if (!g_refs) {
        pthread_mutex_unlock(&g_mu);
        return NVML_ERROR_UNINITIALIZED;
    }
    const fn_gpu *g = (b->gpu >= 0 && (uint32_t)b->gpu < g_sc->n_gpus) ? &g_sc->gpus[b->gpu] : NULL;
    for (unsigned i = 0; i < m->numMetrics; i++) {
        nvmlGpmMetric_t *out = &m->metrics[i];
        out->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
        out->value = 0;
        out->metricInfo.shortName = out->metricInfo.longName = out->metricInfo.unit = NULL;
        for (uint32_t k = 0; g && k < g->n_gpm && k < FN_MAX_GPM; k++) {
            const fn_gpm *s = &g->gpm[k];
            if (s->metric != out->metricId || s->gi != b->gi || s->milli.n == 0) continue;
            out->value = (double)s->milli.v[(b->seq - 2) % s->milli.n] / 1000.0;
            out->nvmlReturn = NVML_SUCCESS;
        }
    }
    pthread_mutex_unlock(&g_mu);
    return NVML_SUCCESS;
}
#endif
