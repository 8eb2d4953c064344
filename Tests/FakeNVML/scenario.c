// Scenario parser of the fake NVML library. Format: SCENARIO.md.
//
// Hostile-input rules: every count and length is bounded (scenario.h), numbers
// are parsed by hand with overflow checks, nothing is read past `len`, and the
// result is built in a private heap copy that reaches *out only on success.
#define _GNU_SOURCE
#include "scenario.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

// ---------------------------------------------------------------------------
// Names

static const struct {
    unsigned code;
    const char *name;
} k_codes[] = {
    {0, "SUCCESS"},
    {1, "UNINITIALIZED"},
    {2, "INVALID_ARGUMENT"},
    {3, "NOT_SUPPORTED"},
    {4, "NO_PERMISSION"},
    {5, "ALREADY_INITIALIZED"},
    {6, "NOT_FOUND"},
    {7, "INSUFFICIENT_SIZE"},
    {8, "INSUFFICIENT_POWER"},
    {9, "DRIVER_NOT_LOADED"},
    {10, "TIMEOUT"},
    {11, "IRQ_ISSUE"},
    {12, "LIBRARY_NOT_FOUND"},
    {13, "FUNCTION_NOT_FOUND"},
    {14, "CORRUPTED_INFOROM"},
    {15, "GPU_IS_LOST"},
    {16, "RESET_REQUIRED"},
    {17, "OPERATING_SYSTEM"},
    {18, "LIB_RM_VERSION_MISMATCH"},
    {19, "IN_USE"},
    {20, "MEMORY"},
    {21, "NO_DATA"},
    {22, "VGPU_ECC_NOT_ENABLED"},
    {23, "INSUFFICIENT_RESOURCES"},
    {24, "FREQ_NOT_SUPPORTED"},
    {25, "ARGUMENT_VERSION_MISMATCH"},
    {26, "DEPRECATED"},
    {27, "NOT_READY"},
    {28, "GPU_NOT_FOUND"},
    {29, "INVALID_STATE"},
    {999, "UNKNOWN"},
};

const char *fn_code_name(unsigned code) {
    for (size_t i = 0; i < sizeof k_codes / sizeof k_codes[0]; i++)
        if (k_codes[i].code == code) return k_codes[i].name;
    return "UNKNOWN";
}

int fn_code_parse(const char *name, unsigned *code) {
    if (strncasecmp(name, "NVML_ERROR_", 11) == 0) name += 11;
    else if (strncasecmp(name, "NVML_", 5) == 0) name += 5;  // NVML_SUCCESS
    for (size_t i = 0; i < sizeof k_codes / sizeof k_codes[0]; i++) {
        if (strcasecmp(k_codes[i].name, name) == 0) {
            *code = k_codes[i].code;
            return 0;
        }
    }
    return -1;
}

// Field names for `error` and `slow`: canonical names first (fn_field_name
// returns the first entry of a field), then aliases: the NVML function name
// without nvmlDevice/nvmlDeviceGet/nvmlSystemGet in lower snake case, and the
// scenario keys the call serves.
static const struct {
    const char *name;
    unsigned field;
} k_fields[] = {
    {"init", FN_F_INIT},
    {"count", FN_F_COUNT},
    {"driver_version", FN_F_DRIVER_VERSION},
    {"cuda_version", FN_F_CUDA_VERSION},
    {"handle_by_index", FN_F_HANDLE},
    {"index", FN_F_INDEX},
    {"name", FN_F_NAME},
    {"uuid", FN_F_UUID},
    {"pci", FN_F_PCI},
    {"util", FN_F_UTIL},
    {"memory", FN_F_MEMORY},
    {"temperature", FN_F_TEMPERATURE},
    {"fan", FN_F_FAN},
    {"clock_graphics", FN_F_CLOCK_GRAPHICS},
    {"clock_sm", FN_F_CLOCK_SM},
    {"clock_mem", FN_F_CLOCK_MEM},
    {"pstate", FN_F_PSTATE},
    {"power", FN_F_POWER},
    {"power_limit", FN_F_POWER_LIMIT},
    {"power_default", FN_F_POWER_DEFAULT},
    {"power_constraints", FN_F_POWER_CONSTRAINTS},
    {"energy", FN_F_ENERGY},
    {"persistence", FN_F_PERSISTENCE},
    {"compute_mode", FN_F_COMPUTE_MODE},
    {"encoder", FN_F_ENCODER},
    {"decoder", FN_F_DECODER},
    {"compute_processes", FN_F_COMPUTE_PROCS},
    {"graphics_processes", FN_F_GRAPHICS_PROCS},
    {"mps_processes", FN_F_MPS_PROCS},
    {"process_util", FN_F_PROCESS_UTIL},
    {"mig_mode", FN_F_MIG_MODE},
    {"mig_max", FN_F_MIG_MAX},
    {"mig_handle", FN_F_MIG_HANDLE},
    {"gpu_instance_id", FN_F_GPU_INSTANCE_ID},
    {"compute_instance_id", FN_F_COMPUTE_INSTANCE_ID},
    {"attributes", FN_F_ATTRIBUTES},
    {"is_mig_handle", FN_F_IS_MIG},
    {"set_power_limit", FN_F_SET_POWER_LIMIT},
    {"minor", FN_F_MINOR},
    // Aliases.
    {"device_count", FN_F_COUNT},
    {"driver", FN_F_DRIVER_VERSION},
    {"cuda", FN_F_CUDA_VERSION},
    {"cuda_driver_version", FN_F_CUDA_VERSION},
    {"handle", FN_F_HANDLE},
    {"pci_info", FN_F_PCI},
    {"utilization_rates", FN_F_UTIL},
    {"mem_util", FN_F_UTIL},
    {"memory_info", FN_F_MEMORY},
    {"memory_total", FN_F_MEMORY},
    {"memory_reserved", FN_F_MEMORY},
    {"memory_used", FN_F_MEMORY},
    {"fan_speed", FN_F_FAN},
    {"performance_state", FN_F_PSTATE},
    {"power_usage", FN_F_POWER},
    {"enforced_power_limit", FN_F_POWER_LIMIT},
    {"power_management_limit", FN_F_POWER_LIMIT},
    {"power_management_default_limit", FN_F_POWER_DEFAULT},
    {"power_management_limit_constraints", FN_F_POWER_CONSTRAINTS},
    {"power_min", FN_F_POWER_CONSTRAINTS},
    {"power_max", FN_F_POWER_CONSTRAINTS},
    {"total_energy_consumption", FN_F_ENERGY},
    {"persistence_mode", FN_F_PERSISTENCE},
    {"encoder_utilization", FN_F_ENCODER},
    {"decoder_utilization", FN_F_DECODER},
    {"compute_running_processes", FN_F_COMPUTE_PROCS},
    {"graphics_running_processes", FN_F_GRAPHICS_PROCS},
    {"mps_compute_running_processes", FN_F_MPS_PROCS},
    {"process_utilization", FN_F_PROCESS_UTIL},
    {"mig", FN_F_MIG_MODE},
    {"max_mig_device_count", FN_F_MIG_MAX},
    {"mig_device_handle_by_index", FN_F_MIG_HANDLE},
    {"mig_device", FN_F_MIG_HANDLE},
    {"attributes_v2", FN_F_ATTRIBUTES},
    {"is_mig_device_handle", FN_F_IS_MIG},
    {"set_power_management_limit", FN_F_SET_POWER_LIMIT},
    // GPU health: canonical names (the first entry of their field), then aliases.
    {"clocks_event_reasons", FN_F_CLOCKS_EVENT_REASONS},
    {"violation", FN_F_VIOLATION},
    {"ecc", FN_F_ECC},
    {"remapped_rows", FN_F_REMAPPED_ROWS},
    {"supported_event_types", FN_F_SUPPORTED_EVENTS},
    {"register_events", FN_F_REGISTER_EVENTS},
    {"throttle", FN_F_CLOCKS_EVENT_REASONS},
    {"current_clocks_event_reasons", FN_F_CLOCKS_EVENT_REASONS},
    {"current_clocks_throttle_reasons", FN_F_CLOCKS_EVENT_REASONS},
    {"violation_status", FN_F_VIOLATION},
    {"violation_power", FN_F_VIOLATION},
    {"total_ecc_errors", FN_F_ECC},
    {"ecc_volatile", FN_F_ECC},
    {"ecc_aggregate", FN_F_ECC},
    {"minor_number", FN_F_MINOR},
    // GPM.
    {"gpm_support", FN_F_GPM_SUPPORT},
    {"gpm_sample", FN_F_GPM_SAMPLE},
};

