// glibc's <malloc.h> is not part of Swift's Glibc module: mallopt and its parameter
// macros, for gpuctop's main (one arena, a fixed mmap threshold; see main.swift).
#include <malloc.h>

static inline int gpuctop_mallopt(int parameter, int value) { return mallopt(parameter, value); }
static inline int gpuctop_m_arena_max(void) { return M_ARENA_MAX; }
static inline int gpuctop_m_mmap_threshold(void) { return M_MMAP_THRESHOLD; }
