// Where NVML's memory comes from: VmRSS, RssAnon and the libraries mapped after each step.
//   nvmlmem FLAGS   (0: nvmlInit_v2; else nvmlInitWithFlags(FLAGS))
//   gcc -O2 -o nvmlmem bench/probes/nvmlmem.c -ldl   (built here, run on the GPU host)
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef void *dev_t_;
static void *lib;
static void *sym(const char *n) { void *p = dlsym(lib, n); if (!p) printf("  (no %s)\n", n); return p; }
static char seen[64][128]; static int nseen;
static void report(const char *step, int rc) {
    char line[512]; long rss = 0, anon = 0, file = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", &rss); sscanf(line, "RssAnon: %ld", &anon); sscanf(line, "RssFile: %ld", &file);
    }
    fclose(f);
    printf("%-44s rc=%-3d VmRSS %6.1f MiB  anon %6.1f  file %6.1f", step, rc, rss / 1024.0, anon / 1024.0, file / 1024.0);
    f = fopen("/proc/self/maps", "r");
    while (fgets(line, sizeof line, f)) {
        char *p = strchr(line, '/'); if (!p) continue;
        p[strcspn(p, "\n")] = 0; char *b = strrchr(p, '/') + 1; int known = 0;
        for (int i = 0; i < nseen; i++) if (!strcmp(seen[i], b)) known = 1;
        if (!known && nseen < 64) { snprintf(seen[nseen++], 128, "%s", b); printf("  +%s", b); }
    }
    fclose(f); printf("\n");
}
int main(int argc, char **argv) {
    unsigned flags = argc > 1 ? atoi(argv[1]) : 0;
    report("start", 0);
    lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    report("dlopen", lib ? 0 : -1);
    int rc;
    if (flags) rc = ((int (*)(unsigned))sym("nvmlInitWithFlags"))(flags);
    else rc = ((int (*)(void))sym("nvmlInit_v2"))();
    report(flags ? "nvmlInitWithFlags" : "nvmlInit_v2", rc);
    char buf[256]; unsigned count = 0, u = 0; dev_t_ d = 0; int cv = 0;
    rc = ((int (*)(char *, unsigned))sym("nvmlSystemGetDriverVersion"))(buf, sizeof buf); report("SystemGetDriverVersion", rc);
    rc = ((int (*)(unsigned *))sym("nvmlDeviceGetCount_v2"))(&count); report("DeviceGetCount_v2", rc);
    rc = ((int (*)(unsigned, dev_t_ *))sym("nvmlDeviceGetHandleByIndex_v2"))(0, &d); report("DeviceGetHandleByIndex_v2", rc);
    rc = ((int (*)(dev_t_, char *, unsigned))sym("nvmlDeviceGetName"))(d, buf, sizeof buf); report("DeviceGetName", rc);
    rc = ((int (*)(dev_t_, char *, unsigned))sym("nvmlDeviceGetUUID"))(d, buf, sizeof buf); report("DeviceGetUUID", rc);
    unsigned long long mem[8]; rc = ((int (*)(dev_t_, void *))sym("nvmlDeviceGetMemoryInfo"))(d, mem); report("DeviceGetMemoryInfo", rc);
    unsigned ur[2]; rc = ((int (*)(dev_t_, void *))sym("nvmlDeviceGetUtilizationRates"))(d, ur); report("DeviceGetUtilizationRates", rc);
    rc = ((int (*)(dev_t_, unsigned *))sym("nvmlDeviceGetPowerUsage"))(d, &u); report("DeviceGetPowerUsage", rc);
    rc = ((int (*)(dev_t_, int, unsigned *))sym("nvmlDeviceGetTemperature"))(d, 0, &u); report("DeviceGetTemperature", rc);
    rc = ((int (*)(dev_t_, int, unsigned *))sym("nvmlDeviceGetClockInfo"))(d, 1, &u); report("DeviceGetClockInfo", rc);
    unsigned long long r; rc = ((int (*)(dev_t_, unsigned long long *))sym("nvmlDeviceGetCurrentClocksEventReasons"))(d, &r); report("DeviceGetCurrentClocksEventReasons", rc);
    static char procs[24 * 256]; count = 256;
    rc = ((int (*)(dev_t_, unsigned *, void *))sym("nvmlDeviceGetComputeRunningProcesses_v3"))(d, &count, procs); report("DeviceGetComputeRunningProcesses_v3", rc);
    count = 256; rc = ((int (*)(dev_t_, unsigned *, void *))sym("nvmlDeviceGetGraphicsRunningProcesses_v3"))(d, &count, procs); report("DeviceGetGraphicsRunningProcesses_v3", rc);
    static char samples[32 * 256]; count = 256;
    rc = ((int (*)(dev_t_, void *, unsigned *, unsigned long long))sym("nvmlDeviceGetProcessUtilization"))(d, samples, &count, 0); report("DeviceGetProcessUtilization", rc);
    rc = ((int (*)(int *))sym("nvmlSystemGetCudaDriverVersion_v2"))(&cv); report("SystemGetCudaDriverVersion_v2", rc);
    void *set = 0; rc = ((int (*)(void **))sym("nvmlEventSetCreate"))(&set); report("EventSetCreate", rc);
    rc = ((int (*)(dev_t_, unsigned long long, void *))sym("nvmlDeviceRegisterEvents"))(d, 8, set); report("DeviceRegisterEvents(XID)", rc);
    unsigned sup[4] = {0x01000004u, 0, 0, 0}; rc = ((int (*)(dev_t_, void *))sym("nvmlGpmQueryDeviceSupport"))(d, sup); report("GpmQueryDeviceSupport", rc);
    FILE *f = fopen("/proc/self/smaps", "r"); char line[512], name[256] = "[anon]"; long acc = 0;
    printf("-- largest anonymous mappings (kB rss):\n");
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b; char perm[8]; int k = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &a, &b, perm, &k) >= 3 && strchr(line, '-') < strchr(line, ' ')) {
            char *p = strchr(line, '/'); char *q = strchr(line, '[');
            snprintf(name, sizeof name, "%s %lu kB %s", perm, (b - a) / 1024, p ? p : q ? q : "[anon]\n");
        } else if (sscanf(line, "Rss: %ld", &acc) == 1 && acc >= 256) printf("  %6ld  %s", acc, name);
    }
    return 0;
}