const char *fn_field_name(unsigned field) {
    for (size_t i = 0; i < sizeof k_fields / sizeof k_fields[0]; i++)
        if (k_fields[i].field == field) return k_fields[i].name;
    return "?";
}

// Every function the fake exports (the legacy build a subset), with the field whose
// counters it uses (FN_F_COUNT_ALL: none). `call_cost` names one of them, or a field,
// which stands for all of its functions.
static const struct {
    const char *name;
    unsigned field;
} k_functions[] = {
    {"nvmlInit_v2", FN_F_INIT},
    {"nvmlInit", FN_F_INIT},
    {"nvmlShutdown", FN_F_COUNT_ALL},
    {"nvmlSystemGetDriverVersion", FN_F_DRIVER_VERSION},
    {"nvmlSystemGetCudaDriverVersion_v2", FN_F_CUDA_VERSION},
    {"nvmlSystemGetCudaDriverVersion", FN_F_CUDA_VERSION},
    {"nvmlDeviceGetCount_v2", FN_F_COUNT},
    {"nvmlDeviceGetCount", FN_F_COUNT},
    {"nvmlDeviceGetHandleByIndex_v2", FN_F_HANDLE},
    {"nvmlDeviceGetHandleByIndex", FN_F_HANDLE},
    {"nvmlDeviceGetIndex", FN_F_INDEX},
    {"nvmlDeviceGetName", FN_F_NAME},
    {"nvmlDeviceGetUUID", FN_F_UUID},
    {"nvmlDeviceGetPciInfo_v3", FN_F_PCI},
    {"nvmlDeviceGetPciInfo_v2", FN_F_PCI},
    {"nvmlDeviceGetPciInfo", FN_F_PCI},
    {"nvmlDeviceGetUtilizationRates", FN_F_UTIL},
    {"nvmlDeviceGetMemoryInfo_v2", FN_F_MEMORY},
    {"nvmlDeviceGetMemoryInfo", FN_F_MEMORY},
    {"nvmlDeviceGetTemperature", FN_F_TEMPERATURE},
    {"nvmlDeviceGetFanSpeed", FN_F_FAN},
    {"nvmlDeviceGetClockInfo", FN_F_CLOCK_SM},  // all clock types
    {"nvmlDeviceGetPerformanceState", FN_F_PSTATE},
    {"nvmlDeviceGetPowerUsage", FN_F_POWER},
    {"nvmlDeviceGetEnforcedPowerLimit", FN_F_POWER_LIMIT},
    {"nvmlDeviceGetPowerManagementLimit", FN_F_POWER_LIMIT},
    {"nvmlDeviceGetPowerManagementDefaultLimit", FN_F_POWER_DEFAULT},
    {"nvmlDeviceGetPowerManagementLimitConstraints", FN_F_POWER_CONSTRAINTS},
    {"nvmlDeviceGetTotalEnergyConsumption", FN_F_ENERGY},
    {"nvmlDeviceGetPersistenceMode", FN_F_PERSISTENCE},
    {"nvmlDeviceGetComputeMode", FN_F_COMPUTE_MODE},
    {"nvmlDeviceGetEncoderUtilization", FN_F_ENCODER},
    {"nvmlDeviceGetDecoderUtilization", FN_F_DECODER},
    {"nvmlDeviceGetComputeRunningProcesses_v3", FN_F_COMPUTE_PROCS},
    {"nvmlDeviceGetComputeRunningProcesses_v2", FN_F_COMPUTE_PROCS},
    {"nvmlDeviceGetComputeRunningProcesses", FN_F_COMPUTE_PROCS},
    {"nvmlDeviceGetGraphicsRunningProcesses_v3", FN_F_GRAPHICS_PROCS},
    {"nvmlDeviceGetGraphicsRunningProcesses_v2", FN_F_GRAPHICS_PROCS},
    {"nvmlDeviceGetGraphicsRunningProcesses", FN_F_GRAPHICS_PROCS},
    {"nvmlDeviceGetMPSComputeRunningProcesses_v3", FN_F_MPS_PROCS},
    {"nvmlDeviceGetMPSComputeRunningProcesses_v2", FN_F_MPS_PROCS},
    {"nvmlDeviceGetMPSComputeRunningProcesses", FN_F_MPS_PROCS},
    {"nvmlDeviceGetProcessUtilization", FN_F_PROCESS_UTIL},
    {"nvmlDeviceGetMigMode", FN_F_MIG_MODE},
    {"nvmlDeviceGetMaxMigDeviceCount", FN_F_MIG_MAX},
    {"nvmlDeviceGetMigDeviceHandleByIndex", FN_F_MIG_HANDLE},
    {"nvmlDeviceGetGpuInstanceId", FN_F_GPU_INSTANCE_ID},
    {"nvmlDeviceGetComputeInstanceId", FN_F_COMPUTE_INSTANCE_ID},
    {"nvmlDeviceGetAttributes_v2", FN_F_ATTRIBUTES},
    {"nvmlDeviceIsMigDeviceHandle", FN_F_IS_MIG},
    {"nvmlDeviceSetPowerManagementLimit", FN_F_SET_POWER_LIMIT},
};
_Static_assert(sizeof k_functions / sizeof k_functions[0] <= FN_FUNCTIONS, "raise FN_FUNCTIONS");

int fn_function_index(const char *name) {
    for (size_t i = 0; i < sizeof k_functions / sizeof k_functions[0]; i++)
        if (strcmp(k_functions[i].name, name) == 0) return (int)i;
    return -1;
}

const char *fn_function_name(int index) {
    if (index < 0 || (size_t)index >= sizeof k_functions / sizeof k_functions[0]) return NULL;
    return k_functions[index].name;
}

