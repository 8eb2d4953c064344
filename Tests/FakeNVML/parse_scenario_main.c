// Stand-alone driver of the scenario parser (no NVML around it).
//
//   parse_scenario [--quiet] FILE...    parse each file; exit 0 when all are
//                                       valid, 1 when one is not, 2 on I/O error
//   parse_scenario --fuzz SEED N [FILE...]
//                                       N inputs made from SEED: random bytes,
//                                       soups of scenario tokens, and mutations
//                                       of the FILEs; checks the result's
//                                       invariants. Exit 0 unless one fails
//                                       (or a sanitizer stops it).
//
// Built with -DFAKE_NVML_LIBFUZZER it is a libFuzzer target instead, e.g.
//   clang -O1 -g -fsanitize=fuzzer,address,undefined -DFAKE_NVML_LIBFUZZER
//     -I Tests/FakeNVML Tests/FakeNVML/parse_scenario_main.c Tests/FakeNVML/scenario.c -o fuzz_scenario
//   ./fuzz_scenario -max_len=8192 CORPUS_DIR   # seed it with the example of SCENARIO.md
#define _GNU_SOURCE
#include "scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fn_scenario g_out;

// Invariants of a successful parse; returns a reason or NULL.
static const char *invariant_violation(const fn_scenario *sc) {
    if (sc->n_gpus > FN_MAX_GPUS) return "n_gpus";
    if (sc->n_errors > FN_MAX_ERRORS) return "n_errors";
    if (!memchr(sc->driver, 0, sizeof sc->driver) || !sc->driver[0]) return "driver";
    for (uint32_t i = 0; i < sc->n_gpus; i++) {
        const fn_gpu *g = &sc->gpus[i];
        if (!memchr(g->name, 0, sizeof g->name) || !g->name[0]) return "name";
        if (!memchr(g->uuid, 0, sizeof g->uuid) || !g->uuid[0]) return "uuid";
        if (!memchr(g->bus_id, 0, sizeof g->bus_id)) return "bus_id";
        if (!memchr(g->bus_id_legacy, 0, sizeof g->bus_id_legacy)) return "bus_id_legacy";
        if (g->n_procs > FN_MAX_PROCS || g->n_errors > FN_MAX_ERRORS) return "counts";
        if (g->n_growth_pids > FN_MAX_GROWTH_PIDS) return "growth_pids";
        for (int k = 0; k < FN_C_COUNT; k++)
            if (g->cyc[k].n > FN_MAX_VALUES) return "cycle";
        for (int s = 0; s < FN_MAX_MIG; s++) {
            if (!g->mig[s].present) continue;
            if (!memchr(g->mig[s].name, 0, FN_NAME_SIZE) || !memchr(g->mig[s].uuid, 0, FN_UUID_SIZE)) return "mig";
        }
        for (uint32_t e = 0; e < g->n_errors; e++)
            if (g->errors[e].code == 0 || g->errors[e].field < FN_F_GLOBAL_END) return "gpu error";
        for (uint32_t p = 0; p < g->n_procs; p++)
            if (g->procs[p].kind >= FN_PROC_KINDS) return "process kind";
    }
    for (uint32_t e = 0; e < sc->n_errors; e++)
        if (sc->errors[e].code == 0 || sc->errors[e].field >= FN_F_GLOBAL_END) return "global error";
    for (int f = 0; f < FN_FUNCTIONS; f++) {
        if (sc->call_cost_ns[f] > FN_MAX_CALL_COST_NS) return "call_cost";
        if (sc->call_cost_ns[f] && (!sc->has_call_cost || !fn_function_name(f))) return "call_cost slot";
    }
    return NULL;
}

