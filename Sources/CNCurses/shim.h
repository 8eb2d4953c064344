// Thin shim over ncursesw: only what Swift cannot reach directly (macros).
#ifndef GPUCTOP_CNCURSES_SHIM_H
#define GPUCTOP_CNCURSES_SHIM_H
#define _XOPEN_SOURCE_EXTENDED 1
#include <ncursesw/ncurses.h>
#include <locale.h>

static inline int gpuctop_color_pair(int n) { return COLOR_PAIR(n); }
static inline int gpuctop_lines(void) { return LINES; }
static inline int gpuctop_cols(void) { return COLS; }
#endif
