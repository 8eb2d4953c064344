// Our own declarations of the part of the NVML ABI that gpuctop uses.
//
// We never include NVIDIA's nvml.h nor link libnvidia-ml: the library is opened
// with dlopen at run time (Telemetry/NVMLLibrary.swift) so that gpuctop starts on
// hosts without a driver. Layouts and values follow the public nvml.h of the
// CUDA 12.x toolkit; only what we call is declared here.
#ifndef GPUCTOP_CNVML_H
#define GPUCTOP_CNVML_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nvmlDevice_st *nvmlDevice_t;

typedef enum nvmlReturn_enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_ALREADY_INITIALIZED = 5,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_INSUFFICIENT_POWER = 8,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_IRQ_ISSUE = 11,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_CORRUPTED_INFOROM = 14,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_RESET_REQUIRED = 16,
    NVML_ERROR_OPERATING_SYSTEM = 17,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_IN_USE = 19,
    NVML_ERROR_MEMORY = 20,
    NVML_ERROR_NO_DATA = 21,
    NVML_ERROR_VGPU_ECC_NOT_ENABLED = 22,
    NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
    NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_DEPRECATED = 26,
    NVML_ERROR_NOT_READY = 27,
    NVML_ERROR_GPU_NOT_FOUND = 28,
    NVML_ERROR_INVALID_STATE = 29,
    NVML_ERROR_UNKNOWN = 999
} nvmlReturn_t;

// Buffer sizes from nvml.h (the _V2 sizes are the current, larger ones).
#define CNVML_DEVICE_NAME_BUFFER_SIZE 96
#define CNVML_DEVICE_UUID_BUFFER_SIZE 96
#define CNVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80
#define CNVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define CNVML_DEVICE_PCI_BUS_ID_LEGACY_BUFFER_SIZE 16

// Clock domains (nvmlClockType_t).
#define CNVML_CLOCK_GRAPHICS 0
#define CNVML_CLOCK_SM 1
#define CNVML_CLOCK_MEM 2
// Temperature sensor (nvmlTemperatureSensors_t).
#define CNVML_TEMPERATURE_GPU 0
// Value of gpuInstanceId / computeInstanceId meaning "not MIG".
#define CNVML_NO_INSTANCE_ID 0xFFFFFFFFu

typedef struct {
    unsigned int gpu;     // percent of time a kernel ran over the last sample period
    unsigned int memory;  // percent of time device memory was read or written
} nvmlUtilization_t;

// nvmlDeviceGetMemoryInfo (v1): `used` includes memory reserved by the driver.
typedef struct {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

// nvmlDeviceGetMemoryInfo_v2: reserved is reported apart from used.
typedef struct {
    unsigned int version;  // must be CNVML_MEMORY_V2_VERSION
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;

// NVML_STRUCT_VERSION(Memory, 2): the struct size with the version in the top byte.
#define CNVML_MEMORY_V2_VERSION ((unsigned int)(sizeof(nvmlMemory_v2_t) | (2u << 24)))

// Filled by nvmlDevice{Compute,Graphics,MPSCompute}RunningProcesses (v1).
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;  // bytes; NVML_VALUE_NOT_AVAILABLE (~0ULL) when unknown
} nvmlProcessInfo_v1_t;

// Filled by the _v2 and _v3 variants: the same layout, with MIG instance ids.
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;     // CNVML_NO_INSTANCE_ID when not MIG
    unsigned int computeInstanceId; // CNVML_NO_INSTANCE_ID when not MIG
} nvmlProcessInfo_t;

// One sample of nvmlDeviceGetProcessUtilization.
typedef struct {
    unsigned int pid;
    unsigned long long timeStamp;  // CPU timestamp in microseconds
    unsigned int smUtil;
    unsigned int memUtil;
    unsigned int encUtil;
    unsigned int decUtil;
} nvmlProcessUtilizationSample_t;

// One sample of nvmlDeviceGetProcessesUtilizationInfo (drivers 550 and later).
typedef struct {
    unsigned long long timeStamp;  // CPU timestamp in microseconds
    unsigned int pid;
    unsigned int smUtil;
    unsigned int memUtil;
    unsigned int encUtil;
    unsigned int decUtil;
    unsigned int jpgUtil;
    unsigned int ofaUtil;
} nvmlProcessUtilizationInfo_v1_t;

// In/out argument of nvmlDeviceGetProcessesUtilizationInfo.
typedef struct {
    unsigned int version;              // CNVML_PROCESSES_UTILIZATION_INFO_V1_VERSION
    unsigned int processSamplesCount;  // in: array size; out: samples written or needed
    unsigned long long lastSeenTimeStamp;
    nvmlProcessUtilizationInfo_v1_t *procUtilArray;
} nvmlProcessesUtilizationInfo_v1_t;

#define CNVML_PROCESSES_UTILIZATION_INFO_V1_VERSION ((unsigned int)(sizeof(nvmlProcessesUtilizationInfo_v1_t) | (1u << 24)))