static int field_parse(const char *name, unsigned *field) {
    for (size_t i = 0; i < sizeof k_fields / sizeof k_fields[0]; i++) {
        if (strcmp(k_fields[i].name, name) == 0) {
            *field = k_fields[i].field;
            return 0;
        }
    }
    return -1;
}

// ---------------------------------------------------------------------------
// Numbers

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decimal, or hex with 0x. Parses the first `n` bytes of s exactly.
static int parse_u64_n(const char *s, size_t n, uint64_t *out) {
    uint64_t v = 0;
    if (n == 0) return -1;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        for (size_t i = 2; i < n; i++) {
            int d = hexval(s[i]);
            if (d < 0 || v > (UINT64_MAX >> 4)) return -1;
            v = (v << 4) | (uint64_t)d;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9') return -1;
            uint64_t d = (uint64_t)(s[i] - '0');
            if (v > (UINT64_MAX - d) / 10) return -1;
            v = v * 10 + d;
        }
    }
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out) { return parse_u64_n(s, strlen(s), out); }

static int parse_u32_max(const char *s, uint32_t max, uint32_t *out) {
    uint64_t v;
    if (parse_u64(s, &v) != 0 || v > max) return -1;
    *out = (uint32_t)v;
    return 0;
}

// Bytes: a number with an optional unit (KiB MiB GiB TiB, KB MB GB TB, B).
static int parse_bytes(const char *s, uint64_t *out) {
    static const struct {
        const char *unit;
        uint64_t mul;
    } units[] = {
        {"B", 1ull},
        {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40},
        {"KB", 1000ull}, {"MB", 1000000ull}, {"GB", 1000000000ull}, {"TB", 1000000000000ull},
    };
    size_t n = strlen(s);
    size_t digits = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) return parse_u64(s, out);
    while (digits < n && s[digits] >= '0' && s[digits] <= '9') digits++;
    uint64_t v;
    if (parse_u64_n(s, digits, &v) != 0) return -1;
    if (digits == n) {
        *out = v;
        return 0;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(s + digits, units[i].unit) == 0) {
            if (v > UINT64_MAX / units[i].mul) return -1;
            *out = v * units[i].mul;
            return 0;
        }
    }
    return -1;
}

// [DOMAIN:]BUS:DEVICE.FUNCTION in hex (domain 1-8 digits, bus and device 1-2).
static int read_hex(const char **p, int maxdigits, uint32_t *out) {
    uint32_t v = 0;
    int n = 0;
    while (n < maxdigits && hexval(**p) >= 0) {
        v = (v << 4) | (uint32_t)hexval(**p);
        (*p)++;
        n++;
    }
    *out = v;
    return n;
}

static int parse_pci(const char *s, uint32_t *dom, uint32_t *bus, uint32_t *dev, uint32_t *fn) {
    int colons = 0;
    for (const char *q = s; *q; q++) colons += (*q == ':');
    const char *p = s;
    *dom = 0;
    if (colons == 2) {
        if (read_hex(&p, 8, dom) < 1 || *p != ':') return -1;
        p++;
    } else if (colons != 1) {
        return -1;
    }
    if (read_hex(&p, 2, bus) < 1 || *p != ':') return -1;
    p++;
    if (read_hex(&p, 2, dev) < 1 || *p != '.') return -1;
    p++;
    if (read_hex(&p, 1, fn) != 1 || *p != '\0') return -1;
    if (*dev > 0x1f || *fn > 7) return -1;
    return 0;
}

