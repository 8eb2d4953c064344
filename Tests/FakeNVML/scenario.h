// Scenario model and parser of the fake NVML library (see SCENARIO.md).
//
// The parser is a pure function: it reads `text`, writes `*out` only on success
// and touches no global state, so it can be fuzzed on its own
// (parse_scenario_main.c builds a driver for that).
#ifndef FAKE_NVML_SCENARIO_H
#define FAKE_NVML_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

// Bounds: the scenario file is treated as hostile input.
#define FN_MAX_FILE_BYTES (8u << 20)  // whole file
#define FN_MAX_LINE 4096              // bytes per line, without the newline
#define FN_MAX_TOKENS 160             // tokens per line
#define FN_MAX_GPUS 16
#define FN_MAX_MIG 16                 // MIG slots per GPU (real hardware: 7)
#define FN_MAX_PROCS 8192             // process lines per GPU, all kinds together (scale benchmarks)
#define FN_MAX_VALUES 64              // values of one cycling key
#define FN_MAX_ERRORS 64              // error lines per GPU, and global ones
#define FN_MAX_GROWTH_PIDS 64
#define FN_MAX_GROWTH 1024            // extra processes process_growth may add in all
#define FN_MAX_SLOW_MS 600000u
#define FN_MAX_PROCESS_UTIL_MIN 65536u
#define FN_MAX_CALL_COST_NS 10000000000ull  // call_cost: 10 s of CPU per call at most
#define FN_NAME_SIZE 96               // CNVML_DEVICE_NAME_BUFFER_SIZE
#define FN_UUID_SIZE 96               // CNVML_DEVICE_UUID_BUFFER_SIZE
#define FN_DRIVER_SIZE 80             // CNVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE

#define FN_FOREVER UINT64_MAX
#define FN_VALUE_NA UINT64_MAX        // NVML_VALUE_NOT_AVAILABLE

// Call kinds: each has its own call counter (per GPU, or global), and is what
// `error FIELD ...` and `slow FIELD ...` name.
enum fn_field {
    // Global (not tied to a GPU).
    FN_F_INIT,
    FN_F_COUNT,
    FN_F_DRIVER_VERSION,
    FN_F_CUDA_VERSION,
    FN_F_GLOBAL_END,
    // Per GPU.
    FN_F_HANDLE = FN_F_GLOBAL_END,
    FN_F_INDEX,
    FN_F_NAME,
    FN_F_UUID,
    FN_F_PCI,
    FN_F_UTIL,
    FN_F_MEMORY,
    FN_F_TEMPERATURE,
    FN_F_FAN,
    FN_F_CLOCK_GRAPHICS,
    FN_F_CLOCK_SM,
    FN_F_CLOCK_MEM,
    FN_F_CLOCK_OTHER,  // internal: clock types other than 0..2; not nameable
    FN_F_PSTATE,
    FN_F_POWER,
    FN_F_POWER_LIMIT,
    FN_F_POWER_DEFAULT,
    FN_F_POWER_CONSTRAINTS,
    FN_F_ENERGY,
    FN_F_PERSISTENCE,
    FN_F_COMPUTE_MODE,
    FN_F_ENCODER,
    FN_F_DECODER,
    FN_F_COMPUTE_PROCS,
    FN_F_GRAPHICS_PROCS,
    FN_F_MPS_PROCS,
    FN_F_PROCESS_UTIL,
    FN_F_MIG_MODE,
    FN_F_MIG_MAX,
    FN_F_MIG_HANDLE,
    FN_F_GPU_INSTANCE_ID,
    FN_F_COMPUTE_INSTANCE_ID,
    FN_F_ATTRIBUTES,
    FN_F_IS_MIG,
    FN_F_SET_POWER_LIMIT,
    FN_F_MINOR,
    // GPU health (SCENARIO.md, "GPU health").
    FN_F_CLOCKS_EVENT_REASONS,
    FN_F_VIOLATION,
    FN_F_ECC,
    FN_F_REMAPPED_ROWS,
    FN_F_SUPPORTED_EVENTS,
    FN_F_REGISTER_EVENTS,
    // GPM (SCENARIO.md, "GPM and energy").
    FN_F_GPM_SUPPORT,
    FN_F_GPM_SAMPLE,
    FN_F_COUNT_ALL
};