// One parse; returns 0 valid, 1 invalid, 3 invariant broken.
static int parse_one(const char *text, size_t len, const char *label, int quiet) {
    fn_parse_error err;
    // Untouched on failure (checked below), so refilled only after a success wrote it.
    static int g_out_written = 1;
    if (g_out_written) memset(&g_out, 0xA5, sizeof g_out);
    g_out_written = 0;
    if (fake_nvml_parse_scenario(text, len, &g_out, &err) == 0) {
        g_out_written = 1;
        const char *bad = invariant_violation(&g_out);
        if (bad) {
            fprintf(stderr, "%s: parsed, but invariant broken: %s\n", label, bad);
            return 3;
        }
        if (!quiet) printf("%s: ok (%u gpus)\n", label, g_out.n_gpus);
        return 0;
    }
    // Every byte still 0xA5: the first is, and each equals the next (one memcmp over the
    // 6 MB output instead of a byte loop, which under ASan ran at ~60 inputs a second).
    const unsigned char *p = (const unsigned char *)&g_out;
    if (p[0] != 0xA5 || memcmp(p, p + 1, sizeof g_out - 1) != 0) {
        fprintf(stderr, "%s: failed parse wrote its output\n", label);
        return 3;
    }
    if (!memchr(err.msg, 0, sizeof err.msg) || strchr(err.msg, '\n')) {
        fprintf(stderr, "%s: bad error message\n", label);
        return 3;
    }
    if (!quiet) printf("%s:%u: %s\n", label, err.line, err.msg);
    return 1;
}

#ifdef FAKE_NVML_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (parse_one((const char *)data, size, "input", 1) == 3) abort();
    return 0;
}
#else

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap > (64u << 20)) break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

// --- fuzzing -------------------------------------------------------------