static void copy_trunc(char *dst, size_t size, const char *src, size_t n) {
    if (size == 0) return;
    if (n > size - 1) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void set_pci(fn_gpu *g, uint32_t dom, uint32_t bus, uint32_t dev, uint32_t fn) {
    char tmp[64];
    g->domain = dom;
    g->bus = bus;
    g->device = dev;
    g->function = fn;
    int n = snprintf(tmp, sizeof tmp, "%08X:%02X:%02X.%X", dom, bus, dev, fn);
    copy_trunc(g->bus_id, sizeof g->bus_id, tmp, n > 0 ? (size_t)n : 0);
    // Legacy form: 4-digit domain, as real NVML reports it; cut to the field's size.
    n = snprintf(tmp, sizeof tmp, "%04X:%02X:%02X.%X", dom, bus, dev, fn);
    copy_trunc(g->bus_id_legacy, sizeof g->bus_id_legacy, tmp, n > 0 ? (size_t)n : 0);
}

// ---------------------------------------------------------------------------
// Parser

typedef struct {
    const char *s;  // NUL-terminated, inside the line copy
    size_t off;     // offset in the raw line
    size_t len;
} tok_t;

typedef struct {
    fn_scenario *sc;
    fn_gpu *gpu;  // latest `gpu`, or NULL
    fn_parse_error *err;
    unsigned line;
    const char *raw;  // current line, NUL-terminated
    tok_t *t;
    int nt;
} parser_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(parser_t *P, const char *fmt, ...) {
    if (P->err) {
        va_list ap;
        va_start(ap, fmt);
        P->err->line = P->line;
        vsnprintf(P->err->msg, sizeof P->err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

// Quotes a token in messages, cut short so messages stay one short line.
#define QF "'%.40s'"

static int need_gpu(parser_t *P) {
    if (!P->gpu) return fail(P, QF " before any 'gpu' line", P->t[0].s);
    return 0;
}

static int need_args(parser_t *P, int min, int max) {
    int n = P->nt - 1;
    if (n < min) return fail(P, QF ": missing value", P->t[0].s);
    if (n > max) return fail(P, QF ": too many values", P->t[0].s);
    return 0;
}

static int bad_value(parser_t *P, const char *v) {
    return fail(P, "bad value " QF " for " QF, v, P->t[0].s);
}

// Text from token i to the end of the last token (comment excluded).
static void rest_of_line(parser_t *P, int i, size_t skip, const char **start, size_t *len) {
    size_t a = P->t[i].off + skip;
    size_t b = P->t[P->nt - 1].off + P->t[P->nt - 1].len;
    *start = P->raw + a;
    *len = b > a ? b - a : 0;
}

static int key_cycle(parser_t *P, unsigned which, uint64_t max, int bytes) {
    if (need_gpu(P) || need_args(P, 1, FN_MAX_VALUES)) return -1;
    fn_cycle c;
    memset(&c, 0, sizeof c);
    for (int i = 1; i < P->nt; i++) {
        uint64_t v;
        int bad = bytes ? parse_bytes(P->t[i].s, &v) : parse_u64(P->t[i].s, &v);
        if (bad || v > max) return bad_value(P, P->t[i].s);
        c.v[c.n++] = v;
    }
    P->gpu->cyc[which] = c;
    return 0;
}

static int key_u32(parser_t *P, uint32_t max, uint32_t *dst, uint32_t has) {
    if (need_gpu(P) || need_args(P, 1, 1)) return -1;
    if (parse_u32_max(P->t[1].s, max, dst) != 0) return bad_value(P, P->t[1].s);
    P->gpu->has |= has;
    return 0;
}

static int key_bytes(parser_t *P, uint64_t *dst, uint32_t has) {
    if (need_gpu(P) || need_args(P, 1, 1)) return -1;
    if (parse_bytes(P->t[1].s, dst) != 0) return bad_value(P, P->t[1].s);
    P->gpu->has |= has;
    return 0;
}

static int parse_code_arg(parser_t *P, const char *s, unsigned *code) {
    if (fn_code_parse(s, code) != 0) return fail(P, "unknown NVML error " QF, s);
    if (*code == 0) return fail(P, "SUCCESS is not an error");
    return 0;
}

static int split_attr(parser_t *P, int i, const char **key, size_t *klen, const char **val) {
    const char *s = P->t[i].s;
    const char *eq = strchr(s, '=');
    if (!eq || eq == s) return fail(P, "expected key=value, got " QF, s);
    *key = s;
    *klen = (size_t)(eq - s);
    *val = eq + 1;
    return 0;
}

static int attr_is(const char *key, size_t klen, const char *name) {
    return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

static int bad_attr(parser_t *P, const char *key, size_t klen, const char *val) {
    if (klen > 40) klen = 40;
    return fail(P, "bad value " QF " for '%.*s'", val, (int)klen, key);
}

static int key_mig_device(parser_t *P) {
    if (need_gpu(P)) return -1;
    fn_mig m;
    memset(&m, 0, sizeof m);
    int have_slot = 0;
    uint32_t slot = 0;
    for (int i = 1; i < P->nt; i++) {
        const char *k = NULL, *v = NULL;
        size_t kl = 0;
        if (split_attr(P, i, &k, &kl, &v)) return -1;
        if (attr_is(k, kl, "name")) {
            const char *start;
            size_t len;
            rest_of_line(P, i, kl + 1, &start, &len);
            if (len == 0) return fail(P, "mig_device: empty name");
            if (len >= FN_NAME_SIZE) return fail(P, "mig_device: name longer than %d bytes", FN_NAME_SIZE - 1);
            copy_trunc(m.name, sizeof m.name, start, len);
            break;  // name= takes the rest of the line
        }
        int bad = 0;
        if (attr_is(k, kl, "slot")) {
            bad = parse_u32_max(v, FN_MAX_MIG - 1, &slot);
            have_slot = 1;
        } else if (attr_is(k, kl, "gi")) bad = parse_u32_max(v, UINT32_MAX, &m.gi);
        else if (attr_is(k, kl, "ci")) bad = parse_u32_max(v, UINT32_MAX, &m.ci);
        else if (attr_is(k, kl, "slices")) bad = parse_u32_max(v, UINT32_MAX, &m.slices);
        else if (attr_is(k, kl, "ci_slices")) bad = parse_u32_max(v, UINT32_MAX, &m.ci_slices);
        else if (attr_is(k, kl, "sms")) bad = parse_u32_max(v, UINT32_MAX, &m.sms);
        else if (attr_is(k, kl, "memory")) bad = parse_bytes(v, &m.memory);
        else if (attr_is(k, kl, "used")) bad = parse_bytes(v, &m.used);
        else if (attr_is(k, kl, "uuid")) {
            size_t n = strlen(v);
            bad = (n == 0 || n >= FN_UUID_SIZE);
            if (!bad) copy_trunc(m.uuid, sizeof m.uuid, v, n);
        } else {
            if (kl > 40) kl = 40;
            return fail(P, "mig_device: unknown attribute '%.*s'", (int)kl, k);
        }
        if (bad) return bad_attr(P, k, kl, v);
    }
    if (!have_slot) return fail(P, "mig_device: slot= is required");
    m.present = 1;
    P->gpu->mig[slot] = m;
    return 0;
}

static int key_process(parser_t *P) {
    if (need_gpu(P)) return -1;
    if (P->nt < 2) return fail(P, "process: missing kind (compute, graphics or mps)");
    fn_process p;
    memset(&p, 0, sizeof p);
    const char *kind = P->t[1].s;
    if (strcmp(kind, "compute") == 0) p.kind = FN_PROC_COMPUTE;
    else if (strcmp(kind, "graphics") == 0) p.kind = FN_PROC_GRAPHICS;
    else if (strcmp(kind, "mps") == 0) p.kind = FN_PROC_MPS;
    else return fail(P, "process: bad kind " QF " (compute, graphics or mps)", kind);
    p.gi = 0xFFFFFFFFu;
    p.ci = 0xFFFFFFFFu;
    p.mem = FN_VALUE_NA;
    int have_pid = 0;
    for (int i = 2; i < P->nt; i++) {
        const char *k = NULL, *v = NULL;
        size_t kl = 0;
        if (split_attr(P, i, &k, &kl, &v)) return -1;
        int bad = 0;
        if (attr_is(k, kl, "pid")) {
            bad = parse_u32_max(v, UINT32_MAX, &p.pid);
            have_pid = 1;
        } else if (attr_is(k, kl, "mem")) {
            if (strcmp(v, "na") == 0) p.mem = FN_VALUE_NA;
            else bad = parse_bytes(v, &p.mem);
        } else if (attr_is(k, kl, "gi")) bad = parse_u32_max(v, UINT32_MAX, &p.gi);
        else if (attr_is(k, kl, "ci")) bad = parse_u32_max(v, UINT32_MAX, &p.ci);
        else if (attr_is(k, kl, "sm")) { bad = parse_u32_max(v, UINT32_MAX, &p.sm); p.has_util = 1; }
        else if (attr_is(k, kl, "memutil")) { bad = parse_u32_max(v, UINT32_MAX, &p.memutil); p.has_util = 1; }
        else if (attr_is(k, kl, "enc")) { bad = parse_u32_max(v, UINT32_MAX, &p.enc); p.has_util = 1; }
        else if (attr_is(k, kl, "dec")) { bad = parse_u32_max(v, UINT32_MAX, &p.dec); p.has_util = 1; }
        else {
            if (kl > 40) kl = 40;
            return fail(P, "process: unknown attribute '%.*s'", (int)kl, k);
        }
        if (bad) return bad_attr(P, k, kl, v);
    }
    if (!have_pid) return fail(P, "process: pid= is required");
    if (P->gpu->n_procs >= FN_MAX_PROCS) return fail(P, "too many processes on one gpu (max %d)", FN_MAX_PROCS);
    P->gpu->procs[P->gpu->n_procs++] = p;
    return 0;
}

static int key_error(parser_t *P) {
    if (P->nt < 3) return fail(P, "error: expected 'error FIELD CODE [after=N] [times=M]'");
    unsigned field, code;
    if (field_parse(P->t[1].s, &field) != 0) return fail(P, "error: unknown field " QF, P->t[1].s);
    if (parse_code_arg(P, P->t[2].s, &code)) return -1;
    fn_error e = {field, code, 0, FN_FOREVER};
    for (int i = 3; i < P->nt; i++) {
        const char *k = NULL, *v = NULL;
        size_t kl = 0;
        if (split_attr(P, i, &k, &kl, &v)) return -1;
        int bad;
        if (attr_is(k, kl, "after")) bad = parse_u64(v, &e.after);
        else if (attr_is(k, kl, "times")) bad = parse_u64(v, &e.times) || e.times == FN_FOREVER;
        else {
            if (kl > 40) kl = 40;
            return fail(P, "error: unknown attribute '%.*s'", (int)kl, k);
        }
        if (bad) return bad_attr(P, k, kl, v);
    }
    uint32_t *n;
    fn_error *arr;
    if (field < FN_F_GLOBAL_END) {
        n = &P->sc->n_errors;
        arr = P->sc->errors;
    } else {
        if (!P->gpu) return fail(P, "error %.40s: per-gpu field before any 'gpu' line", P->t[1].s);
        n = &P->gpu->n_errors;
        arr = P->gpu->errors;
    }
    if (*n >= FN_MAX_ERRORS) return fail(P, "too many error lines (max %d per gpu)", FN_MAX_ERRORS);
    arr[(*n)++] = e;
    return 0;
}

static int key_slow(parser_t *P) {
    if (need_args(P, 2, 2)) return -1;
    unsigned field;
    uint32_t ms;
    if (field_parse(P->t[1].s, &field) != 0) return fail(P, "slow: unknown field " QF, P->t[1].s);
    if (parse_u32_max(P->t[2].s, FN_MAX_SLOW_MS, &ms) != 0) return bad_value(P, P->t[2].s);
    if (field < FN_F_GLOBAL_END) {
        P->sc->slow_ms[field] = ms;
    } else {
        if (!P->gpu) return fail(P, "slow %.40s: per-gpu field before any 'gpu' line", P->t[1].s);
        P->gpu->slow_ms[field] = ms;
    }
    return 0;
}

static int health_key(parser_t *P, const char *key);  // GPU health keys, at the end of this file
static int gpm_key(parser_t *P, const char *key);     // GPM and energy keys, after them
// `call_cost NAME COST`: NAME an exported function or a field (all of its functions),
// COST digits with ns, us or ms. Global: it applies on every GPU.
static int key_call_cost(parser_t *P) {
    if (need_args(P, 2, 2)) return -1;
    const char *name = P->t[1].s, *cost = P->t[2].s;
    size_t n = strlen(cost), digits = 0;
    while (digits < n && cost[digits] >= '0' && cost[digits] <= '9') digits++;
    uint64_t v, mul = 0;
    if (strcmp(cost + digits, "ns") == 0) mul = 1;
    else if (strcmp(cost + digits, "us") == 0) mul = 1000;
    else if (strcmp(cost + digits, "ms") == 0) mul = 1000000;
    if (mul == 0 || parse_u64_n(cost, digits, &v) != 0 || v > FN_MAX_CALL_COST_NS / mul) return bad_value(P, cost);
    int index = fn_function_index(name);
    unsigned field;
    if (index >= 0) {
        P->sc->call_cost_ns[index] = v * mul;
    } else if (field_parse(name, &field) == 0) {
        if (field == FN_F_CLOCK_GRAPHICS || field == FN_F_CLOCK_MEM) field = FN_F_CLOCK_SM;  // one function
        for (size_t i = 0; i < sizeof k_functions / sizeof k_functions[0]; i++)
            if (k_functions[i].field == field) P->sc->call_cost_ns[i] = v * mul;
    } else {
        return fail(P, "call_cost: unknown function or field " QF, name);
    }
    P->sc->has_call_cost = 1;
    return 0;
}

static int parse_line(parser_t *P) {
    const char *key = P->t[0].s;
    fn_gpu *g = P->gpu;

    // Global keys.
    if (strcmp(key, "gpu") == 0) {
        if (need_args(P, 0, 0)) return -1;
        if (P->sc->n_gpus >= FN_MAX_GPUS) return fail(P, "too many gpus (max %d)", FN_MAX_GPUS);
        P->gpu = &P->sc->gpus[P->sc->n_gpus++];
        return 0;
    }
    if (strcmp(key, "driver") == 0) {
        if (need_args(P, 1, 1)) return -1;
        size_t n = P->t[1].len;
        if (n >= FN_DRIVER_SIZE) return fail(P, "driver: longer than %d bytes", FN_DRIVER_SIZE - 1);
        copy_trunc(P->sc->driver, sizeof P->sc->driver, P->t[1].s, n);
        return 0;
    }
    if (strcmp(key, "cuda") == 0) {
        uint32_t v;
        if (need_args(P, 1, 1)) return -1;
        if (parse_u32_max(P->t[1].s, INT32_MAX, &v) != 0) return bad_value(P, P->t[1].s);
        P->sc->cuda = (int)v;
        return 0;
    }
    if (strcmp(key, "init_error") == 0) {
        unsigned code;
        if (need_args(P, 1, 1) || parse_code_arg(P, P->t[1].s, &code)) return -1;
        P->sc->init_error = code;
        return 0;
    }
    if (strcmp(key, "error") == 0) return key_error(P);
    if (strcmp(key, "slow") == 0) return key_slow(P);
    if (strcmp(key, "call_cost") == 0) return key_call_cost(P);

    // Per-GPU keys.
    if (strcmp(key, "name") == 0) {
        if (need_gpu(P) || need_args(P, 1, FN_MAX_TOKENS)) return -1;
        const char *start;
        size_t len;
        rest_of_line(P, 1, 0, &start, &len);
        if (len >= FN_NAME_SIZE) return fail(P, "name: longer than %d bytes", FN_NAME_SIZE - 1);
        copy_trunc(g->name, sizeof g->name, start, len);
        return 0;
    }
    if (strcmp(key, "uuid") == 0) {
        if (need_gpu(P) || need_args(P, 1, 1)) return -1;
        if (P->t[1].len >= FN_UUID_SIZE) return fail(P, "uuid: longer than %d bytes", FN_UUID_SIZE - 1);
        copy_trunc(g->uuid, sizeof g->uuid, P->t[1].s, P->t[1].len);
        return 0;
    }
    if (strcmp(key, "pci") == 0) {
        uint32_t d, b, v, f;
        if (need_gpu(P) || need_args(P, 1, 3)) return -1;
        if (parse_pci(P->t[1].s, &d, &b, &v, &f) != 0) return bad_value(P, P->t[1].s);
        if (P->nt > 2 && parse_u32_max(P->t[2].s, UINT32_MAX, &g->pci_device_id) != 0)
            return bad_value(P, P->t[2].s);
        if (P->nt > 3 && parse_u32_max(P->t[3].s, UINT32_MAX, &g->pci_subsystem_id) != 0)
            return bad_value(P, P->t[3].s);
        set_pci(g, d, b, v, f);
        return 0;
    }
    if (strcmp(key, "util") == 0) return key_cycle(P, FN_C_UTIL, UINT32_MAX, 0);
    if (strcmp(key, "mem_util") == 0) return key_cycle(P, FN_C_MEM_UTIL, UINT32_MAX, 0);
    if (strcmp(key, "memory_used") == 0) return key_cycle(P, FN_C_MEMORY_USED, UINT64_MAX, 1);
    if (strcmp(key, "temperature") == 0) return key_cycle(P, FN_C_TEMPERATURE, UINT32_MAX, 0);
    if (strcmp(key, "fan") == 0) return key_cycle(P, FN_C_FAN, UINT32_MAX, 0);
    if (strcmp(key, "clock_graphics") == 0) return key_cycle(P, FN_C_CLOCK_GRAPHICS, UINT32_MAX, 0);
    if (strcmp(key, "clock_sm") == 0) return key_cycle(P, FN_C_CLOCK_SM, UINT32_MAX, 0);
    if (strcmp(key, "clock_mem") == 0) return key_cycle(P, FN_C_CLOCK_MEM, UINT32_MAX, 0);
    if (strcmp(key, "pstate") == 0) return key_cycle(P, FN_C_PSTATE, 32, 0);
    if (strcmp(key, "power") == 0) return key_cycle(P, FN_C_POWER, UINT32_MAX, 0);
    if (strcmp(key, "encoder") == 0) return key_cycle(P, FN_C_ENCODER, UINT32_MAX, 0);
    if (strcmp(key, "decoder") == 0) return key_cycle(P, FN_C_DECODER, UINT32_MAX, 0);
    if (strcmp(key, "memory_total") == 0) return key_bytes(P, g ? &g->memory_total : NULL, FN_HAS_MEMORY_TOTAL);
    if (strcmp(key, "memory_reserved") == 0) return key_bytes(P, g ? &g->memory_reserved : NULL, 0);
    if (strcmp(key, "power_limit") == 0) return key_u32(P, UINT32_MAX, g ? &g->power_limit : NULL, FN_HAS_POWER_LIMIT);
    if (strcmp(key, "power_default") == 0)
        return key_u32(P, UINT32_MAX, g ? &g->power_default : NULL, FN_HAS_POWER_DEFAULT);
    if (strcmp(key, "power_min") == 0) return key_u32(P, UINT32_MAX, g ? &g->power_min : NULL, FN_HAS_POWER_MIN);
    if (strcmp(key, "power_max") == 0) return key_u32(P, UINT32_MAX, g ? &g->power_max : NULL, FN_HAS_POWER_MAX);
    if (strcmp(key, "persistence") == 0) return key_u32(P, 1, g ? &g->persistence : NULL, FN_HAS_PERSISTENCE);
    if (strcmp(key, "compute_mode") == 0) return key_u32(P, 3, g ? &g->compute_mode : NULL, FN_HAS_COMPUTE_MODE);
    if (strcmp(key, "mig_max") == 0) return key_u32(P, FN_MAX_MIG, g ? &g->mig_max : NULL, FN_HAS_MIG_MAX);
    if (strcmp(key, "sms") == 0) return key_u32(P, UINT32_MAX, g ? &g->sms : NULL, FN_HAS_SMS);
    // 255 is /dev/nvidiactl's minor: no GPU has it.
    if (strcmp(key, "minor") == 0) return key_u32(P, 254, g ? &g->minor : NULL, FN_HAS_MINOR);
    if (strcmp(key, "process_util_min") == 0)
        return key_u32(P, FN_MAX_PROCESS_UTIL_MIN, g ? &g->process_util_min : NULL, 0);
    if (strcmp(key, "process_growth") == 0) return key_u32(P, 64, g ? &g->process_growth : NULL, 0);
    if (strcmp(key, "energy") == 0) {
        if (need_gpu(P) || need_args(P, 1, 2)) return -1;
        uint64_t e, s = 0;
        if (parse_u64(P->t[1].s, &e) != 0) return bad_value(P, P->t[1].s);
        if (P->nt > 2 && parse_u64(P->t[2].s, &s) != 0) return bad_value(P, P->t[2].s);
        g->energy = e;
        g->energy_step = s;
        g->has |= FN_HAS_ENERGY;
        return 0;
    }
    if (strcmp(key, "mig") == 0) {
        uint32_t cur, pend;
        if (need_gpu(P) || need_args(P, 1, 2)) return -1;
        if (parse_u32_max(P->t[1].s, 1, &cur) != 0) return bad_value(P, P->t[1].s);
        pend = cur;
        if (P->nt > 2 && parse_u32_max(P->t[2].s, 1, &pend) != 0) return bad_value(P, P->t[2].s);
        g->mig_current = cur;
        g->mig_pending = pend;
        g->has |= FN_HAS_MIG;
        return 0;
    }
    if (strcmp(key, "mig_device") == 0) return key_mig_device(P);
    if (strcmp(key, "process") == 0) return key_process(P);
    if (strcmp(key, "growth_pids") == 0) {
        if (need_gpu(P) || need_args(P, 1, FN_MAX_GROWTH_PIDS)) return -1;
        uint32_t pids[FN_MAX_GROWTH_PIDS];
        for (int i = 1; i < P->nt; i++)
            if (parse_u32_max(P->t[i].s, UINT32_MAX, &pids[i - 1]) != 0) return bad_value(P, P->t[i].s);
        g->n_growth_pids = (uint32_t)(P->nt - 1);
        memcpy(g->growth_pids, pids, sizeof(uint32_t) * g->n_growth_pids);
        return 0;
    }
    if (strcmp(key, "lost_after") == 0) {
        uint64_t v;
        if (need_gpu(P) || need_args(P, 1, 1)) return -1;
        if (parse_u64(P->t[1].s, &v) != 0) return bad_value(P, P->t[1].s);
        g->lost_after = v;
        g->has |= FN_HAS_LOST_AFTER;
        return 0;
    }
    int health = health_key(P, key);  // 0 done, -1 failed, 1 not a health key
    if (health != 1) return health;
    int gpm = gpm_key(P, key);  // the same for GPM and energy keys
    if (gpm != 1) return gpm;
    return fail(P, "unknown key " QF, key);
}

// Defaults for what the scenario left out.
static void finalize(fn_scenario *sc) {
    char tmp[256];
    int n;
    if (sc->driver[0] == '\0') copy_trunc(sc->driver, sizeof sc->driver, "580.95.05", 9);
    for (uint32_t i = 0; i < sc->n_gpus; i++) {
        fn_gpu *g = &sc->gpus[i];
        if (g->name[0] == '\0') copy_trunc(g->name, sizeof g->name, "NVIDIA Fake GPU", 15);
        if (g->uuid[0] == '\0') {
            n = snprintf(tmp, sizeof tmp, "GPU-00000000-0000-0000-0000-%012X", i);
            copy_trunc(g->uuid, sizeof g->uuid, tmp, n > 0 ? (size_t)n : 0);
        }
        if (g->bus_id[0] == '\0') set_pci(g, 0, i + 1, 0, 0);
        for (uint32_t s = 0; s < FN_MAX_MIG; s++) {
            fn_mig *m = &g->mig[s];
            if (!m->present) continue;
            if (m->uuid[0] == '\0') {
                n = snprintf(tmp, sizeof tmp, "MIG-00000000-0000-0000-%04X-%012X", i, s);
                copy_trunc(m->uuid, sizeof m->uuid, tmp, n > 0 ? (size_t)n : 0);
            }
            if (m->name[0] == '\0') {
                unsigned long long gb = (unsigned long long)((m->memory >> 30) + ((m->memory >> 29) & 1));
                n = snprintf(tmp, sizeof tmp, "%s MIG %ug.%llugb", g->name, m->slices, gb);
                copy_trunc(m->name, sizeof m->name, tmp, n > 0 ? (size_t)n : 0);
            }
        }
    }
}

fn_scenario *fake_nvml_parse_scenario_alloc(const char *text, size_t len, fn_parse_error *err) {
    if (err) {
        err->line = 0;
        err->msg[0] = '\0';
    }
    if (!text && len > 0) {
        if (err) snprintf(err->msg, sizeof err->msg, "no scenario");
        return NULL;
    }
    if (len > FN_MAX_FILE_BYTES) {
        if (err) snprintf(err->msg, sizeof err->msg, "scenario larger than %u bytes", FN_MAX_FILE_BYTES);
        return NULL;
    }
    fn_scenario *sc = calloc(1, sizeof *sc);
    // The line copies and tokens live on the heap too: this may run on a small
    // thread stack inside a host process.
    char *raw = malloc(2 * (FN_MAX_LINE + 1));
    tok_t *toks = malloc(sizeof(tok_t) * FN_MAX_TOKENS);
    if (!sc || !raw || !toks) {
        free(sc);
        free(raw);
        free(toks);
        if (err) snprintf(err->msg, sizeof err->msg, "out of memory");
        return NULL;
    }
    char *buf = raw + FN_MAX_LINE + 1;
    sc->cuda = 13000;
    parser_t P = {sc, NULL, err, 0, raw, toks, 0};
    int rc = 0;
    size_t pos = 0;
    while (pos < len && rc == 0) {
        P.line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t n = end - pos;
        if (n > FN_MAX_LINE) {
            rc = fail(&P, "line longer than %d bytes", FN_MAX_LINE);
            break;
        }
        memcpy(raw, text + pos, n);
        pos = nl ? end + 1 : len;
        if (n > 0 && raw[n - 1] == '\r') n--;
        raw[n] = '\0';
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)raw[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                rc = fail(&P, "control character 0x%02x", c);
                break;
            }
        }
        if (rc) break;
        memcpy(buf, raw, n + 1);
        P.nt = 0;
        size_t i = 0;
        while (i < n) {
            while (i < n && (buf[i] == ' ' || buf[i] == '\t')) i++;
            if (i >= n || buf[i] == '#') break;
            if (P.nt >= FN_MAX_TOKENS) {
                rc = fail(&P, "more than %d tokens", FN_MAX_TOKENS);
                break;
            }
            size_t st = i;
            while (i < n && buf[i] != ' ' && buf[i] != '\t') i++;
            buf[i] = '\0';  // i <= n, and buf has room for the terminator at n
            toks[P.nt].s = buf + st;
            toks[P.nt].off = st;
            toks[P.nt].len = i - st;
            P.nt++;
            i++;
        }
        if (rc || P.nt == 0) continue;
        rc = parse_line(&P);
    }
    free(raw);
    free(toks);
    if (rc != 0) {
        free(sc);
        return NULL;
    }
    finalize(sc);
    return sc;
}

int fake_nvml_parse_scenario(const char *text, size_t len, fn_scenario *out, fn_parse_error *err) {
    if (!out) {
        if (err) {
            err->line = 0;
            snprintf(err->msg, sizeof err->msg, "no scenario");
        }
        return -1;
    }
    fn_scenario *sc = fake_nvml_parse_scenario_alloc(text, len, err);
    if (!sc) return -1;
    memcpy(out, sc, sizeof *sc);
    free(sc);
    return 0;
}

// ---------------------------------------------------------------------------
// GPU health keys (SCENARIO.md, "GPU health")

// A duration: N (seconds), Ns or Nms; at most FN_MAX_AT_MS.
static int parse_at_ms(const char *s, uint64_t *ms) {
    size_t n = strlen(s);
    uint64_t mul = 1000;
    if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
        n -= 2;
        mul = 1;
    } else if (n > 1 && s[n - 1] == 's') {
        n -= 1;
    }
    uint64_t v;
    if (parse_u64_n(s, n, &v) != 0 || v > FN_MAX_AT_MS / mul) return -1;
    *ms = v * mul;
    return 0;
}

// A clock event reasons mask: a number, `none`, or names joined by commas.
static int parse_reasons(const char *s, uint64_t *mask) {
    static const struct {
        const char *name;
        uint64_t bit;
    } names[] = {
        {"idle", 0x1}, {"app_clocks", 0x2}, {"power_cap", 0x4}, {"hw_slowdown", 0x8}, {"sync_boost", 0x10},
        {"thermal", 0x20}, {"hw_thermal", 0x40}, {"power_brake", 0x80}, {"display_clocks", 0x100},
    };
    if (s[0] >= '0' && s[0] <= '9') return parse_u64(s, mask);
    *mask = 0;
    if (strcmp(s, "none") == 0) return 0;
    const char *p = s;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int found = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0] && !found; i++) {
            if (strlen(names[i].name) == len && memcmp(names[i].name, p, len) == 0) {
                *mask |= names[i].bit;
                found = 1;
            }
        }
        if (!found) return -1;
        if (!comma) break;
        p = comma + 1;
        if (!*p) return -1;  // a trailing comma
    }
    return 0;
}