// Keys whose values cycle (`util 10 50 90`).
enum fn_cycle_key {
    FN_C_UTIL,
    FN_C_MEM_UTIL,
    FN_C_MEMORY_USED,
    FN_C_TEMPERATURE,
    FN_C_FAN,
    FN_C_CLOCK_GRAPHICS,
    FN_C_CLOCK_SM,
    FN_C_CLOCK_MEM,
    FN_C_PSTATE,
    FN_C_POWER,
    FN_C_ENCODER,
    FN_C_DECODER,
    FN_C_COUNT
};

enum fn_proc_kind { FN_PROC_COMPUTE, FN_PROC_GRAPHICS, FN_PROC_MPS, FN_PROC_KINDS };

typedef struct {
    uint32_t n;  // 0: key absent
    uint64_t v[FN_MAX_VALUES];
} fn_cycle;

typedef struct {
    uint32_t field;   // enum fn_field
    uint32_t code;    // nvmlReturn_t, never 0
    uint64_t after;   // calls that pass before the error starts
    uint64_t times;   // FN_FOREVER: forever
} fn_error;

typedef struct {
    uint32_t kind;  // enum fn_proc_kind
    uint32_t pid;
    uint64_t mem;   // bytes, or FN_VALUE_NA
    uint32_t gi, ci;
    uint32_t has_util;
    uint32_t sm, memutil, enc, dec;
} fn_process;

// GPU health: a value from `at_ms` (milliseconds after the library was loaded) on.
#define FN_MAX_TIMED 64               // lines of one timed health key per GPU
#define FN_MAX_XID 64                 // xid lines per GPU
#define FN_MAX_AT_MS (86400000ull)    // at= at most one day
enum {
    FN_HEALTH_REASONS = 1u << 0,
    FN_HEALTH_VIOLATION = 1u << 1,
    FN_HEALTH_ECC_VOLATILE = 1u << 2,
    FN_HEALTH_ECC_AGGREGATE = 1u << 3,
    FN_HEALTH_REMAP = 1u << 4,
};

typedef struct {
    uint64_t at_ms;
    uint64_t v;
} fn_timed;

typedef struct {
    uint64_t at_ms;
    uint32_t corr, unc, pending, failure;
} fn_remap;

typedef struct {
    uint64_t at_ms;
    uint64_t code;
    uint32_t gi, ci;  // 0xFFFFFFFF: not attributed to a MIG instance
} fn_xid;

// One GPM metric's values (thousandths of its NVML unit), cycling per metrics read,
// for the whole GPU (gi = FN_GPM_WHOLE) or one MIG GPU instance.
#define FN_MAX_GPM 48
#define FN_GPM_WHOLE 0xFFFFFFFFu
typedef struct {
    uint32_t gi;
    uint32_t metric;  // NVML_GPM_METRIC_* id
    fn_cycle milli;
} fn_gpm;

typedef struct {
    uint32_t present;
    uint32_t gi, ci, slices, ci_slices, sms;
    uint64_t memory, used;
    char uuid[FN_UUID_SIZE];
    char name[FN_NAME_SIZE];
} fn_mig;

// Presence bits of scalar GPU keys.
enum {
    FN_HAS_MEMORY_TOTAL = 1u << 0,
    FN_HAS_POWER_LIMIT = 1u << 1,
    FN_HAS_POWER_DEFAULT = 1u << 2,
    FN_HAS_POWER_MIN = 1u << 3,
    FN_HAS_POWER_MAX = 1u << 4,
    FN_HAS_ENERGY = 1u << 5,
    FN_HAS_PERSISTENCE = 1u << 6,
    FN_HAS_COMPUTE_MODE = 1u << 7,
    FN_HAS_MIG = 1u << 8,
    FN_HAS_MIG_MAX = 1u << 9,
    FN_HAS_LOST_AFTER = 1u << 10,
    FN_HAS_SMS = 1u << 11,
    FN_HAS_MINOR = 1u << 12,
};