typedef struct {
    char busIdLegacy[CNVML_DEVICE_PCI_BUS_ID_LEGACY_BUFFER_SIZE];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    char busId[CNVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfo_t;

// nvmlDeviceGetAttributes_v2, used on MIG device handles.
typedef struct {
    unsigned int multiprocessorCount;
    unsigned int sharedCopyEngineCount;
    unsigned int sharedDecoderCount;
    unsigned int sharedEncoderCount;
    unsigned int sharedJpegCount;
    unsigned int sharedOfaCount;
    unsigned int gpuInstanceSliceCount;
    unsigned int computeInstanceSliceCount;
    unsigned long long memorySizeMB;
} nvmlDeviceAttributes_t;

// Function pointer types, one per symbol we resolve. Enums travel as int/unsigned.
typedef nvmlReturn_t (*cnvml_void_fn)(void);
typedef const char *(*cnvml_error_string_fn)(nvmlReturn_t);
typedef nvmlReturn_t (*cnvml_string_fn)(char *, unsigned int);
typedef nvmlReturn_t (*cnvml_int_out_fn)(int *);
typedef nvmlReturn_t (*cnvml_uint_out_fn)(unsigned int *);
typedef nvmlReturn_t (*cnvml_handle_by_index_fn)(unsigned int, nvmlDevice_t *);
typedef nvmlReturn_t (*cnvml_device_string_fn)(nvmlDevice_t, char *, unsigned int);
typedef nvmlReturn_t (*cnvml_device_uint_fn)(nvmlDevice_t, unsigned int *);
typedef nvmlReturn_t (*cnvml_device_int_fn)(nvmlDevice_t, int *);
typedef nvmlReturn_t (*cnvml_device_ull_fn)(nvmlDevice_t, unsigned long long *);
typedef nvmlReturn_t (*cnvml_device_uint_uint_fn)(nvmlDevice_t, unsigned int *, unsigned int *);
typedef nvmlReturn_t (*cnvml_device_sensor_fn)(nvmlDevice_t, int, unsigned int *);
typedef nvmlReturn_t (*cnvml_device_set_uint_fn)(nvmlDevice_t, unsigned int);
typedef nvmlReturn_t (*cnvml_utilization_fn)(nvmlDevice_t, nvmlUtilization_t *);
typedef nvmlReturn_t (*cnvml_memory_v1_fn)(nvmlDevice_t, nvmlMemory_t *);
typedef nvmlReturn_t (*cnvml_memory_v2_fn)(nvmlDevice_t, nvmlMemory_v2_t *);
typedef nvmlReturn_t (*cnvml_pci_fn)(nvmlDevice_t, nvmlPciInfo_t *);
typedef nvmlReturn_t (*cnvml_processes_v1_fn)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_v1_t *);
typedef nvmlReturn_t (*cnvml_processes_fn)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);
typedef nvmlReturn_t (*cnvml_process_utilization_fn)(nvmlDevice_t, nvmlProcessUtilizationSample_t *,
                                                      unsigned int *, unsigned long long);
typedef nvmlReturn_t (*cnvml_processes_utilization_info_fn)(nvmlDevice_t, nvmlProcessesUtilizationInfo_v1_t *);
typedef nvmlReturn_t (*cnvml_mig_handle_fn)(nvmlDevice_t, unsigned int, nvmlDevice_t *);
typedef nvmlReturn_t (*cnvml_attributes_fn)(nvmlDevice_t, nvmlDeviceAttributes_t *);

// The struct-version word is a macro over sizeof, which Swift cannot evaluate.
static inline unsigned int cnvml_memory_v2_version(void) { return CNVML_MEMORY_V2_VERSION; }
static inline unsigned int cnvml_processes_utilization_info_v1_version(void) { return CNVML_PROCESSES_UTILIZATION_INFO_V1_VERSION; }

// --- GPU health: clock event reasons, violation time, ECC, row remapping, XID events ---

// nvmlDeviceGetCurrentClocksEventReasons answers a bitmask: Model/GPUHealth.swift names the bits.
// nvmlPerfPolicyType_t: time held below application clocks by the power limit.
#define CNVML_PERF_POLICY_POWER 0
// nvmlMemoryErrorType_t and nvmlEccCounterType_t.
#define CNVML_MEMORY_ERROR_TYPE_UNCORRECTED 1
#define CNVML_VOLATILE_ECC 0
#define CNVML_AGGREGATE_ECC 1
// nvmlEventTypeXidCriticalError.
#define CNVML_EVENT_TYPE_XID_CRITICAL_ERROR 0x8ULL

// nvmlDeviceGetViolationStatus.
typedef struct {
    unsigned long long referenceTime;  // CPU timestamp in microseconds
    unsigned long long violationTime;  // nanoseconds held back, since the driver loaded
} nvmlViolationTime_t;

typedef struct nvmlEventSet_st *nvmlEventSet_t;