// `KEY VALUE [at=T]` into a timed list.
static int key_timed(parser_t *P, fn_timed *list, uint32_t *n, uint32_t has, int reasons) {
    if (need_gpu(P) || need_args(P, 1, 2)) return -1;
    fn_timed t = {0, 0};
    int bad = reasons ? parse_reasons(P->t[1].s, &t.v) : parse_u64(P->t[1].s, &t.v);
    if (bad) return bad_value(P, P->t[1].s);
    if (P->nt > 2) {
        const char *k = NULL, *v = NULL;
        size_t kl = 0;
        if (split_attr(P, 2, &k, &kl, &v)) return -1;
        if (!attr_is(k, kl, "at")) {
            if (kl > 40) kl = 40;
            return fail(P, QF ": unknown attribute '%.*s'", P->t[0].s, (int)kl, k);
        }
        if (parse_at_ms(v, &t.at_ms) != 0) return bad_attr(P, k, kl, v);
    }
    if (*n >= FN_MAX_TIMED) return fail(P, QF ": more than %d lines on one gpu", P->t[0].s, FN_MAX_TIMED);
    list[(*n)++] = t;
    P->gpu->health_has |= has;
    return 0;
}

static int key_remapped_rows(parser_t *P) {
    if (need_gpu(P)) return -1;
    fn_remap r;
    memset(&r, 0, sizeof r);
    for (int i = 1; i < P->nt; i++) {
        const char *k = NULL, *v = NULL;
        size_t kl = 0;
        if (split_attr(P, i, &k, &kl, &v)) return -1;
        int bad;
        if (attr_is(k, kl, "corr")) bad = parse_u32_max(v, UINT32_MAX, &r.corr);
        else if (attr_is(k, kl, "unc")) bad = parse_u32_max(v, UINT32_MAX, &r.unc);
        else if (attr_is(k, kl, "pending")) bad = parse_u32_max(v, 1, &r.pending);
        else if (attr_is(k, kl, "failure")) bad = parse_u32_max(v, 1, &r.failure);
        else if (attr_is(k, kl, "at")) bad = parse_at_ms(v, &r.at_ms);
        else {
            if (kl > 40) kl = 40;
            return fail(P, "remapped_rows: unknown attribute '%.*s'", (int)kl, k);
        }
        if (bad) return bad_attr(P, k, kl, v);
    }
    if (P->gpu->n_remap >= FN_MAX_TIMED) return fail(P, "remapped_rows: more than %d lines on one gpu", FN_MAX_TIMED);
    P->gpu->remap[P->gpu->n_remap++] = r;
    P->gpu->health_has |= FN_HEALTH_REMAP;
    return 0;
}