typedef struct {
    uint32_t has;  // FN_HAS_* bits
    char name[FN_NAME_SIZE];
    char uuid[FN_UUID_SIZE];
    char bus_id[32];
    char bus_id_legacy[16];
    uint32_t domain, bus, device, function;
    uint32_t pci_device_id, pci_subsystem_id;
    fn_cycle cyc[FN_C_COUNT];
    uint64_t memory_total, memory_reserved;
    uint32_t power_limit, power_default, power_min, power_max;
    uint64_t energy, energy_step;
    uint32_t persistence, compute_mode;
    uint32_t mig_current, mig_pending, mig_max;
    uint32_t sms;
    uint32_t minor;  // of /dev/nvidiaN; the GPU's index unless FN_HAS_MINOR
    uint64_t lost_after;
    uint32_t process_util_min;
    uint32_t process_growth;
    uint32_t n_growth_pids;
    uint32_t growth_pids[FN_MAX_GROWTH_PIDS];
    uint32_t slow_ms[FN_F_COUNT_ALL];
    uint32_t n_errors;
    fn_error errors[FN_MAX_ERRORS];
    uint32_t n_procs;
    fn_process procs[FN_MAX_PROCS];
    fn_mig mig[FN_MAX_MIG];
    // GPU health (SCENARIO.md, "GPU health"). Timed values: of the lines whose `at`
    // has come, the latest `at` wins (the later line on a tie); none yet reads 0.
    uint32_t health_has;  // FN_HEALTH_* bits
    uint32_t n_reasons, n_ecc_volatile, n_ecc_aggregate, n_remap, n_xid;
    fn_timed reasons[FN_MAX_TIMED];
    fn_timed ecc_volatile[FN_MAX_TIMED];
    fn_timed ecc_aggregate[FN_MAX_TIMED];
    fn_remap remap[FN_MAX_TIMED];
    fn_xid xid[FN_MAX_XID];
    uint64_t violation_power;  // ns at load time
    // GPM and energy (SCENARIO.md, "GPM and energy").
    uint32_t gpm_supported;
    uint32_t energy_follows_power;  // the energy counter integrates the power readings
    uint32_t n_gpm;
    fn_gpm gpm[FN_MAX_GPM];
} fn_gpu;

// The exported entry points, for `call_cost` (SCENARIO.md): each has a number,
// fn_function_index(name) finds it (-1 for a name the fake does not know).
#define FN_FUNCTIONS 64
int fn_function_index(const char *name);
const char *fn_function_name(int index);  // NULL past the last one

typedef struct {
    char driver[FN_DRIVER_SIZE];
    int cuda;
    uint32_t init_error;  // 0: none
    uint32_t slow_ms[FN_F_COUNT_ALL];  // global fields only
    uint32_t n_errors;
    fn_error errors[FN_MAX_ERRORS];  // global fields only
    uint32_t has_call_cost;  // any call_cost line: the calls look their cost up
    uint64_t call_cost_ns[FN_FUNCTIONS];  // CPU time each call of a function burns, by fn_function_index
    uint32_t n_gpus;
    fn_gpu gpus[FN_MAX_GPUS];
} fn_scenario;

typedef struct {
    unsigned line;  // 1-based; 0 when the error is about the whole text
    char msg[200];
} fn_parse_error;

// Parses a whole scenario. Returns 0 and fills *out on success; returns -1 and
// fills *err (when not NULL) on failure, leaving *out untouched. Never reads
// past text[len - 1]; `text` need not be NUL-terminated.
int fake_nvml_parse_scenario(const char *text, size_t len, fn_scenario *out, fn_parse_error *err);
// The same, into a new zeroed allocation (free() it), or NULL with `err` filled. Only
// the pages the parse writes become resident: a reload mid-run costs what the
// scenario holds, not the whole (multi-MiB) table copied over.
fn_scenario *fake_nvml_parse_scenario_alloc(const char *text, size_t len, fn_parse_error *err);

// NVML return code <-> name without the NVML_ERROR_ prefix ("SUCCESS" for 0).
const char *fn_code_name(unsigned code);
int fn_code_parse(const char *name, unsigned *code);  // 0 on success
// Canonical name of a field ("?" for internal ones).
const char *fn_field_name(unsigned field);

#endif