// Filled by nvmlEventSetWait_v2. The v1 nvmlEventSetWait fills only the first
// three fields (the instance ids came with _v2).
typedef struct {
    nvmlDevice_t device;
    unsigned long long eventType;
    unsigned long long eventData;      // the XID for nvmlEventTypeXidCriticalError (999: unknown)
    unsigned int gpuInstanceId;        // CNVML_NO_INSTANCE_ID unless attributable to a MIG instance
    unsigned int computeInstanceId;
} nvmlEventData_t;

typedef nvmlReturn_t (*cnvml_violation_fn)(nvmlDevice_t, int, nvmlViolationTime_t *);
typedef nvmlReturn_t (*cnvml_total_ecc_fn)(nvmlDevice_t, int, int, unsigned long long *);
typedef nvmlReturn_t (*cnvml_remapped_rows_fn)(nvmlDevice_t, unsigned int *, unsigned int *, unsigned int *,
                                               unsigned int *);
typedef nvmlReturn_t (*cnvml_event_set_create_fn)(nvmlEventSet_t *);
typedef nvmlReturn_t (*cnvml_register_events_fn)(nvmlDevice_t, unsigned long long, nvmlEventSet_t);
typedef nvmlReturn_t (*cnvml_event_set_wait_fn)(nvmlEventSet_t, nvmlEventData_t *, unsigned int);
typedef nvmlReturn_t (*cnvml_event_set_free_fn)(nvmlEventSet_t);

// --- GPU Performance Monitoring (GPM): Hopper and newer, drivers 525.60 and newer ---
// What the SMs, tensor cores, DRAM, PCIe and NVLink did between two samples.
// Metric ids of nvmlGpmMetricId_t (percent 0-100 unless said).
#define CNVML_GPM_METRIC_GRAPHICS_UTIL 1
#define CNVML_GPM_METRIC_SM_UTIL 2
#define CNVML_GPM_METRIC_SM_OCCUPANCY 3
#define CNVML_GPM_METRIC_ANY_TENSOR_UTIL 5
#define CNVML_GPM_METRIC_DRAM_BW_UTIL 10
#define CNVML_GPM_METRIC_PCIE_TX_PER_SEC 20          // MiB/s
#define CNVML_GPM_METRIC_PCIE_RX_PER_SEC 21          // MiB/s
#define CNVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC 60  // MiB/s
#define CNVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC 61  // MiB/s
// Unlike the sizeof-based versions above, GPM's version words are plain numbers.
#define CNVML_GPM_METRICS_GET_VERSION 1u
#define CNVML_GPM_SUPPORT_VERSION 1u
// nvml.h sizes metrics[] by NVML_GPM_METRIC_MAX, which grew between releases (98 in
// CUDA 12.0, more later) while the struct version stayed 1. NVML reads numMetrics
// entries; we declare more room than any release so a newer library never writes
// past our struct.
#define CNVML_GPM_METRIC_MAX 333

typedef struct nvmlGpmSample_st *nvmlGpmSample_t;

typedef struct {
    unsigned int metricId;    // in: CNVML_GPM_METRIC_*
    nvmlReturn_t nvmlReturn;  // out: this metric's status; value is valid only on success
    double value;
    struct {
        char *shortName;
        char *longName;
        char *unit;
    } metricInfo;             // out: may be NULL
} nvmlGpmMetric_t;

typedef struct {
    unsigned int version;     // CNVML_GPM_METRICS_GET_VERSION
    unsigned int numMetrics;
    nvmlGpmSample_t sample1;  // the earlier sample
    nvmlGpmSample_t sample2;  // the later one
    nvmlGpmMetric_t metrics[CNVML_GPM_METRIC_MAX];
} nvmlGpmMetricsGet_t;

typedef struct {
    unsigned int version;            // CNVML_GPM_SUPPORT_VERSION
    unsigned int isSupportedDevice;  // out
} nvmlGpmSupport_t;

typedef nvmlReturn_t (*cnvml_gpm_support_fn)(nvmlDevice_t, nvmlGpmSupport_t *);
typedef nvmlReturn_t (*cnvml_gpm_sample_alloc_fn)(nvmlGpmSample_t *);
typedef nvmlReturn_t (*cnvml_gpm_sample_free_fn)(nvmlGpmSample_t);
typedef nvmlReturn_t (*cnvml_gpm_sample_get_fn)(nvmlDevice_t, nvmlGpmSample_t);
typedef nvmlReturn_t (*cnvml_gpm_mig_sample_get_fn)(nvmlDevice_t, unsigned int, nvmlGpmSample_t);
typedef nvmlReturn_t (*cnvml_gpm_metrics_get_fn)(nvmlGpmMetricsGet_t *);

// Swift imports metrics[] as a 333-element tuple: index it here instead.
static inline nvmlGpmMetric_t *cnvml_gpm_metric(nvmlGpmMetricsGet_t *m, unsigned int i) { return &m->metrics[i]; }

#ifdef __cplusplus
}
#endif
#endif