static int key_xid(parser_t *P) {
    if (need_gpu(P)) return -1;
    fn_xid x = {0, 0, 0xFFFFFFFFu, 0xFFFFFFFFu};
    int have_code = 0;
    for (int i = 1; i < P->nt; i++) {
        const char *k = NULL, *v = NULL;
        size_t kl = 0;
        if (split_attr(P, i, &k, &kl, &v)) return -1;
        int bad;
        if (attr_is(k, kl, "code")) {
            bad = parse_u64(v, &x.code);
            have_code = 1;
        } else if (attr_is(k, kl, "at")) bad = parse_at_ms(v, &x.at_ms);
        else if (attr_is(k, kl, "gi")) bad = parse_u32_max(v, UINT32_MAX, &x.gi);
        else if (attr_is(k, kl, "ci")) bad = parse_u32_max(v, UINT32_MAX, &x.ci);
        else {
            if (kl > 40) kl = 40;
            return fail(P, "xid: unknown attribute '%.*s'", (int)kl, k);
        }
        if (bad) return bad_attr(P, k, kl, v);
    }
    if (!have_code) return fail(P, "xid: code= is required");
    if (P->gpu->n_xid >= FN_MAX_XID) return fail(P, "xid: more than %d lines on one gpu", FN_MAX_XID);
    P->gpu->xid[P->gpu->n_xid++] = x;
    return 0;
}