static uint64_t g_rng;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}
static size_t rndn(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static const char *k_words[] = {
    "gpu", "driver", "cuda", "init_error", "name", "uuid", "pci", "util", "mem_util", "memory_total",
    "memory_reserved", "memory_used", "temperature", "fan", "clock_graphics", "clock_sm", "clock_mem", "pstate",
    "power", "power_limit", "power_default", "power_min", "power_max", "energy", "persistence", "compute_mode",
    "encoder", "decoder", "mig", "mig_max", "mig_device", "sms", "process", "process_util_min", "process_growth",
    "growth_pids", "lost_after", "error", "slow", "compute", "graphics", "mps", "NOT_SUPPORTED", "GPU_IS_LOST",
    "UNKNOWN", "SUCCESS", "NVML_ERROR_NO_PERMISSION", "init", "count", "handle", "set_power_limit",
    "compute_processes", "process_util", "0", "1", "2", "3", "7", "16", "32", "33", "100", "4294967295",
    "4294967296", "18446744073709551615", "18446744073709551616", "0x10", "0x", "0xFFFFFFFFFFFFFFFFF", "-1",
    "80GiB", "1TB", "17179869184TiB", "na", "pid=1", "pid=", "mem=na", "mem=5GiB", "slot=0", "slot=15", "slot=16",
    "gi=1", "ci=0", "slices=1", "ci_slices=1", "sms=16", "memory=10GiB", "used=1MiB", "uuid=MIG-x", "name=",
    "name=NVIDIA H100 MIG 1g.10gb", "after=1", "times=0", "times=18446744073709551615", "sm=50", "memutil=3",
    "enc=0", "dec=0", "=", "==", "#", "# c", "00000000:19:00.0", "19:00.0", "FFFFFFFFF:00:00.0", "0:0:20.0",
    "0:0:0.8", "0000:g0:00.0", "580.95.05", "GPU-1234", "\t", "x",
};

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    if (!*buf) return;
    if (*len + n > *cap) {
        size_t nc = (*len + n) * 2;
        char *nb = realloc(*buf, nc);
        if (!nb) {
            free(*buf);
            *buf = NULL;
            return;
        }
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
}

static const char *word(void) { return k_words[rndn(sizeof k_words / sizeof k_words[0])]; }

static char *token_soup(size_t *len) {
    size_t cap = 4096;
    char *buf = malloc(cap);
    *len = 0;
    size_t lines = 1 + rndn(rndn(10) == 0 ? 2000 : 60);
    for (size_t l = 0; l < lines && buf; l++) {
        const char *w = rndn(6) == 0 ? "gpu" : word();
        append(&buf, len, &cap, w, strlen(w));
        size_t nt = rndn(rndn(20) == 0 ? 200 : 8);
        for (size_t t = 0; t < nt && buf; t++) {
            append(&buf, len, &cap, rndn(8) ? " " : "\t ", rndn(8) ? 1 : 2);
            w = word();
            append(&buf, len, &cap, w, strlen(w));
        }
        if (rndn(30) == 0) {  // a long token
            size_t n = rndn(6000);
            for (size_t i = 0; i < n && buf; i++) append(&buf, len, &cap, "9", 1);
        }
        append(&buf, len, &cap, rndn(20) ? "\n" : "\r\n", rndn(20) ? 1 : 2);
    }
    return buf;
}

static char *random_bytes(size_t *len) {
    *len = rndn(rndn(4) == 0 ? 200000 : 3000);
    char *buf = malloc(*len ? *len : 1);
    if (!buf) return NULL;
    for (size_t i = 0; i < *len; i++) {
        uint64_t r = rnd();
        // Mostly printable with spaces and newlines, so lines get parsed.
        buf[i] = (r & 3) ? (char)(' ' + (r >> 8) % 95) : (r & 4) ? '\n' : (char)(r >> 16);
    }
    return buf;
}

static char *mutate(const char *seed, size_t seed_len, size_t *len) {
    size_t cap = seed_len * 2 + 256;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    memcpy(buf, seed, seed_len);
    *len = seed_len;
    size_t edits = 1 + rndn(16);
    for (size_t e = 0; e < edits && buf; e++) {
        size_t at = rndn(*len + 1);
        switch (rndn(5)) {
        case 0:  // flip a byte
            if (*len) buf[rndn(*len)] = (char)rnd();
            break;
        case 1: {  // insert a word
            const char *w = word();
            size_t n = strlen(w);
            char *tail = malloc(*len - at + 1);
            if (!tail) break;
            memcpy(tail, buf + at, *len - at);
            size_t tl = *len - at;
            *len = at;
            append(&buf, len, &cap, w, n);
            append(&buf, len, &cap, tail, tl);
            free(tail);
            break;
        }
        case 2:  // delete a span
            if (*len) {
                size_t n = rndn(*len - at + 1);
                memmove(buf + at, buf + at + n, *len - at - n);
                *len -= n;
            }
            break;
        case 3:  // truncate
            *len = at;
            break;
        default: {  // duplicate a span at the end
            if (*len == 0) break;
            size_t a = rndn(*len), n = rndn(*len - a + 1);
            char *span = malloc(n + 1);
            if (!span) break;
            memcpy(span, buf + a, n);
            append(&buf, len, &cap, span, n);
            free(span);
        }
        }
    }
    return buf;
}

static int fuzz(uint64_t seed, long iterations, char **seeds, size_t *seed_lens, int nseeds) {
    g_rng = seed * 0x9E3779B97F4A7C15ull + 1;
    long valid = 0;
    for (long i = 0; i < iterations; i++) {
        size_t len = 0;
        char *buf;
        int kind = (int)rndn(nseeds ? 3 : 2);
        if (kind == 0) buf = random_bytes(&len);
        else if (kind == 1) buf = token_soup(&len);
        else {
            int s = (int)rndn((size_t)nseeds);
            buf = mutate(seeds[s], seed_lens[s], &len);
        }
        if (!buf) continue;
        char label[64];
        snprintf(label, sizeof label, "fuzz seed %llu input %ld", (unsigned long long)seed, i);
        int r = parse_one(buf, len, label, 1);
        free(buf);
        if (r == 3) return 1;
        valid += (r == 0);
    }
    printf("fuzz: %ld inputs, %ld valid\n", iterations, valid);
    return 0;
}

int main(int argc, char **argv) {
    int quiet = 0, first = 1;
    if (argc >= 4 && strcmp(argv[1], "--fuzz") == 0) {
        int n = argc - 4;
        char **seeds = calloc((size_t)n + 1, sizeof *seeds);
        size_t *lens = calloc((size_t)n + 1, sizeof *lens);
        if (!seeds || !lens) return 2;
        for (int i = 0; i < n; i++) {
            seeds[i] = read_file(argv[4 + i], &lens[i]);
            if (!seeds[i]) {
                perror(argv[4 + i]);
                return 2;
            }
        }
        int r = fuzz(strtoull(argv[2], NULL, 10), strtol(argv[3], NULL, 10), seeds, lens, n);
        for (int i = 0; i < n; i++) free(seeds[i]);
        free(seeds);
        free(lens);
        return r;
    }
    if (argc > 1 && strcmp(argv[1], "--quiet") == 0) {
        quiet = 1;
        first = 2;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: parse_scenario [--quiet] FILE... | --fuzz SEED N [FILE...]\n");
        return 2;
    }
    int status = 0;
    for (int i = first; i < argc; i++) {
        size_t len;
        char *text = read_file(argv[i], &len);
        if (!text) {
            perror(argv[i]);
            return 2;
        }
        int r = parse_one(text, len, argv[i], quiet);
        free(text);
        if (r == 3) return 3;
        if (r == 1) status = 1;
    }
    return status;
}
#endif
