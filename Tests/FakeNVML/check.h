// The checks' counters and assertion macros, shared by check_fake_nvml.c and
// check_fake_nvml_health.c (each is a program of its own: one copy per binary).
#ifndef FAKE_NVML_CHECK_H
#define FAKE_NVML_CHECK_H

#include <stdio.h>
#include <string.h>

static int g_checks, g_failures;

#define CHECK(cond)                                                         \
    do {                                                                    \
        g_checks++;                                                         \
        if (!(cond)) {                                                      \
            g_failures++;                                                   \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                   \
    } while (0)

#define CHECK_RC(call, want)                                                                        \
    do {                                                                                            \
        int got_ = (int)(call);                                                                     \
        g_checks++;                                                                                 \
        if (got_ != (int)(want)) {                                                                  \
            g_failures++;                                                                           \
            fprintf(stderr, "%s:%d: FAILED: %s answered %d, wanted %d (%s)\n", __FILE__, __LINE__, #call, \
                    got_, (int)(want), #want);                                                      \
        }                                                                                           \
    } while (0)

#define CHECK_STR(got, want)                                                                          \
    do {                                                                                              \
        const char *g_ = (got), *w_ = (want);                                                         \
        g_checks++;                                                                                   \
        if (!g_ || strcmp(g_, w_) != 0) {                                                             \
            g_failures++;                                                                             \
            fprintf(stderr, "%s:%d: FAILED: %s is \"%s\", wanted \"%s\"\n", __FILE__, __LINE__, #got, \
                    g_ ? g_ : "(null)", w_);                                                          \
        }                                                                                             \
    } while (0)

#define CHECK_U64(got, want)                                                                            \
    do {                                                                                                \
        unsigned long long g_ = (unsigned long long)(got), w_ = (unsigned long long)(want);             \
        g_checks++;                                                                                     \
        if (g_ != w_) {                                                                                 \
            g_failures++;                                                                               \
            fprintf(stderr, "%s:%d: FAILED: %s is %llu, wanted %llu\n", __FILE__, __LINE__, #got, g_, w_); \
        }                                                                                               \
    } while (0)

#endif