static int health_key(parser_t *P, const char *key) {
    fn_gpu *g = P->gpu;
    if (strcmp(key, "clocks_event_reasons") == 0 || strcmp(key, "throttle") == 0)
        return g ? key_timed(P, g->reasons, &g->n_reasons, FN_HEALTH_REASONS, 1) : need_gpu(P);
    if (strcmp(key, "ecc_volatile") == 0)
        return g ? key_timed(P, g->ecc_volatile, &g->n_ecc_volatile, FN_HEALTH_ECC_VOLATILE, 0) : need_gpu(P);
    if (strcmp(key, "ecc_aggregate") == 0)
        return g ? key_timed(P, g->ecc_aggregate, &g->n_ecc_aggregate, FN_HEALTH_ECC_AGGREGATE, 0) : need_gpu(P);
    if (strcmp(key, "violation_power") == 0) {
        if (need_gpu(P) || need_args(P, 1, 1)) return -1;
        if (parse_u64(P->t[1].s, &g->violation_power) != 0) return bad_value(P, P->t[1].s);
        g->health_has |= FN_HEALTH_VIOLATION;
        return 0;
    }
    if (strcmp(key, "remapped_rows") == 0) return key_remapped_rows(P);
    if (strcmp(key, "xid") == 0) return key_xid(P);
    return 1;
}

// ---------------------------------------------------------------------------
// GPM and energy keys (SCENARIO.md, "GPM and energy")

// A non-negative decimal ("45", "45.25") in thousandths; at most three decimals.
static int parse_milli(const char *s, uint64_t *out) {
    const char *dot = strchr(s, '.');
    size_t whole = dot ? (size_t)(dot - s) : strlen(s);
    uint64_t w = 0, frac = 0;
    if (whole == 0 || parse_u64_n(s, whole, &w) != 0 || w > UINT64_MAX / 1000) return -1;
    if (dot) {
        size_t n = strlen(dot + 1);
        if (n == 0 || n > 3 || parse_u64_n(dot + 1, n, &frac) != 0) return -1;
        for (size_t i = n; i < 3; i++) frac *= 10;
    }
    *out = w * 1000 + frac;
    return 0;
}

static int gpm_metric_id(const char *s, uint32_t *id) {
    static const struct {
        const char *name;
        uint32_t id;
    } names[] = {
        {"graphics_util", 1}, {"sm_util", 2}, {"sm_active", 2}, {"sm_occupancy", 3}, {"integer_util", 4},
        {"any_tensor_util", 5}, {"tensor", 5}, {"dram_bw_util", 10}, {"dram", 10}, {"fp64_util", 11},
        {"fp32_util", 12}, {"fp16_util", 13}, {"pcie_tx", 20}, {"pcie_rx", 21}, {"nvlink_rx", 60}, {"nvlink_tx", 61},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(names[i].name, s) == 0) {
            *id = names[i].id;
            return 0;
        }
    }
    return parse_u32_max(s, 1000, id);
}

// `gpm METRIC V...` (whole GPU) and `mig_gpm GI METRIC V...`.
static int key_gpm(parser_t *P, int mig) {
    if (need_gpu(P) || need_args(P, mig ? 3 : 2, FN_MAX_VALUES + (mig ? 2 : 1))) return -1;
    fn_gpm m;
    memset(&m, 0, sizeof m);
    m.gi = FN_GPM_WHOLE;
    int at = 1;
    if (mig && parse_u32_max(P->t[at++].s, 0xFFFFFFFEu, &m.gi) != 0) return bad_value(P, P->t[1].s);
    if (gpm_metric_id(P->t[at].s, &m.metric) != 0) return fail(P, QF ": unknown metric " QF, P->t[0].s, P->t[at].s);
    at++;
    for (int i = at; i < P->nt; i++)
        if (parse_milli(P->t[i].s, &m.milli.v[m.milli.n++]) != 0) return bad_value(P, P->t[i].s);
    if (P->gpu->n_gpm >= FN_MAX_GPM) return fail(P, QF ": more than %d lines on one gpu", P->t[0].s, FN_MAX_GPM);
    P->gpu->gpm[P->gpu->n_gpm++] = m;
    P->gpu->gpm_supported = 1;
    return 0;
}

static int gpm_key(parser_t *P, const char *key) {
    if (strcmp(key, "gpm_supported") == 0) {
        uint32_t v;
        if (need_gpu(P) || need_args(P, 1, 1)) return -1;
        if (parse_u32_max(P->t[1].s, 1, &v) != 0) return bad_value(P, P->t[1].s);
        P->gpu->gpm_supported = v;
        return 0;
    }
    if (strcmp(key, "gpm") == 0) return key_gpm(P, 0);
    if (strcmp(key, "mig_gpm") == 0) return key_gpm(P, 1);
    if (strcmp(key, "energy_follows_power") == 0) {
        if (need_gpu(P) || need_args(P, 0, 0)) return -1;
        P->gpu->energy_follows_power = 1;
        return 0;
    }
    return 1;
}
